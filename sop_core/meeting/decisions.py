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

from sop_core.data import access
from sop_core.data.errors import ConflictError, InputError
from sop_core.data.stores import decisions as decision_store

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
    with access.writing(path, author or "planner", "decision") as write:
        number = decision_store.add_decision(
            write.con, kind, text, owner, due_date, scenario, write.actor
        )
        write.record(
            f"{kind} add",
            f"item {number}",
            scope=scenario,
            after={"text": text, "owner": owner, "due": due_date},
        )
        return number


def set_status(path: Path | str, number: int, status: str, user: str, version: int) -> None:
    """Close, drop or reopen an item, if nobody changed it since ``version``."""
    if status not in STATUSES:
        raise InputError(f"Status must be one of {', '.join(STATUSES)}.")
    with access.writing(path, (user or "planner").strip(), "decision") as write:
        before = decision_store.decision_stamp(write.con, number)
        if decision_store.set_decision_status(write.con, number, status, write.actor, version):
            write.record(
                "decision status", f"item {number}", before=before and before.status, after=status
            )
            return
        now = decision_store.decision_stamp(write.con, number)
    if now is None:
        raise InputError(f"There is no item number {number}.")
    raise ConflictError(
        f"{now.updated_by} changed item {number} at {now.updated_at:%H:%M:%S} (it is now "
        f"{now.status}); nothing was overwritten. Look again and retry."
    )


def decision_log(con: duckdb.DuckDBPyConnection, today: dt.date | None = None) -> pd.DataFrame:
    """Every item, open ones first, with ``state``: ``open``, ``overdue`` (a decision past its
    due date), ``expired`` (an assumption past its expiry date), ``done`` or ``dropped``."""
    today = today or dt.date.today()
    frame = decision_store.decision_rows(con)
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
