"""Consensus overrides: spread-down with exact totals, storage, history and undo."""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sop_core.data import db
from sop_core.data.errors import InputError
from sop_core.demand import consensus
from sop_core.demand.consensus import (
    Labels,
    Override,
    add_override,
    apply_override,
    apply_overrides,
)
from sop_core.demand.plan_base import load_plan_base
from sop_core.forecast.runs import latest_run

WEEKS = np.array(["2027-01-04", "2027-01-11", "2027-01-18"], dtype="datetime64[D]")
GRID = Labels(
    skus=np.array(["A1", "A2", "B1"], dtype=object),
    families=np.array(["alpha", "alpha", "beta"], dtype=object),
    brands=np.array(["one", "two", "two"], dtype=object),
    channels=np.array(["retail", "online"], dtype=object),
    weeks=WEEKS,
)
# SKU x channel x week: A1 sells 3x what A2 does; B1 only online.
STATISTICAL = np.array(
    [
        [[60.0, 60.0, 60.0], [30.0, 30.0, 30.0]],
        [[20.0, 20.0, 20.0], [10.0, 10.0, 10.0]],
        [[0.0, 0.0, 0.0], [50.0, 50.0, 50.0]],
    ]
)
JAN_11 = dt.date(2027, 1, 11)


def override(level, target, mode, amount, first=JAN_11, last=JAN_11) -> Override:
    return Override(level, target, first, last, mode, amount, "test", "tester")


def family_week(values: np.ndarray, family: str, week: int) -> float:
    return float(values[GRID.families == family][:, :, week].sum())


def test_units_on_a_family_spread_in_proportion_to_the_statistical_forecast():
    result, warning = apply_override(
        STATISTICAL, STATISTICAL, GRID, override("family", "alpha", "units", 24)
    )
    assert warning is None
    change = result - STATISTICAL
    # A1 and A2 carry 90 and 30 of the family's 120: they get 18 and 6, split by channel.
    assert change[0, :, 1] == pytest.approx([12.0, 6.0])
    assert change[1, :, 1] == pytest.approx([4.0, 2.0])
    assert np.all(change[2] == 0) and np.all(change[:, :, [0, 2]] == 0)
    assert family_week(result, "alpha", 1) - family_week(STATISTICAL, "alpha", 1) == 24


def test_set_makes_the_scope_exactly_that_volume_and_percent_scales_it():
    result, _ = apply_override(STATISTICAL, STATISTICAL, GRID, override("brand", "two", "set", 100))
    assert float(result[GRID.brands == "two"][:, :, 1].sum()) == 100
    assert float(result[0].sum()) == float(STATISTICAL[0].sum())  # brand one untouched
    result, _ = apply_override(
        STATISTICAL, STATISTICAL, GRID, override("channel", "online", "percent", -50)
    )
    assert result[:, 1, 1] == pytest.approx(STATISTICAL[:, 1, 1] / 2)
    assert np.array_equal(result[:, 0], STATISTICAL[:, 0])


def test_a_cut_below_zero_is_refused_when_saving_and_stops_at_zero_when_reapplied():
    too_much = override("sku", "A2", "units", -31)
    with pytest.raises(InputError, match="below zero"):
        apply_override(STATISTICAL, STATISTICAL, GRID, too_much, strict=True)
    result, warning = apply_override(STATISTICAL, STATISTICAL, GRID, too_much)
    assert "below zero" in warning
    assert result[1, :, 1] == pytest.approx([0.0, 0.0])


def test_overrides_apply_in_order_and_a_later_cut_never_goes_negative():
    # Take almost all of A1's online volume away, then cut the family: the statistical
    # weights would push A1 online below zero, so the cut follows the consensus instead.
    first = override("sku", "A1", "set", 61)
    second = override("family", "alpha", "units", -80)
    result, warnings = apply_overrides(STATISTICAL, GRID, [first, second])
    assert not warnings
    assert (result >= 0).all()
    assert family_week(result, "alpha", 1) == pytest.approx(61 + 30 - 80)


