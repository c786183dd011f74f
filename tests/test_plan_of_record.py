"""Approval freezes the plan of record; nothing changes it afterwards; decisions log."""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pytest

from sop_core.data import db
from sop_core.data.errors import ConflictError, InputError
from sop_core.demand.consensus import Override, add_override
from sop_core.demand.plan_base import load_plan_base
from sop_core.forecast.runs import latest_run
from sop_core.meeting import decisions
from sop_core.meeting.plan_of_record import approve, load_frozen, verify
from sop_core.scenario.model import Lever, Scenario
from sop_core.scenario.store import create_scenario, load_scenario, save_scenario


@pytest.fixture()
def plan_db(forecast_db, tmp_path):
    path = tmp_path / "sop.duckdb"
    shutil.copy(forecast_db, path)
    return path


def frozen_total(path, version: int) -> float:
    with db.connect(path) as con:
        return load_frozen(con, version)["plan_of_record_targets"]["target"].sum()


def test_approval_freezes_targets_production_and_capacity_and_later_edits_never_touch_it(
    plan_db,
):
    with db.connect(plan_db) as con:
        base = load_plan_base(con, latest_run(con))
    first = base.weeks[0].astype(dt.date)
    push = Scenario(
        "Q1 push",
        [
            Lever(
                "promotion",
                "family",
                "fragrance",
                first,
                base.weeks[3].astype(dt.date),
                discount=0.2,
            )
        ],
    )
    create_scenario(plan_db, push, "Ana", base.run_id)
    approval = approve(plan_db, "Q1 push", "Ana", note="agreed in the meeting", weeks=13)
    assert approval.plan_version == 1 and approval.weeks == 13
    with db.connect(plan_db) as con:
        frozen = load_frozen(con, 1)
        row = con.execute(
            "SELECT approved_by, scenario, note, volume FROM plans_of_record"
        ).fetchone()
        status = con.execute("SELECT status FROM scenarios WHERE name = 'Q1 push'").fetchone()
    targets = frozen["plan_of_record_targets"]
    assert len(targets) == 13 * len(base.skus)
    assert row == ("Ana", "Q1 push", "agreed in the meeting", pytest.approx(targets.target.sum()))
    assert status == ("approved",)
    fragrance = targets[targets["sku"].str.startswith("FRA")]
    assert fragrance["target"].sum() > fragrance["consensus"].sum()  # the promotion is in it
    assert not frozen["plan_of_record_production"].empty
    assert not frozen["plan_of_record_capacity"].empty
    before = frozen_total(plan_db, 1)

    # Later: the scenario is edited, an override lands, a second approval is made.
    with db.connect(plan_db) as con:
        current = load_scenario(con, "Q1 push")
    bigger = Scenario(
        "Q1 push", [*push.levers, Lever("price", "all", None, first, None, change=0.1)]
    )
    save_scenario(plan_db, current, bigger, "Ben", base.run_id)
    add_override(
        plan_db,
        base,
        base.statistical_by_channel,
        Override("total", None, first, first, "percent", 30, "big order", "Ben"),
        run_id=base.run_id,
        cycle=dt.date(2026, 11, 16),
    )
    second = approve(plan_db, "Q1 push", "Ben", weeks=13)
    assert second.plan_version == 2
    assert frozen_total(plan_db, 2) != pytest.approx(before)
    # Version 1 is exactly as it was approved.
    assert frozen_total(plan_db, 1) == pytest.approx(before)
    with db.connect(plan_db) as con:
        assert verify(con, 1) and verify(con, 2)
        con.execute(
            "UPDATE plan_of_record_targets SET target = target + 1 WHERE plan_version = 1 "
            "AND sku = (SELECT min(sku) FROM plan_of_record_targets)"
        )
        assert not verify(con, 1)  # tampering shows


