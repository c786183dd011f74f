"""Marketing's promotion and price plan: a spreadsheet in, checked row by row, levers and a
scenario out, and revised targets by SKU and week for production and finance."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sop_core.cli import main
from sop_core.data import db
from sop_core.data.errors import InputError
from sop_core.data.importer import parse_mapping
from sop_core.demand.consensus import Override, add_override
from sop_core.demand.plan_base import PlanBase, load_plan_base
from sop_core.meeting.plan_of_record import approve, load_frozen
from sop_core.scenario.levers import (
    applicable,
    apply_scenario,
    effective_effects,
    scenario_warnings,
)
from sop_core.scenario.model import CapacityChange, EffectOverride, Lever, Scenario
from sop_core.scenario.plan_files import holdout_plan, read_plan
from sop_core.scenario.store import create_scenario, load_scenario
from sop_core.scenario.targets import COLUMNS, VOLUME_COLUMNS, write_targets

WEEK = dt.timedelta(weeks=1)
GERMAN = {"week": "Woche", "sku": "Artikel", "discount": "Rabatt", "share": "Anteil"}
GERMAN_MAP = ",".join(f"{target}={source}" for target, source in GERMAN.items())


# ---- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_db(forecast_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the sample with its forecast for the tests that only read it."""
    path = tmp_path_factory.mktemp("promo_plan") / "sop.duckdb"
    shutil.copy(forecast_db, path)
    return path


@pytest.fixture()
def own_db(forecast_db: Path, tmp_path: Path) -> Path:
    """A private copy for a test that writes (or must prove it wrote nothing)."""
    path = tmp_path / "own.duckdb"
    shutil.copy(forecast_db, path)
    return path


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the tests take from the sample database rather than hard-code."""

    base: PlanBase
    weeks: list[dt.date]  # the forecast's weeks
    family: dict[str, str]
    brand: dict[str, str]
    list_price: dict[str, float]  # today's (products.list_price)
    hero: str  # promoted before, responds to a discount, sells well, in a family of several
    sibling: str  # another well-selling SKU of the hero's family
    repriced: str  # a SKU whose list price changes inside the forecast's weeks
    price_week: dt.date  # the week that change takes effect
    new_list: float  # the list price from then on

    @property
    def hero_index(self) -> int:
        return int(np.flatnonzero(self.base.skus == self.hero)[0])


@pytest.fixture(scope="module")
def facts(shared_db: Path) -> Facts:
    with db.connect(shared_db) as con:
        run = con.execute("SELECT max(run_id) FROM forecast_runs").fetchone()[0]
        base = load_plan_base(con, run)
        last = con.execute("SELECT max(week) FROM sales_history").fetchone()[0]
        products = con.execute("SELECT sku, family, brand, list_price FROM products").fetchall()
        weeks = [w.astype(dt.date) for w in base.weeks]
        change = con.execute(
            "SELECT c.sku, c.effective_week, c.list_price FROM price_changes c "
            "JOIN products p USING (sku) WHERE c.effective_week > ? AND c.effective_week < ? "
            "ORDER BY abs(c.list_price / p.list_price - 1) DESC LIMIT 1",
            [weeks[1], weeks[-3]],
        ).fetchone()
    assert weeks[0] == last + WEEK and len(weeks) == 26
    family = {sku: fam for sku, fam, _, _ in products}
    listed = {sku: price for sku, _, _, price in products}
    assert change is not None, "the sample should schedule a list price change in the horizon"
    assert abs(change[2] / listed[change[0]] - 1) > 0.03  # more than the 2% tolerance
    size = pd.Series(base.families).value_counts()
    selling = base.baseline.min(axis=1) > 100  # changes show at two decimals
    candidates = (
        selling
        & (base.max_discount_seen > 0)
        & (base.effects["promo_10pct"] > 0)
        & (base.effects["price_elasticity"] < 0)
        & (pd.Series(base.families).map(size).to_numpy() >= 3)
    )
    assert candidates.any()
    hero = int(np.flatnonzero(candidates)[np.argmax(base.baseline[candidates].sum(axis=1))])
    siblings = np.flatnonzero((base.families == base.families[hero]) & selling)
    sibling = int(siblings[siblings != hero][0])
    return Facts(
        base=base,
        weeks=weeks,
        family=family,
        brand={sku: brand for sku, _, brand, _ in products},
        list_price=listed,
        hero=str(base.skus[hero]),
        sibling=str(base.skus[sibling]),
        repriced=change[0],
        price_week=change[1],
        new_list=change[2],
    )


def plan_file(path: Path, rows: list[dict]) -> Path:
    """Write plan rows as CSV or Excel (by the suffix); missing values are empty cells."""
    frame = pd.DataFrame(rows)
    if path.suffix == ".xlsx":
        frame.to_excel(path, index=False, engine="openpyxl")
    else:
        frame.to_csv(path, index=False)
    return path


def run(capsys: pytest.CaptureFixture, *args: object) -> tuple[int, str, str]:
    """``python -m sop_core ARGS`` in this process: exit code, stdout, stderr."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def stored_scenarios(path: Path) -> list[tuple]:
    with db.connect(path) as con:
        return con.execute(
            "SELECT name, version, definition FROM scenarios ORDER BY name"
        ).fetchall()


def promotion_plan(facts: Facts, path: Path, discount: float = 0.25) -> Path:
    """The hero on promotion in weeks 3 and 4 of the forecast."""
    return plan_file(
        path,
        [{"week": facts.weeks[i], "sku": facts.hero, "discount": discount} for i in (3, 4)],
    )


def targets_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"sku": str, "week": str})


# ---- 1. a good plan becomes levers ---------------------------------------------------------


