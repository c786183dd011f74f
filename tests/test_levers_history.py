"""Levers that say when they guess (issue 25, item 3): the range of price moves and discounts
each SKU's (or family's) history has seen, "outside history" beyond it, a revised 80% band
that widens with the distance past the range, and the SKU-weeks flagged in ``targets --json``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

from sop_core.cli import main
from sop_core.data.errors import InputError
from sop_core.scenario import levers as levers_module
from sop_core.scenario.history import history_ranges, lever_history, levers_outside_history
from sop_core.scenario.levers import apply_scenario
from sop_core.scenario.model import Lever, Scenario
from sop_core.scenario.store import create_scenario
from tests.helpers import week

START = 5  # the price levers start in the horizon's sixth week


def price(base, change: float, scope: str = "all", target: str | None = None) -> Lever:
    return Lever("price", scope, target, week(base, START), None, change=change)


def promotion(base, discount: float, scope: str = "family", target: str | None = "fragrance"):
    return Lever("promotion", scope, target, week(base, 3), week(base, 4), discount=discount)


def relative_width(base, lever: Lever) -> float:
    """The revised 80% band's width relative to the revised target, over the lever's SKUs and
    weeks (a price change moves the target, so the band is compared relative to it)."""
    result = apply_scenario(base, Scenario("s", [lever]))
    rows = base.scope_rows(lever.scope, lever.target)
    weeks = base.week_span(lever.start_week, lever.end_week)
    width = (result.upper_80 - result.lower_80)[rows, weeks]
    return float(width.sum() / result.revised[rows, weeks].sum())


def without_flagging(base, scenario: Scenario, monkeypatch: pytest.MonkeyPatch):
    """The scenario's result as before levers said when they guess (no band widening)."""
    with monkeypatch.context() as patch:
        patch.setattr(levers_module, "_band_widening", lambda base, cells: None)
        return apply_scenario(base, scenario)


def test_on_the_sample_a_doubled_price_is_outside_history_and_its_band_twice_as_wide(base):
    """Issue 25's done-when: a +100% price lever shows "outside history" and a band at least
    twice as wide as for a +5% move (relative to the revised target, in its scope and
    weeks)."""
    for scope, target in (("all", None), ("family", "skincare"), ("sku", "SKN-0003")):
        doubled, small = price(base, 1.0, scope, target), price(base, 0.05, scope, target)
        history = lever_history(base, doubled)
        assert history.outside == history.skus > 0
        assert history.text().startswith("Outside history: prices moved -")
        assert "in the last 160 weeks" in history.text()
        assert relative_width(base, doubled) >= 2 * relative_width(base, small), scope
    # On the total or a family, +5% is a move the history has seen: nothing is said.
    assert lever_history(base, price(base, 0.05)).outside == 0
    assert lever_history(base, price(base, 0.05)).text().startswith("Within history")


def test_inside_the_range_the_band_is_as_before(base, monkeypatch):
    ranges = history_ranges(base)
    assert (ranges.sku_low <= 0).all() and (ranges.sku_high >= 0).all()
    inside = Scenario(
        "inside",
        [
            price(base, 0.02),
            promotion(base, 0.3),
            Lever("campaign", "family", "skincare", week(base, 2), week(base, 6), change=2.0),
            price(base, -0.05, "family", "haircare"),
        ],
    )
    assert levers_outside_history(base, inside.levers) == []
    result = apply_scenario(base, inside)
    before = without_flagging(base, inside, monkeypatch)
    assert result.band_widening is None and not result.outside_history.any()
    for name in ("revised", "lower_80", "upper_80", "revenue", "margin"):
        assert np.array_equal(getattr(result, name), getattr(before, name)), name
    factor = result.revised / np.where(base.baseline > 0, base.baseline, 1)
    np.testing.assert_allclose(result.lower_80, base.lower_80 * factor, rtol=1e-12)

    # Outside it, the targets are the same; only the band (and the flag) differ.
    outside = Scenario("outside", [*inside.levers, price(base, 0.8, "family", "makeup")])
    result = apply_scenario(base, outside)
    before = without_flagging(base, outside, monkeypatch)
    assert np.array_equal(result.revised, before.revised)
    flagged = result.outside_history
    makeup = base.families == "makeup"
    assert flagged[makeup, START:].all() and not flagged[~makeup].any()
    assert not flagged[:, :START].any()
    assert np.array_equal(result.upper_80[~flagged], before.upper_80[~flagged])
    assert (result.upper_80[flagged] > before.upper_80[flagged]).all()
    assert (result.lower_80[flagged] <= before.lower_80[flagged]).all()
    assert (result.lower_80 >= 0).all()


