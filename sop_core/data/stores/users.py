"""The ``users`` table: who may change what (``sop_core.data.access`` holds the rules)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd


@dataclass(frozen=True)
class User:
    """A person who may use the product, with their roles (one or more)."""

    email: str
    name: str
    roles: tuple[str, ...]
    active: bool


def user_count(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT count(*) FROM users").fetchone()[0])


def user(con: duckdb.DuckDBPyConnection, email: str) -> User | None:
    """The user ``email`` (matched whatever its case), None when there is none."""
    row = con.execute(
        "SELECT email, name, role, active FROM users WHERE lower(email) = lower(?)",
        [email.strip()],
    ).fetchone()
    if row is None:
        return None
    return User(row[0], row[1] or "", tuple(row[2].split(",")), bool(row[3]))


def user_rows(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every user: ``email, name, role, active, added_at, added_by``."""
    return con.execute(
        "SELECT email, name, role, active, added_at, added_by FROM users ORDER BY email"
    ).df()


def add_user(
    con: duckdb.DuckDBPyConnection, email: str, name: str, roles: tuple[str, ...], by: str
) -> None:
    con.execute(
        "INSERT INTO users (email, name, role, active, added_by) VALUES (?, ?, ?, true, ?)",
        [email, name, ",".join(roles), by],
    )


def set_roles(con: duckdb.DuckDBPyConnection, email: str, roles: tuple[str, ...]) -> None:
    con.execute("UPDATE users SET role = ? WHERE lower(email) = lower(?)", [",".join(roles), email])


def set_active(con: duckdb.DuckDBPyConnection, email: str, active: bool) -> None:
    con.execute("UPDATE users SET active = ? WHERE lower(email) = lower(?)", [active, email])


def active_admins(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The emails of the active users holding the admin role."""
    rows = con.execute("SELECT email, role FROM users WHERE active").fetchall()
    return [email for email, role in rows if "admin" in role.split(",")]
