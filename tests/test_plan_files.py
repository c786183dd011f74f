"""Plan files as marketing writes them (issue 25, items 1 and 2): rows of every scope in one
file, the more specific row winning where two meet on a SKU-week, and one meaning for a
price, the same in a file and on the Promotions page."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sop_core.data import db
from sop_core.scenario.levers import apply_scenario, effective_effects
from sop_core.scenario.model import Lever, Scenario
from sop_core.scenario.plan_files import read_plan
from sop_core.scenario.store import create_scenario
from tests import test_promo_plan as promo
from tests.test_promo_plan import WEEK, Facts, plan_file, run, stored_scenarios, targets_csv

# The sample and its facts, shared with test_promo_plan.
shared_db = promo.shared_db
own_db = promo.own_db
facts = promo.facts

OLD_JSON_KEYS = {
    *("ok", "written", "scenario", "file", "rows_in_file", "rows_used", "scope", "levers"),
    *("columns", "issues"),
}


def family_of(facts: Facts) -> str:
    return facts.family[facts.hero]


def members(facts: Facts, family: str) -> list[str]:
    return [
        str(s) for s, f in zip(facts.base.skus, facts.base.families, strict=True) if f == family
    ]


def index(facts: Facts, sku: str) -> int:
    return int(np.flatnonzero(facts.base.skus == sku)[0])


def list_prices(path: Path, sku: str, weeks: list[dt.date]) -> np.ndarray:
    """The SKU's list price in each week (the product's, moved by ``price_changes``)."""
    with db.connect(path) as con:
        today, steps = (
            con.execute("SELECT list_price FROM products WHERE sku = ?", [sku]).fetchone()[0],
            con.execute(
                "SELECT effective_week, list_price FROM price_changes WHERE sku = ? "
                "ORDER BY effective_week",
                [sku],
            ).fetchall(),
        )
    prices = []
    for week in weeks:
        earlier = [price for start, price in steps if start <= week]
        prices.append(earlier[-1] if earlier else today)
    return np.array(prices)


def steady_sku(path: Path, facts: Facts, exclude: set[str]) -> str:
    """A SKU of the hero's family whose list price does not change in the horizon."""
    with db.connect(path) as con:
        moving = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT sku FROM price_changes WHERE effective_week > ?",
                [facts.weeks[0] - 4 * WEEK],
            ).fetchall()
        }
    for sku in members(facts, family_of(facts)):
        if sku not in moving and sku not in exclude:
            return sku
    pytest.skip("no SKU of the hero's family keeps its list price")


def promotion_log(facts: Facts, sku: str, discount: float, share: float = 1.0) -> float:
    """The documented response of a discount (levers.py): share x (promo_depth x discount +
    price_elasticity x log(1 - discount)), computed here from the effects, not the engine."""
    effects = effective_effects(facts.base, Scenario("effects"))
    i = index(facts, sku)
    elasticity = np.nan_to_num(effects["price_elasticity"][i])
    return share * (
        np.nan_to_num(effects["promo_depth"][i]) * discount + elasticity * np.log1p(-discount)
    )


def dip_log(facts: Facts, sku: str, discount: float) -> float:
    effects = effective_effects(facts.base, Scenario("effects"))
    return float(np.nan_to_num(effects["post_promotion"][index(facts, sku)]) * discount)


# ---- 1. one file, every scope --------------------------------------------------------------


def mixed_rows(facts: Facts) -> list[dict]:
    """Everything 10% off in week 1, a channel's 15% in week 8, the hero's family at 20% in
    weeks 3-4 with the hero at 30% in week 3 and its sibling left out in week 4, the family at
    25% over everything's 10% in week 11, and a price change for the hero in week 14."""
    w, hero, sibling = facts.weeks, facts.hero, facts.sibling
    family, channel = family_of(facts), str(facts.base.channels[0])
    return [
        {"week": w[1], "discount": 0.1},  # line 2
        {"week": w[8], "channel": channel, "discount": 0.15},  # line 3
        {"week": w[3], "family": family, "discount": 0.2},  # line 4
        {"week": w[4], "family": family, "discount": 0.2},  # line 5
        {"week": w[3], "sku": hero, "discount": 0.3},  # line 6
        {"week": w[4], "sku": sibling, "discount": 0.0},  # line 7: left out
        {"week": w[11], "discount": 0.1},  # line 8
        {"week": w[11], "family": family, "discount": 0.25},  # line 9
        {"week": w[14], "sku": hero, "price": round(facts.list_price[hero] * 0.9, 2)},  # 10
    ]


