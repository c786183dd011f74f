"""The first start is a meeting in progress: every page shows its content without a button.

The dashboard is opened on a database path that does not exist yet, as the README's first
command does: it builds the sample company and starts the job that prepares the meeting it is
in the middle of (the forecast, last week's plan of record, overrides, scenarios, decisions,
then the past forecasts). The first page shows the history and says what is being prepared;
once the meeting job has stored the forecast, every page opened in AppTest must show its
charts and KPIs, and the past forecasts end stored in the background, each once.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from sop_core.data import db, formats
from sop_core.jobs import control
from tests.conftest import AS_OF
from tests.helpers import ROOT, wait_for

pytestmark = pytest.mark.slow  # builds the sample and its forecast like a first start

PAGES = {
    "pages/overview.py": (1, 4),
    "pages/demand.py": (2, 4),
    "pages/promotions.py": (2, 4),
    "pages/supply.py": (3, 4),
    "pages/plan.py": (3, 4),
    "pages/present.py": (1, 3),
}


@pytest.fixture(scope="module")
def first_start(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("first-start") / "sop.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOP_DB", str(path))
        patch.setenv("SOP_SAMPLE_AS_OF", AS_OF.isoformat())
        assert not path.exists()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        assert not at.exception, [e.value for e in at.exception]
        shown = " ".join(m.value for m in at.info)
        assert "being prepared" in shown or len(at.metric) >= 4  # history now, meeting soon

        def done(kind: str) -> bool:
            return any(j.kind == kind and j.state == "done" for j in control.list_jobs(path))

        def failed() -> list[str]:
            return [f"{j.kind}: {j.error}" for j in control.list_jobs(path) if j.state == "failed"]

        # Waits on the jobs' recorded states, not the clock (the limit only ends a hang).
        assert wait_for(lambda: done("meeting") or failed(), timeout=300, interval=0.5)
        assert not failed(), failed()
        yield path, patch
        assert wait_for(lambda: done("backfill") or failed(), timeout=600, interval=0.5)
        assert not failed(), failed()


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_shows_content_on_first_open(first_start, page):
    charts, metrics = PAGES[page]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) >= charts
    assert len(at.metric) >= metrics
    shown = " ".join(m.value for m in [*at.info, *at.warning, *at.error])
    assert "no demand forecast" not in shown.lower()
    assert not [b for b in at.button if b.label == "Make the forecast now"]


def test_the_meeting_has_its_plan_overrides_scenarios_and_an_overdue_decision(first_start):
    path, _ = first_start
    con = duckdb.connect(str(path), read_only=True)
    try:
        history_end = con.execute("SELECT max(week) FROM sales_history").fetchone()[0]
        approved = con.execute("SELECT approved_at::DATE FROM plans_of_record").fetchall()
        overrides = con.execute("SELECT count(*) FROM consensus_overrides").fetchone()[0]
        scenarios = con.execute("SELECT name FROM scenarios ORDER BY name").fetchall()
        overdue = con.execute(
            "SELECT count(*) FROM decisions WHERE status = 'open' AND due_date < ?", [history_end]
        ).fetchone()[0]
    finally:
        con.close()
    assert approved == [(history_end,)]  # last week's meeting
    assert overrides >= 2 and len(scenarios) == 3 and overdue == 1


def test_the_past_forecasts_end_stored_in_the_background_each_once(first_start):
    path, _ = first_start

    def backfill_done() -> bool:
        return any(
            j.kind == "backfill" and j.state in ("done", "failed") for j in control.list_jobs(path)
        )

    assert wait_for(backfill_done, timeout=600, interval=0.5)
    # The job's process may still hold the file for a moment after saying it is done:
    # db.connect waits for it, as the pages do.
    with db.connect(path) as con:
        ends = con.execute(
            "SELECT history_end, count(*) FROM forecast_runs GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert len(ends) == 9 and all(n == 1 for _, n in ends)  # the current one and 8 past


def test_the_peak_push_lists_actions_and_the_cheapest_removes_its_overload(first_start):
    """The issue's done-when on the sample's own story: its peak promotion (Black Friday or
    Christmas, whichever the horizon has first) overloads a line; Supply lists at least three
    kinds of action with hours and cost for it, and adding the cheapest that closes a
    line-week's gap removes that overload."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    choice = at.sidebar.selectbox(key="scenario")
    push = next(name for name in choice.options if " push: " in name)
    assert push.split(" push: ")[0] in ("Black Friday", "Christmas")
    choice.set_value(push).run()
    at.switch_page("pages/supply.py").run()
    assert not at.exception, [e.value for e in at.exception]
    fixes = next(t.value for t in at.dataframe if "closes_gap" in t.value.columns)
    fixes = fixes.assign(week=pd.to_datetime(fixes["week"]).dt.date)
    kinds = fixes.groupby(["line_name", "week"])["kind"].nunique()
    assert kinds.max() >= 3, kinds
    assert (fixes["hours"] > 0).all() and (fixes["cost"] >= 0).all()
    assert fixes["plan_saving"].notna().all() and fixes["net_cost"].notna().all()

    holdable = ["overtime", "saturday shift", "trim promotion", "move promotion"]
    closing = fixes[(fixes["closes_gap"] == "yes") & fixes["kind"].isin(holdable)]
    cheapest = closing.loc[closing["net_cost"].idxmin()]
    named = f"{cheapest['line_name']}, {formats.week(cheapest['week'])}: {cheapest['action']}"
    labels = list(at.selectbox(key="fix_choice").options)
    at.selectbox(key="fix_choice").set_value(
        next(i for i, label in enumerate(labels) if label.startswith(named))
    ).run()
    at.button(key="fix_add").click().run()
    assert not at.exception, [e.value for e in at.exception]
    after = next(t.value for t in at.dataframe if "closes_gap" in t.value.columns)
    still = after[
        (pd.to_datetime(after["week"]).dt.date == cheapest["week"])
        & (after["line_name"] == cheapest["line_name"])
    ]
    assert still.empty, still


@pytest.mark.parametrize(
    ("first", "peak", "week"),
    [
        (dt.date(2026, 10, 5), "Black Friday", dt.date(2026, 11, 23)),
        (dt.date(2026, 11, 23), "Christmas", dt.date(2026, 12, 21)),  # Black Friday too soon
        (dt.date(2027, 1, 4), "Season", dt.date(2027, 2, 8)),  # neither within the horizon
    ],
)
def test_the_story_pushes_the_next_retail_peak_after_the_first_two_weeks(first, peak, week):
    from sop_core.meeting.story import _next_peak

    assert _next_peak(first, first + dt.timedelta(weeks=25)) == (peak, week)