def test_the_band_widens_monotonically_with_the_distance_past_the_range(base):
    for moves in ([0.1, 0.2, 0.4, 0.7, 1.0, 2.0, 3.0], [-0.2, -0.3, -0.5, -0.7, -0.9]):
        widths = [relative_width(base, price(base, c, "family", "haircare")) for c in moves]
        widenings = [lever_history(base, price(base, c, "family", "haircare")) for c in moves]
        assert all(b > a for a, b in pairwise(widths[1:])), widths
        factors = [h.widening for h in widenings]
        assert factors == sorted(factors) and factors[-1] > factors[0]
    # Discounts: fragrance went to 40% at most; deeper widens more and more.
    depths = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    factors = [lever_history(base, promotion(base, d)).widening for d in depths]
    assert factors[:2] == [1.0, 1.0]
    assert all(b > a for a, b in pairwise(factors[1:])), factors
    result = apply_scenario(base, Scenario("deep", [promotion(base, 0.6)]))
    rows = base.scope_rows("family", "fragrance")
    assert result.band_widening[rows, 3:5] == pytest.approx(factors[3])


def test_a_sku_is_held_against_its_own_history_a_family_lever_against_the_familys(base):
    ranges = history_ranges(base)
    sku = "SKN-0003"
    row = int(np.flatnonzero(base.skus == sku)[0])
    own_high, family_high = np.expm1(ranges.sku_high[row]), np.expm1(ranges.family_high[row])
    assert own_high < family_high
    move = round((own_high + family_high) / 2, 3)
    assert lever_history(base, price(base, move, "sku", sku)).outside == 1
    assert lever_history(base, price(base, move, "family", "skincare")).outside == 0
    # SKN-0001 was never promoted; its family was, to 40%.
    never = lever_history(base, promotion(base, 0.2, "sku", "SKN-0001"))
    assert never.outside == 1 and "never discounted in the last 160 weeks" in never.text()
    assert lever_history(base, promotion(base, 0.2, "family", "skincare")).outside == 0


@pytest.mark.parametrize(
    ("lever", "message"),
    [
        (Lever("price", change=-1.0), "A price change must be between -90% and +300%"),
        (Lever("price", change=-1.5), "A price change must be between -90% and +300%"),
        (Lever("promotion", discount=1.0), "A discount must be between 0% and 90%"),
        (Lever("promotion", discount=1.2), "A discount must be between 0% and 90%"),
    ],
)
def test_numbers_that_make_no_sense_stay_refused(base, lever, message):
    with pytest.raises(InputError, match=re.escape(message)):
        apply_scenario(base, Scenario("nonsense", [lever]))
    with pytest.raises(InputError, match=re.escape(message)):
        lever_history(base, lever)


def test_targets_json_flags_the_sku_weeks_outside_history(forecast_db, tmp_path, capsys, base):
    path = tmp_path / "sop.duckdb"
    shutil.copy(forecast_db, path)
    create_scenario(path, Scenario("Price doubled", [price(base, 1.0, "family", "makeup")]), "a", 1)
    create_scenario(path, Scenario("Price nudged", [price(base, 0.02, "family", "makeup")]), "a", 1)
    payloads = {}
    for name in ("Price doubled", "Price nudged", None):
        out = tmp_path / f"{name}.csv"
        chosen = ["--scenario", name] if name else []
        code = main(["targets", "--db", str(path), "--out", str(out), "--json", *chosen])
        printed, err = capsys.readouterr()
        assert code == 0, err
        payloads[name] = (json.loads(printed), pd.read_csv(out))
    payload, frame = payloads["Price doubled"]
    # Every key of before is still there, as it was.
    assert {"out", "rows", "skus", "weeks", "bucket", "periods", "source", "run_id"} <= set(payload)
    assert {"baseline", "revised", "revenue", "margin", "notes"} <= set(payload)
    outside = payload["outside_history"]
    makeup = {s for s, f in zip(base.skus, base.families, strict=True) if f == "makeup"}
    weeks = {week(base, i).isoformat() for i in range(START, 26)}
    assert outside["skus"] == len(makeup)
    assert outside["sku_weeks"] == len(makeup) * len(weeks) == len(outside["rows"])
    assert {row["sku"] for row in outside["rows"]} == makeup
    assert {row["week"] for row in outside["rows"]} == weeks
    assert all(row["outside_history"] is True for row in outside["rows"])
    assert all(row["band_widening"] > 2 for row in outside["rows"])
    # The file's band is that much wider around the revised target than the baseline's.
    base_frame = payloads[None][1].set_index(["sku", "week"])
    flagged = frame.set_index(["sku", "week"]).loc[
        [(row["sku"], row["week"]) for row in outside["rows"]]
    ]
    before = base_frame.loc[flagged.index]
    relative = (flagged["upper_80"] - flagged["revised"]) / flagged["revised"]
    relative_before = (before["upper_80"] - before["baseline"]) / before["baseline"]
    assert (relative > 2 * relative_before).all()
    for quiet in ("Price nudged", None):
        assert payloads[quiet][0]["outside_history"] == {"sku_weeks": 0, "skus": 0, "rows": []}