def test_a_plan_by_sku_becomes_levers_and_consecutive_identical_weeks_merge(
    shared_db, facts, tmp_path
):
    w, hero, sibling = facts.weeks, facts.hero, facts.sibling
    promo = {"discount": 0.2, "share": 0.5, "feature": 1, "display": 0.25}
    path = plan_file(
        tmp_path / "plan.csv",
        [
            {"week": w[2], "sku": hero, **promo},
            {"week": w[3], "sku": hero, **promo},  # the same the next week: one lever
            {"week": w[4], "sku": hero, **promo, "discount": 0.3},  # deeper: a new lever
            {"week": w[6], "sku": hero, **promo, "discount": 0.3},  # not the next week
            {"week": w[2], "sku": sibling, "discount": 0.15},  # share, feature, display default
            {"week": w[5], "sku": sibling},  # nothing in it: skipped
        ],
    )
    report = read_plan(shared_db, path)
    assert report.ok, [i.text() for i in report.issues]
    assert report.scope == "sku" and report.report.rows_in_file == 6 and report.rows_used == 5
    support = {"share": 0.5, "feature": 1.0, "display": 0.25}
    assert sorted(report.levers, key=repr) == sorted(
        [
            Lever("promotion", "sku", hero, w[2], w[3], discount=0.2, **support),
            Lever("promotion", "sku", hero, w[4], w[4], discount=0.3, **support),
            Lever("promotion", "sku", hero, w[6], w[6], discount=0.3, **support),
            Lever("promotion", "sku", sibling, w[2], w[2], discount=0.15),
        ],
        key=repr,
    )
    starts = [lever.start_week for lever in report.levers]
    assert starts == sorted(starts)
    assert "5 plan row(s) by sku make 4 lever(s)" in report.summary()
    hero_first = next(lever for lever in report.levers if lever.target == hero)
    assert "in 50% of distribution" in hero_first.describe()
    scenario = report.scenario("Marketing", cannibalisation=0.4)
    assert scenario.levers == report.levers and scenario.cannibalisation == 0.4


@pytest.mark.parametrize("column", ["family", "brand", "channel", None])
def test_a_plan_by_family_brand_channel_or_for_everything(shared_db, facts, tmp_path, column):
    w = facts.weeks
    target = {
        "family": facts.family[facts.hero],
        "brand": facts.brand[facts.hero],
        "channel": str(facts.base.channels[0]),
        None: None,
    }[column]
    where = {column: target} if column else {}
    path = plan_file(
        tmp_path / "plan.csv",
        [{"week": w[i], **where, "discount": 0.25, "display": 1} for i in (1, 2)],
    )
    report = read_plan(shared_db, path)
    assert report.ok, [i.text() for i in report.issues]
    scope = column or "all"
    assert report.scope == scope
    assert report.levers == [
        Lever("promotion", scope, target, w[1], w[2], discount=0.25, display=1.0)
    ]


def test_a_sku_plan_may_carry_the_family_for_reading(shared_db, facts, tmp_path):
    w, hero = facts.weeks, facts.hero
    path = plan_file(
        tmp_path / "plan.csv",
        [{"week": w[1], "sku": hero, "family": facts.family[hero], "discount": 0.2}],
    )
    report = read_plan(shared_db, path)
    assert report.ok and report.scope == "sku"
    assert [lever.target for lever in report.levers] == [hero]
    assert any("family column(s) are not used" in i.text() for i in report.issues)


# ---- 2. bad plans: every problem with its lines, nothing saved, nothing written ------------


def bad_plans(facts: Facts) -> dict[str, tuple[str, str, list[int]]]:
    """Plan file text, a fragment of the error it must give, and the lines it must name."""
    w, hero, repriced = facts.weeks, facts.hero, facts.repriced
    good = f"{w[1]},{hero},0.2"
    old_net = round(facts.list_price[repriced] * 0.8, 2)
    return {
        "unknown sku": (
            f"week,sku,discount\n{good}\n{w[1]},NOPE-0000,0.2\n",
            "unknown sku",
            [3],
        ),
        "discount above 0.9": (
            f"week,sku,discount\n{good}\n{w[2]},{hero},0.95\n",
            "discount is above 0.9",
            [3],
        ),
        "feature above 1": (
            f"week,sku,discount,feature\n{w[1]},{hero},0.2,1.5\n{w[2]},{hero},0.2,1\n",
            "feature is above 1",
            [2],
        ),
        # Before the list price change the old net price agrees; in the week after it the
        # week's list price (the new one) less the discount is what the price must be.
        "price against the week's list less discount": (
            f"week,sku,discount,price\n{w[1]},{repriced},0.2,{old_net}\n"
            f"{facts.price_week + WEEK},{repriced},0.2,{old_net}\n",
            f"{facts.new_list:.2f} less 20% is {facts.new_list * 0.8:.2f}",
            [3],
        ),
        "same week and sku twice": (
            f"week,sku,discount\n{w[1]},{hero},0.2\n{w[1] + dt.timedelta(days=2)},{hero},0.3\n",
            "the same week and sku appears more than once",
            [2, 3],
        ),
        "price with a family column": (
            f"week,family,discount,price\n{w[1]},{facts.family[hero]},0.2,9.99\n",
            "a net price needs a sku column",
            [2],
        ),
        # Rows of different scopes share a file; one row with two scopes is refused.
        "channel and sku on one row": (
            f"week,sku,channel,discount\n{w[1]},{hero},{facts.base.channels[0]},0.2\n",
            "the row has a channel and a sku, family or brand",
            [2],
        ),
        "empty file": ("", "is empty", []),
        "header only": ("week,sku,discount\n", "has a header but no rows", []),
        "no week column": (f"sku,discount\n{hero},0.2\n", "Missing column(s): week", []),
        "discount as text": (
            f"week,sku,discount\n{good}\n{w[2]},{hero},20%\n",
            "discount is not a number",
            [3],
        ),
        "share of zero": (
            f"week,sku,discount,share\n{w[1]},{hero},0.2,0\n",
            "share is zero or negative",
            [2],
        ),
        "price alone above four times list": (
            f"week,sku,price\n{good.rsplit(',', 1)[0]},{facts.list_price[hero] * 5:.2f}\n",
            "above four times that week's list price",
            [2],
        ),
    }


BAD_PLANS = [
    "unknown sku",
    "discount above 0.9",
    "feature above 1",
    "price against the week's list less discount",
    "same week and sku twice",
    "price with a family column",
    "channel and sku on one row",
    "empty file",
    "header only",
    "no week column",
    "discount as text",
    "share of zero",
    "price alone above four times list",
]


@pytest.mark.parametrize("case", BAD_PLANS)
def test_a_bad_plan_names_its_lines_and_nothing_is_saved_or_written(
    own_db, facts, tmp_path, capsys, case
):
    text, fragment, lines = bad_plans(facts)[case]
    path = tmp_path / "plan.csv"
    path.write_text(text)
    where = f"line {', '.join(str(line) for line in lines)}"

    report = read_plan(own_db, path)
    assert not report.ok and not report.levers
    found = [issue for issue in report.report.errors if fragment in issue.text()]
    assert found, [issue.text() for issue in report.issues]
    assert found[0].lines == lines

    code, out, err = run(capsys, "import-plan", "--db", own_db, "--scenario", "Plan", path)
    assert code == 1
    assert fragment in err and "nothing was written" in err and "Traceback" not in err
    assert where in err or not lines
    code, out, err = run(
        capsys, "import-plan", "--db", own_db, "--scenario", "Plan", path, "--json"
    )
    payload = json.loads(out)
    assert code == 1 and payload["ok"] is False and payload["written"] is False
    assert any(fragment in i["message"] for i in payload["issues"] if i["severity"] == "error")
    assert stored_scenarios(own_db) == []

    out_file = tmp_path / "targets.csv"
    code, out, err = run(
        capsys, "targets", "--db", own_db, "--plan", path, "--out", out_file, "--json"
    )
    assert code == 1 and fragment in err and out == ""
    assert where in err or not lines
    assert not out_file.exists() and not list(tmp_path.glob(".*partial"))


