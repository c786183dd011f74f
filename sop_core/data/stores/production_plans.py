"""Stored production plans: each plan's summary (scenario, forecast run, costs, settings)
and its rows: production by SKU x line x week, stock by SKU x week, hours by line x week;
finding the newest plan of a scenario's content on a forecast run and reading it back."""

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
    max_utilisation, seconds, parameters`` and, optionally, ``scenario_fingerprint``),
    ``rows`` the rows of each of ``PLAN_TABLES`` (without ``plan_id``). Run it inside the
    caller's transaction: the plan lands whole or not at all."""
    plan_id = con.execute(
        "INSERT INTO production_plans (scenario, run_id, horizon, status, total_cost, "
        "unmet_units, overtime_hours, max_utilisation, seconds, parameters, "
        "scenario_fingerprint) "
        "VALUES ($scenario, $run_id, $horizon, $status, $total_cost, $unmet_units, "
        "$overtime_hours, $max_utilisation, $seconds, $parameters, $scenario_fingerprint) "
        "RETURNING plan_id",
        {"scenario_fingerprint": None, **summary},
    ).fetchone()[0]
    for table, frame in rows.items():
        if table not in PLAN_TABLES:
            raise ValueError(f"a production plan has no table {table!r}")
        db.insert_frame(con, table, frame.assign(plan_id=plan_id))
    return plan_id


_SUMMARY = (
    "plan_id",
    "created_at",
    "scenario",
    "run_id",
    "horizon",
    "status",
    "total_cost",
    "unmet_units",
    "overtime_hours",
    "max_utilisation",
    "seconds",
    "parameters",
    "scenario_fingerprint",
)


def latest_plan(
    con: duckdb.DuckDBPyConnection,
    scenario_fingerprint: str,
    run_id: int,
    horizon: int,
    parameters: str,
) -> dict[str, Any] | None:
    """The newest plan of the scenario content ``scenario_fingerprint`` on forecast run
    ``run_id`` over ``horizon`` weeks with the cost settings ``parameters`` (JSON): its
    ``production_plans`` row as a dict, or None when there is none."""
    row = con.execute(
        f"SELECT {', '.join(_SUMMARY)} FROM production_plans "
        "WHERE scenario_fingerprint = ? AND run_id = ? AND horizon = ? AND parameters = ? "
        "ORDER BY plan_id DESC LIMIT 1",
        [scenario_fingerprint, run_id, horizon, parameters],
    ).fetchone()
    return None if row is None else dict(zip(_SUMMARY, row, strict=True))


def plan_tables(con: duckdb.DuckDBPyConnection, plan_id: int) -> dict[str, pd.DataFrame]:
    """A stored plan's rows, by table of ``PLAN_TABLES`` (without ``plan_id``), ordered by
    their keys."""
    keys = {
        "plan_rows": "sku, line, week",
        "plan_stock": "sku, week",
        "plan_lines": "line, week",
    }
    return {
        table: con.execute(
            f"SELECT * EXCLUDE (plan_id) FROM {table} WHERE plan_id = ? ORDER BY {keys[table]}",
            [plan_id],
        ).df()
        for table in PLAN_TABLES
    }
