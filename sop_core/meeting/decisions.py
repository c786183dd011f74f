"""The decisions and assumptions log.

A decision has an owner and a due date; an assumption belongs to a scenario and has an owner
and an expiry date, after which it shows as expired until someone renews or closes it. Changes
name the version they started from, so two people closing the same item never overwrite each
other silently.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from sop_core.data import db
from sop_core.data.errors import ConflictError, InputError

KINDS = ("decision", "assumption")
STATUSES = ("open", "done", "dropped")


def add_item(
    path: Path | str,
    kind: str,
    text: str,
    owner: str,
    author: str,
    *,
    due_date: dt.date | None = None,
    scenario: str | None = None,
) -> int:
    """Record a decision or an assumption; return its number."""
    if kind not in KINDS:
        raise InputError(f"Record a decision or an assumption, not {kind!r}.")
    text, owner, author = (text or "").strip(), (owner or "").strip(), (author or "").strip()
    if not text:
        raise InputError(f"Write the {kind} down: the text is empty.")
    if len(text) > 500:
        raise InputError(f"Keep the {kind} under 500 characters.")
    if not owner:
        raise InputError(f"Every {kind} needs an owner.")
    if kind == "assumption" and due_date is None:
        raise InputError("An assumption needs an expiry date (when to check it again).")
    with db.transaction(path) as con:
        (number,) = con.execute(
            "INSERT INTO decisions (kind, text, owner, due_date, scenario, created_by, "
            "updated_by) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING decision_id",
            [kind, text, owner, due_date, scenario, author or "planner", author or "planner"],
        ).fetchone()
    return int(number)


def set_status(path: Path | str, number: int, status: str, user: str, version: int) -> None:
    """Close, drop or reopen an item, if nobody changed it since ``version``."""
    if status not in STATUSES:
        raise InputError(f"Status must be one of {', '.join(STATUSES)}.")
    with db.transaction(path) as con:
        done = con.execute(
            "UPDATE decisions SET status = ?, version = version + 1, "
            "updated_at = current_timestamp, updated_by = ? "
            "WHERE decision_id = ? AND version = ? RETURNING decision_id",
            [status, (user or "planner").strip(), number, version],
        ).fetchall()
        if done:
            return
        row = con.execute(
            "SELECT updated_by, updated_at, status FROM decisions WHERE decision_id = ?",
            [number],
        ).fetchone()
    if row is None:
        raise InputError(f"There is no item number {number}.")
    raise ConflictError(
        f"{row[0]} changed item {number} at {row[1]:%H:%M:%S} (it is now {row[2]}); nothing "
        "was overwritten. Look again and retry."
    )


def decision_log(con: duckdb.DuckDBPyConnection, today: dt.date | None = None) -> pd.DataFrame:
    """Every item, open ones first, with ``state``: ``open``, ``overdue`` (a decision past its
    due date), ``expired`` (an assumption past its expiry date), ``done`` or ``dropped``."""
    today = today or dt.date.today()
    frame = con.execute(
        "SELECT * FROM decisions ORDER BY status <> 'open', due_date NULLS LAST, decision_id"
    ).df()
    late = frame["due_date"].notna() & (pd.to_datetime(frame["due_date"]) < pd.Timestamp(today))
    is_open = frame["status"] == "open"
    frame["state"] = np.select(
        [
            is_open & late & (frame["kind"] == "assumption"),
            is_open & late,
        ],
        ["expired", "overdue"],
        frame["status"],
    )
    return frame