@settings(max_examples=200, deadline=None)
@given(
    level=st.sampled_from(["total", "family", "brand", "channel", "sku"]),
    amount=st.floats(-150, 400, allow_nan=False),
    mode=st.sampled_from(["units", "set", "percent"]),
)
def test_spread_down_keeps_the_scope_total_exact(level, amount, mode):
    target = {"total": None, "family": "alpha", "brand": "two", "channel": "online"}.get(
        level, "A1"
    )
    rows, columns = consensus.scope_cells(GRID, level, target)
    before = float(STATISTICAL[np.ix_(rows, columns)][:, :, 1].sum())
    if mode == "set":
        amount = abs(amount)
    if mode == "percent":
        amount = max(amount, -100)
    expected = {
        "units": before + amount,
        "set": amount,
        "percent": before * (1 + amount / 100),
    }[mode]
    change = override(level, target, mode, amount)
    if expected < 0:
        with pytest.raises(InputError):
            apply_override(STATISTICAL, STATISTICAL, GRID, change, strict=True)
        return
    result, _ = apply_override(STATISTICAL, STATISTICAL, GRID, change, strict=True)
    assert float(result[np.ix_(rows, columns)][:, :, 1].sum()) == pytest.approx(expected, abs=1e-9)
    # Nothing outside the scope or the week moves, and nothing goes negative.
    outside = np.ones_like(STATISTICAL, dtype=bool)
    outside[np.ix_(rows, columns, [1])] = False
    assert np.array_equal(result[outside], STATISTICAL[outside])
    assert (result >= 0).all()


def test_bad_overrides_say_what_is_wrong():
    for bad, message in [
        (override("family", "gamma", "units", 5), "no family called 'gamma'"),
        (override("family", None, "units", 5), "Choose which family"),
        (override("total", None, "percent", -120), "more than 100%"),
        (Override("total", None, JAN_11, JAN_11, "units", 5, "  "), "reason is required"),
        (override("total", None, "units", float("nan")), "must be a number"),
        (
            override("total", None, "units", 5, first=JAN_11, last=dt.date(2027, 1, 4)),
            "before the first",
        ),
    ]:
        with pytest.raises(InputError, match=message):
            apply_override(STATISTICAL, STATISTICAL, GRID, bad.validated(), strict=True)


@pytest.fixture()
def plan_db(forecast_db, tmp_path):
    path = tmp_path / "sop.duckdb"
    shutil.copy(forecast_db, path)
    return path


def plan(path):
    with db.connect(path) as con:
        run = latest_run(con)
        cycle = con.execute(
            "SELECT history_end FROM forecast_runs WHERE run_id = ?", [run]
        ).fetchone()[0]
        return load_plan_base(con, run), run, cycle


def test_an_override_is_stored_with_its_history_and_moves_the_plan_on_every_page(plan_db):
    base, run, cycle = plan(plan_db)
    family = sorted(set(base.families))[0]
    first = base.weeks[2].astype(dt.date)
    last = base.weeks[5].astype(dt.date)
    rows = base.families == family
    before = base.baseline[rows][:, 2:6].sum()
    change = Override("family", family, first, last, "units", 500, "Listing at Retailer X", "Ana")
    number, units_before, units_after, _ = add_override(
        plan_db, base, base.statistical_by_channel, change, run_id=run, cycle=cycle
    )
    assert units_before == pytest.approx(before)
    assert units_after == pytest.approx(before + 4 * 500)

    revised, _, _ = plan(plan_db)
    # The plan every page uses (load_plan_base) is now the consensus: the family's total
    # over the four weeks moved by exactly the override, and the rest did not move.
    assert revised.baseline[rows][:, 2:6].sum() == pytest.approx(before + 2000)
    assert revised.baseline[~rows].sum() == pytest.approx(base.baseline[~rows].sum())
    assert revised.statistical.sum() == pytest.approx(base.statistical.sum())
    assert revised.baseline_by_channel.sum() == pytest.approx(revised.baseline.sum())

    with db.connect(plan_db) as con:
        history = consensus.override_history(con)
    row = history.iloc[0]
    assert (row["override_id"], row["author"], row["reason"]) == (
        number,
        "Ana",
        "Listing at Retailer X",
    )
    assert row["status"] == "in force" and row["change"] == "+500 units/week"

    consensus.undo_override(plan_db, number, "Ben", cycle)
    restored, _, _ = plan(plan_db)
    assert np.array_equal(restored.baseline, base.baseline)
    with db.connect(plan_db) as con:
        history = consensus.override_history(con)
    assert history.iloc[0]["status"] == "undone" and history.iloc[0]["undone_by"] == "Ben"
    with pytest.raises(InputError, match="already undone by Ben"):
        consensus.undo_override(plan_db, number, "Cy", cycle)