def test_one_file_holds_every_scope_and_the_more_specific_row_wins(shared_db, facts, tmp_path):
    w, hero, sibling = facts.weeks, facts.hero, facts.sibling
    family = family_of(facts)
    family_skus = members(facts, family)
    path = plan_file(tmp_path / "mixed.csv", mixed_rows(facts))
    report = read_plan(shared_db, path)
    assert report.ok, [i.text() for i in report.issues]
    assert report.scope == "mixed"
    assert report.rows_by_scope == {"sku": 3, "family": 3, "brand": 0, "channel": 1, "all": 2}
    assert report.rows_used == 9
    assert "(3 by sku, 3 by family, 1 by channel, 2 for the total)" in report.summary()

    # The overlaps: which rows, which SKU-weeks, which one won.
    found = {(o.line, o.over_line): o for o in report.overlaps}
    assert set(found) == {(6, 4), (7, 5), (9, 8)}
    assert (found[6, 4].week, found[6, 4].sku_weeks, found[6, 4].target) == (w[3], 1, hero)
    assert (found[7, 5].week, found[7, 5].sku_weeks, found[7, 5].over_target) == (
        w[4],
        1,
        family,
    )
    assert found[9, 8].sku_weeks == len(family_skus) and found[9, 8].over_scope == "all"
    assert found[9, 8].as_dict()["over"] == {"line": 8, "scope": "all", "target": None}
    notice = [i.text() for i in report.issues if "overlap(s)" in i.text()]
    assert notice and "line 6 (sku " in notice[0] and f"line 4 (family {family})" in notice[0]

    # The levers: the family's weeks 3-4 SKU by SKU (one run each, one dip), everything's
    # week 11 by family, the channel's and the price's own.
    promotions = [lever for lever in report.levers if lever.kind == "promotion"]
    week3 = {(lv.scope, lv.target, lv.discount) for lv in promotions if lv.start_week == w[3]}
    assert ("sku", hero, 0.3) in week3 and ("family", family, 0.2) not in week3
    others = set(family_skus) - {hero, sibling}
    assert {("sku", sku, 0.2) for sku in others} <= week3
    runs = {
        lv.target: (lv.start_week, lv.end_week)
        for lv in promotions
        if lv.target in others and lv.start_week == w[3]
    }
    assert set(runs.values()) == {(w[3], w[4])}
    week11 = {(lv.scope, lv.target, lv.discount) for lv in promotions if lv.start_week == w[11]}
    assert ("family", family, 0.25) in week11
    assert {("family", f, 0.1) for f in set(facts.base.families) - {family}} <= week11
    assert not any(lv.scope == "all" for lv in promotions if lv.start_week == w[11])
    assert Lever("promotion", "all", None, w[1], w[1], discount=0.1) in promotions
    assert (
        Lever("promotion", "channel", str(facts.base.channels[0]), w[8], w[8], discount=0.15)
        in promotions
    )

    # The volumes of the overlapped SKU-weeks, from the documented response (no
    # cannibalisation, so each SKU's own levers alone move it).
    result = apply_scenario(facts.base, report.scenario("mixed", cannibalisation=0.0))
    base = facts.base.baseline

    def expect(sku: str, week: int, log: float) -> None:
        i = index(facts, sku)
        assert result.revised[i, week] == pytest.approx(base[i, week] * np.exp(log), rel=1e-9)

    expect(hero, 3, promotion_log(facts, hero, 0.3))  # the SKU's 30%, not the family's 20%
    expect(hero, 4, promotion_log(facts, hero, 0.2) + dip_log(facts, hero, 0.3))
    expect(sibling, 3, promotion_log(facts, sibling, 0.2))
    expect(sibling, 4, dip_log(facts, sibling, 0.2))  # left out: only the dip of week 3
    other = sorted(others)[0]
    expect(other, 4, promotion_log(facts, other, 0.2))  # one run: no dip inside it
    expect(other, 5, dip_log(facts, other, 0.2))
    for sku in family_skus:  # the family's 25%, not everything's 10%
        expect(sku, 11, promotion_log(facts, sku, 0.25))
    outsider = next(str(s) for s in facts.base.skus if facts.family[str(s)] != family)
    expect(outsider, 11, promotion_log(facts, outsider, 0.1))
    # The hero's price from week 14 to the end: the net price holds against each week's list.
    # (With a channel lever the result is by channel: the price levers alone show the factor.)
    listed = list_prices(shared_db, hero, w[14:])
    net = round(facts.list_price[hero] * 0.9, 2)
    prices = Scenario("prices", [lv for lv in report.levers if lv.kind == "price"])
    factor = apply_scenario(facts.base, prices).price_factor[facts.hero_index]
    np.testing.assert_allclose(factor[14:], net / listed, rtol=1e-6)
    assert (factor[:14] == 1).all()


