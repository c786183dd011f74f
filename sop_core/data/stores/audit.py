"""The ``audit_log`` table: every write, who made it, when, on what, the values before and
after. Rows are only ever appended, in the transaction of the write they record; nothing in
the product updates or deletes one."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb
import pandas as pd

COLUMNS = ("changed_at", "who", "action", "object", "scope", "before", "after")


def append(
    con: duckdb.DuckDBPyConnection,
    who: str,
    action: str,
    object_: str,
    scope: str | None = None,
    before: Any = None,
    after: Any = None,
) -> None:
    """Record a write (in the caller's transaction); ``before`` and ``after`` as JSON."""
    con.execute(
        "INSERT INTO audit_log (who, action, object, scope, before, after) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [who, action, object_, scope, _json(before), _json(after)],
    )


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


def entries(
    con: duckdb.DuckDBPyConnection,
    since: dt.date | dt.datetime | None = None,
    who: str | None = None,
    newest_first: bool = False,
    after_entry: int | None = None,
) -> pd.DataFrame:
    """The audit trail, oldest first (or ``newest_first``), from ``since`` (a day: from its
    start; a time: from that moment, UTC as stored), of ``who`` and recorded after the entry
    ``after_entry`` when given: ``COLUMNS``."""
    clauses, parameters = [], []
    if after_entry is not None:
        clauses.append("entry_id > ?")
        parameters.append(after_entry)
    if since is not None:
        clauses.append("changed_at >= ?")
        parameters.append(since)
    if who:
        clauses.append("lower(who) = lower(?)")
        parameters.append(who)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return con.execute(
        f"SELECT {', '.join(COLUMNS)} FROM audit_log {where} "
        f"ORDER BY entry_id{' DESC' if newest_first else ''}",
        parameters,
    ).df()


def last_entry(con: duckdb.DuckDBPyConnection, action: str, object_: str) -> int | None:
    """The number of the last entry recording ``action`` on ``object_`` (None: there is none)."""
    row = con.execute(
        "SELECT max(entry_id) FROM audit_log WHERE action = ? AND object = ?", [action, object_]
    ).fetchone()
    return row[0]