def test_a_stale_approval_is_refused(plan_db):
    with db.connect(plan_db) as con:
        base = load_plan_base(con, latest_run(con))
    stored = create_scenario(plan_db, Scenario("Draft"), "Ana", base.run_id)
    save_scenario(plan_db, stored, Scenario("Draft", cannibalisation=0.5), "Ben", base.run_id)
    with pytest.raises(ConflictError, match="Ben saved 'Draft'"):
        approve(plan_db, "Draft", "Ana", expected_version=stored.version)
    with db.connect(plan_db) as con:
        assert con.execute("SELECT count(*) FROM plans_of_record").fetchone()[0] == 0
    with pytest.raises(InputError, match="who approves"):
        approve(plan_db, None, " ")
    assert approve(plan_db, None, "Ana").scenario == "Baseline"


def test_decisions_and_assumptions(sample_db):
    today = dt.date(2026, 11, 25)
    number = decisions.add_item(
        sample_db,
        "decision",
        "Add a Saturday shift on L2",
        "Ops",
        "Ana",
        due_date=today - dt.timedelta(days=1),
    )
    decisions.add_item(
        sample_db,
        "assumption",
        "Retailer X keeps the listing",
        "Sales",
        "Ana",
        due_date=today - dt.timedelta(days=3),
        scenario="Q1 push",
    )
    decisions.add_item(sample_db, "decision", "Review prices", "Marketing", "Ana")
    with db.connect(sample_db) as con:
        log = decisions.decision_log(con, today).set_index("text")
    assert log.loc["Add a Saturday shift on L2", "state"] == "overdue"
    assert log.loc["Retailer X keeps the listing", "state"] == "expired"
    assert log.loc["Review prices", "state"] == "open"
    decisions.set_status(sample_db, number, "done", "Ben", version=1)
    with pytest.raises(ConflictError, match="Ben changed item"):
        decisions.set_status(sample_db, number, "dropped", "Cy", version=1)
    for bad, message in [
        (("decision", " ", "Ops", "Ana"), "text is empty"),
        (("decision", "x", "", "Ana"), "needs an owner"),
        (("assumption", "x", "Ops", "Ana"), "expiry date"),
    ]:
        with pytest.raises(InputError, match=message):
            decisions.add_item(sample_db, *bad)
    with db.connect(sample_db) as con:
        assert np.array_equal(
            sorted(decisions.decision_log(con, today)["status"]), ["done", "open", "open"]
        )


def test_what_changed_splits_the_change_by_cause_and_adds_up(plan_db):
    from sop_core.meeting.changes import what_changed

    with db.connect(plan_db) as con:
        base = load_plan_base(con, latest_run(con))
    approve(plan_db, None, "Ana", weeks=13)
    first = base.weeks[0].astype(dt.date)
    add_override(
        plan_db,
        base,
        base.statistical_by_channel,
        Override("total", None, first, first, "units", 5000, "big order", "Ben"),
        run_id=base.run_id,
        cycle=dt.date(2026, 11, 16),
    )
    promo = Scenario(
        "Promo",
        [
            Lever(
                "promotion",
                "family",
                "skincare",
                base.weeks[2].astype(dt.date),
                base.weeks[4].astype(dt.date),
                discount=0.25,
            )
        ],
    )
    with db.connect(plan_db) as con:
        revised = load_plan_base(con, latest_run(con))
        changes = what_changed(con, revised, promo).set_index("cause")
    volume = changes["volume"]
    assert volume.iloc[1:-1].sum() == pytest.approx(volume["plan now"] - volume["plan of record"])
    assert changes["revenue"].iloc[1:-1].sum() == pytest.approx(
        changes["revenue"]["plan now"] - changes["revenue"]["plan of record"]
    )
    assert volume["new actuals and forecast refresh"] == pytest.approx(0, abs=1e-6)
    assert volume["overrides"] == pytest.approx(5000)
    assert volume["promotions"] > 0
    assert volume["pricing"] == pytest.approx(0, abs=1e-6)
