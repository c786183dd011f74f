"""Every page, rendered headless with AppTest against a real sample database."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from sop_core.data import formats
from tests.conftest import AS_OF
from tests.helpers import hold_lock, run_cli

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "Baseline (no levers)"
PAGES = [
    "pages/overview.py",
    "pages/demand.py",
    "pages/promotions.py",
    "pages/supply.py",
    "pages/plan.py",
    "pages/data.py",
    "pages/present.py",
]
# Pages whose issue is not done yet say so in a "Not built yet" box; finished pages do not.
UNFINISHED: set[str] = set()


def open_app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    if page:
        at.switch_page(page).run()
    return at


def levers_shown(at: AppTest) -> pd.DataFrame:
    """The Promotions page's table of the scenario's levers."""
    return next(t.value for t in at.dataframe if "applies_to" in t.value.columns)


def figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def values(trace_axis) -> np.ndarray:
    """A trace's numbers, whether plain or plotly's base64 typed array."""
    if isinstance(trace_axis, dict) and "bdata" in trace_axis:
        return np.frombuffer(base64.b64decode(trace_axis["bdata"]), dtype=trace_axis["dtype"])
    return np.asarray(trace_axis, dtype=float)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def rows(path: Path, sql: str) -> list[tuple]:
    # Through the product's connection, which waits while a job's process still holds the
    # file (it may for a moment after recording its end), as the pages do.
    from sop_core.data import db

    with db.connect(path, timeout=60) as con:
        return con.execute(sql).fetchall()


def count(path: Path, sql: str) -> float:
    return rows(path, sql)[0][0]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_real_figures_and_says_what_is_missing(app_env, page):
    at = open_app(page)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title and at.title[0].value
    assert metrics(at), "no KPI tiles"
    says_unfinished = any("Not built yet" in info.value for info in at.info)
    assert says_unfinished == (page in UNFINISHED)
    # The shell ran around the page: the global filters are in the sidebar.
    assert [m.label for m in at.sidebar.multiselect] == ["Family", "Channel"]


def test_overview_shows_demand_against_supply_and_the_plan_of_record(app_env):
    from sop_core.meeting.plan_of_record import approve

    at = open_app()
    assert not at.exception and not at.error
    demand = count(
        app_env,
        "SELECT sum(forecast) FROM forecast_rows WHERE week < DATE '2026-11-23' + 91",
    )
    assert metrics(at)["Revised target"] == f"{demand / 1e6:,.1f}M"
    assert figures(at)[0]["layout"]["title"]["text"] == "Revised target and what the lines can make"
    assert "no plan of record approved yet" in at.caption[0].value
    approve(app_env, None, "Ana", weeks=13)
    at = open_app()
    assert "plan of record v1 (Baseline)" in at.caption[0].value
    assert "Revenue (EUR)" in metrics(at) and "Gross margin (EUR)" in metrics(at)
    margin = next(m for m in at.metric if m.label == "Gross margin (EUR)")
    assert margin.delta == "+0.0%"  # the baseline is what was approved


def trace(figure: dict, name: str) -> np.ndarray:
    (found,) = [t for t in figure["data"] if t.get("name") == name]
    return values(found["y"])


def test_demand_review_switches_scope_and_measure(app_env):
    at = open_app("pages/demand.py")
    total = figures(at)[0]
    assert total["layout"]["title"]["text"] == "Total: weekly units"
    names = [t["name"] for t in total["data"]]
    for expected in ["actual", "statistical", "consensus", "80% band", "95% band", "holiday"]:
        assert expected in names
    assert len(at.dataframe[0].value) == 13  # the next 13 weeks
    (made,) = [e for e in at.expander if e.label == "How this forecast was made"]
    served = count(app_env, "SELECT count(*) FROM forecast_models WHERE model = 'combination'")
    assert f"combination {served}" in made.markdown[0].value
    assert made.caption[0].value == "No model failed in this run."

    at.segmented_control(key="demand_level").set_value("family").run()
    at.selectbox(key="demand_family").set_value("fragrance").run()
    assert not at.exception
    family = figures(at)[0]
    assert family["layout"]["title"]["text"] == "Family fragrance: weekly units"
    fragrance = trace(family, "statistical")
    assert 0 < fragrance.sum() < trace(total, "statistical").sum()
    weekly = count(
        app_env,
        "SELECT sum(units) FROM sales_history JOIN products USING (sku) "
        "WHERE family = 'fragrance' AND week = DATE '2026-11-16'",
    )
    assert trace(family, "actual")[-1] == pytest.approx(weekly)

    at.segmented_control(key="demand_measure").set_value("revenue").run()
    assert figures(at)[0]["layout"]["yaxis"]["title"]["text"] == "Revenue per week (EUR)"
    assert trace(figures(at)[0], "statistical").sum() > fragrance.sum()  # prices above 1 EUR


def override_form(at: AppTest, mode: str, amount: float, reason: str) -> None:
    at.selectbox(key="override_mode").set_value(mode)
    at.number_input(key="override_amount").set_value(amount)
    at.text_input(key="override_reason").set_value(reason)
    (submit,) = [b for b in at.button if b.label == "Apply consensus override"]
    submit.click().run()


def test_an_override_is_persisted_shows_in_the_consensus_and_undo_restores_it(app_env):
    at = open_app("pages/demand.py")
    at.sidebar.text_input(key="user").set_value("Ana").run()
    at.segmented_control(key="demand_level").set_value("family").run()
    at.selectbox(key="demand_family").set_value("skincare").run()
    before = figures(at)[0]
    statistical = trace(before, "statistical")
    assert np.array_equal(trace(before, "consensus"), statistical)

    override_form(at, "units", 1000, "")
    assert "reason is required" in at.error[0].value
    assert count(app_env, "SELECT count(*) FROM consensus_overrides") == 0

    # A slip (the whole family set to 10 units a week) asks first; cancelling writes nothing.
    override_form(at, "set", 10, "Typo")
    assert "Is that what you mean?" in at.warning[0].value
    at.button(key="override_cancel").click().run()
    assert count(app_env, "SELECT count(*) FROM consensus_overrides") == 0
    assert not at.warning

    override_form(at, "units", 1000, "Listing at a new retailer")
    assert not at.exception and not at.error
    assert "Override 1 saved" in at.success[0].value
    con = duckdb.connect(str(app_env))
    try:
        row = con.execute(
            "SELECT author, level, target, mode, amount, reason, units_after - units_before "
            "FROM consensus_overrides"
        ).fetchall()
    finally:
        con.close()
    # units_after - units_before is a difference of two sums of floats: exact to rounding.
    assert [r[:-1] for r in row] == [
        ("Ana", "family", "skincare", "units", 1000.0, "Listing at a new retailer")
    ]
    assert row[0][-1] == pytest.approx(4000.0, abs=1e-6)
    after = figures(at)[0]
    # The first four forecast weeks (the form's default) carry exactly 1,000 more units each.
    change = trace(after, "consensus") - statistical
    assert change[:4] == pytest.approx([1000.0] * 4)
    assert np.allclose(change[4:], 0)
    assert metrics(at)["Consensus vs statistical"] == "+4.0k"
    assert len(at.dataframe[1].value) == 1  # the history

    # Every page that uses the demand plan sees it: the scenario baseline on Promotions.
    at.switch_page("pages/promotions.py").run()
    assert not at.exception

    at.switch_page("pages/demand.py").run()
    at.button(key="undo_override").click().run()
    assert "Override 1 undone" in at.success[0].value
    assert np.allclose(trace(figures(at)[0], "consensus"), statistical)
    assert count(app_env, "SELECT count(*) FROM consensus_overrides WHERE undone_by = 'Ana'") == 1


def test_the_override_amount_starts_empty_and_an_empty_submit_stores_nothing(app_env):
    at = open_app("pages/demand.py")
    statistical = trace(figures(at)[0], "statistical")
    assert at.number_input(key="override_amount").value is None  # was +10%, a change by default
    at.text_input(key="override_reason").set_value("Listing at a new retailer")
    (submit,) = [b for b in at.button if b.label == "Apply consensus override"]
    submit.click().run()
    assert not at.exception and not at.warning and not at.success
    assert any(error.value.startswith("Enter an amount") for error in at.error)
    assert count(app_env, "SELECT count(*) FROM consensus_overrides") == 0
    assert np.array_equal(trace(figures(at)[0], "consensus"), statistical)


def test_demand_review_offers_past_forecasts_when_there_are_none(app_env):
    at = open_app("pages/demand.py")
    assert any("no past forecasts" in i.value for i in at.info)
    assert at.button(key="backfill").label == "Make past forecasts"


@pytest.mark.slow
def test_demand_review_scores_accuracy_by_lag_and_value_added(backfilled_db, tmp_path, monkeypatch):
    path = tmp_path / "app.duckdb"
    shutil.copy(backfilled_db, path)
    monkeypatch.setenv("SOP_DB", str(path))
    monkeypatch.setenv("SOP_SAMPLE_AS_OF", AS_OF.isoformat())
    at = open_app("pages/demand.py")
    assert not at.exception and not at.error
    assert at.select_slider(key="accuracy_lag").options == ["1", "2", "3", "4", "5", "6"]
    total = metrics(at)["WAPE at lag 4"]
    assert total.endswith("%") and 0 < float(total[:-1]) < 50
    assert [f["layout"]["title"]["text"] for f in figures(at)][1] == "Total: accuracy by lag"
    exceptions = at.dataframe[2].value
    assert len(exceptions) == 10 and exceptions["impact"].is_monotonic_decreasing
    at.segmented_control(key="demand_level").set_value("sku").run()
    at.selectbox(key="demand_sku").set_value(exceptions["sku"].iloc[0]).run()
    assert metrics(at)["WAPE at lag 4"] != total  # the top exception misses more than the total


def test_supply_shows_every_line_and_the_overloads_ahead(app_env):
    at = open_app("pages/supply.py")
    lines = count(app_env, "SELECT count(*) FROM production_lines")
    heat = figures(at)[0]["data"][0]
    assert heat["type"] == "heatmap" and len(heat["y"]) == lines
    # The line picker opens on the most loaded line: the heatmap's row of the highest load.
    z = heat["z"]
    if isinstance(z, dict):
        z = values(z).reshape([int(n) for n in str(z["shape"]).split(",")])
    peaks = np.nanmax(np.asarray(z, dtype=float), axis=1)
    assert at.selectbox(key="supply_line").value == heat["y"][int(np.argmax(peaks))].split()[0]
    assert int(metrics(at)["Overloaded line-weeks"]) > 0
    assert not at.dataframe[0].value.empty  # the exceptions
    assert at.dataframe[0].value.iloc[0]["kind"] == "overloaded"


def direct_plan_tiles(path: Path, scenario) -> dict[str, str]:
    """The Supply page's plan tiles as a direct solve of ``scenario`` on the current run
    gives them."""
    from sop_core.data import db
    from sop_core.data.stores import forecast_runs
    from sop_core.demand.plan_base import load_plan_base
    from sop_core.scenario.levers import apply_scenario
    from sop_core.supply import loads
    from sop_core.supply.planning import chase_plan, load_supply, solve_plan
    from sop_ui.formatting import money, units

    with db.connect(path) as con:
        base = load_plan_base(con, forecast_runs.latest_run_id(con))
        supply = load_supply(con, base)
    result = apply_scenario(base, scenario)
    plan, chase = solve_plan(result, supply), chase_plan(result, supply)
    summary, peer = plan.summary(result.available), chase.summary(result.available)
    planned = loads.peaks(result, plan.hours, plan.overtime, loads.KPI_WEEKS)["planned_load"]
    assert summary["total_cost"] < peer["total_cost"]  # the plan beats the chase plan
    return {
        "Plan cost": money(summary["total_cost"], "EUR"),
        "Unmet demand": units(summary["unmet_units"]),
        "Overtime hours": f"{summary['overtime_hours']:,.0f}",
        planned.label: planned.shown,
    }


def test_supply_builds_the_plan_as_a_job_and_shows_it_after_a_restart(app_env):
    from sop_core.scenario.model import CapacityChange, Scenario

    at = open_app("pages/supply.py")
    assert "Plan cost" not in metrics(at)
    assert any(c.value.startswith("Not built yet") for c in at.caption)
    at.button(key="build_plan").click().run()
    assert not at.exception and not at.error
    assert rows(app_env, "SELECT kind, state FROM jobs") == [("plan", "done")]
    assert count(app_env, "SELECT count(*) FROM production_plans") == 1
    expected = direct_plan_tiles(app_env, Scenario("baseline"))
    assert {label: metrics(at)[label] for label in expected} == expected
    assert any(
        f["layout"]["title"]["text"] == "Production plan against the revised target"
        for f in figures(at)
    )

    # A new session (as after a restart): the stored plan, without pressing.
    again = open_app("pages/supply.py")
    assert not again.exception and not again.error
    assert {label: metrics(again)[label] for label in expected} == expected
    assert metrics(again)["Solved in"] == metrics(at)["Solved in"]

    # An unsaved draft is its own plan: not built until pressed, then planned as drafted.
    again.selectbox(key="capacity_line").set_value("S1")
    again.select_slider(key="capacity_weeks").set_value(("14 Dec 2026", "28 Dec 2026"))
    again.number_input(key="capacity_hours").set_value(80.0)
    next(b for b in again.button if b.label == "Add to the scenario").click().run()
    assert "Plan cost" not in metrics(again)
    again.button(key="build_plan").click().run()
    assert not again.exception and not again.error
    change = CapacityChange("S1", dt.date(2026, 12, 14), dt.date(2026, 12, 28), 80.0, "")
    drafted = direct_plan_tiles(app_env, Scenario("baseline", capacity=[change]))
    assert {label: metrics(again)[label] for label in drafted} == drafted
    assert drafted != expected
    assert count(app_env, "SELECT count(*) FROM jobs WHERE kind = 'plan'") == 2
    assert count(app_env, "SELECT count(*) FROM production_plans WHERE scenario IS NULL") == 2


def test_taking_an_action_the_plan_makes_builds_the_plan(app_env):
    """Building earlier and alternate lines are the plan's own moves: taking one builds the
    production plan (a job), and the page shows it."""
    from sop_core.scenario.model import Scenario

    at = open_app("pages/supply.py")
    assert "Plan cost" not in metrics(at)
    choice = at.selectbox(key="fix_choice")
    index = next(i for i, label in enumerate(choice.options) if "the plan's move" in label)
    choice.set_value(index).run()
    at.button(key="fix_add").click().run()
    assert not at.exception and not at.error
    assert rows(app_env, "SELECT kind, state FROM jobs") == [("plan", "done")]
    expected = direct_plan_tiles(app_env, Scenario("baseline"))
    assert {label: metrics(at)[label] for label in expected} == expected


def test_a_capacity_change_updates_the_view_and_is_saved_with_the_scenario(app_env):
    at = open_app("pages/supply.py")
    before = int(metrics(at)["Overloaded line-weeks"])
    # Widgets in a form are submitted together, by the form's button.
    at.selectbox(key="capacity_line").set_value("S1")
    at.select_slider(key="capacity_weeks").set_value(("14 Dec 2026", "28 Dec 2026"))
    at.number_input(key="capacity_hours").set_value(80.0)
    next(b for b in at.button if b.label == "Add to the scenario").click().run()
    assert not at.exception and not at.error
    assert int(metrics(at)["Overloaded line-weeks"]) < before
    # Markdown-escaped (renders as "line S1: 80 h extra a week").
    assert any(r"line S1\: 80 h extra a week" in m.value for m in at.markdown)
    at.text_input(key="new_name").set_value("Extra fragrance shifts").run()
    next(b for b in at.button if b.label == "Save as new scenario").click().run()
    assert not at.exception and not at.error
    saved = count(
        app_env,
        "SELECT count(*) FROM scenarios WHERE name = 'Extra fragrance shifts' "
        "AND definition LIKE '%\"capacity\": [{%'",
    )
    assert saved == 1
    assert at.sidebar.selectbox(key="scenario").value == "Extra fragrance shifts"


def test_supply_capacity_form_starts_at_no_change_and_refuses_an_empty_submit(app_env):
    at = open_app("pages/supply.py")
    before = int(metrics(at)["Overloaded line-weeks"])
    assert at.number_input(key="capacity_hours").value == 0  # was +16 h, a change by default
    assert at.text_input(key="capacity_reason").value in ("", None)
    next(b for b in at.button if b.label == "Add to the scenario").click().run()
    assert not at.exception
    assert any("0 h changes nothing" in error.value for error in at.error)
    assert not any("h extra a week" in m.value for m in at.markdown)
    assert any("None yet" in caption.value for caption in at.caption)
    assert int(metrics(at)["Overloaded line-weeks"]) == before
    # Nothing to save either: the draft did not change.
    assert not [b for b in at.button if b.label == "Save as new scenario" and not b.disabled]


def test_plan_decision_status_starts_at_the_items_status(app_env):
    from sop_core.meeting import decisions

    number = decisions.add_item(app_env, "decision", "Add a Saturday shift", "Ops", "Ana")
    decisions.set_status(app_env, number, "done", "Ana", 1)
    at = open_app("pages/plan.py")
    at.selectbox(key="decision_pick").set_value(number).run()
    assert at.selectbox(key="decision_status").value == "done"  # was "open", a reopening
    at.button(key="decision_update").click().run()
    assert not at.exception and not at.error
    done = f"SELECT count(*) FROM decisions WHERE decision_id = {number} AND status = 'done'"
    assert count(app_env, done) == 1


def test_the_stock_cover_uses_the_production_plans_safety_stock(app_env):
    """One safety stock: the cover chart's line, its red bars and the KPI's threshold are the
    weeks of cover the production plan keeps (``PlanSettings.safety_weeks``)."""
    from sop_core.data.stores import production
    from sop_core.data.stores.sales import Scope
    from sop_core.supply.planning import PlanSettings

    weeks = PlanSettings().safety_weeks
    at = open_app("pages/plan.py")
    assert not at.exception
    (cover,) = [
        f for f in figures(at) if f["layout"]["title"]["text"].startswith("Lowest stock cover")
    ]
    assert cover["layout"]["shapes"][0]["x0"] == weeks
    assert cover["layout"]["annotations"][0]["text"] == f"safety stock: {weeks:g} week"
    tiles = metrics(at)
    label = f"SKUs under {weeks:g} week of cover"
    assert label in tiles and not any("2 weeks" in name for name in tiles)
    con = duckdb.connect(str(app_env))
    try:
        stock = production.inventory_cover(con, Scope(), 13)
    finally:
        con.close()
    assert int(tiles[label]) == int((stock["weeks_of_cover"] < weeks).sum())


def test_data_page_counts_rows(app_env):
    at = open_app("pages/data.py")
    rows = count(app_env, "SELECT count(*) FROM sales_history")
    assert metrics(at)["Weekly sales rows"] == f"{rows:,}"
    (counts,) = [frame.value for frame in at.dataframe if "table" in frame.value.columns]
    table = counts.set_index("table")["rows"]
    assert table["products"] == 40
    assert at.selectbox(key="import_table").options[0] == "Products"
    assert any("Choose the table and a file" in i.value for i in at.info)
    assert at.get("download_button")  # the export


def test_data_page_lists_the_imports(app_env, tmp_path):
    from tests.helpers import run_cli

    stock = tmp_path / "stock.csv"
    stock.write_text("week,sku,units_on_hand\n2026-11-16,SKN-0001,5\n")
    done = run_cli("import", "--db", str(app_env), "--table", "inventory", str(stock))
    assert done.returncode == 0, done.stderr
    at = open_app("pages/data.py")
    log = at.dataframe[0].value
    assert log.iloc[0]["file_name"] == "stock.csv" and log.iloc[0]["rows_replaced"] == 1


def test_filter_survives_a_page_switch(app_env):
    at = open_app()
    at.sidebar.multiselect(key="family").set_value(["makeup", "skincare"]).run()
    at.switch_page("pages/promotions.py").run()
    assert not at.exception
    assert at.sidebar.multiselect(key="family").value == ["makeup", "skincare"]


def test_a_filter_that_empties_a_period_shows_zeros(tmp_path: Path, monkeypatch):
    # With 5 SKUs and seed 1 the only haircare SKU is a new launch: nothing a year ago.
    from sop_core.data.sample import SampleConfig, build_sample_database

    path = tmp_path / "tiny.duckdb"
    build_sample_database(path, SampleConfig(skus=5, seed=1, as_of=AS_OF))
    monkeypatch.setenv("SOP_DB", str(path))
    at = open_app()
    at.sidebar.multiselect(key="family").set_value(["haircare"]).run()
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert not at.error, (page, [e.value for e in at.error])


def test_the_file_is_free_after_a_render(app_env):
    open_app("pages/supply.py")
    holder = hold_lock(app_env, 0.1)  # fails at once if the app kept the file open
    holder.wait(timeout=10)
    assert holder.returncode == 0


def test_first_start_builds_the_sample_database(tmp_path: Path, monkeypatch):
    from sop_core.jobs import control
    from tests.helpers import wait_for

    path = tmp_path / "fresh" / "sop.duckdb"
    monkeypatch.setenv("SOP_DB", str(path))
    monkeypatch.setenv("SOP_SAMPLE_SKUS", "8")
    monkeypatch.setenv("SOP_SAMPLE_AS_OF", "2026-11-25")
    at = open_app()
    assert not at.exception and not at.error
    assert path.exists()
    # The history shows at once; the meeting in progress is a job recorded with the data.
    assert metrics(at)["Units sold, last 13 weeks"]
    assert [j.kind for j in control.list_jobs(path)][-1] == "meeting"
    # Let the jobs end (on their recorded state) before reading the file or removing it.
    assert wait_for(
        lambda: not control.list_jobs(path, active_only=True), timeout=300, interval=0.5
    )
    assert count(path, "SELECT count(*) FROM products") == 8


@pytest.mark.slow
def test_a_busy_database_gives_a_message_not_a_traceback(app_env, monkeypatch):
    monkeypatch.setenv("SOP_LOCK_TIMEOUT", "1")
    holder = hold_lock(app_env, 20)
    try:
        at = open_app()
    finally:
        holder.kill()
        holder.wait()
    assert not at.exception
    assert any("in use by another program" in e.value for e in at.error)


def test_a_bad_setting_gives_a_message(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SOP_DB", str(tmp_path / "new.duckdb"))
    monkeypatch.setenv("SOP_SAMPLE_AS_OF", "last tuesday")
    at = open_app()
    assert not at.exception
    assert any(r"SOP\_SAMPLE\_AS\_OF" in e.value for e in at.error)  # Markdown-escaped


@pytest.mark.slow
def test_the_app_waits_for_a_short_write_by_another_process(app_env, monkeypatch):
    monkeypatch.setenv("SOP_LOCK_TIMEOUT", "30")
    holder = hold_lock(app_env, 2.5)
    try:
        at = open_app()
    finally:
        holder.wait(timeout=30)
    assert not at.exception and not at.error
    assert metrics(at)["Revised target"]


def test_a_database_without_history_says_so(tmp_path: Path, monkeypatch):
    from sop_core.data import db

    path = tmp_path / "own.duckdb"
    db.ensure_schema(path)
    monkeypatch.setenv("SOP_DB", str(path))
    at = open_app()
    assert not at.exception and not at.error
    assert any("no sales history yet" in info.value for info in at.info)
    at.switch_page("pages/data.py").run()
    assert not at.exception and not at.error
    assert metrics(at)["Weekly sales rows"] == "0"


def test_moving_a_lever_changes_the_revised_total_and_kpis(app_env):
    at = open_app("pages/promotions.py")
    assert not at.exception
    before = metrics(at)
    assert [m.delta for m in at.metric if m.label == "Revised target vs baseline"] == ["+0.0%"]
    revised_before = values(figures(at)[0]["data"][3]["y"])
    at.slider(key="lever_discount").set_value(30).run()
    assert not at.exception
    after = metrics(at)
    assert after["Revised target vs baseline"] != before["Revised target vs baseline"]
    assert after["Revenue (EUR)"] != before["Revenue (EUR)"]
    revised_after = values(figures(at)[0]["data"][3]["y"])
    assert revised_after.sum() > revised_before.sum()
    assert any("30% off" in c.value for c in at.caption)


def test_a_lever_beyond_the_history_says_it_is_outside_history(app_env):
    """Issue 25: next to the lever, the range of price moves its SKUs' history has seen;
    beyond it "outside history" and a wider band; within it, nothing of the kind."""
    from sop_core.scenario.model import Lever, Scenario
    from sop_core.scenario.store import create_scenario

    def said(at: AppTest) -> list[str]:
        return [c.value for c in at.caption if any(w in c.value for w in ("Outside", "Within"))]

    doubled = Lever("price", "family", "makeup", dt.date(2026, 12, 28), None, change=1.0)
    create_scenario(app_env, Scenario("Makeup doubled", [doubled]), "ana", 1)
    at = open_app("pages/promotions.py")
    at.selectbox(key="lever_kind").set_value("price").run()
    at.slider(key="lever_price").set_value(100).run()
    assert not at.exception and not at.error
    (note,) = said(at)
    assert "Outside history" in note and "prices moved" in note and "160 weeks" in note
    assert "times as wide" in note and "history" in note
    at.slider(key="lever_price").set_value(2).run()
    assert not at.exception and not at.error
    assert not any("outside history" in c.value.lower() for c in at.caption)
    assert any(n.startswith("Within history") for n in said(at))

    # A saved scenario's lever outside history says so under the levers table.
    at.sidebar.selectbox(key="scenario").set_value("Makeup doubled").run()
    assert not at.exception and not at.error
    assert any("Outside history" in c.value and "makeup" in c.value for c in at.caption)


def test_promotion_kpis_of_the_story_push_match_the_targets_file(app_env, tmp_path):
    """Issue 20's done-when: on the sample's peak push (Christmas at the test sample's date),
    Promotions shows incremental units, incremental gross margin, trade spend and ROI for the
    promoted family, and they match the targets file: its volumes, priced as the scenario
    maths prices them (the week's regular price, the push's discount, the variable cost)."""
    from sop_core.data import db, formats
    from sop_core.data.stores import forecast_runs
    from sop_core.demand.plan_base import load_plan_base
    from sop_core.meeting.story import seed_meeting
    from sop_core.scenario.store import list_scenarios, load_scenario

    seed_meeting(app_env, jobs=1)  # the forecast is stored already: reused
    with db.connect(app_env) as con:
        (name,) = [n for n in list_scenarios(con)["name"] if n.endswith("at 35% off")]
        (push,) = load_scenario(con, name).scenario.levers
        base = load_plan_base(con, forecast_runs.latest_run_id(con))
    out = tmp_path / "targets.csv"
    made = run_cli("targets", "--db", str(app_env), "--scenario", name, "--out", str(out))
    assert made.returncode == 0, made.stderr

    # The file's side: its revised minus baseline over the family's rows and the push's weeks.
    rows = pd.read_csv(out, parse_dates=["week"])
    rows = rows.join(
        pd.Series(
            base.weekly_price.ravel(),
            index=pd.MultiIndex.from_product(
                [base.skus, pd.to_datetime(base.weeks)], names=["sku", "week"]
            ),
            name="price",
        ),
        on=["sku", "week"],
    )
    rows["cost"] = rows["sku"].map(dict(zip(base.skus, base.variable_cost, strict=True)))
    in_family = rows["sku"].map(dict(zip(base.skus, base.families, strict=True))) == push.target
    start, end = pd.Timestamp(push.start_week), pd.Timestamp(push.end_week)
    promoted = rows[in_family & rows["week"].between(start, end)]
    after = rows[in_family & (rows["week"] == end + pd.Timedelta(weeks=1))]
    assert promoted["week"].nunique() == 2 and len(after)
    extra = promoted["revised"] - promoted["baseline"]
    units = extra.sum()
    revenue = (promoted["price"] * (promoted["revised"] * (1 - 0.35) - promoted["baseline"])).sum()
    margin = revenue - (extra * promoted["cost"]).sum()
    trade_spend = (promoted["baseline"] * promoted["price"] * 0.35).sum()
    dip = (after["revised"] - after["baseline"]).sum()
    dip_margin = ((after["revised"] - after["baseline"]) * (after["price"] - after["cost"])).sum()
    roi = (margin + dip_margin) / trade_spend
    assert units > 0 and dip < 0 and trade_spend > 0

    # The page's side: the scenario's promotions, each in its scope and weeks.
    at = open_app()
    at.sidebar.selectbox(key="scenario").set_value(name).run()
    at.switch_page("pages/promotions.py").run()
    assert not at.exception and not at.error
    table = next(t.value for t in at.dataframe if "trade_spend" in t.value.columns)
    (row,) = table.to_dict("records")
    assert row["lever"] == push.describe()
    assert abs(row["incremental_units"] - units) < 1  # to the unit
    assert row["incremental_margin"] == pytest.approx(margin, rel=1e-5)
    assert row["trade_spend"] == pytest.approx(trade_spend, rel=1e-5)
    assert row["roi"] == pytest.approx(roi, abs=0.005)
    assert abs(row["dip_units"] - dip) < 1

    # The tiles of the lever being edited: the same push, built in the editor on the baseline.
    at.sidebar.selectbox(key="scenario").set_value(BASELINE).run()
    at.selectbox(key="lever_scope").set_value("family").run()
    at.selectbox(key="lever_target_family").set_value(push.target).run()
    at.select_slider(key="lever_weeks").set_range(f"{start:%d %b %Y}", f"{end:%d %b %Y}").run()
    for key, value in (("lever_discount", 35), ("lever_feature", 100), ("lever_display", 50)):
        at.slider(key=key).set_value(value).run()
    assert not at.exception and not at.error
    shown = metrics(at)
    assert shown["Incremental units"] == formats.compact(units, signed=True)
    assert shown["Incremental margin"] == formats.compact(margin, signed=True)
    assert shown["Trade spend"] == formats.compact(trade_spend)
    assert shown["Promotion ROI"] == f"{roi:+.2f}"
    assert shown["Post-promotion dip"] == formats.compact(dip, signed=True)
    # Beside them, the company's totals, labelled as such; one ROI for one promotion.
    assert any(m.value == "**Company totals**" for m in at.markdown)
    assert shown["ROI, all promotions"] == f"{roi:+.2f}"
    (company,) = [m for m in at.metric if m.label == "Revised target vs baseline"]
    assert company.value == formats.compact(rows["revised"].sum())
    assert company.delta == formats.relative_change(rows["revised"].sum(), rows["baseline"].sum())


def effect_value_input(at: AppTest):
    """The effect override's value field (its key names the scope and the value now)."""
    (field,) = [n for n in at.number_input if (n.key or "").startswith("override_value_")]
    return field


def effect_overrides_shown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("Effect override:")]


