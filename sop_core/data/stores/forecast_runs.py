"""Forecast runs: which run is current, what each run stored, and writing a run.

A run is written whole in one transaction by ``insert_run`` + ``insert_run_frames`` (the
caller holds the transaction); everything else here reads.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pandas as pd

from sop_core.data import db

# The current run: the newest of those made on the latest history (past runs made for
# accuracy by lag are older). The one definition every reader uses.
_CURRENT = "ORDER BY history_end DESC, run_id DESC LIMIT 1"


def latest_forecast_run(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The current forecast run (the newest on the latest history; past runs made for
    accuracy are older): ``run_id``, ``created_at``, ``history_end``, ``horizon``, ``skus``
    (None when there is none yet)."""
    row = con.execute(
        f"SELECT run_id, created_at, history_end, horizon, skus FROM forecast_runs {_CURRENT}"
    ).fetchone()
    if row is None:
        return None
    return dict(zip(("run_id", "created_at", "history_end", "horizon", "skus"), row, strict=True))


def latest_run_id(con: duckdb.DuckDBPyConnection) -> int | None:
    """The current forecast run's id, or None when there is none yet."""
    return _current(con, "run_id")


def latest_first_week(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The first forecast week of the current run (None without a run)."""
    return _current(con, "first_week")


def _current(con: duckdb.DuckDBPyConnection, column: str) -> Any:
    """One column of the current run's row (None without a run); ``column`` comes from code."""
    rows = con.execute(f"SELECT {column} FROM forecast_runs {_CURRENT}").fetchall()
    return rows[0][0] if rows else None


def run_with_fingerprint(con: duckdb.DuckDBPyConnection, fingerprint: str) -> int | None:
    """The newest run made from exactly these data and parameters, if any."""
    row = con.execute(
        "SELECT run_id FROM forecast_runs WHERE fingerprint = ? ORDER BY run_id DESC LIMIT 1",
        [fingerprint],
    ).fetchone()
    return row[0] if row else None


def run_with_parameters(
    con: duckdb.DuckDBPyConnection, parameters: str, history_end: str
) -> int | None:
    """The newest run with these parameters on a history ending ``history_end``, if any."""
    row = con.execute(
        "SELECT run_id FROM forecast_runs WHERE parameters = ? AND history_end = ? "
        "ORDER BY run_id DESC LIMIT 1",
        [parameters, history_end],
    ).fetchone()
    return row[0] if row else None


def run_counts(con: duckdb.DuckDBPyConnection, run_id: int) -> tuple[int, int, dt.date]:
    """A run's SKUs, SKUs refit and the end of its history."""
    return con.execute(
        "SELECT skus, skus_refit, history_end FROM forecast_runs WHERE run_id = ?", [run_id]
    ).fetchone()


def models_used(con: duckdb.DuckDBPyConnection, run_id: int) -> dict[str, int]:
    """How many SKUs each model serves in a run, most used first."""
    return dict(
        con.execute(
            "SELECT model, count(*) FROM forecast_models WHERE run_id = ? GROUP BY model "
            "ORDER BY count(*) DESC",
            [run_id],
        ).fetchall()
    )


def run_fallbacks(con: duckdb.DuckDBPyConnection, run_id: int) -> pd.DataFrame:
    """The SKUs of a run whose candidates failed: ``sku, failed_models, failure, model``
    (``model``: what served instead), by SKU."""
    return con.execute(
        "SELECT sku, failed_models, failure, model FROM forecast_models "
        "WHERE run_id = ? AND failed_models IS NOT NULL AND failed_models <> '' ORDER BY sku",
        [run_id],
    ).df()


def served_models(con: duckdb.DuckDBPyConnection, run_id: int) -> dict[str, str]:
    """The model serving each SKU in a run."""
    return dict(
        con.execute("SELECT sku, model FROM forecast_models WHERE run_id = ?", [run_id]).fetchall()
    )


def insert_run(con: duckdb.DuckDBPyConnection, run: dict[str, Any]) -> int:
    """Add a run's header row (the ``forecast_runs`` columns in ``run``); returns its id. Call
    inside the transaction that then writes its rows with ``insert_run_frames``."""
    return db.insert_row(con, "forecast_runs", run, "run_id")


RUN_TABLES = (
    "forecast_rows",
    "forecast_models",
    "backtest_results",
    "driver_effects",
    "forecast_channel_shares",
)


def insert_run_frames(con: duckdb.DuckDBPyConnection, frames: dict[str, pd.DataFrame]) -> None:
    """Write a run's rows, one frame per table of ``RUN_TABLES``."""
    for table in RUN_TABLES:
        if table in frames:
            db.insert_frame(con, table, frames[table])


def sku_models(con: duckdb.DuckDBPyConnection, run_id: int) -> pd.DataFrame:
    """Per SKU of a run: ``sku, series_type, model, reason, fingerprint, history_weeks,
    failed_models, failure``."""
    return con.execute(
        "SELECT sku, series_type, model, reason, fingerprint, history_weeks, failed_models, "
        "failure FROM forecast_models WHERE run_id = ?",
        [run_id],
    ).df()


def run_rows(
    con: duckdb.DuckDBPyConnection, run_id: int, skus: list[str] | None = None
) -> pd.DataFrame:
    """A run's stored forecast rows (every column), by SKU and week; only ``skus`` if given."""
    return con.execute(
        "SELECT * FROM forecast_rows WHERE run_id = ? AND (?::VARCHAR[] IS NULL "
        "OR list_contains(?::VARCHAR[], sku)) ORDER BY sku, week",
        [run_id, skus, skus],
    ).df()


def forecast_span(
    con: duckdb.DuckDBPyConnection, run_id: int | None
) -> tuple[dt.date | None, dt.date | None]:
    """The first and last week forecast run ``run_id`` covers (``(None, None)``: no rows)."""
    return con.execute(
        "SELECT min(week), max(week) FROM forecast_rows WHERE run_id = ?", [run_id]
    ).fetchone()


def forecast_frame(con: duckdb.DuckDBPyConnection, run_id: int) -> pd.DataFrame:
    """A run's rows with the CLI's columns: sku, week, forecast, lower_80, upper_80, lower_95,
    upper_95, model."""
    return con.execute(
        "SELECT sku, week, forecast, lower_80, upper_80, lower_95, upper_95, model "
        "FROM forecast_rows WHERE run_id = ? ORDER BY sku, week",
        [run_id],
    ).df()


def forecast_bands(con: duckdb.DuckDBPyConnection, run_id: int) -> pd.DataFrame:
    """A run's forecast and its bands: ``sku, week, forecast, lower_80, upper_80, lower_95,
    upper_95``, by SKU and week."""
    return con.execute(
        "SELECT sku, week, forecast, lower_80, upper_80, lower_95, upper_95 FROM forecast_rows "
        "WHERE run_id = ? ORDER BY sku, week",
        [run_id],
    ).df()


def channel_shares(con: duckdb.DuckDBPyConnection, run_id: int) -> pd.DataFrame:
    """Each SKU's split of volume between channels in a run: ``sku, channel, share``."""
    return con.execute(
        "SELECT sku, channel, share FROM forecast_channel_shares WHERE run_id = ?", [run_id]
    ).df()


def driver_effects(con: duckdb.DuckDBPyConnection, run_id: int) -> pd.DataFrame:
    """A run's driver effects: ``sku, driver, estimate, standard_error, raw_estimate,
    raw_standard_error, source``."""
    return con.execute(
        "SELECT sku, driver, estimate, standard_error, raw_estimate, raw_standard_error, source "
        "FROM driver_effects WHERE run_id = ?",
        [run_id],
    ).df()


def raw_driver_estimates(
    con: duckdb.DuckDBPyConnection, run_id: int, skus: list[str]
) -> pd.DataFrame:
    """The SKUs' own driver estimates in a run (before shrinkage): ``sku, driver,
    raw_estimate, raw_standard_error``."""
    return con.execute(
        "SELECT sku, driver, raw_estimate, raw_standard_error FROM driver_effects "
        "WHERE run_id = ? AND list_contains(?, sku) AND raw_estimate IS NOT NULL",
        [run_id, skus],
    ).df()


def backtest_rows(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    *,
    skus: list[str] | None = None,
    horizon: int | None = None,
) -> pd.DataFrame:
    """A run's backtest sums (every column of ``backtest_results``), for ``skus`` and
    ``horizon`` if given."""
    return con.execute(
        "SELECT * FROM backtest_results WHERE run_id = ? "
        "AND (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], sku)) "
        "AND (?::INTEGER IS NULL OR horizon = ?::INTEGER)",
        [run_id, skus, skus, horizon, horizon],
    ).df()


def backtest_horizons(con: duckdb.DuckDBPyConnection, run_id: int) -> list[int]:
    """The horizons a run's backtest was scored on."""
    return [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT horizon FROM backtest_results WHERE run_id = ? ORDER BY 1", [run_id]
        ).fetchall()
    ]