def test_a_refused_override_writes_nothing(plan_db):
    base, run, cycle = plan(plan_db)
    sku = base.skus[0]
    first = base.weeks[0].astype(dt.date)
    too_much = Override("sku", sku, first, first, "units", -1e9, "destock", "Ana")
    outside = Override("sku", sku, dt.date(2020, 1, 6), dt.date(2020, 1, 6), "units", 5, "x", "A")
    for bad, message in [(too_much, "below zero"), (outside, "outside the forecast horizon")]:
        with pytest.raises(InputError, match=message):
            add_override(plan_db, base, base.statistical_by_channel, bad, run_id=run, cycle=cycle)
    with db.connect(plan_db) as con:
        assert con.execute("SELECT count(*) FROM consensus_overrides").fetchone()[0] == 0


def test_several_overrides_are_stored_together_or_not_at_all(plan_db):
    """An overrides file's rows: each checked with the ones before it applied, in one
    transaction; the second cutting below what the first left writes neither."""
    base, run, cycle = plan(plan_db)
    sku = base.skus[0]
    first = base.weeks[2].astype(dt.date)
    rows = base.skus == sku
    volume = float(base.baseline[rows][:, 2].sum())
    half = Override("sku", sku, first, first, "percent", -50, "destock", "Ana")
    rest = Override("sku", sku, first, first, "units", -0.75 * volume, "destock more", "Ana")
    # Alone, the second fits; after the first it takes the SKU below zero.
    alone = consensus.scope_change(
        base, base.statistical_by_channel, base.baseline_by_channel, rest
    )
    assert alone[1] >= 0
    with pytest.raises(InputError, match=r"Override 2 of 2: .*below zero"):
        consensus.add_overrides(
            plan_db, base, base.statistical_by_channel, [half, rest], run_id=run, cycle=cycle
        )
    with db.connect(plan_db) as con:
        assert con.execute("SELECT count(*) FROM consensus_overrides").fetchone()[0] == 0
        audited = "SELECT count(*) FROM audit_log WHERE action = 'override add'"
        assert con.execute(audited).fetchone()[0] == 0
    saved = consensus.add_overrides(
        plan_db, base, base.statistical_by_channel, [half, half], run_id=run, cycle=cycle
    )
    assert [s.units_before for s in saved] == pytest.approx([volume, volume / 2])
    assert [s.units_after for s in saved] == pytest.approx([volume / 2, volume / 4])


def test_a_channel_set_to_zero_stays_at_zero_when_its_family_is_raised():
    closed = override("channel", "online", "set", 0)
    raised = override("family", "alpha", "units", 100)
    result, _ = apply_overrides(STATISTICAL, GRID, [closed, raised])
    assert result[:, 1, 1] == pytest.approx([0.0, 0.0, 0.0])
    assert family_week(result, "alpha", 1) == pytest.approx(80 + 100)


def test_each_week_is_spread_on_its_own_even_where_a_week_has_no_forecast():
    grid = Labels(
        np.array(["S"], dtype=object),
        np.array(["f"], dtype=object),
        np.array(["b"], dtype=object),
        np.array(["retail", "online"], dtype=object),
        WEEKS[:2],
    )
    statistical = np.array([[[10.0, 0.0], [90.0, 0.0]]])
    change = Override("total", None, dt.date(2027, 1, 4), JAN_11, "set", 20, "x", "y")
    result, warning = apply_override(statistical, statistical, grid, change, strict=True)
    assert warning is None
    assert result.sum(axis=(0, 1)) == pytest.approx([20.0, 20.0])
    assert result[0, :, 0] == pytest.approx([2.0, 18.0])  # by the statistical forecast
    assert result[0, :, 1] == pytest.approx([10.0, 10.0])  # nothing forecast: evenly


def test_after_a_channel_override_an_empty_scenario_is_the_consensus_week_by_week(plan_db):
    from sop_core.scenario.levers import apply_scenario
    from sop_core.scenario.model import Scenario

    base, run, cycle = plan(plan_db)
    channel = base.channels[0]
    first, last = base.weeks[0].astype(dt.date), base.weeks[3].astype(dt.date)
    change = Override("channel", channel, first, last, "percent", 200, "listing", "Ana")
    add_override(plan_db, base, base.statistical_by_channel, change, run_id=run, cycle=cycle)
    revised, _, _ = plan(plan_db)
    result = apply_scenario(revised, Scenario("nothing"))
    assert np.allclose(result.revenue, revised.revenue_base)
    assert np.allclose(result.revised_by_channel, revised.baseline_by_channel)
    # The bands move with the consensus and stay nested.
    assert (revised.lower_95 <= revised.lower_80 + 1e-9).all()
    assert (revised.upper_80 <= revised.upper_95 + 1e-9).all()
    # The statistical forecast's own bands do not move.
    assert np.array_equal(revised.statistical_bands["upper_80"], base.statistical_bands["upper_80"])
