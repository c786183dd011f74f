"""Issue 25's done-when: a plan of record built end to end from the command line alone (import,
forecast, a mixed-scope plan file, a consensus override, a capacity change, the production plan,
approval, targets, the pack), each step a real ``python -m sop_core`` process, and the pages
showing the same numbers."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from sop_core.data import db, formats
from sop_core.data.stores import forecast_runs
from sop_core.demand.plan_base import load_plan_base
from tests.conftest import AS_OF
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "Spring plan"


def step(*args: str | Path, timeout: float = 600) -> str:
    """One CLI step as its own process; it must succeed. Returns its stdout."""
    done = run_cli(*(str(arg) for arg in args), timeout=timeout)
    assert done.returncode == 0, f"{args[0]}: {done.stderr}"
    return done.stdout


def step_json(*args: str | Path) -> dict:
    return json.loads(step(*args, "--json"))


@pytest.fixture()
def path(forecast_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "e2e.duckdb"
    shutil.copy(forecast_db, copy)
    return copy


def test_a_plan_of_record_from_the_command_line_alone_and_the_pages_agree(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    with db.connect(path) as con:
        base = load_plan_base(con, forecast_runs.latest_run_id(con))
    weeks = pd.to_datetime(base.weeks)
    family = str(base.families[0])
    other = next(i for i, f in enumerate(base.families) if f != family)
    sku = str(base.skus[other])  # a SKU outside the promoted family, its price moved
    line = str(base.lines[0])

    # 1. Import: last week's sales of one SKU corrected (the same key: replaced, logged).
    exported = tmp_path / "sales.csv"
    step("export", "--db", path, "--table", "sales_history", "--out", exported)
    sales = pd.read_csv(exported)
    last = sales[(sales["sku"] == sku) & (sales["week"] == sales["week"].max())].copy()
    assert len(last)
    last["units"] = (last["units"] * 1.2).round()
    corrected = tmp_path / "correction.csv"
    last.to_csv(corrected, index=False)
    imported = step_json("import", "--db", path, "--table", "sales_history", corrected)
    assert imported["written"] and imported["rows_replaced"] == len(last), imported

    # 2. Forecast: the corrected SKU refit, the others kept.
    run = step_json("forecast", "--db", path, "--jobs", "2", "--quiet")
    assert run["run_id"] > 1 and 1 <= run["skus_refit"] < len(base.skus), run

    # 3. A mixed-scope plan file: a family promotion (no SKU) and one SKU's price change.
    promo_weeks = weeks[2:4]
    plan = pd.DataFrame(
        [
            *(
                {"week": w.date(), "sku": "", "family": family, "discount": 0.2, "price": ""}
                for w in promo_weeks
            ),
            {
                "week": weeks[5].date(),
                "sku": sku,
                "family": "",
                "discount": "",
                "price": round(float(base.weekly_price[other, 5]) * 0.95, 2),
            },
        ]
    )
    plan_file = tmp_path / "spring.csv"
    plan.to_csv(plan_file, index=False)
    imported_plan = step_json("import-plan", "--db", path, "--scenario", SCENARIO, plan_file)
    assert imported_plan["rows_by_scope"]["sku"] == 1, imported_plan
    assert imported_plan["rows_by_scope"]["family"] == 2, imported_plan

    # 4. A consensus override on the family, 5% up for four weeks.
    step(
        "overrides", "add", "--db", path, "--family", family,
        "--from", weeks[0].date(), "--to", weeks[3].date(),
        "--percent", "5", "--reason", "retailer listing",
    )  # fmt: skip
    listed = step_json("overrides", "list", "--db", path)
    assert any(o["reason"] == "retailer listing" for o in listed["overrides"]), listed

    # 5. A capacity change in the scenario: a Saturday shift on the first line.
    step(
        "capacity", "add", "--db", path, "--scenario", SCENARIO, "--line", line,
        "--from", weeks[1].date(), "--to", weeks[2].date(), "--hours", "16",
        "--reason", "Saturday shift",
    )  # fmt: skip
    shown = step_json("scenario", "show", SCENARIO, "--db", path)
    assert len(shown["capacity"]) == 1, shown

    # 6-7. The production plan, then approval.
    step("plan", "--db", path, "--scenario", SCENARIO, "--quiet")
    approved = step_json("approve", "--db", path, "--scenario", SCENARIO, "--note", "e2e")
    version = approved["version"]
    plans = step_json("plans", "list", "--db", path)["plans"]
    assert [p["scenario"] for p in plans if p["version"] == version] == [SCENARIO]

    # 8. Targets: the scenario's now and the plan of record's frozen ones agree.
    now_file = tmp_path / "now.csv"
    step("targets", "--db", path, "--scenario", SCENARIO, "--out", now_file)
    frozen_file = tmp_path / "frozen.csv"
    step("targets", "--db", path, "--plan-of-record", str(version), "--out", frozen_file)
    now = pd.read_csv(now_file).set_index(["sku", "week"])
    frozen = pd.read_csv(frozen_file).set_index(["sku", "week"])
    common = frozen.index.intersection(now.index)
    assert len(common) == len(frozen)
    assert (now.loc[common, "revised"] - frozen.loc[common, "revised"]).abs().max() < 0.5
    # The family's promotion lifted its weeks; the override lifted the baseline.
    promoted = now.reset_index()
    promoted = promoted[
        promoted["family"].eq(family) & pd.to_datetime(promoted["week"]).isin(promo_weeks)
    ]
    assert (promoted["revised"] > promoted["baseline"]).all()

    # 9. The pack.
    pack = tmp_path / "pack"
    pack.mkdir()
    step("pack", "--db", path, "--out", pack, "--quiet")
    assert any(pack.rglob("*.xlsx")) and any(pack.rglob("*.html"))

    # The pages show the same plan: the Overview names the plan of record, the Promotions
    # page's revised total for the scenario is the targets file's.
    monkeypatch.setenv("SOP_DB", str(path))
    monkeypatch.setenv("SOP_SAMPLE_AS_OF", AS_OF.isoformat())
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception and not at.error
    assert f"plan of record v{version} ({SCENARIO})" in at.caption[0].value
    at.sidebar.selectbox(key="scenario").set_value(SCENARIO).run()
    at.switch_page("pages/promotions.py").run()
    assert not at.exception and not at.error
    (company,) = [m for m in at.metric if m.label == "Revised target vs baseline"]
    assert company.value == formats.compact(now["revised"].sum())
    assert company.delta == formats.relative_change(now["revised"].sum(), now["baseline"].sum())
    assert dt.date.fromisoformat(str(now.reset_index()["week"].min())) == weeks[0].date()