def test_targets_text_mode_warns_of_sku_weeks_outside_history(forecast_db, tmp_path, capsys, base):
    path = tmp_path / "sop.duckdb"
    shutil.copy(forecast_db, path)
    create_scenario(path, Scenario("Deep", [promotion(base, 0.7)]), "a", 1)
    out = tmp_path / "t.csv"
    code = main(["targets", "--db", str(path), "--out", str(out), "--scenario", "Deep"])
    printed, err = capsys.readouterr()
    assert code == 0 and printed.startswith("Wrote ")
    fragrance = int((base.families == "fragrance").sum())
    assert f"warning: {2 * fragrance} SKU-weeks ({fragrance} SKUs) have a price or " in err
    assert "outside what their history has seen" in err


def test_a_scenarios_levers_outside_history_in_their_order(base):
    past = week(base, len(base.weeks) - 1) + dt.timedelta(weeks=4)
    doubled, deep = price(base, 1.0, "family", "makeup"), promotion(base, 0.7)
    levers = [
        price(base, 0.02),
        doubled,
        Lever("campaign", change=3.0),  # the marketer's own assumption: not held to history
        Lever("price", "family", "makeup", past, None, change=1.0),  # past the horizon
        Lever("price", "family", "gone", week(base, 3), None, change=1.0),  # no such family
        promotion(base, 0.3),
        deep,
        promotion(base, 0.2, "sku", "SKN-0001"),  # never promoted itself
    ]
    found = levers_outside_history(base, levers)
    assert found == [doubled, deep, levers[-1]]
    assert all(lever_history(base, lever).outside for lever in found)
    assert lever_history(base, Lever("campaign", change=3.0)) is None


def test_sku_levers_apart_widen_their_own_rows_only(base):
    """SKUs far apart (not one slice of rows) and a channel's promotion: the band widens on
    their SKU-weeks alone, as it would one lever at a time."""
    first, last = "BDY-0001", "SKN-0010"
    levers = [
        price(base, 1.0, "sku", first),
        Lever("promotion", "sku", last, week(base, 2), week(base, 8), discount=0.8),
        Lever("promotion", "channel", "retail", week(base, 10), week(base, 11), discount=0.85),
    ]
    result = apply_scenario(base, Scenario("apart", levers))
    flagged = result.outside_history
    rows = {sku: int(np.flatnonzero(base.skus == sku)[0]) for sku in (first, last)}
    assert flagged[rows[first], START:].all() and not flagged[rows[first], :START].any()
    assert flagged[rows[last], 2:9].all()
    assert flagged[:, 10:12].all()  # every SKU's retail share, deeper than any saw
    others = np.ones(len(base.skus), dtype=bool)
    others[list(rows.values())] = False
    assert not flagged[others][:, np.r_[0:10, 12:26]].any()
    for lever in levers:
        alone = apply_scenario(base, Scenario("alone", [lever]))
        touched = alone.outside_history
        assert (result.band_widening[touched] >= alone.band_widening[touched] - 1e-12).all()


@pytest.mark.parametrize(
    "make",
    [
        lambda base: price(base, 0.10),
        lambda base: price(base, -0.30, "family", str(base.families[0])),
        lambda base: price(base, 0.5, "sku", str(base.skus[3])),
        lambda base: promotion(base, 0.55),
        lambda base: promotion(base, 0.55, "sku", str(base.skus[0])),
    ],
)
def test_the_scenario_warning_counts_the_skus_the_lever_takes_outside_history(base, make):
    """One judgment: the warning beside the scenario names as many SKUs beyond their history as
    the "Outside history" note and the widened band do (they once used two rules)."""
    lever = make(base)
    history = lever_history(base, lever)
    notes = [
        note
        for note in levers_module.scenario_warnings(base, Scenario("s", [lever]))
        if "deeper than any discount" in note or "bigger price move" in note
    ]
    if history.outside == 0:
        assert notes == []
        return
    never = 0
    if lever.kind == "promotion":  # never-promoted SKUs have a warning of their own
        rows = base.scope_rows(lever.scope, lever.target)
        never = int((base.max_discount_seen[rows] <= 0).sum())
    (note,) = notes
    assert f" {history.outside - never} of {history.skus} SKUs" in note, note