# ---- 3. other column names, and Excel -----------------------------------------------------


def test_mapped_column_names_and_an_excel_plan_read_like_the_csv(own_db, facts, tmp_path, capsys):
    w, hero, sibling = facts.weeks, facts.hero, facts.sibling
    rows = [
        {"week": w[1], "sku": hero, "discount": 0.25, "share": 0.6, "feature": 1},
        {"week": w[2], "sku": hero, "discount": 0.25, "share": 0.6, "feature": 1},
        {"week": w[2], "sku": sibling, "discount": 0.1, "share": None, "feature": None},
    ]
    expected = read_plan(own_db, plan_file(tmp_path / "plain.csv", rows))
    assert expected.ok and len(expected.levers) == 2
    german = [{GERMAN.get(k, k): v for k, v in row.items()} for row in rows]
    for name in ("plan.csv", "plan.xlsx"):
        path = plan_file(tmp_path / name, german)
        report = read_plan(own_db, path, mapping=parse_mapping(GERMAN_MAP))
        assert report.ok, (name, [i.text() for i in report.issues])
        assert report.levers == expected.levers, name
        assert report.report.columns["week"] == "Woche"
        assert report.report.columns["discount"] == "Rabatt"
        unmapped = read_plan(own_db, path)
        assert not unmapped.ok
        assert any("Missing column(s): week" in i.text() for i in unmapped.issues)

    excel = tmp_path / "plan.xlsx"
    code, out, err = run(
        capsys,
        "import-plan",
        "--db",
        own_db,
        "--scenario",
        "Aktion",
        excel,
        "--map",
        GERMAN_MAP,
        "--json",
    )
    assert code == 0, err
    payload = json.loads(out)
    assert payload["ok"] and payload["written"] and payload["levers"] == 2
    assert payload["rows_in_file"] == 3 and payload["scope"] == "sku"
    assert payload["columns"]["sku"] == "Artikel"
    with db.connect(own_db) as con:
        assert load_scenario(con, "Aktion").scenario.levers == expected.levers

    outputs = []
    for plan, mapping in ((tmp_path / "plain.csv", []), (excel, ["--map", GERMAN_MAP])):
        out_file = tmp_path / f"targets-{plan.stem}.csv"
        code, _, err = run(
            capsys, "targets", "--db", own_db, "--plan", plan, *mapping, "--out", out_file
        )
        assert code == 0, err
        outputs.append(out_file.read_text())
    assert outputs[0] == outputs[1]


# ---- 4. net prices ------------------------------------------------------------------------


def test_a_price_alone_is_a_price_change_and_a_consistent_net_price_is_accepted(
    shared_db, facts, tmp_path
):
    w, hero, repriced = facts.weeks, facts.hero, facts.repriced
    listed = facts.list_price[hero]
    lower = round(listed * 0.9, 2)
    after = facts.price_week + WEEK
    path = plan_file(
        tmp_path / "plan.csv",
        [
            {"week": w[1], "sku": hero, "price": lower},
            {"week": w[2], "sku": hero, "price": lower},
            # 1.5% off list less the discount: inside the 2% tolerance
            {"week": w[4], "sku": hero, "discount": 0.25, "price": round(listed * 0.75 * 1.015, 2)},
            # after the list price change, the new list price less the discount
            {
                "week": after,
                "sku": repriced,
                "discount": 0.2,
                "price": round(facts.new_list * 0.8, 2),
            },
            # a price alone is a change against that week's list price ...
            {"week": after + WEEK, "sku": repriced, "price": round(facts.new_list * 1.05, 2)},
            # ... so restating the scheduled list price changes nothing
            {"week": after + 2 * WEEK, "sku": repriced, "price": facts.new_list},
        ],
    )
    report = read_plan(shared_db, path)
    assert report.ok, [i.text() for i in report.issues]
    prices = [lever for lever in report.levers if lever.kind == "price"]
    promotions = [lever for lever in report.levers if lever.kind == "promotion"]
    # A price holds from its week until the SKU's next price row: the hero's two rows at the
    # same price are one price from w[1] on (to the end of the horizon, as the page's price
    # lever), cut where its list price changes so that the net price stays; the repriced
    # SKU's price runs until its next row restates the list price.
    with db.connect(shared_db) as con:
        steps = con.execute(
            "SELECT effective_week, list_price FROM price_changes WHERE sku = ? "
            "AND effective_week > ? ORDER BY effective_week",
            [hero, w[1]],
        ).fetchall()
        then = con.execute(
            "SELECT coalesce((SELECT list_price FROM price_changes WHERE sku = ? AND "
            "effective_week <= ? ORDER BY effective_week DESC LIMIT 1), ?)",
            [hero, w[1], listed],
        ).fetchone()[0]
    starts = [w[1], *(week for week, _ in steps)]
    ends = [*(week - WEEK for week, _ in steps), None]
    lists = [then, *(price for _, price in steps)]
    hero_prices = [p for p in prices if p.target == hero]
    assert [(p.start_week, p.end_week) for p in hero_prices] == list(zip(starts, ends, strict=True))
    for lever, list_price in zip(hero_prices, lists, strict=True):
        assert lever.change == pytest.approx(lower / list_price - 1, abs=1e-6)
    assert [(p.target, p.start_week, p.end_week) for p in prices if p.target != hero] == [
        (repriced, after + WEEK, after + WEEK)
    ]
    assert prices[-1].change == pytest.approx(
        round(facts.new_list * 1.05, 2) / facts.new_list - 1, abs=1e-6
    )
    assert all(p.discount == 0 and p.feature == 0 and p.display == 0 for p in prices)
    assert sorted((p.target, p.start_week, p.discount) for p in promotions) == sorted(
        [(hero, w[4], 0.25), (repriced, after, 0.2)]
    )
    assert all(p.change == 0 for p in promotions)

    # The lower price lifts the hero's volume in those weeks (its elasticity is negative).
    result = apply_scenario(facts.base, report.scenario("prices", cannibalisation=0.0))
    i = facts.hero_index
    assert (result.revised[i, 1:3] > facts.base.baseline[i, 1:3]).all()


