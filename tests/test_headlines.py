"""One headline per agenda step (sop_core/meeting/headlines.py), on figures small enough to
check by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from sop_core.meeting import headlines
from sop_core.supply.actions import Action
from sop_core.supply.loads import Peak

WEEKS = pd.to_datetime(["2026-12-07", "2026-12-14", "2026-12-21", "2026-12-28"])


def load(needed: dict[str, list[float]], available: float = 100.0) -> pd.DataFrame:
    """A ``LoadView.frame()``-like table: each line's hours needed by week, 100 h available."""
    names = {"N3": "Bottling", "N1": "Cream filling"}
    rows = [
        {
            "line": line,
            "line_name": names[line],
            "week": week,
            "needed_hours": hours,
            "available_hours": available,
            "utilisation": hours / available,
        }
        for line, by_week in needed.items()
        for week, hours in zip(WEEKS, by_week, strict=True)
    ]
    return pd.DataFrame(rows)


def action(kind: str, text: str, hours: float, cost: float, week: str = "2026-12-21") -> Action:
    return Action("N3", "Bottling", dt.date.fromisoformat(week), 26.0, kind, text, hours, cost)


def test_the_supply_headline_names_the_worst_overload_its_weeks_and_the_fix():
    # Bottling needs 110 h and 126 h of its 100 h in the weeks of 14 and 21 Dec: 236 / 200
    # = 18% over across the two weeks (26 h missing on 21 Dec, the worse). Cream filling is
    # 5 h over on 7 Dec: an overload too, smaller.
    frame = load({"N3": [90, 110, 126, 80], "N1": [105, 60, 60, 60]})
    shift = action("saturday shift", "a Saturday shift (30 h)", 30, 3420)
    overtime = action("overtime", "16 h of overtime", 16, 1520)
    elsewhere = action("saturday shift", "a Saturday shift (30 h)", 30, 10, week="2026-12-14")

    assert headlines.supply_review(frame, [elsewhere, shift, overtime], "EUR") == (
        "Bottling is 18% over its hours in weeks W51-W52 (14 Dec - 21 Dec), and 1 other line is "
        "over; to close week W52 · 21 Dec: a Saturday shift (30 h), 3.4k EUR."
    )
    # Nothing closes the 26 h: the first (ranked) action says how far it goes.
    assert headlines.supply_review(frame, [overtime], "EUR").endswith(
        "; no single action closes week W52 · 21 Dec: 16 h of overtime recovers 16 of the 26 h "
        "missing."
    )
    # Without actions, the overload alone.
    assert headlines.supply_review(frame, [], "EUR").endswith("1 other line is over.")
    # Only the first weeks count: with two weeks, Bottling's run is 14 Dec alone (10% over).
    assert headlines.supply_review(frame, [], "EUR", weeks=2).startswith(
        "Bottling is 10% over its hours in week W51 · 14 Dec"
    )


def test_the_supply_headline_when_every_line_fits():
    frame = load({"N3": [90, 95, 80, 80], "N1": [60, 60, 60, 60]})
    assert headlines.supply_review(frame, [], "EUR") == (
        "Every line fits its available hours over the next 4 weeks; the busiest is Bottling "
        "at 95% in week W51 · 14 Dec."
    )


def test_where_we_stand_says_the_target_the_peak_and_what_the_plan_leaves():
    demand = Peak("Demand load", 13, 1.32, "S1", "Fragrance filling", pd.Timestamp("2026-12-21"))
    planned = Peak("Planned load", 13, 1.1, "S1", "Fragrance filling", WEEKS[2], 31.0)
    kpis = {"target": 2_812_000, "revenue": 111_500_000, "unmet_units": 0.0}
    peaks = {"demand_load": demand, "planned_load": planned}
    assert headlines.where_we_stand(kpis, peaks, 13, "EUR") == (
        "The next 13 weeks ask for 2.8M units (111.5M EUR); demand load peaks at 132% on "
        "Fragrance filling in week W52 · 21 Dec, and the production plan meets it all with 31 h "
        "of overtime."
    )
    kpis["unmet_units"] = 1234.4
    assert headlines.where_we_stand(kpis, peaks, 13, "EUR").endswith(
        "and the production plan leaves 1,234 units unmet."
    )
    no_plan = {"demand_load": demand, "planned_load": Peak("Planned load", 13, np.nan)}
    assert headlines.where_we_stand(kpis, no_plan, 13, "EUR").endswith("in week W52 · 21 Dec.")