def test_the_effect_override_starts_at_the_value_the_scenario_uses_now(app_env):
    at = open_app("pages/promotions.py")
    at.selectbox(key="lever_scope").set_value("sku").run()
    sku_option = at.selectbox(key="lever_target_sku").options[0]
    at.selectbox(key="lever_target_sku").set_value(sku_option).run()
    (drivers,) = [t.value for t in at.dataframe if "price_elasticity_lower" in t.value.columns]
    assert len(drivers) == 1  # the one SKU behind the lever
    # The forecast's estimate for that SKU (was -1.5 for every scope, a change by default).
    assert effect_value_input(at).value == pytest.approx(
        drivers["price_elasticity"].iloc[0], abs=1e-4
    )

    # Submitted unchanged, it adds nothing: the scenario keeps the estimate.
    next(b for b in at.button if b.label.startswith("Effect override for")).click().run()
    assert not at.exception and not at.error
    assert any("nothing was added" in i.value for i in at.info)
    assert effect_overrides_shown(at) == []

    # A changed value is added, and the field then starts at it (what the scenario uses now).
    effect_value_input(at).set_value(-2.5)
    next(b for b in at.button if b.label.startswith("Effect override for")).click().run()
    assert not at.exception and not at.error
    assert len(effect_overrides_shown(at)) == 1
    assert effect_value_input(at).value == pytest.approx(-2.5)

    # An uplift starts at its own value for the whole total: volume-weighted over the SKUs.
    at.selectbox(key="lever_scope").set_value("all").run()
    at.selectbox(key="override_driver").set_value("feature_uplift").run()
    feature = effect_value_input(at).value
    assert feature is not None and -0.9 <= feature <= 5
    assert feature != pytest.approx(0.3)  # not the old fixed default