def test_a_price_far_below_list_is_a_row_error_not_an_exception(shared_db, facts, tmp_path):
    w, hero = facts.weeks, facts.hero
    path = plan_file(
        tmp_path / "plan.csv",
        [
            {"week": w[1], "sku": hero, "price": facts.list_price[hero]},
            {"week": w[2], "sku": hero, "price": round(facts.list_price[hero] * 0.05, 2)},
        ],
    )
    report = read_plan(shared_db, path)  # "Bad input never raises"
    assert not report.ok
    assert [issue.lines for issue in report.report.errors] == [[3]]


def test_a_price_far_below_list_is_refused_without_saving(own_db, facts, tmp_path, capsys):
    """Whatever reports it, the CLI refuses such a plan and saves nothing."""
    w, hero = facts.weeks, facts.hero
    path = plan_file(
        tmp_path / "plan.csv",
        [{"week": w[2], "sku": hero, "price": round(facts.list_price[hero] * 0.05, 2)}],
    )
    code, _, err = run(capsys, "import-plan", "--db", own_db, "--scenario", "Plan", path)
    assert code == 1 and err.startswith("error:") and "Traceback" not in err
    assert stored_scenarios(own_db) == []


# ---- 5. targets ---------------------------------------------------------------------------


def test_targets_without_levers_are_the_baseline(shared_db, facts, tmp_path, capsys):
    out_file = tmp_path / "targets.csv"
    code, out, err = run(capsys, "targets", "--db", shared_db, "--out", out_file, "--json")
    assert code == 0, err
    frame = targets_csv(out_file)
    skus = list(facts.base.skus)
    assert list(frame.columns) == list(COLUMNS)
    # Today's columns first, none renamed; the SKU's names and the money after them.
    assert list(COLUMNS) == [
        *["sku", "week", "baseline", "revised", "lower_80", "upper_80"],
        *["name", "family", "brand", "revenue", "margin"],
    ]
    assert len(frame) == 26 * len(skus)
    assert sorted(frame["sku"].unique()) == sorted(skus)
    assert sorted(frame["week"].unique()) == [w.isoformat() for w in facts.weeks]
    assert not frame.duplicated(["sku", "week"]).any()
    assert (frame["revised"] == frame["baseline"]).all()
    # Without overrides the baseline is the forecast run's.
    with db.connect(shared_db) as con:
        forecast = con.execute(
            "SELECT sku, strftime(week, '%Y-%m-%d') AS week, forecast FROM forecast_rows "
            "WHERE run_id = (SELECT max(run_id) FROM forecast_runs)"
        ).df()
    both = frame.merge(forecast, on=["sku", "week"], validate="one_to_one")
    assert len(both) == len(frame)
    np.testing.assert_allclose(both["baseline"], both["forecast"], atol=0.0051)
    payload = json.loads(out)
    assert payload["rows"] == len(frame) and payload["weeks"] == 26
    assert payload["source"] == "baseline" and payload["revised"] == payload["baseline"]
    # Each SKU's name, family and brand; revenue and margin add up to the scenario's own.
    assert (frame["family"] == frame["sku"].map(facts.family)).all()
    assert (frame["brand"] == frame["sku"].map(facts.brand)).all()
    names = dict(zip(facts.base.skus, facts.base.names, strict=True))
    assert (frame["name"] == frame["sku"].map(names)).all()
    totals = apply_scenario(facts.base, Scenario("Baseline")).kpis()
    for column in ("revenue", "margin"):
        assert frame[column].sum() == pytest.approx(totals[column], abs=0.005 * len(frame))
        assert payload[column] == pytest.approx(totals[column], abs=0.005 * len(frame))


def test_targets_of_a_plan_lift_the_promoted_weeks_and_move_only_that_family(
    shared_db, facts, tmp_path, capsys
):
    w, hero = facts.weeks, facts.hero
    plan = promotion_plan(facts, tmp_path / "plan.csv")
    frames = {}
    for name, extra in (
        ("default", ["--plan", plan]),
        ("none", ["--plan", plan, "--cannibalisation", "0"]),
        ("baseline", []),
    ):
        out_file = tmp_path / f"{name}.csv"
        code, _, err = run(capsys, "targets", "--db", shared_db, "--out", out_file, *extra)
        assert code == 0, err
        frames[name] = targets_csv(out_file).set_index(["sku", "week"])
    targets = frames["default"]
    moved = targets.index[targets["revised"] != targets["baseline"]]
    family = {sku for sku, fam in facts.family.items() if fam == facts.family[hero]}
    assert hero in set(moved.get_level_values("sku"))
    assert set(moved.get_level_values("sku")) <= family
    # The promoted weeks and the dip after them, nothing else.
    assert set(moved.get_level_values("week")) <= {w[i].isoformat() for i in (3, 4, 5)}
    promoted = [(hero, w[i].isoformat()) for i in (3, 4)]
    assert (targets.loc[promoted, "revised"] > targets.loc[promoted, "baseline"]).all()
    # The 80% band moves with the target: the same multiple of it as before the plan.
    before = frames["baseline"]
    pd.testing.assert_series_equal(before["baseline"], targets["baseline"])
    for band in ("lower_80", "upper_80"):
        np.testing.assert_allclose(
            targets[band] / targets["revised"], before[band] / before["baseline"], rtol=2e-3
        )
        assert (targets.loc[promoted, band] > before.loc[promoted, band]).all()
    others = targets[targets.index.get_level_values("sku") != hero]
    assert (others["revised"] <= others["baseline"]).all()
    assert (others["revised"] < others["baseline"]).any()  # the family gives up some volume
    # Without cannibalisation only the promoted SKU moves, and it moves the same.
    alone = frames["none"]
    assert set(alone.index[alone["revised"] != alone["baseline"]].get_level_values("sku")) == {hero}
    pd.testing.assert_frame_equal(alone.loc[[hero]], targets.loc[[hero]])


