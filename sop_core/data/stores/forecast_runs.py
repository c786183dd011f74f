"""Forecast runs: which run is current and what each run stored."""

from __future__ import annotations

from typing import Any

import duckdb


def latest_forecast_run(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The current forecast run (the newest on the latest history; past runs made for
    accuracy are older): ``run_id``, ``created_at``, ``history_end``, ``horizon``, ``skus``
    (None when there is none yet)."""
    row = con.execute(
        "SELECT run_id, created_at, history_end, horizon, skus FROM forecast_runs "
        "ORDER BY history_end DESC, run_id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    return dict(zip(("run_id", "created_at", "history_end", "horizon", "skus"), row, strict=True))