def closed_week_forecasts(con: duckdb.DuckDBPyConnection, season: int) -> pd.DataFrame:
    """Every stored run's forecast of a closed week next to what was sold, one row per
    (origin, SKU, channel, week); see ``sop_core.demand.accuracy.lag_frame`` for the columns.
    Only the newest run per ``history_end`` counts; ``season`` (weeks) places the seasonal
    naive forecast as it could have been made at the origin."""
    return con.execute(_LAG_SQL, [season, season]).df()


_LAG_SQL = """
WITH closed AS (
    SELECT max(week) AS last_week FROM sales_history
),
newest AS (
    SELECT history_end, max(run_id) AS run_id FROM forecast_runs GROUP BY history_end
),
forecasts AS (
    SELECT n.run_id, n.history_end AS origin, f.sku, f.week, f.forecast, f.model
    FROM newest n
    JOIN forecast_rows f ON f.run_id = n.run_id
    CROSS JOIN closed
    WHERE f.week <= closed.last_week
),
cells AS (
    SELECT f.*, s.channel, s.share
    FROM forecasts f
    JOIN forecast_channel_shares s ON s.run_id = f.run_id AND s.sku = f.sku
    UNION ALL
    -- A channel the SKU sold in that the run gave no share: forecast nothing there.
    SELECT f.*, h.channel, 0.0 AS share
    FROM forecasts f
    JOIN sales_history h ON h.sku = f.sku AND h.week = f.week
    WHERE NOT EXISTS (
        SELECT 1 FROM forecast_channel_shares s
        WHERE s.run_id = f.run_id AND s.sku = f.sku AND s.channel = h.channel
    )
),
lagged AS (
    SELECT c.*,
           CAST(date_diff('day', c.origin, c.week) // 7 AS INTEGER) AS lag,
           -- Seasonal naive as it could be made at the origin: the same week a year (or two)
           -- earlier, never a week after the origin.
           CAST(c.week - 7 * ? * CAST(ceil(date_diff('day', c.origin, c.week) / (7.0 * ?))
                AS INTEGER) AS DATE) AS naive_week
    FROM cells c
),
first_weeks AS (
    SELECT sku, min(week) AS first_week FROM sales_history GROUP BY sku
),
prices AS (
    SELECT sku, sum(units * net_price) / nullif(sum(units), 0) AS net_price
    FROM sales_history
    WHERE net_price IS NOT NULL
    GROUP BY sku
)
SELECT l.origin, l.run_id, l.lag, l.sku, p.family, p.brand, l.channel, l.week,
       coalesce(a.units, 0.0) AS actual,
       l.forecast * l.share AS statistical,
       CASE WHEN l.naive_week >= fw.first_week THEN coalesce(n.units, 0.0) END AS naive,
       l.forecast * l.share AS consensus,
       coalesce(pr.net_price, p.list_price) AS price,
       coalesce(m.model, l.model) AS model
FROM lagged l
LEFT JOIN products p ON p.sku = l.sku
LEFT JOIN first_weeks fw ON fw.sku = l.sku
LEFT JOIN prices pr ON pr.sku = l.sku
LEFT JOIN forecast_models m ON m.run_id = l.run_id AND m.sku = l.sku
LEFT JOIN sales_history a ON a.sku = l.sku AND a.channel = l.channel AND a.week = l.week
LEFT JOIN sales_history n ON n.sku = l.sku AND n.channel = l.channel AND n.week = l.naive_week
ORDER BY l.origin, l.sku, l.channel, l.week
"""
