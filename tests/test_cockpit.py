"""The Overview's figures: demand against supply, exceptions by money, and no lines yet."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from sop_core.data import db
from sop_core.demand.plan_base import load_plan_base
from sop_core.forecast.runs import latest_run
from sop_core.meeting.cockpit import overview
from sop_core.scenario.model import Lever, Scenario
from sop_core.supply.planning import load_supply


def test_overview_numbers_and_a_lever_on_a_family_that_is_gone(forecast_db, tmp_path):
    path = tmp_path / "sop.duckdb"
    shutil.copy(forecast_db, path)
    with db.connect(path) as con:
        base = load_plan_base(con, latest_run(con))
        supply = load_supply(con, base)
    gone = Scenario("Old", [Lever("campaign", "family", "nailcare", change=0.2)])
    figures = overview(base, supply, gone)
    assert figures.kpis["target"] == pytest.approx(base.baseline[:, :13].sum())
    assert "nailcare" in " ".join(figures.notes)
    assert figures.weekly["demand"].sum() == pytest.approx(figures.kpis["target"])
    assert figures.exceptions["impact"].is_monotonic_decreasing
    assert figures.kpis["peak_utilisation"] > 0 and figures.kpis["peak_week"] is not None
    # The tile's peak is the planned load over the weeks shown; the demand load sits beside it.
    planned, demand = figures.peaks["planned_load"], figures.peaks["demand_load"]
    assert planned.value == figures.kpis["peak_utilisation"] and planned.weeks == 13
    assert planned.label == "Peak planned load, next 13 weeks"
    assert demand.label == "Peak demand load, next 13 weeks" and demand.value > planned.value
    # The sample's December peak needs overtime: a supply item, priced at the overtime rate.
    assert figures.kpis["peak_utilisation"] > 1
    overtime = figures.exceptions[figures.exceptions["detail"].str.contains("overtime hours")]
    assert not overtime.empty and (overtime["impact"] > 0).all()

    # A company with sales but no line speeds yet: demand still shows, supply says why not.
    with db.transaction(path) as con:
        con.execute("UPDATE products SET units_per_hour = NULL, default_line = NULL")
        con.execute("DELETE FROM product_lines")
    with db.connect(path) as con:
        bare = load_plan_base(con, latest_run(con))
        no_lines = overview(bare, load_supply(con, bare), Scenario("Baseline"))
    assert np.isnan(no_lines.kpis["unmet_units"]) and no_lines.kpis["peak_week"] is None
    assert any("No production plan" in note for note in no_lines.notes)
    assert no_lines.kpis["target"] == pytest.approx(figures.kpis["target"])