def test_a_scenario_is_saved_and_selected_everywhere(app_env):
    at = open_app("pages/promotions.py")
    at.selectbox(key="lever_scope").set_value("family").run()
    at.selectbox(key="lever_target_family").set_value("fragrance").run()
    at.slider(key="lever_discount").set_value(25).run()
    at.button(key="add_lever").click().run()
    assert at.slider(key="lever_discount").value == 0  # reset, so it is not counted twice
    shown = levers_shown(at)
    assert shown[["kind", "applies_to", "discount"]].values.tolist() == [
        ["promotion", "family fragrance", 25.0]
    ]
    at.text_input(key="new_name").set_value("Fragrance push").run()
    next(b for b in at.button if b.label == "Save as new scenario").click().run()
    assert not at.exception and not at.error
    assert at.sidebar.selectbox(key="scenario").value == "Fragrance push"
    stored = count(app_env, "SELECT count(*) FROM scenarios WHERE name = 'Fragrance push'")
    assert stored == 1
    at.switch_page("pages/supply.py").run()
    assert at.sidebar.selectbox(key="scenario").value == "Fragrance push"


def test_a_stale_save_gets_a_message_and_a_reload(app_env):
    from sop_core.scenario.model import Lever, Scenario
    from sop_core.scenario.store import create_scenario, save_scenario

    created = create_scenario(app_env, Scenario("Shared"), "ana", 1)
    at = open_app("pages/promotions.py")
    at.sidebar.selectbox(key="scenario").set_value("Shared").run()
    at.slider(key="lever_discount").set_value(20).run()
    at.button(key="add_lever").click().run()
    # Someone else saves the same scenario meanwhile.
    save_scenario(app_env, created, Scenario("Shared", [Lever("campaign", change=0.1)]), "ben", 1)
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception
    assert any("ben saved 'Shared'" in e.value for e in at.error)
    next(b for b in at.button if b.label == "Reload their version").click().run()
    assert levers_shown(at)[["kind", "change"]].values.tolist() == [["campaign", 10.0]]