def test_a_plan_in_every_channel_is_a_plan_for_everything(shared_db, facts, tmp_path, capsys):
    w, channels = facts.weeks, [str(c) for c in facts.base.channels]
    promo = {"discount": 0.2, "share": 0.6, "feature": 0.5}
    plans = {
        "everything": [{"week": w[i], **promo} for i in (2, 3)],
        "channels": [{"week": w[i], "channel": c, **promo} for i in (2, 3) for c in channels],
        "one channel": [{"week": w[i], "channel": channels[0], **promo} for i in (2, 3)],
    }
    frames = {}
    for name, rows in plans.items():
        plan = plan_file(tmp_path / f"{name}.csv", rows)
        out_file = tmp_path / f"targets {name}.csv"
        code, _, err = run(capsys, "targets", "--db", shared_db, "--plan", plan, "--out", out_file)
        assert code == 0, err
        frames[name] = targets_csv(out_file)
    everything, one = frames["everything"], frames["one channel"]
    pd.testing.assert_frame_equal(frames["channels"], everything, check_exact=False, atol=0.011)
    lifted = everything["revised"] > everything["baseline"]
    assert lifted.any()
    # One channel's promotion lifts the same SKU-weeks, less.
    assert (one.loc[lifted, "revised"] > one.loc[lifted, "baseline"]).all()
    assert (one.loc[lifted, "revised"] < everything.loc[lifted, "revised"]).all()


def test_targets_horizon_and_excel_output(shared_db, facts, tmp_path, capsys):
    plan = promotion_plan(facts, tmp_path / "plan.csv")
    n = len(facts.base.skus)

    def targets(out_file: Path, *extra: object) -> tuple[str, str]:
        code, out, err = run(
            capsys, "targets", "--db", shared_db, "--plan", plan, "--out", out_file, *extra
        )
        assert code == 0, err
        return out, err

    targets(tmp_path / "full.csv")
    full = targets_csv(tmp_path / "full.csv")
    targets(tmp_path / "full.xlsx")
    excel = pd.read_excel(tmp_path / "full.xlsx", dtype={"sku": str})
    assert list(excel.columns) == list(COLUMNS)
    excel["week"] = pd.to_datetime(excel["week"]).dt.strftime("%Y-%m-%d")
    pd.testing.assert_frame_equal(excel, full, check_exact=False, rtol=0, atol=1e-9)
    # The workbook as finance opens it: numbers with formats, dates as dates, a frozen
    # header with filters, and a cover saying what the targets are.
    book = openpyxl.load_workbook(tmp_path / "full.xlsx")
    assert book.sheetnames == ["targets", "Cover"]
    sheet = book["targets"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:K{n * 26 + 1}"
    cells = dict(zip((c.value for c in sheet[1]), sheet[2], strict=True))
    assert isinstance(cells["week"].value, dt.datetime) and cells["week"].is_date
    for column, shown in [("revised", "#,##0"), ("revenue", "#,##0"), ("margin", "#,##0")]:
        assert isinstance(cells[column].value, float | int)
        assert cells[column].number_format == shown
    cover = {row[0]: row[1] for row in book["Cover"].iter_rows(min_row=3, values_only=True)}
    assert cover["Scenario"] == "plan plan.csv" and cover["Forecast run"] == facts.base.run_id
    assert isinstance(cover["Made at"], dt.datetime) and cover["Company"]

    targets(tmp_path / "short.csv", "--horizon", "13")
    short = targets_csv(tmp_path / "short.csv")
    first = [w.isoformat() for w in facts.weeks[:13]]
    assert len(short) == 13 * n and sorted(short["week"].unique()) == first
    expected = full[full["week"].isin(first)].reset_index(drop=True)
    pd.testing.assert_frame_equal(short, expected, check_exact=False, rtol=0, atol=1e-9)

    _, err = targets(tmp_path / "long.csv", "--horizon", "40")
    assert "covers 26 weeks" in err
    assert targets_csv(tmp_path / "long.csv")["week"].nunique() == 26


def test_targets_are_named_after_what_they_are_and_their_first_week(
    shared_db, facts, tmp_path, capsys, monkeypatch
):
    plan = promotion_plan(facts, tmp_path / "Black Friday plan.csv")
    folder = tmp_path / "out"
    folder.mkdir()
    code, out, err = run(
        capsys, "targets", "--db", shared_db, "--plan", plan, "--out", folder, "--json"
    )
    assert code == 0, err
    named = folder / f"targets-black-friday-plan-{facts.weeks[0]:%Y-%m-%d}.csv"
    assert json.loads(out)["out"] == str(named) and named.is_file()
    code, _, err = run(capsys, "targets", "--db", shared_db, "--out", folder, "--format", "xlsx")
    assert code == 0, err
    assert (folder / f"targets-baseline-{facts.weeks[0]:%Y-%m-%d}.xlsx").is_file()
    # No --out: the current folder; an explicit file name is kept as given.
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "targets", "--db", shared_db)[0] == 0
    assert (tmp_path / f"targets-baseline-{facts.weeks[0]:%Y-%m-%d}.csv").is_file()
    assert run(capsys, "targets", "--db", shared_db, "--out", folder / "mine.csv")[0] == 0
    assert (folder / "mine.csv").is_file()


def test_targets_of_an_imported_scenario_equal_those_of_its_plan_file(
    own_db, facts, tmp_path, capsys
):
    plan = plan_file(
        tmp_path / "plan.csv",
        [
            {"week": facts.weeks[2], "sku": facts.hero, "discount": 0.3, "share": 0.7},
            {"week": facts.weeks[3], "sku": facts.hero, "discount": 0.3, "share": 0.7},
            {"week": facts.weeks[6], "family": None, "sku": facts.sibling, "feature": 1},
        ],
    )
    code, out, err = run(capsys, "import-plan", "--db", own_db, "--scenario", "Q1 plan", plan)
    assert code == 0, err
    assert "saved as scenario 'Q1 plan'" in out
    texts = {}
    for name, source in (("scenario", ["--scenario", "Q1 plan"]), ("plan", ["--plan", plan])):
        out_file = tmp_path / f"{name}.csv"
        code, out, err = run(
            capsys, "targets", "--db", own_db, *source, "--out", out_file, "--json"
        )
        assert code == 0, err
        label = "Q1 plan" if name == "scenario" else "plan.csv"
        assert json.loads(out)["source"] == f"{name} {label}"
        texts[name] = out_file.read_text()
    assert texts["scenario"] == texts["plan"]
    frame = targets_csv(tmp_path / "plan.csv")
    assert (frame["revised"] != frame["baseline"]).any()


def test_import_plan_dry_run_saves_nothing(own_db, facts, tmp_path, capsys):
    plan = promotion_plan(facts, tmp_path / "plan.csv")
    code, out, err = run(
        capsys, "import-plan", "--db", own_db, "--scenario", "Q1", plan, "--dry-run"
    )
    assert code == 0, err
    assert "dry run: nothing written" in out and "make 1 lever(s)" in out
    assert stored_scenarios(own_db) == []


