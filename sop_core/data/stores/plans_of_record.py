"""Plans of record: the approved, frozen plans and their targets."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pandas as pd


def plans_of_record(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every approved plan of record, newest first."""
    return con.execute(
        "SELECT plan_version, approved_at, approved_by, scenario, run_id, history_end, weeks, "
        "volume, revenue, margin, unmet_units, overtime_hours, max_utilisation, note "
        "FROM plans_of_record ORDER BY plan_version DESC"
    ).df()


def plan_of_record_totals(
    con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date
) -> dict[str, Any] | None:
    """The latest plan of record's volume, revenue and margin over the weeks ``first`` to
    ``last`` it covers (``first_week``, ``last_week``, ``weeks``), None when nothing is
    approved yet."""
    row = con.execute(
        """
        WITH latest AS (SELECT max(plan_version) AS v FROM plans_of_record)
        SELECT p.plan_version, p.scenario, p.approved_at, sum(t.target), sum(t.revenue),
               sum(t.margin), min(t.week), max(t.week), count(DISTINCT t.week)
        FROM plans_of_record p JOIN latest ON p.plan_version = latest.v
        LEFT JOIN plan_of_record_targets t
            ON t.plan_version = p.plan_version AND t.week BETWEEN ? AND ?
        GROUP BY ALL
        """,
        [first, last],
    ).fetchone()
    if row is None:
        return None
    keys = (
        "plan_version",
        "scenario",
        "approved_at",
        "volume",
        "revenue",
        "margin",
        "first_week",
        "last_week",
        "weeks",
    )
    return dict(zip(keys, row, strict=True))