def test_without_a_forecast_the_page_offers_to_make_one(tmp_path: Path, monkeypatch):
    from sop_core.data.sample import SampleConfig, build_sample_database

    path = tmp_path / "fresh.duckdb"
    build_sample_database(path, SampleConfig(skus=8, weeks=110, seed=2, as_of=AS_OF))
    monkeypatch.setenv("SOP_DB", str(path))
    at = open_app("pages/promotions.py")
    assert any("no demand forecast yet" in i.value for i in at.info)
    at.button(key="make_forecast").click().run()
    assert not at.exception, at.exception
    assert metrics(at)["Revised target vs baseline"]
    assert count(path, "SELECT count(*) FROM forecast_runs") == 1


def test_plan_page_compares_approves_and_logs_decisions(app_env):
    from sop_core.scenario.model import Scenario
    from sop_core.scenario.store import create_scenario

    create_scenario(app_env, Scenario("Price up", cannibalisation=0.2), "Ana", 1)
    at = open_app("pages/plan.py")
    at.sidebar.text_input(key="user").set_value("Ana").run()
    at.multiselect(key="compare").set_value([BASELINE, "Price up"]).run()
    assert not at.exception and not at.error
    assert "Price up: revenue" in metrics(at)
    assert figures(at)[0]["layout"]["title"]["text"] == "Weekly revised target by scenario"

    (approve_button,) = [b for b in at.button if b.label == "Approve"]
    approve_button.click().run()
    assert "Plan of record version 1 approved: Baseline" in at.success[0].value
    assert count(app_env, "SELECT count(*) FROM plans_of_record WHERE approved_by = 'Ana'") == 1
    labels = [b.label for b in at.get("download_button")]
    assert any(label.startswith("Download the targets of version 1") for label in labels)

    at.text_input(key="decision_owner").set_value("Ops")
    at.text_input(key="decision_text").set_value("Add a Saturday shift on the tube line")
    (record,) = [b for b in at.button if b.label == "Record"]
    record.click().run()
    assert not at.error
    assert count(app_env, "SELECT count(*) FROM decisions WHERE owner = 'Ops'") == 1
    at.selectbox(key="decision_status").set_value("done")
    at.button(key="decision_update").click().run()
    assert count(app_env, "SELECT count(*) FROM decisions WHERE status = 'done'") == 1

    # After the approval, what changed against it: the baseline now is the plan of record.
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    assert "Volume: plan of record to now" in titles and "Revenue: plan of record to now" in titles