def test_targets_refuse_a_horizon_below_one_week_before_any_work(shared_db, tmp_path, capsys):
    out_file = tmp_path / "targets.csv"
    with pytest.raises(SystemExit) as stopped:
        main(["targets", "--db", str(shared_db), "--horizon", "0", "--out", str(out_file)])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and "expected a whole number >= 1, got 0" in err
    assert len(err.strip().splitlines()) == 1 and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--scenario", "Nope"], "no scenario called 'Nope'"),
        (["--plan", "{tmp}/absent.csv"], "There is no plan file"),
        (["--cannibalisation", "1.5"], "between 0 and 1"),
        (["--plan-of-record", "7"], "no plan of record version 7"),
        (["--plan-of-record"], "No plan of record has been approved"),
    ],
)
def test_targets_refuse_a_bad_request_and_write_nothing(
    shared_db, tmp_path, capsys, arguments, message
):
    out_file = tmp_path / "targets.csv"
    code, _, err = run(
        capsys,
        "targets",
        "--db",
        shared_db,
        *[a.replace("{tmp}", str(tmp_path)) for a in arguments],
        "--out",
        out_file,
    )
    assert code == 1 and message in err and "Traceback" not in err
    assert not out_file.exists() and not list(tmp_path.iterdir())


def test_write_targets_is_all_or_nothing(tmp_path):
    frame = pd.DataFrame(
        {
            "sku": ["A1"],
            "week": [dt.date(2026, 11, 23)],
            "baseline": [10.004],
            "revised": [12.346],
            "lower_80": [8.0],
            "upper_80": [15.0],
            "name": ["Night cream, 50 ml"],
            "family": ["skincare"],
            "brand": ["=Lumi"],
            "revenue": [123.456],
            "margin": [61.7],
        }
    )
    out_file = tmp_path / "targets.csv"
    assert write_targets(frame, out_file) == 1
    written = out_file.read_text()
    assert written.splitlines() == [
        "sku,week,baseline,revised,lower_80,upper_80,name,family,brand,revenue,margin",
        'A1,2026-11-23,10.0,12.35,8.0,15.0,"Night cream, 50 ml",skincare,\'=Lumi,123.46,61.7',
    ]
    with pytest.raises(KeyError):
        write_targets(frame.drop(columns="upper_80"), out_file)
    assert out_file.read_text() == written
    with pytest.raises(InputError, match=r"\.csv or \.xlsx"):
        write_targets(frame, tmp_path / "targets.json")
    with pytest.raises(InputError, match="does not exist"):
        write_targets(frame, tmp_path / "absent" / "targets.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["targets.csv"]


# ---- 6. the plan of record -----------------------------------------------------------------


def test_targets_of_the_plan_of_record_are_its_frozen_rows(own_db, facts, tmp_path, capsys):
    w, base = facts.weeks, facts.base
    # An override in force, so that the consensus (the targets' baseline) is not the
    # statistical forecast.
    add_override(
        own_db,
        base,
        base.statistical_by_channel,
        Override("total", None, w[0], w[1], "percent", 20, "big order", "Ben"),
        run_id=base.run_id,
        cycle=w[0] - WEEK,
    )
    plan = promotion_plan(facts, tmp_path / "plan.csv")
    code, _, err = run(capsys, "import-plan", "--db", own_db, "--scenario", "Q1", plan)
    assert code == 0, err
    approval = approve(own_db, "Q1", "Ana", weeks=13)
    with db.connect(own_db) as con:
        frozen = load_frozen(con, approval.plan_version)["plan_of_record_targets"]
    assert (frozen["consensus"] > frozen["statistical"] + 1).any()
    figures = [*VOLUME_COLUMNS, "revenue", "margin"]
    expected = (
        frozen.rename(columns={"consensus": "baseline", "target": "revised"})
        .assign(week=lambda f: pd.to_datetime(f["week"]).dt.strftime("%Y-%m-%d"))[figures]
        .sort_values(["sku", "week"])
        .reset_index(drop=True)
    )
    assert (expected["revised"] > expected["baseline"] + 1).any()  # the promotion is in it

    out_file = tmp_path / "por.csv"
    code, out, err = run(
        capsys, "targets", "--db", own_db, "--plan-of-record", "--out", out_file, "--json"
    )
    assert code == 0, err
    assert json.loads(out)["source"] == f"plan of record v{approval.plan_version}"
    frame = targets_csv(out_file)
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == 13 * len(facts.base.skus)
    frame = frame.sort_values(["sku", "week"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(frame[figures], expected, check_exact=False, rtol=0, atol=0.0051)
    # The frozen revenue and margin add up to the approval's totals.
    assert frame["revenue"].sum() == pytest.approx(approval.revenue, abs=0.005 * len(frame))
    assert frame["margin"].sum() == pytest.approx(approval.margin, abs=0.005 * len(frame))
    assert (frame["family"] == frame["sku"].map(facts.family)).all()
    # Until anything changes, the scenario's targets are the same numbers.
    same = tmp_path / "same.csv"
    code, _, err = run(
        capsys, "targets", "--db", own_db, "--scenario", "Q1", "--horizon", "13", "--out", same
    )
    assert code == 0, err
    assert same.read_text() == out_file.read_text()

    # The scenario changes afterwards: the plan of record does not.
    deeper = promotion_plan(facts, tmp_path / "deeper.csv", discount=0.5)
    code, _, err = run(
        capsys, "import-plan", "--db", own_db, "--scenario", "Q1", deeper, "--replace"
    )
    assert code == 0, err
    again = tmp_path / "again.csv"
    code, _, err = run(capsys, "targets", "--db", own_db, "--plan-of-record", "1", "--out", again)
    assert code == 0, err
    assert again.read_text() == out_file.read_text()
    now = tmp_path / "now.csv"
    assert run(capsys, "targets", "--db", own_db, "--scenario", "Q1", "--out", now)[0] == 0
    hero_now = targets_csv(now).set_index(["sku", "week"]).loc[facts.hero, "revised"]
    hero_frozen = frame.set_index(["sku", "week"]).loc[facts.hero, "revised"]
    assert (hero_now.loc[hero_frozen.index] != hero_frozen).any()

    short = tmp_path / "short.csv"
    code, _, err = run(
        capsys,
        "targets",
        "--db",
        own_db,
        "--plan-of-record",
        "1",
        "--horizon",
        "5",
        "--out",
        short,
    )
    assert code == 0, err
    assert sorted(targets_csv(short)["week"].unique()) == [w.isoformat() for w in facts.weeks[:5]]

    missing = tmp_path / "missing.csv"
    code, _, err = run(capsys, "targets", "--db", own_db, "--plan-of-record", "9", "--out", missing)
    assert code == 1 and "no plan of record version 9" in err
    assert not missing.exists()


# ---- 7. importing onto an existing scenario ------------------------------------------------


def test_import_plan_replaces_levers_only_when_asked_and_keeps_the_overrides(
    own_db, facts, tmp_path, capsys
):
    w = facts.weeks
    family = facts.family[facts.hero]
    existing = Scenario(
        "Q1",
        [Lever("price", "all", None, w[0], None, change=0.05)],
        [EffectOverride("price_elasticity", -1.5, "family", family)],
        cannibalisation=0.5,
        capacity=[CapacityChange(str(facts.base.lines[0]), w[0], w[3], 8.0, "extra shift")],
    )
    stored = create_scenario(own_db, existing, "Ana", facts.base.run_id)
    before = stored_scenarios(own_db)
    plan = promotion_plan(facts, tmp_path / "plan.csv")
    levers = read_plan(own_db, plan).levers

    code, _, err = run(capsys, "import-plan", "--db", own_db, "--scenario", "Q1", plan)
    assert code == 1 and "--replace" in err and "Traceback" not in err
    assert stored_scenarios(own_db) == before

    code, out, err = run(
        capsys, "import-plan", "--db", own_db, "--scenario", "Q1", plan, "--replace"
    )
    assert code == 0, err
    assert "saved as scenario 'Q1'" in out
    with db.connect(own_db) as con:
        now = load_scenario(con, "Q1")
    assert now.scenario.levers == levers
    assert now.scenario.overrides == existing.overrides
    assert now.scenario.capacity == existing.capacity
    assert now.scenario.cannibalisation == 0.5
    assert now.version == stored.version + 1

    code, _, err = run(
        capsys,
        "import-plan",
        "--db",
        own_db,
        "--scenario",
        "Q1",
        plan,
        "--replace",
        "--cannibalisation",
        "0.1",
    )
    assert code == 0, err
    with db.connect(own_db) as con:
        latest = load_scenario(con, "Q1")
    assert latest.scenario.cannibalisation == 0.1
    assert latest.scenario.levers == levers and latest.scenario.overrides == existing.overrides
    assert [name for name, _, _ in stored_scenarios(own_db)] == ["Q1"]


@pytest.mark.parametrize("rate", ["1.5", "-0.2"])
def test_import_plan_refuses_a_cannibalisation_outside_zero_to_one(
    own_db, facts, tmp_path, capsys, rate
):
    """As targets --cannibalisation does: a saved 1.5 would take more than the promoted gain
    from the family (at HEAD 4b39fc8 import-plan saved it)."""
    plan = promotion_plan(facts, tmp_path / "plan.csv")
    for replace in ([], ["--replace"]):
        code, _, err = run(
            capsys,
            "import-plan",
            "--db",
            own_db,
            "--scenario",
            "Q1",
            plan,
            "--cannibalisation",
            rate,
            *replace,
        )
        assert stored_scenarios(own_db) == []
        assert code == 1 and "between 0 and 1" in err and "Traceback" not in err


# ---- 8. the share of distribution on promotion ---------------------------------------------


def test_share_one_is_the_promotion_as_it_was(facts):
    base, w, hero, i = facts.base, facts.weeks, facts.hero, facts.hero_index
    # A scenario saved before levers had a share.
    saved = {
        "levers": [
            {
                "kind": "promotion",
                "scope": "sku",
                "target": hero,
                "start_week": w[3].isoformat(),
                "end_week": w[5].isoformat(),
                "discount": 0.25,
                "feature": 0.5,
                "display": 0.0,
                "change": 0.0,
            }
        ],
        "overrides": [],
        "cannibalisation": 0.3,
    }
    old = Scenario.from_json("old", json.dumps(saved))
    assert old.levers[0].share == 1.0
    lever = Lever("promotion", "sku", hero, w[3], w[5], discount=0.25, feature=0.5, share=1.0)
    assert Scenario.from_json("new", Scenario("new", [lever]).to_json()).levers == [lever]
    before, now = apply_scenario(base, old), apply_scenario(base, Scenario("new", [lever]))
    for name in ("revised", "lower_80", "upper_80", "revenue", "margin", "discount_cost"):
        assert np.array_equal(getattr(before, name), getattr(now, name)), name
    np.testing.assert_equal(before.kpis(), now.kpis())

    # It is the documented response: promo_depth x discount + elasticity x log(1 - discount)
    # + feature x feature support, and the dip the week after.
    alone = apply_scenario(base, Scenario("alone", [lever], cannibalisation=0.0))
    effects = {k: np.nan_to_num(v) for k, v in effective_effects(base, old).items()}
    lift = (
        effects["promo_depth"][i] * 0.25
        + effects["price_elasticity"][i] * np.log(0.75)
        + effects["feature"][i] * 0.5
    )
    np.testing.assert_allclose(alone.revised[i, 3:6], base.baseline[i, 3:6] * np.exp(lift))
    dip = effects["post_promotion"][i] * 0.25
    np.testing.assert_allclose(alone.revised[i, 6], base.baseline[i, 6] * np.exp(dip))
    others = np.arange(len(base.skus)) != i
    assert np.array_equal(alone.revised[others], base.baseline[others])


@settings(max_examples=30, deadline=None)
@given(
    share=st.floats(0.05, 0.95),
    discount=st.floats(0.1, 0.6),
    start=st.integers(0, 20),
    length=st.integers(0, 4),
)
def test_a_smaller_share_gives_a_proportionally_smaller_lift(facts, share, discount, start, length):
    base, w, i = facts.base, facts.weeks, facts.hero_index
    weeks = slice(start, start + length + 1)

    def result(part: float, cannibalisation: float = 0.0):
        lever = Lever(
            "promotion", "sku", facts.hero, w[start], w[start + length], discount, share=part
        )
        return apply_scenario(base, Scenario("s", [lever], cannibalisation=cannibalisation))

    full, part = result(1.0), result(share)
    # The discount's log-uplift (and the dip after it) scale with the share.
    np.testing.assert_allclose(
        np.log(part.revised[i] / base.baseline[i]),
        share * np.log(full.revised[i] / base.baseline[i]),
        atol=1e-9,
    )
    assert (base.baseline[i, weeks] < part.revised[i, weeks]).all()
    assert (part.revised[i, weeks] < full.revised[i, weeks]).all()
    # The money given away is the discount on the share taking part.
    np.testing.assert_allclose(
        part.discount_cost[i, weeks] / part.revised[i, weeks],
        share * full.discount_cost[i, weeks] / full.revised[i, weeks],
        rtol=1e-9,
    )
    assert part.kpis()["discount_cost"] < full.kpis()["discount_cost"]
    # A smaller promotion takes less from the rest of the family.
    family = (base.families == base.families[i]) & (np.arange(len(base.skus)) != i)
    assert (result(share, 0.3).revised[family] >= result(1.0, 0.3).revised[family] - 1e-9).all()


def test_share_must_be_above_zero_and_at_most_one(facts):
    lever = Lever("promotion", "sku", facts.hero, facts.weeks[1], facts.weeks[2], 0.2)
    for bad in (0.0, -0.1, 1.01):
        with pytest.raises(InputError, match="share of distribution"):
            dataclasses.replace(lever, share=bad).validated()
    assert dataclasses.replace(lever, share=1.0).validated().share == 1.0


# ---- summarised notes, and the holdout plan ------------------------------------------------


def test_many_levers_make_one_note_per_concern(facts):
    base, w = facts.base, facts.weeks
    promoted = [str(s) for s in base.skus[base.max_discount_seen > 0][:6]]
    # After the frozen zone, whose own warning is not the concern here.
    deep = [Lever("promotion", "sku", sku, w[5], w[6], discount=0.9) for sku in promoted]
    gone = [
        Lever("promotion", "family", "discontinued line", w[i], w[i], discount=0.2)
        for i in range(4)
    ]
    kept, notes = applicable(base, Scenario("Plan", deep + gone))
    assert kept.levers == deep
    assert len(notes) == 1
    assert "4 levers" in notes[0] and gone[0].describe() in notes[0]
    assert "no family called 'discontinued line'" in notes[0]
    _, one = applicable(base, Scenario("Plan", [*deep, gone[0]]))
    assert len(one) == 1 and "levers" not in one[0] and gone[0].describe() in one[0]

    warnings = scenario_warnings(base, kept)
    assert len(warnings) == 1, warnings
    assert "6 levers" in warnings[0] and "deeper than any discount 6 of 6 SKUs" in warnings[0]
    assert deep[0].describe() in warnings[0]
    single = scenario_warnings(base, Scenario("Plan", deep[:1]))
    assert len(single) == 1 and single[0].startswith(deep[0].describe())
    assert "1 of 1 SKUs" in single[0]


def test_the_holdout_plan_is_the_history_s_promotions_and_reads_back(shared_db, facts, tmp_path):
    last = facts.weeks[0] - WEEK
    first = last - 12 * WEEK
    with db.connect(shared_db) as con:
        plan = holdout_plan(con, first, last)
        history = con.execute(
            "SELECT week, sku, channel, units, discount_depth, feature, display FROM sales_history"
        ).df()
    assert list(plan.columns) == ["week", "sku", "discount", "share", "feature", "display"]
    assert not plan.empty
    weeks = pd.to_datetime(plan["week"])
    assert weeks.between(pd.Timestamp(first), pd.Timestamp(last)).all()
    assert ((plan["discount"] > 0) | (plan["feature"] > 0) | (plan["display"] > 0)).all()
    assert plan["share"].between(0, 1, inclusive="right").all()
    assert plan["discount"].between(0, 0.9).all()

    # Independently: share is the volume share (over the SKU's history, by channel) of the
    # channels on promotion, discount the depth there, so discount x share is the SKU's
    # depth weighted by its channels' volume.
    volume = history.groupby(["sku", "channel"])["units"].sum()
    weight = (volume / volume.groupby(level="sku").transform("sum")).rename("weight")
    window = history[
        pd.to_datetime(history["week"]).between(pd.Timestamp(first), pd.Timestamp(last))
    ]
    window = window.join(weight, on=["sku", "channel"])
    window["week"] = pd.to_datetime(window["week"])
    depth = (
        (window["weight"] * window["discount_depth"]).groupby([window["week"], window["sku"]]).sum()
    )
    keys = list(zip(weeks, plan["sku"], strict=True))
    np.testing.assert_allclose(
        plan["discount"] * plan["share"], depth.loc[keys].to_numpy(), atol=2e-4
    )
    on_promotion = window[window["discount_depth"] > 0]
    share = on_promotion.groupby(["week", "sku"])["weight"].sum().reindex(keys).fillna(1.0)
    np.testing.assert_allclose(plan["share"], share.to_numpy(), atol=1e-4)
    active = window[
        (window["discount_depth"] > 0) | (window["feature"] > 0) | (window["display"] > 0)
    ]
    assert set(keys) == set(zip(active["week"], active["sku"], strict=True))

    path = tmp_path / "holdout.csv"
    plan.assign(week=weeks.dt.strftime("%Y-%m-%d")).to_csv(path, index=False)
    report = read_plan(shared_db, path)
    assert report.ok, [i.text() for i in report.issues]
    assert report.rows_used == len(plan)
    assert any("outside the forecast's weeks" in i.text() for i in report.issues)
    covered = sum((lever.end_week - lever.start_week) // WEEK + 1 for lever in report.levers)
    assert covered == len(plan)


def test_the_levers_table_shows_percents_and_takes_edits_and_deletions():
    """What the Promotions page's levers table shows and how its edits land (all or none)."""
    from sop_core.scenario.plan_files import edited_levers, lever_table

    first, second = dt.date(2026, 12, 7), dt.date(2026, 12, 14)
    levers = [
        Lever("promotion", "family", "fragrance", first, second, discount=0.2, share=0.5),
        Lever("price", "sku", "SKN-0001", first, None, change=0.03),
    ]
    table = lever_table(levers)
    assert table["applies_to"].tolist() == ["family fragrance", "sku SKN-0001"]
    assert table.loc[0, ["discount", "share"]].tolist() == [20.0, 50.0]
    assert pd.isna(table.loc[0, "change"]) and pd.isna(table.loc[1, "discount"])
    assert table.loc[1, "change"] == 3.0

    edited = edited_levers(
        levers,
        {"edited_rows": {0: {"discount": 30, "end_week": "2026-12-21"}}, "deleted_rows": [1]},
    )
    assert edited == [
        Lever("promotion", "family", "fragrance", first, dt.date(2026, 12, 21), 0.3, share=0.5)
    ]
    with pytest.raises(InputError, match="Lever 1: A discount must be between 0% and 90%"):
        edited_levers(levers, {"edited_rows": {0: {"discount": 95}}, "deleted_rows": [1]})
    with pytest.raises(InputError, match=r"Lever 2: .*ends .* before it starts"):
        edited_levers(levers, {"edited_rows": {1: {"end_week": "2026-11-30"}}})
    assert edited_levers(levers, {}) == levers
