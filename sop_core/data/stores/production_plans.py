"""Stored production plans: each plan's summary (scenario, forecast run, costs, settings)
and its rows: production by SKU x line x week, stock by SKU x week, hours by line x week."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from sop_core.data import db

PLAN_TABLES = ("plan_rows", "plan_stock", "plan_lines")
"""A plan's rows: ``plan_rows`` (production by SKU, line and week), ``plan_stock`` (demand,
stock and unmet by SKU and week) and ``plan_lines`` (hours, available and overtime by line and
week)."""


def save_production_plan(
    con: duckdb.DuckDBPyConnection, summary: dict[str, Any], rows: dict[str, pd.DataFrame]
) -> int:
    """Store a plan and return its id: ``summary`` has the ``production_plans`` columns
    (``scenario, run_id, horizon, status, total_cost, unmet_units, overtime_hours,
    max_utilisation, seconds, parameters``), ``rows`` the rows of each of ``PLAN_TABLES``
    (without ``plan_id``). Run it inside the caller's transaction: the plan lands whole or not
    at all."""
    plan_id = con.execute(
        "INSERT INTO production_plans (scenario, run_id, horizon, status, total_cost, "
        "unmet_units, overtime_hours, max_utilisation, seconds, parameters) "
        "VALUES ($scenario, $run_id, $horizon, $status, $total_cost, $unmet_units, "
        "$overtime_hours, $max_utilisation, $seconds, $parameters) RETURNING plan_id",
        summary,
    ).fetchone()[0]
    for table, frame in rows.items():
        if table not in PLAN_TABLES:
            raise ValueError(f"a production plan has no table {table!r}")
        db.insert_frame(con, table, frame.assign(plan_id=plan_id))
    return plan_id