def test_overview_before_any_forecast_shows_the_history_by_family(sample_db, monkeypatch):
    monkeypatch.setenv("SOP_DB", str(sample_db))
    monkeypatch.setenv("SOP_SAMPLE_AS_OF", AS_OF.isoformat())
    at = open_app()
    assert at.button(key="make_forecast").label == "Make the forecast now"
    everything = metrics(at)["Units sold, last 13 weeks"]
    units = count(
        sample_db, "SELECT sum(units) FROM sales_history WHERE week > DATE '2026-11-16' - 91"
    )
    assert everything == f"{units / 1e6:,.1f}M"
    assert {"skincare", "fragrance", "makeup", "haircare", "body care"} <= {
        t["name"] for t in figures(at)[0]["data"]
    }
    at.sidebar.multiselect(key="family").set_value(["fragrance"]).run()
    assert [t["name"] for t in figures(at)[0]["data"]] == ["fragrance", "holiday"]
    assert metrics(at)["Units sold, last 13 weeks"] != everything


@pytest.mark.slow
def test_plan_page_builds_the_meeting_pack_as_a_job_and_keeps_it(app_env):
    packs = app_env.with_name("app.packs")

    def offered(at: AppTest) -> set[str]:
        return {b.label for b in at.get("download_button") if b.key.startswith("pack_")}

    def made_by(at: AppTest) -> list[str]:
        # As shown: markdown's characters escaped (``plain``).
        return [c.value.replace("\\", "") for c in at.caption if c.value.startswith("Made ")]

    at = open_app("pages/plan.py")
    assert not offered(at) and not made_by(at)
    at.button(key="build_pack").click().run()
    assert not at.exception and not at.error
    assert rows(app_env, "SELECT job_id, kind, state FROM jobs") == [(1, "pack", "done")]
    assert {"Download XLSX", "Download HTML"} <= offered(at)
    (made,) = made_by(at)
    assert made.endswith("by planner (job 1).")
    # Written into the job's own folder next to the database.
    (result,) = rows(app_env, "SELECT result FROM jobs")
    files = json.loads(result[0])["files"]
    assert {Path(file).parent for file in files.values()} == {packs / "1"}
    assert all(Path(file).is_file() for file in files.values())
    assert len(offered(at)) == len(files)

    # A new session (as after a restart) still offers the pack, without building it again.
    again = open_app("pages/plan.py")
    assert not again.exception and not again.error
    assert offered(again) == offered(at) and made_by(again) == [made]
    assert count(app_env, "SELECT count(*) FROM jobs") == 1

    # Pressed again once the first has finished: a fresh pack, in a folder of its own.
    again.button(key="build_pack").click().run()
    assert not again.exception and not again.error
    assert rows(app_env, "SELECT job_id, state FROM jobs ORDER BY job_id") == [
        (1, "done"),
        (2, "done"),
    ]
    assert made_by(again)[0].endswith("(job 2).")
    assert (packs / "1").is_dir() and {p.name for p in (packs / "2").iterdir()} == {
        Path(file).name for file in files.values()
    }


