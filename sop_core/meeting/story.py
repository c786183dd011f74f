"""The sample company's meeting in progress: what a weekly S&OP meeting finds on the table.

``build_sample_database`` makes the company's data (history, capacity, promotions); this adds
what the team has done with it, through the same functions the pages and the CLI use:

1. the current forecast (``refresh_forecast``);
2. a plan of record approved a week before the history's last week, frozen from the baseline;
3. consensus overrides made since, each with a reason (so "what changed since the last plan"
   has content);
4. saved scenarios that tell a story: a deeper discount on the busiest family in the week of
   the next retail peak (Black Friday when the horizon has it, else Christmas; the scenario is
   named after it, and it overloads the family's line), a haircare price rise, and the two
   together;
5. decisions and assumptions with owners, due and expiry dates, one of them overdue;
6. past forecasts (``backfill_runs``), so accuracy by lag and forecast value added have real
   figures. They take most of the time (a forecast each), so they are a separate step that
   the dashboard's first start leaves to a background job.

Everything is as of the history's last week (``as_of``), so the story reads the same whatever
day it is built.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sop_core.data import db
from sop_core.data.calendar import retail_holidays
from sop_core.data.stores import plans_of_record
from sop_core.demand import consensus
from sop_core.demand.plan_base import load_plan_base
from sop_core.forecast.engine import ForecastSettings
from sop_core.forecast.runs import backfill_runs, refresh_forecast
from sop_core.meeting import decisions
from sop_core.meeting.plan_of_record import approve
from sop_core.scenario.model import Lever, Scenario
from sop_core.scenario.store import create_scenario

Progress = Callable[[float, str], None]

PAST_RUNS = 8  # past forecasts, two weeks apart: accuracy by lag at lags 1 to 16
PAST_RUN_STEP = 2
LEAD = "Sam Okafor (S&OP lead)"
DEMAND = "Ana Ruiz (demand planning)"
MARKETING = "Lea Martin (marketing)"
OPERATIONS = "Tom Berg (operations)"


def seed_meeting(
    path: Path | str, *, jobs: int | None = None, progress: Progress | None = None
) -> dict[str, int]:
    """Add the meeting in progress (steps 1-5 of the module) to the sample at ``path``.

    Returns what it added: ``run_id``, ``plan_version``, ``overrides``, ``scenarios``,
    ``decisions``.
    """
    report = progress or (lambda fraction, message: None)
    report(0.0, "Making the forecast")
    run = refresh_forecast(
        path, jobs=jobs, progress=lambda f, m: report(0.05 + 0.6 * f, f"Forecast: {m}")
    )
    week = dt.date.fromisoformat(run.history_end)  # the history's last week: "now"
    report(0.7, "Approving last week's plan of record")
    approval = approve(path, None, LEAD, note="Baseline plan agreed at last week's meeting.")
    with db.transaction(path) as con:
        plans_of_record.set_approved_at(
            con, approval.plan_version, dt.datetime.combine(week, dt.time(10, 30))
        )
    report(0.75, "Consensus overrides")
    overrides = _overrides(path, run.run_id, week)
    report(0.85, "Scenarios")
    scenarios = _scenarios(path, run.run_id, week)
    report(0.95, "Decisions and assumptions")
    items = _decisions(path, week, scenarios)
    report(1.0, "Done")
    return {
        "run_id": run.run_id,
        "plan_version": approval.plan_version,
        "overrides": overrides,
        "scenarios": len(scenarios),
        "decisions": items,
    }


def make_past_runs(
    path: Path | str, *, jobs: int | None = None, progress: Progress | None = None
) -> int:
    """Step 6: the past forecasts (``PAST_RUNS``, ``PAST_RUN_STEP`` weeks apart); those
    already stored are reused, so an interrupted call resumes. Returns how many there are."""
    runs = backfill_runs(
        path, PAST_RUNS, PAST_RUN_STEP, ForecastSettings(), jobs=jobs, progress=progress
    )
    return len(runs)


def _overrides(path: Path | str, run_id: int, week: dt.date) -> int:
    with db.connect(path) as con:
        base = load_plan_base(con, run_id, consensus=False)
    first = _monday(base.weeks[0])
    families = _families_by_volume(base)
    channels = list(base.channels)
    made = [
        consensus.Override(
            "family",
            families[0],
            first,
            first + dt.timedelta(weeks=3),
            "percent",
            8.0,
            "New listing at a national retailer confirmed for the next four weeks.",
            author=DEMAND,
        ),
        consensus.Override(
            "family",
            families[-1],
            first + dt.timedelta(weeks=2),
            first + dt.timedelta(weeks=5),
            "percent",
            -12.0,
            "A competitor's relaunch: the sell-out data of the last three weeks is down.",
            author=DEMAND,
        ),
    ]
    if "ecommerce" in channels:
        made.append(
            consensus.Override(
                "channel",
                "ecommerce",
                first + dt.timedelta(weeks=4),
                first + dt.timedelta(weeks=7),
                "percent",
                5.0,
                "Marketplace campaign booked by the e-commerce team.",
                author=MARKETING,
            )
        )
    for override in made:
        consensus.add_override(
            path, base, base.statistical_by_channel, override, run_id=run_id, cycle=week
        )
    return len(made)


def _scenarios(path: Path | str, run_id: int, week: dt.date) -> list[str]:
    with db.connect(path) as con:
        base = load_plan_base(con, run_id)
    first, last = _monday(base.weeks[0]), _monday(base.weeks[-1])
    peak, holiday = _next_peak(first, last)
    busiest = _families_by_volume(base, around=holiday)[0]
    push = Lever(
        "promotion",
        "family",
        busiest,
        holiday,
        holiday + dt.timedelta(weeks=1),
        discount=0.35,
        feature=1.0,
        display=0.5,
    )
    families = set(base.families)
    price = Lever(
        "price",
        "family",
        "haircare" if "haircare" in families else sorted(families)[0],
        first + dt.timedelta(weeks=6),
        None,
        change=0.04,
    )
    stories = [
        Scenario(f"{peak} push: {busiest} at 35% off", levers=[push]),
        Scenario("Haircare price rise +4%", levers=[price]),
        Scenario(f"{peak} push and price rise", levers=[push, price]),
    ]
    owners = (MARKETING, MARKETING, LEAD)
    for scenario, owner in zip(stories, owners, strict=True):
        create_scenario(path, scenario, owner, run_id, status="proposed")
    return [s.name for s in stories]


def _decisions(path: Path | str, week: dt.date, scenarios: list[str]) -> int:
    items = [
        (
            "decision",
            f"Take '{scenarios[0]}' to the executive review if the line can carry it.",
            MARKETING,
            week + dt.timedelta(days=9),
            scenarios[0],
        ),
        (
            "decision",
            "Confirm Saturday shifts with the plant for the busiest line before the holidays.",
            OPERATIONS,
            week - dt.timedelta(days=4),  # overdue: the meeting should chase it
            None,
        ),
        (
            "assumption",
            "The national retailer's listing holds at the agreed range for four weeks.",
            DEMAND,
            week + dt.timedelta(weeks=4),
            None,
        ),
        (
            "assumption",
            "Raw material prices stay within 3% of the budget until the price rise.",
            LEAD,
            week + dt.timedelta(weeks=6),
            scenarios[1],
        ),
    ]
    for kind, text, owner, due, scenario in items:
        decisions.add_item(path, kind, text, owner, LEAD, due_date=due, scenario=scenario)
    return len(items)


def _families_by_volume(base, around: dt.date | None = None) -> list[str]:
    """The families, most forecast units first (over the horizon, or in the week ``around``)."""
    units = base.statistical_by_channel.sum(axis=1)  # (SKUs, weeks)
    if around is not None:
        column = int(np.searchsorted(base.weeks, np.datetime64(around, "D")))
        units = units[:, min(column, units.shape[1] - 1)][:, None]
    totals: dict[str, float] = {}
    for family, value in zip(base.families, units.sum(axis=1), strict=True):
        totals[str(family)] = totals.get(str(family), 0.0) + float(value)
    return sorted(totals, key=lambda f: -totals[f])


def _next_peak(first: dt.date, last: dt.date) -> tuple[str, dt.date]:
    """The name and week of the next Black Friday or Christmas in the horizon (after its first
    two weeks, which the meeting no longer changes), else a season push in its sixth week."""
    soon = first + dt.timedelta(weeks=2)
    for holiday in retail_holidays(range(first.year, last.year + 1)):
        if holiday.name in ("Black Friday", "Christmas") and soon <= holiday.week <= last:
            return holiday.name, holiday.week
    return "Season", first + dt.timedelta(weeks=5)


def _monday(week: np.datetime64) -> dt.date:
    return week.astype("datetime64[D]").astype(dt.date)
