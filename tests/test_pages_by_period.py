"""Every page by month and by quarter (the sidebar's *Figures by*): no error, every calendar
chart draws one point per period on an axis of period names, and totals stay as by week."""

from __future__ import annotations

import pytest

from tests.test_pages import PAGES, figures, open_app, values


def by(page: str, bucket: str):
    at = open_app(page)
    at.button_group(key="bucket").set_value(bucket).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("bucket", ["month", "quarter"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_by_period(app_env, page, bucket):
    at = by(page, bucket)
    for spec in figures(at):
        axis = spec["layout"].get("xaxis", {})
        title = spec["layout"].get("title", {}).get("text", "")
        # No week axis is left when the figures are by period.
        assert axis.get("hoverformat", "").find("W%V") < 0, title
        if not axis.get("categoryarray"):
            continue
        names = set(axis["categoryarray"])
        for trace in spec["data"]:
            if trace.get("type") == "heatmap" or trace.get("x") is None:
                continue
            xs = list(trace["x"])
            assert set(xs) <= names, (title, trace.get("name"))
            assert len(xs) == len(set(xs)), (title, trace.get("name"), xs)  # one per period
            if bucket == "quarter":
                assert all(x.startswith("Q") for x in xs), xs


def test_promotions_totals_are_the_same_by_week_month_and_quarter(app_env):
    totals = {}
    for bucket in ("week", "month", "quarter"):
        at = by("pages/promotions.py", bucket)
        chart = next(s for s in figures(at) if "volume" in s["layout"]["title"]["text"].lower())
        totals[bucket] = {
            trace["name"]: float(values(trace["y"]).sum())
            for trace in chart["data"]
            if trace["name"] in ("baseline", "revised target", "Baseline", "Revised target")
        }
    assert totals["week"]
    for bucket in ("month", "quarter"):
        for name, total in totals["week"].items():
            assert totals[bucket][name] == pytest.approx(total, rel=1e-9), (bucket, name)


@pytest.mark.parametrize("bucket", ["week", "quarter"])
def test_the_plan_page_sets_the_plan_against_budget_last_year_and_record(app_env, bucket):
    """By week the comparison is by month (the budget is monthly), else by the bucket; the
    plan's periods hold the whole forecast horizon's revised target, and the budget and last
    year's sales are there beside it."""
    from sop_core.scenario.targets import compute_targets

    at = by("pages/plan.py", bucket)
    period = "month" if bucket == "week" else bucket
    table = next(t.value for t in at.dataframe if "budget_units" in t.value.columns)
    assert period in table.columns and table[period].is_unique
    revised = compute_targets(app_env).frame["revised"].sum()
    assert table["plan_units"].sum() == pytest.approx(revised, rel=1e-9)
    assert (table["budget_units"] > 0).all() and (table["last_year_units"] > 0).all()
    # Nothing is approved in this database: no plan of record column figures, nor markers.
    assert table["plan_of_record_units"].isna().all()
    chart = next(s for s in figures(at) if "against budget" in s["layout"]["title"]["text"])
    assert chart["layout"]["xaxis"]["type"] == "category"
    assert [t["name"] for t in chart["data"]] == ["plan", "budget", "same period last year"]