def test_presentation_mode_steps_through_the_agenda(app_env):
    from sop_core.meeting.plan_of_record import approve

    approve(app_env, None, "Ana", weeks=13)
    at = open_app("pages/present.py")
    titles = []
    for step in range(5):
        assert not at.exception and not at.error
        titles.append(at.title[0].value)
        assert figures(at) or step == 4  # one key chart per screen; the last is the log
        if step < 4:
            at.button(key="next").click().run()
    assert titles[1] == "1. Demand review" and titles[4] == "4. Decisions"
    assert at.button(key="next").disabled
    assert at.segmented_control(key="step").value == 4
    at.button(key="previous").click().run()
    assert at.segmented_control(key="step").value == 3


def test_one_load_figure_on_the_overview_supply_plan_and_pack(app_env, tmp_path):
    """Issue 19: the same measure, scenario and weeks read the same on every page and in the
    meeting pack; each figure names its measure and weeks."""
    import openpyxl

    from sop_core.meeting.pack import build_pack
    from sop_core.scenario.model import Scenario
    from sop_core.scenario.store import create_scenario
    from sop_core.supply import loads

    demand = loads.peak_label(loads.DEMAND_LOAD, 13)
    planned = loads.peak_label(loads.PLANNED_LOAD, 13)
    assert (demand, planned) == (
        "Peak demand load, next 13 weeks",
        "Peak planned load, next 13 weeks",
    )

    overview = metrics(open_app())
    supply_at = open_app("pages/supply.py")
    supply = metrics(supply_at)
    supply_at.button(key="build_plan").click().run()
    supply_plan = metrics(supply_at)
    create_scenario(app_env, Scenario("Same as the baseline"), "Ana", 1)
    plan_at = open_app("pages/plan.py")
    plan_at.multiselect(key="compare").set_value([BASELINE, "Same as the baseline"]).run()
    assert not plan_at.exception and not plan_at.error
    (compared,) = [t.value for t in plan_at.dataframe if demand in t.value.index]
    files = build_pack(app_env, tmp_path, weeks=26, pdf=False)  # nothing approved: the baseline
    book = openpyxl.load_workbook(files["xlsx"], read_only=True)
    pack = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=2, values_only=True)}

    # The pack's summary holds the peak as a number (a fraction shown "0%").
    for label, shown in [
        (demand, [supply[demand], compared.loc[demand].iloc[0], f"{pack[demand]:.0%}"]),
        (planned, [supply_plan[planned], compared.loc[planned].iloc[0], f"{pack[planned]:.0%}"]),
    ]:
        assert overview[label].endswith("%")
        assert all(value == overview[label] for value in shown), (label, overview[label], shown)
    # Two measures, two numbers: the sample's December demand asks more than the plan uses.
    assert float(overview[demand][:-1]) > float(overview[planned][:-1])
    # The longer windows say so too.
    assert loads.peak_label(loads.DEMAND_LOAD, 26) in supply
    assert loads.peak_label(loads.PLANNED_LOAD, 26) in pack


