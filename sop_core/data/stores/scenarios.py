"""Saved scenarios: their names, levers and versions."""

from __future__ import annotations

import duckdb


def scenario_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Saved scenario names, alphabetical."""
    return [r[0] for r in con.execute("SELECT name FROM scenarios ORDER BY name").fetchall()]
