"""Plans of record: the approved, frozen plans (who approved which scenario on which forecast
run, its totals and content hash) and the rows each froze: targets, production and line load.

``plan_of_record(con, version=None)`` is the one read of a version, the latest by default.
Nothing here updates or deletes a version."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from sop_core.data import db


def plans_of_record(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every approved plan of record, newest first."""
    return con.execute(
        "SELECT plan_version, approved_at, approved_by, scenario, run_id, history_end, weeks, "
        "volume, revenue, margin, unmet_units, overtime_hours, max_utilisation, note "
        "FROM plans_of_record ORDER BY plan_version DESC"
    ).df()


FROZEN_TABLES = ("plan_of_record_targets", "plan_of_record_production", "plan_of_record_capacity")
"""The rows a plan of record freezes: targets by SKU x week, production by SKU x line x week,
line load by line x week."""


@dataclass(frozen=True)
class PlanOfRecord:
    """One approved version of the plan of record, as stored (``definition``: the approved
    scenario's levers as JSON; ``overrides``: the ids of the overrides in force, as JSON)."""

    plan_version: int
    approved_at: dt.datetime
    approved_by: str
    scenario: str
    scenario_version: int | None
    definition: str
    run_id: int
    history_end: dt.date
    overrides: str
    note: str | None
    weeks: int
    volume: float
    revenue: float
    margin: float
    unmet_units: float
    overtime_hours: float
    max_utilisation: float
    content_sha256: str


def plan_of_record(
    con: duckdb.DuckDBPyConnection, version: int | None = None
) -> PlanOfRecord | None:
    """Plan of record ``version``, or the latest one when ``version`` is None (None when there
    is no such version, or nothing is approved yet)."""
    columns = ", ".join(PlanOfRecord.__dataclass_fields__)
    if version is None:
        row = con.execute(
            f"SELECT {columns} FROM plans_of_record ORDER BY plan_version DESC LIMIT 1"
        ).fetchone()
    else:
        row = con.execute(
            f"SELECT {columns} FROM plans_of_record WHERE plan_version = ?", [version]
        ).fetchone()
    return None if row is None else PlanOfRecord(*row)


def plan_of_record_totals(
    con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date
) -> dict[str, Any] | None:
    """The latest plan of record's volume, revenue and margin over the weeks ``first`` to
    ``last`` it covers (``first_week``, ``last_week``, ``weeks``), None when nothing is
    approved yet."""
    latest = plan_of_record(con)
    if latest is None:
        return None
    totals = con.execute(
        "SELECT sum(target), sum(revenue), sum(margin), min(week), max(week), "
        "count(DISTINCT week) FROM plan_of_record_targets "
        "WHERE plan_version = ? AND week BETWEEN ? AND ?",
        [latest.plan_version, first, last],
    ).fetchone()
    keys = ("volume", "revenue", "margin", "first_week", "last_week", "weeks")
    return {
        "plan_version": latest.plan_version,
        "scenario": latest.scenario,
        "approved_at": latest.approved_at,
        **dict(zip(keys, totals, strict=True)),
    }


def next_plan_version(con: duckdb.DuckDBPyConnection) -> int:
    """The version number the next approval takes."""
    return int(
        con.execute("SELECT coalesce(max(plan_version), 0) + 1 FROM plans_of_record").fetchone()[0]
    )


def set_approved_at(con: duckdb.DuckDBPyConnection, version: int, when: dt.datetime) -> None:
    """Date version ``version``'s approval ``when`` (the sample's plan, approved at last
    week's meeting; its content and hash are untouched)."""
    con.execute(
        "UPDATE plans_of_record SET approved_at = ? WHERE plan_version = ?", [when, version]
    )


def record_plan_of_record(
    con: duckdb.DuckDBPyConnection,
    plan: dict[str, Any],
    frozen: dict[str, pd.DataFrame],
) -> None:
    """Write a new version: ``plan`` has the ``plans_of_record`` columns except
    ``approved_at`` (now) and ``history_end`` (that of forecast run ``run_id``); ``frozen``
    the rows of each of ``FROZEN_TABLES`` (without ``plan_version``). A version number
    already taken raises ``duckdb.ConstraintException``. Run it inside the caller's
    transaction: the version lands whole or not at all."""
    con.execute(
        "INSERT INTO plans_of_record (plan_version, approved_by, scenario, "
        "scenario_version, definition, run_id, history_end, overrides, note, weeks, "
        "volume, revenue, margin, unmet_units, overtime_hours, max_utilisation, "
        "content_sha256) "
        "VALUES ($plan_version, $approved_by, $scenario, $scenario_version, $definition, "
        "$run_id, (SELECT history_end FROM forecast_runs WHERE run_id = $run_id), $overrides, "
        "$note, $weeks, $volume, $revenue, $margin, $unmet_units, $overtime_hours, "
        "$max_utilisation, $content_sha256)",
        plan,
    )
    for table in FROZEN_TABLES:
        db.insert_frame(con, table, frozen[table].assign(plan_version=plan["plan_version"]))


def frozen_rows(con: duckdb.DuckDBPyConnection, version: int) -> dict[str, pd.DataFrame]:
    """The rows plan of record ``version`` froze, by table (see ``FROZEN_TABLES``)."""
    return {
        table: con.execute(
            f"SELECT * EXCLUDE (plan_version) FROM {table} WHERE plan_version = ?", [version]
        ).df()
        for table in FROZEN_TABLES
    }


def frozen_targets(
    con: duckdb.DuckDBPyConnection, version: int, weeks: int | None = None
) -> pd.DataFrame:
    """The targets plan of record ``version`` froze (its first ``weeks`` weeks; all by
    default), by SKU and week: ``sku, week, statistical, consensus, target, lower_80,
    upper_80, revenue, margin``."""
    columns = "sku, week, statistical, consensus, target, lower_80, upper_80, revenue, margin"
    if weeks is None:
        return con.execute(
            f"SELECT {columns} FROM plan_of_record_targets WHERE plan_version = ? "
            "ORDER BY sku, week",
            [version],
        ).df()
    return con.execute(
        f"""
        WITH weeks AS (
            SELECT week, dense_rank() OVER (ORDER BY week) AS n
            FROM (SELECT DISTINCT week FROM plan_of_record_targets WHERE plan_version = $version)
        )
        SELECT {columns}
        FROM plan_of_record_targets JOIN weeks USING (week)
        WHERE plan_version = $version AND n <= $weeks
        ORDER BY sku, week
        """,
        {"version": version, "weeks": weeks},
    ).df()