def test_a_channel_row_wins_its_channel_over_a_row_for_everything(shared_db, facts, tmp_path):
    w = facts.weeks
    channels = [str(c) for c in facts.base.channels]
    path = plan_file(
        tmp_path / "plan.csv",
        [
            {"week": w[2], "discount": 0.1},
            {"week": w[3], "discount": 0.1},
            {"week": w[3], "channel": channels[0], "discount": 0.2},
        ],
    )
    report = read_plan(shared_db, path)
    assert report.ok, [i.text() for i in report.issues]
    assert [(o.line, o.over_line, o.sku_weeks) for o in report.overlaps] == [
        (4, 3, len(facts.base.skus))
    ]
    # Everything's run becomes rows by channel (one run each), the channel's own at 20%.
    assert sorted(report.levers, key=repr) == sorted(
        [
            Lever("promotion", "channel", channels[0], w[2], w[2], discount=0.1),
            Lever("promotion", "channel", channels[0], w[3], w[3], discount=0.2),
            *(Lever("promotion", "channel", c, w[2], w[3], discount=0.1) for c in channels[1:]),
        ],
        key=repr,
    )


def bad_mixed(facts: Facts) -> dict[str, tuple[list[dict], str, list[int]]]:
    w, hero = facts.weeks, facts.hero
    family, brand = family_of(facts), facts.brand[facts.hero]
    channel = str(facts.base.channels[0])
    return {
        "a channel and a sku in one week": (
            [
                {"week": w[2], "channel": channel, "discount": 0.2},
                {"week": w[2], "sku": hero, "discount": 0.3},
                {"week": w[3], "sku": hero, "discount": 0.3},
            ],
            "a channel row and a sku, family or brand row put a promotion on the same week",
            [2, 3],
        ),
        "a family and a brand on one SKU-week": (
            [
                {"week": w[2], "family": family, "discount": 0.2},
                {"week": w[2], "brand": brand, "discount": 0.3},
            ],
            "a family row and a brand row put a promotion on the same SKU-weeks",
            [2, 3],
        ),
        "until on a promotion": (
            [{"week": w[2], "sku": hero, "discount": 0.2, "until": w[4]}],
            "until is the last week of a price change",
            [2],
        ),
        "until before the week": (
            [{"week": w[4], "sku": hero, "price": facts.list_price[hero], "until": w[2]}],
            "until is before the row's week",
            [2],
        ),
        "a price on a family row": (
            [
                {"week": w[2], "sku": hero, "price": facts.list_price[hero] * 0.9},
                {"week": w[2], "family": family, "price": 5.0},
            ],
            "a net price needs a sku column",
            [3],
        ),
        "an unknown family beside good SKU rows": (
            [
                {"week": w[2], "sku": hero, "discount": 0.2},
                {"week": w[2], "family": "Nope", "discount": 0.2},
            ],
            "unknown family",
            [3],
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "a channel and a sku in one week",
        "a family and a brand on one SKU-week",
        "until on a promotion",
        "until before the week",
        "a price on a family row",
        "an unknown family beside good SKU rows",
    ],
)
def test_a_mixed_plan_no_lever_can_hold_is_refused_with_its_lines(
    own_db, facts, tmp_path, capsys, case
):
    rows, fragment, lines = bad_mixed(facts)[case]
    if case == "a family and a brand on one SKU-week":
        family, brand = family_of(facts), facts.brand[facts.hero]
        assert facts.hero in members(facts, family) and facts.brand[facts.hero] == brand
    path = plan_file(tmp_path / "plan.csv", rows)
    report = read_plan(own_db, path)
    assert not report.ok and not report.levers
    found = [issue for issue in report.errors if fragment in issue.text()]
    assert found, [issue.text() for issue in report.issues]
    assert found[0].lines == lines
    code, out, err = run(
        capsys, "import-plan", "--db", own_db, "--scenario", "Plan", path, "--json"
    )
    payload = json.loads(out)
    assert code == 1 and payload["ok"] is False and payload["written"] is False
    assert fragment in err and "Traceback" not in err
    assert stored_scenarios(own_db) == []