def test_supply_recommends_actions_and_one_click_removes_the_overload(app_env):
    """The issue's done-when: on a holiday push, at least three kinds of action with hours and
    cost, and adding the cheapest that closes the gap removes the overload it names."""
    from sop_core.data import db
    from sop_core.data.stores import forecast_runs as runs_store
    from sop_core.demand.plan_base import load_plan_base
    from sop_core.scenario.model import Lever, Scenario
    from sop_core.scenario.store import create_scenario

    with db.connect(app_env) as con:
        base = load_plan_base(con, runs_store.latest_run_id(con))
    week = base.weeks[3].astype("datetime64[D]").astype(dt.date)
    push = Lever("promotion", "family", "skincare", week, week, discount=0.4, feature=1.0)
    create_scenario(app_env, Scenario("Holiday push", levers=[push]), "test", None)
    at = open_app()
    at.sidebar.selectbox(key="scenario").set_value("Holiday push").run()
    at.switch_page("pages/supply.py").run()
    assert not at.exception
    fixes = next(t.value for t in at.dataframe if "closes_gap" in t.value.columns)
    that_week = fixes[pd.to_datetime(fixes["week"]).dt.date == week]
    worst = that_week.loc[that_week["gap_hours"].idxmax()]
    kinds = set(that_week.loc[that_week["line_name"] == worst["line_name"], "kind"])
    assert len(kinds) >= 3, kinds
    assert (that_week["hours"] > 0).all() and (that_week["cost"] >= 0).all()

    choice = at.selectbox(key="fix_choice")
    labels = list(choice.options)  # as the page formats them
    closing = that_week[
        (that_week["closes_gap"] == "yes")
        & that_week["kind"].isin(["overtime", "saturday shift", "trim promotion", "move promotion"])
    ]
    cheapest = closing.loc[closing["cost"].idxmin()]
    index = next(
        i
        for i, label in enumerate(labels)
        if label.startswith(f"{cheapest['line_name']}, {formats.week(week)}: {cheapest['action']}")
    )
    choice.set_value(index).run()
    at.button(key="fix_add").click().run()
    assert not at.exception
    after = next(t.value for t in at.dataframe if "closes_gap" in t.value.columns)
    still = after[
        (pd.to_datetime(after["week"]).dt.date == week)
        & (after["line_name"] == cheapest["line_name"])
    ]
    assert still.empty, still


def test_present_steps_3_and_4_weigh_the_options_before_any_approval(app_env):
    """Issue 20: with saved scenarios and open decisions but no plan of record, Reconciliation
    shows the options side by side and Decisions what to decide and the log, the overdue item
    marked; each slide's title is its agenda entry, under one headline sentence; the Overview's
    agenda names the steps the same way."""
    from sop_core.meeting.headlines import AGENDA
    from sop_ui.formatting import plain
    from tests.helpers import OVERDUE, PRICE_RISE, PUSH, seed_options_and_decisions

    seed_options_and_decisions(app_env)
    at = open_app("pages/present.py")
    at.segmented_control(key="step").set_value(3).run()
    assert not at.exception and not at.error
    assert at.title[0].value == AGENDA[3]
    assert not any("plan of record" in info.value for info in at.info)
    headline = at.markdown[0].value
    assert plain(PUSH) in headline and "more gross margin" in headline
    (options,) = [t.value for t in at.table]
    assert list(options.columns) == [plain(BASELINE), plain(PUSH), plain(PRICE_RISE)]
    assert {"Revenue", "Gross margin", "Peak demand load, next 13 weeks"} <= set(options.index)
    assert options.loc["Gross margin"].str.endswith(("EUR", "%)")).all()
    (chart,) = figures(at)
    assert [trace["name"] for trace in chart["data"]] == [BASELINE, PUSH, PRICE_RISE]
    assert chart["layout"]["xaxis"]["tickfont"]["size"] >= 20
    assert chart["layout"]["legend"]["font"]["size"] >= 20

    at.segmented_control(key="step").set_value(4).run()
    assert not at.exception and not at.error
    assert at.title[0].value == AGENDA[4]
    headline = at.markdown[0].value
    assert "2 decisions to take and 1 assumption to check; 1 overdue" in headline
    assert plain(OVERDUE) in headline
    assert [m.label for m in at.metric] == [
        f"{plain(name)}: gross margin" for name in (BASELINE, PUSH, PRICE_RISE)
    ]
    (log,) = at.table
    shown = log.value
    assert list(shown["State"]) == ["⚠ OVERDUE", "open", "open"]
    assert shown["What"].iloc[0].startswith(plain(OVERDUE))
    assert list(shown["Owner"]) == ["Tom Berg", "Lea Martin", "Ana Ruiz"]
    styles = log.proto.arrow_data.styler.styles
    assert "row0_col0" in styles and "row1_col0" not in styles  # the overdue row alone

    overview_agenda = [link.proto.label for link in open_app().get("page_link")]
    assert list(AGENDA[1:]) == overview_agenda[:4]


# ---- figures by month and quarter (issue 21) -----------------------------------------------

PERIOD_NAMES = {"month": r"[A-Z][a-z]{2} \d{4}", "quarter": r"Q[1-4] (FY)?\d{4}"}


def by_title(at: AppTest, start: str) -> dict:
    (found,) = [f for f in figures(at) if f["layout"]["title"]["text"].startswith(start)]
    return found


def assert_by_periods(figure: dict, bucket: str) -> None:
    """``figure`` drawn per period: a category axis of the periods' names in time order, and
    each trace one point per period at most (no two weeks left in one period)."""
    axis = figure["layout"]["xaxis"]
    names = axis["categoryarray"]
    assert axis["type"] == "category" and names
    assert all(re.fullmatch(PERIOD_NAMES[bucket], name) for name in names), names
    for trace in figure["data"]:
        x = list(trace["x"])
        assert len(x) == len(set(x)), (figure["layout"]["title"]["text"], trace.get("name"))
        assert set(x) <= set(names)


def heatmap_hours(figure: dict) -> float:
    """The hours needed over every cell of a load heatmap (its hover's first figure)."""
    data = figure["data"][0]["customdata"]
    if isinstance(data, dict):
        shape = [int(n) for n in str(data["shape"]).split(",")]
        cells = values(data).reshape(shape)
    else:
        cells = np.asarray(data, dtype=float)
    return float(np.nansum(cells[..., 0]))


def calendar_hours(at: AppTest) -> float:
    """The Supply page's capacity calendar: the hours it adds or removes in all."""
    (calendar,) = [t.value for t in at.dataframe if "hours_delta" in t.value.columns]
    return float(calendar["hours_delta"].sum())