def test_the_demand_headline_compares_with_last_year_and_the_statistical_forecast():
    table = pd.DataFrame(
        {
            "week": WEEKS,
            "statistical": [100.0, 100.0, 100.0, 100.0],
            "consensus": [100.0, 110.0, 100.0, 110.0],  # 420: 5.0% above the 400 statistical
            "last_year": [100.0, 100.0, 100.0, 120.0],  # 420: level with last year
        }
    )
    assert headlines.demand_review(table) == (
        "The consensus for the next 4 weeks is 420 units, level with the same weeks last year "
        "and 5.0% above the statistical forecast (+20 units of overrides); the busiest week is "
        "W51 · 14 Dec with 110 units."
    )
    table["consensus"] = table["statistical"]
    assert "400 units, 4.8% below the same weeks last year and the same as the statistical" in (
        headlines.demand_review(table)
    )


def test_the_reconciliation_headline_weighs_the_options_and_what_changed():
    options = pd.DataFrame(
        {
            "scenario": ["Baseline (no levers)", "Christmas push", "Price rise"],
            "margin": [1_000_000.0, 1_250_000.0, 1_100_000.0],
            "peak_demand_load": [0.9, 1.18, 0.9],
            "unmet_units": [0.0, 0.0, 0.0],
        }
    )
    changes = pd.DataFrame(
        {
            "cause": [
                "plan of record",
                "new actuals and forecast refresh",
                "overrides",
                "plan now",
            ],
            "volume": [10_000.0, -300.0, 1_500.0, 11_200.0],
        }
    )
    changes.attrs["version"] = 3
    assert headlines.reconciliation(options, changes, "EUR") == (
        "Christmas push earns 250.0k EUR more gross margin than Baseline (no levers) over the "
        "next 13 weeks with a peak demand load of 118%; since plan of record v3 the revised "
        "target moved +1.2k units (+12.0%), most of it from overrides (+1.5k)."
    )
    # Before any approval: the options alone, and an option that gives margin up.
    worse = options.assign(margin=[1_000_000.0, 900_000.0, 990_000.0])
    assert headlines.reconciliation(worse, None, "EUR") == (
        "No option earns more gross margin than Baseline (no levers); the closest, Price rise, "
        "gives up 10.0k EUR."
    )
    assert headlines.reconciliation(None, None).startswith("No saved scenario")
    still = changes.assign(volume=[10_000.0, 0.0, 0.0, 10_000.0])
    assert headlines.reconciliation(None, still) == (
        "The revised target has not moved since plan of record v3."
    )


def test_the_decisions_headline_counts_what_is_open_and_quotes_the_oldest_overdue():
    log = pd.DataFrame(
        {
            "kind": ["decision", "decision", "assumption", "decision"],
            "text": [
                "Confirm Saturday shifts with the plant for the busiest line before the "
                "holidays and tell the planners which weeks.",
                "Take the push to the executive review.",
                "The listing holds.",
                "Closed long ago.",
            ],
            "owner": ["Tom Berg", "Lea Martin", "Ana Ruiz", "Sam"],
            "due_date": pd.to_datetime(["2026-11-12", "2026-11-20", "2026-12-14", "2026-01-01"]),
            "status": ["open", "open", "open", "done"],
            "state": ["overdue", "overdue", "open", "done"],
        }
    )
    assert headlines.decisions(log) == (
        "2 decisions to take and 1 assumption to check; 2 overdue, the oldest \u201cConfirm "
        "Saturday shifts with the plant for the busiest line before the holidays and "
        "tell\u2026\u201d, due 12 Nov 2026, owner Tom Berg."
    )
    assert headlines.decisions(log.assign(status="done")).startswith("Nothing is open")