def test_a_file_with_sku_and_family_rows_is_no_longer_refused(shared_db, facts, tmp_path):
    """The issue's report: a SKU row and a family row (its SKU cell empty) in one file."""
    w = facts.weeks
    path = tmp_path / "plan.csv"
    path.write_text(
        f"week,sku,family,discount\n{w[2]},{facts.hero},,0.2\n{w[5]},,{family_of(facts)},0.1\n"
    )
    report = read_plan(shared_db, path)
    assert report.ok, [i.text() for i in report.issues]
    assert not any("is empty" in i.text() for i in report.issues)
    assert {(lv.scope, lv.start_week) for lv in report.levers} == {
        ("sku", w[2]),
        ("family", w[5]),
    }


# ---- 2. import-plan --json: rows per scope and overlaps ------------------------------------


def test_import_plan_json_reports_rows_per_scope_and_overlaps(own_db, facts, tmp_path, capsys):
    path = plan_file(tmp_path / "mixed.csv", mixed_rows(facts))
    code, out, err = run(
        capsys, "import-plan", "--db", own_db, "--scenario", "Mixed", path, "--json"
    )
    assert code == 0, err
    payload = json.loads(out)
    assert OLD_JSON_KEYS | {"rows_by_scope", "overlaps"} == set(payload)
    assert payload["ok"] and payload["written"] and payload["scope"] == "mixed"
    assert payload["rows_by_scope"] == {
        "sku": 3,
        "family": 3,
        "brand": 0,
        "channel": 1,
        "all": 2,
    }
    assert payload["rows_used"] == 9 and payload["rows_in_file"] == 9
    assert sorted((o["won"]["line"], o["over"]["line"]) for o in payload["overlaps"]) == [
        (6, 4),
        (7, 5),
        (9, 8),
    ]
    first = next(o for o in payload["overlaps"] if o["won"]["line"] == 6)
    assert first == {
        "week": facts.weeks[3].isoformat(),
        "won": {"line": 6, "scope": "sku", "target": facts.hero},
        "over": {"line": 4, "scope": "family", "target": family_of(facts)},
        "sku_weeks": 1,
    }
    # A one-scope file keeps its scope and has no overlaps.
    single = plan_file(
        tmp_path / "single.csv", [{"week": facts.weeks[2], "sku": facts.hero, "discount": 0.2}]
    )
    code, out, err = run(
        capsys, "import-plan", "--db", own_db, "--scenario", "One", single, "--json", "--dry-run"
    )
    payload = json.loads(out)
    assert code == 0 and payload["scope"] == "sku" and payload["overlaps"] == []
    assert payload["rows_by_scope"]["sku"] == 1 and sum(payload["rows_by_scope"].values()) == 1


# ---- 3. one price semantic -----------------------------------------------------------------


def test_a_price_holds_until_the_next_price_row_or_its_until_week(shared_db, facts, tmp_path):
    w = facts.weeks
    sku = steady_sku(shared_db, facts, {facts.hero})
    listed = facts.list_price[sku]
    path = plan_file(
        tmp_path / "prices.csv",
        [
            {"week": w[2], "sku": sku, "price": round(listed * 0.9, 2)},
            # the next change ends the one before; it ends at its until week (included)
            {"week": w[6], "sku": sku, "price": round(listed * 1.1, 2), "until": w[9]},
            {"week": w[15], "sku": sku, "price": round(listed * 0.95, 2)},
            {"week": w[18], "sku": sku, "price": listed},  # back at list: ends it, no lever
        ],
    )
    report = read_plan(shared_db, path)
    assert report.ok, [i.text() for i in report.issues]
    assert [(lv.start_week, lv.end_week) for lv in report.levers] == [
        (w[2], w[5]),
        (w[6], w[9]),
        (w[15], w[17]),
    ]
    result = apply_scenario(facts.base, report.scenario("prices", cannibalisation=0.0))
    factor = result.price_factor[index(facts, sku)]
    expected = np.ones(len(w))
    expected[2:6] = round(listed * 0.9, 2) / listed
    expected[6:10] = round(listed * 1.1, 2) / listed
    expected[15:18] = round(listed * 0.95, 2) / listed
    np.testing.assert_allclose(factor, expected, rtol=1e-6)


