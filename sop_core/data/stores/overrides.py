"""Consensus overrides: the team's changes to the statistical forecast, with reason, author,
planning cycle and undo, kept forever (an undone override stays in the history)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pandas as pd

from sop_core.data import db


def overrides_in_force(
    con: duckdb.DuckDBPyConnection, cycle: dt.date | None = None
) -> pd.DataFrame:
    """The overrides in force, in the order they were made (every column). With ``cycle``:
    those in force in that planning cycle (made in it or before, not undone by then)."""
    if cycle is None:
        return con.execute(
            "SELECT * FROM consensus_overrides WHERE undone_at IS NULL ORDER BY override_id"
        ).df()
    return con.execute(
        "SELECT * FROM consensus_overrides "
        "WHERE cycle <= ? AND (undone_cycle IS NULL OR undone_cycle > ?) ORDER BY override_id",
        [cycle, cycle],
    ).df()


def override_cycles(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """The planning cycles overrides were made in."""
    return [
        row[0]
        for row in con.execute(
            "SELECT DISTINCT cycle FROM consensus_overrides ORDER BY cycle"
        ).fetchall()
    ]


def all_overrides(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every override, newest first (every column)."""
    return con.execute("SELECT * FROM consensus_overrides ORDER BY override_id DESC").df()


def insert_override(con: duckdb.DuckDBPyConnection, override: dict[str, Any]) -> int:
    """Add an override (the ``consensus_overrides`` columns in ``override``); returns its id."""
    return int(db.insert_row(con, "consensus_overrides", override, "override_id"))


def mark_undone(
    con: duckdb.DuckDBPyConnection, override_id: int, user: str, cycle: dt.date
) -> bool:
    """Mark an override undone by ``user`` in ``cycle``; False when it does not exist or was
    already undone (nothing changed)."""
    return bool(
        con.execute(
            "UPDATE consensus_overrides SET undone_at = current_timestamp, undone_by = ?, "
            "undone_cycle = ? WHERE override_id = ? AND undone_at IS NULL "
            "RETURNING override_id",
            [user, cycle, override_id],
        ).fetchall()
    )


def undone_by(
    con: duckdb.DuckDBPyConnection, override_id: int
) -> tuple[str | None, dt.datetime | None] | None:
    """Who undid an override and when (None when there is no such override)."""
    return con.execute(
        "SELECT undone_by, undone_at FROM consensus_overrides WHERE override_id = ?",
        [override_id],
    ).fetchone()


def delete_all_overrides(con: duckdb.DuckDBPyConnection) -> None:
    """Delete every override (the holdout proof does this on its own copy of the database, so
    that its baseline is the forecast alone; never on the original)."""
    con.execute("DELETE FROM consensus_overrides")


def file_rows(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The rows of an overrides file the importer read into the temporary table ``_typed``
    (``sop_core.demand.override_files``), in the file's order, with their ``_line``."""
    return con.execute(
        "SELECT _line, sku, family, first_week, last_week, percent, units, set_units, reason "
        "FROM _typed ORDER BY _line"
    ).df()