def test_supply_by_month_and_quarter_keeps_the_weekly_totals(app_env):
    at = open_app("pages/supply.py")
    at.button(key="build_plan").click().run()
    assert not at.exception and not at.error
    weekly_tiles = metrics(at)
    needed = heatmap_hours(by_title(at, "Demand load by line and week"))
    past = heatmap_hours(by_title(at, "Demand load of past sales by line and week"))
    changes = calendar_hours(at)
    plan = by_title(at, "Production plan against the revised target")
    made = trace(plan, "production").sum()
    stock = trace(plan, "stock (right)")
    safety = trace(plan, "safety stock (right)")
    assert changes != 0  # the sample's calendar changes some weeks' hours
    for bucket in ("month", "quarter"):
        at.button_group(key="bucket").set_value(bucket).run()
        assert not at.exception and not at.error
        heatmap = by_title(at, f"Demand load by line and {bucket}")
        history = by_title(at, f"Demand load of past sales by line and {bucket}")
        line = by_title(at, "Hours needed against available hours")
        plan = by_title(at, "Production plan against the revised target")
        for figure in (heatmap, history, line, plan):
            assert_by_periods(figure, bucket)
        assert heatmap["layout"]["xaxis"]["title"]["text"].startswith(bucket.capitalize())
        assert heatmap_hours(heatmap) == pytest.approx(needed, rel=1e-9)
        assert heatmap_hours(history) == pytest.approx(past, rel=1e-9)
        assert calendar_hours(at) == pytest.approx(changes, rel=1e-9)
        assert trace(plan, "production").sum() == pytest.approx(made, rel=1e-9)
        # A stock is a level: each period's is its last week's, never a sum of weeks.
        by_period = trace(plan, "stock (right)")
        assert by_period[-1] == pytest.approx(stock[-1]) and by_period.max() <= stock.max()
        assert trace(plan, "safety stock (right)") == pytest.approx(safety[: len(by_period)])
        assert plan["layout"]["yaxis"]["title"]["text"] == f"Units per {bucket}"
        # The tiles are weekly facts (peaks, line-weeks) and totals: the same in every bucket.
        assert metrics(at) == weekly_tiles


def test_plan_compares_scenarios_by_month_and_quarter_with_the_weekly_totals(app_env):
    from sop_core.scenario.model import Scenario
    from sop_core.scenario.store import create_scenario
    from sop_core.supply import loads

    peak = loads.peak_label(loads.DEMAND_LOAD, 13)  # a row of the comparison's table
    create_scenario(app_env, Scenario("Price up", cannibalisation=0.2), "Ana", 1)
    at = open_app("pages/plan.py")
    at.multiselect(key="compare").set_value([BASELINE, "Price up"]).run()
    assert not at.exception and not at.error
    weekly_tiles = metrics(at)
    weekly = by_title(at, "Weekly revised target by scenario")
    totals = {t["name"]: values(t["y"]).sum() for t in weekly["data"]}
    (compared,) = [t.value for t in at.dataframe if peak in t.value.index]
    for bucket, title in (("month", "Monthly"), ("quarter", "Quarterly")):
        at.button_group(key="bucket").set_value(bucket).run()
        assert not at.exception and not at.error
        figure = by_title(at, f"{title} revised target by scenario")
        assert_by_periods(figure, bucket)
        # The reference first and thickest, as by week; each scenario's total as by week.
        assert [t["name"] for t in figure["data"]] == [BASELINE, "Price up"]
        assert figure["data"][0]["line"]["width"] == 5
        assert {t["name"]: values(t["y"]).sum() for t in figure["data"]} == pytest.approx(totals)
        assert len(figure["data"][0]["x"]) < len(weekly["data"][0]["x"])
        (shown,) = [t.value for t in at.dataframe if peak in t.value.index]
        pd.testing.assert_frame_equal(shown, compared)
        assert metrics(at) == weekly_tiles


def by_bucket(page: str, bucket: str) -> AppTest:
    """``page`` with the sidebar's *Figures by* set to ``bucket``."""
    at = open_app(page)
    at.button_group(key="bucket").set_value(bucket).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def landed(demand_chart: dict) -> float:
    """The demand picture's actuals and consensus added up."""
    return float(np.nansum(trace(demand_chart, "actual"))) + float(
        np.nansum(trace(demand_chart, "consensus"))
    )


def assert_one_point_per_period(spec: dict, bucket: str) -> None:
    """A calendar chart by month or quarter: a category axis of period names, and no trace
    with two points (two weeks) in one period."""
    axis = spec["layout"]["xaxis"]
    assert axis["type"] == "category" and "hoverformat" not in axis, axis
    names = axis["categoryarray"]
    assert names and all(name.startswith("Q") == (bucket == "quarter") for name in names)
    for found in spec["data"]:
        xs = list(found["x"])
        assert set(xs) <= set(names) and len(xs) == len(set(xs)), (found.get("name"), xs)


@pytest.mark.parametrize("bucket", ["month", "quarter"])
def test_demand_review_by_period_keeps_the_weekly_totals(app_env, bucket):
    weekly = open_app("pages/demand.py")
    by_period = by_bucket("pages/demand.py", bucket)
    assert not by_period.error
    demand, history = figures(by_period)
    assert demand["layout"]["title"]["text"] == f"Total: {bucket}ly units"
    for spec in (demand, history):
        assert_one_point_per_period(spec, bucket)
    # The forecast starts in the period the history ends in (its landing), and the actuals
    # stop before it: no period has both.
    actual = next(t for t in demand["data"] if t["name"] == "actual")
    statistical = next(t for t in demand["data"] if t["name"] == "statistical")
    assert not set(actual["x"]) & set(statistical["x"])
    assert any(
        c.value.startswith(f"The {bucket} the history ends in is drawn as its landing")
        for c in by_period.caption
    )
    # The history by family and the table of the next 13 weeks add up as by week.
    week_history = figures(weekly)[1]
    families = [t for t in week_history["data"] if t["name"] != "holiday"]
    assert len(families) == 5
    for family in families:
        assert trace(history, family["name"]).sum() == pytest.approx(
            values(family["y"]).sum(), rel=1e-9
        )
    # Actuals and consensus together: the landing period moves its closed weeks' actuals
    # from the one line to the other.
    assert landed(demand) == pytest.approx(landed(figures(weekly)[0]), rel=1e-9)
    week_table, period_table = weekly.dataframe[0].value, by_period.dataframe[0].value
    assert list(period_table.columns[:1]) == [bucket] and "week" not in period_table
    assert 1 < len(period_table) < len(week_table) == 13
    assert period_table["weeks"].sum() == pytest.approx(13)
    for column in ("statistical", "consensus", "last_year"):
        # Rounded to whole units row by row.
        assert period_table[column].sum() == pytest.approx(
            week_table[column].sum(), abs=len(week_table)
        )
    assert metrics(by_period) == metrics(weekly)


@pytest.mark.parametrize("bucket", ["month", "quarter"])
def test_present_mode_by_period_keeps_the_weekly_totals(app_env, bucket):
    weekly = open_app("pages/present.py")
    by_period = by_bucket("pages/present.py", bucket)
    for step in range(4):  # the overview, demand, supply and the options: calendar charts
        if step:
            for at in (weekly, by_period):
                at.button(key="next").click().run()
        assert not by_period.exception and not by_period.error
        (week_chart,) = figures(weekly)
        (period_chart,) = figures(by_period)
        assert_one_point_per_period(period_chart, bucket)
        assert metrics(by_period) == metrics(weekly)
        if step == 1:
            assert landed(period_chart) == pytest.approx(landed(week_chart), rel=1e-9)
        if step in (1, 2):
            continue  # utilisation, a ratio: recomputed from the hours, not summed
        for found in week_chart["data"]:
            name = found["name"]
            if name in ("revised target", "production") or step == 3:
                total = values(found["y"]).sum()
                assert trace(period_chart, name).sum() == pytest.approx(total, rel=1e-9), name