def test_page_price_levers_hold_until_the_next_one_for_the_same_scope(facts):
    """The page's price levers run from their week to the end (no end week); a later one for
    the same scope ends the earlier, as a plan file's next price row does."""
    w, base = facts.weeks, facts.base
    hero, sibling = facts.hero, facts.sibling
    levers = [
        Lever("price", "sku", hero, w[2], None, change=-0.1),
        Lever("price", "sku", hero, w[6], None, change=0.05),
        Lever("price", "sku", sibling, w[4], w[7], change=0.1),  # its own end week
        Lever("price", "family", family_of(facts), w[10], None, change=0.02),  # another scope
    ]
    result = apply_scenario(base, Scenario("page", levers, cannibalisation=0.0))
    family = np.array([f == family_of(facts) for f in base.families])
    expected = np.ones(len(w))
    expected[2:6], expected[6:] = 0.9, 1.05
    expected[10:] *= 1.02
    np.testing.assert_allclose(result.price_factor[facts.hero_index], expected, rtol=1e-12)
    sib = np.ones(len(w))
    sib[4:8] = 1.1
    sib[10:] *= 1.02
    np.testing.assert_allclose(result.price_factor[index(facts, sibling)], sib, rtol=1e-12)
    assert (result.price_factor[~family] == 1).all()


def page_levers(facts: Facts, sku: str, other: str) -> list[Lever]:
    """The plan as the Promotions page builds it (``lever_from_state``): a promotion over a
    range of weeks with its sliders in percent, a price change from a week on (no end week),
    and a price change whose end week was set in the levers table."""
    w, family = facts.weeks, family_of(facts)
    return [
        Lever("promotion", "family", family, w[3], w[5], discount=25 / 100, share=80 / 100,
              feature=50 / 100, display=0 / 100),
        Lever("price", "sku", sku, w[4], None, change=-8 / 100),
        Lever("price", "sku", other, w[8], w[12], change=5 / 100),
    ]  # fmt: skip


def test_the_same_plan_in_the_page_and_as_a_file_gives_the_same_targets(
    own_db, facts, tmp_path, capsys
):
    """A family promotion plus SKU price changes, as page levers and as a mixed-scope file:
    the same levers, and the same targets to the unit (the file through import-plan and
    through targets --plan)."""
    w, family = facts.weeks, family_of(facts)
    sku = steady_sku(own_db, facts, set())
    other = steady_sku(own_db, facts, {sku})
    levers = page_levers(facts, sku, other)
    rows = [
        {"week": w[i], "family": family, "discount": 0.25, "share": 0.8, "feature": 0.5}
        for i in (3, 4, 5)
    ]
    rows += [
        {"week": w[4], "sku": sku, "price": facts.list_price[sku] * 0.92},
        {"week": w[8], "sku": other, "price": facts.list_price[other] * 1.05, "until": w[12]},
    ]
    path = plan_file(tmp_path / "plan.csv", rows)
    report = read_plan(own_db, path)
    assert report.ok, [i.text() for i in report.issues]
    assert report.rows_by_scope["family"] == 3 and report.rows_by_scope["sku"] == 2
    assert sorted(report.levers, key=repr) == sorted(levers, key=repr)

    with db.connect(own_db) as con:
        run_id = con.execute("SELECT max(run_id) FROM forecast_runs").fetchone()[0]
    create_scenario(own_db, Scenario("Page plan", levers), "marketing@example.com", run_id)
    code, _, err = run(capsys, "import-plan", "--db", own_db, "--scenario", "File plan", path)
    assert code == 0, err
    frames = {}
    for name, source in (
        ("page", ["--scenario", "Page plan"]),
        ("imported", ["--scenario", "File plan"]),
        ("file", ["--plan", path]),
    ):
        out_file = tmp_path / f"{name}.csv"
        code, _, err = run(capsys, "targets", "--db", own_db, *source, "--out", out_file)
        assert code == 0, err
        frames[name] = targets_csv(out_file)
    page = frames["page"]
    assert (page["revised"] != page["baseline"]).any()
    for name in ("imported", "file"):
        pd.testing.assert_frame_equal(frames[name], page)
        assert (frames[name]["revised"].round() == page["revised"].round()).all()
