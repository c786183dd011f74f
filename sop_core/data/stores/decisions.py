"""The decisions and assumptions log: each item's kind, text, owner, due or expiry date,
scenario and status, with who changed it last and the version that change left it at."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd


@dataclass(frozen=True)
class DecisionStamp:
    """Who last changed an item, when, and the status that left it in."""

    updated_by: str
    updated_at: dt.datetime
    status: str


def add_decision(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    text: str,
    owner: str,
    due_date: dt.date | None,
    scenario: str | None,
    author: str,
) -> int:
    """Record a decision or an assumption, open, by ``author``; return its number."""
    (number,) = con.execute(
        "INSERT INTO decisions (kind, text, owner, due_date, scenario, created_by, "
        "updated_by) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING decision_id",
        [kind, text, owner, due_date, scenario, author, author],
    ).fetchone()
    return int(number)


def set_decision_status(
    con: duckdb.DuckDBPyConnection, number: int, status: str, user: str, expected_version: int
) -> bool:
    """Set item ``number``'s status as its next version, if it is still at
    ``expected_version``; False (and nothing written) when it is not or does not exist."""
    done = con.execute(
        "UPDATE decisions SET status = ?, version = version + 1, "
        "updated_at = current_timestamp, updated_by = ? "
        "WHERE decision_id = ? AND version = ? RETURNING decision_id",
        [status, user, number, expected_version],
    ).fetchall()
    return bool(done)


def decision_stamp(con: duckdb.DuckDBPyConnection, number: int) -> DecisionStamp | None:
    """The last change of item ``number`` (None when there is no such item)."""
    row = con.execute(
        "SELECT updated_by, updated_at, status FROM decisions WHERE decision_id = ?", [number]
    ).fetchone()
    return None if row is None else DecisionStamp(*row)


def decision_rows(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every item with all its columns: open ones first, then by due date (none last) and
    number."""
    return con.execute(
        "SELECT * FROM decisions ORDER BY status <> 'open', due_date NULLS LAST, decision_id"
    ).df()
