"""Jobs: real worker processes on a real DuckDB file. One job per kind and parameters, the
``jobs --json`` contract, a backfill killed mid-way and resumed without redoing a run, and a
failing job that records why."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sop_core.data import db
from sop_core.data.stores import jobs as store
from sop_core.jobs import control
from tests.conftest import AS_OF
from tests.helpers import ROOT, alive, run_cli, wait_for

JOB_KEYS = {"id", "kind", "state", "progress", "started_by", "started", "finished", "error"}


@pytest.fixture
def small_db(tmp_path: Path) -> Iterator[Path]:
    from sop_core.data.sample import SampleConfig, build_sample_database

    path = tmp_path / "jobs.duckdb"
    build_sample_database(path, SampleConfig(skus=6, weeks=110, seed=3, as_of=AS_OF))
    yield path
    # A job a failed test left running is stopped with its workers.
    with db.connect(path) as con:
        left = [job.pid for job in store.list_jobs(con, active_only=True) if job.pid]
    for pid in left:
        if pid != os.getpid() and alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def stored_job(path: Path, job_id: int) -> store.Job:
    with db.connect(path) as con:
        return store.job(con, job_id)


def runs_by_history_end(path: Path) -> dict[str, int]:
    """How many forecast runs are stored for each history end."""
    with db.connect(path) as con:
        rows = con.execute(
            "SELECT CAST(history_end AS VARCHAR), count(*) FROM forecast_runs GROUP BY 1"
        ).fetchall()
    return dict(rows)


def kill_job(path: Path, job_id: int) -> None:
    """SIGKILL the job's process and its forecast workers (its session), and wait until gone."""
    pid = stored_job(path, job_id).pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    assert wait_for(lambda: not alive(pid), timeout=20), "the killed job's process lives on"


def finished(path: Path, job_id: int, timeout: float = 180) -> control.JobView:
    assert wait_for(
        lambda: not control.get_job(path, job_id).active, timeout=timeout, interval=0.5
    ), control.get_job(path, job_id)
    return control.get_job(path, job_id)


def test_two_starts_of_the_same_job_are_one_job(small_db: Path):
    # Two people press the same button at the same moment: two processes start the job.
    command = [sys.executable, "-m", "sop_core", "jobs", "start", "refresh", "--json"]
    starts = [
        subprocess.Popen(
            [*command, "--db", str(small_db), "--by", who],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("ana", "ben")
    ]
    answers = []
    for process in starts:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        answers.append(json.loads(out))
    assert answers[0]["id"] == answers[1]["id"]
    assert sorted(a["joined"] for a in answers) == [False, True]
    # Pressed again while it runs: still the same job, from this process too.
    again, started = control.start(small_db, "refresh", {"horizon": 26}, "cem")
    assert again == answers[0]["id"] and not started
    view = finished(small_db, again)
    assert view.state == "done", view
    assert [j.job_id for j in control.list_jobs(small_db)] == [again]
    assert list(runs_by_history_end(small_db).values()) == [1]
    # Once it has ended, the same button starts a new job.
    later, started = control.start(small_db, "refresh", {"horizon": 26}, "ana")
    assert started and later != again
    assert finished(small_db, later).result["reused"] is True


def test_jobs_json_lists_every_job_with_the_contract_keys(small_db: Path):
    empty = run_cli("jobs", "--db", str(small_db), "--json")
    assert empty.returncode == 0, empty.stderr
    assert json.loads(empty.stdout) == {"jobs": []}
    started = run_cli("jobs", "start", "refresh", "--db", str(small_db), "--by", "ana", "--wait")
    assert started.returncode == 0, started.stderr
    listed = run_cli("jobs", "--db", str(small_db), "--json")
    assert listed.returncode == 0, listed.stderr
    (job,) = json.loads(listed.stdout)["jobs"]
    assert set(job) >= JOB_KEYS
    assert job["kind"] == "refresh" and job["state"] == "done" and job["progress"] == 1.0
    assert job["started_by"] == "ana" and job["error"] is None
    assert job["started"] <= job["finished"]
    text = run_cli("jobs", "--db", str(small_db))
    assert "refresh" in text.stdout and "done" in text.stdout


def test_a_killed_backfill_is_resumed_and_stores_every_run_once(small_db: Path):
    count = 4
    parameters = {"count": count, "step": 2, "horizon": 26}
    job_id, started = control.start(small_db, "backfill", parameters, "ana")
    assert started
    # Killed once the second run is stored: the progress file says the third has begun.
    assert wait_for(
        lambda: (control.read_progress(small_db, job_id) or (0.0, ""))[0] >= 2 / count,
        timeout=180,
        interval=0.1,
    ), control.get_job(small_db, job_id)
    kill_job(small_db, job_id)
    stored = runs_by_history_end(small_db)
    assert 2 <= len(stored) < count and set(stored.values()) == {1}, stored
    assert control.get_job(small_db, job_id).state == "interrupted"

    # The next start of the same job takes it up again, from what it had stored.
    again, started = control.start(small_db, "backfill", parameters, "ben")
    assert again == job_id and started
    view = finished(small_db, job_id)
    assert view.state == "done", view
    assert view.result["reused"] >= len(stored)
    stored_after = runs_by_history_end(small_db)
    assert len(stored_after) == count and set(stored_after.values()) == {1}, stored_after
    job = stored_job(small_db, job_id)
    assert job.attempts == 2 and job.started_by == "ana"
    assert not control.progress_file(small_db, job_id).exists()


def test_an_interrupted_job_is_resumed_at_the_next_app_start(small_db: Path):
    # Recorded, and its process gone before it ran (the app stopped): resume picks it up.
    job_id, _ = control.start(small_db, "refresh", {"horizon": 13}, "ana", launch=False)
    with db.transaction(small_db) as con:
        store.set_process(con, job_id, None, None)
    assert control.get_job(small_db, job_id).state == "interrupted"
    resumed = run_cli("jobs", "resume", "--db", str(small_db), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout) == {"resumed": [job_id]}
    assert finished(small_db, job_id).state == "done"


def test_a_failing_job_records_its_error_and_state(small_db: Path, tmp_path: Path):
    missing = tmp_path / "no" / "such" / "folder"
    result = run_cli(
        "jobs", "start", "pack", "--db", str(small_db), "--out", str(missing), "--wait", "--json"
    )
    assert result.returncode == 1
    view = json.loads(result.stdout)
    assert view["state"] == "failed" and view["finished"]
    assert "does not exist" in view["error"]
    listed = json.loads(run_cli("jobs", "--db", str(small_db), "--json").stdout)["jobs"]
    assert [(j["kind"], j["state"]) for j in listed] == [("pack", "failed")]
    # Failed is over: the same job can be started again.
    assert stored_job(small_db, view["id"]).state == "failed"
    with db.connect(small_db) as con:
        assert store.active_job(con, control.job_key("pack", view["parameters"])) is None


def test_every_page_shows_a_running_job_and_its_progress(small_db: Path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    # A backfill someone else started, running in a live process (this one stands in for it).
    job_id, _ = control.start(small_db, "backfill", {"count": 8}, "ana", launch=False)
    with db.transaction(small_db) as con:
        store.set_process(con, job_id, os.getpid(), control.process_token(os.getpid()))
    control.write_progress(small_db, job_id, 0.4, "Run 4 of 8 (as of 12 Oct 2026): Fitting")
    monkeypatch.setenv("SOP_DB", str(small_db))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    for page in ("pages/overview.py", "pages/data.py"):
        at.switch_page(page).run()
        assert not at.exception, at.exception
        bars = [bar for bar in at.sidebar.get("progress")]
        assert len(bars) == 1, bars
        assert bars[0].proto.text.startswith("Past forecasts, started by ana: Run 4 of 8")
        assert bars[0].proto.value == 40
    # Ended: the sidebar shows no job.
    with db.transaction(small_db) as con:
        store.finish(con, job_id, "done", progress=1.0)
    control.clear_progress(small_db, job_id)
    at.run()
    assert not at.sidebar.get("progress")


def test_the_forecast_command_records_its_backfill_as_a_job(small_db: Path):
    first = run_cli("forecast", "--db", str(small_db), "--backfill", "2", "--quiet")
    assert first.returncode == 0, first.stderr
    assert "Past forecasts (runs 1, 2)" in first.stdout
    again = run_cli("forecast", "--db", str(small_db), "--backfill", "2", "--quiet", "--json")
    assert again.returncode == 0, again.stderr
    jobs = json.loads(run_cli("jobs", "--db", str(small_db), "--json").stdout)["jobs"]
    assert [(j["kind"], j["state"]) for j in jobs] == [("backfill", "done")] * 2
    assert jobs[0]["result"]["reused"] == 2  # the stored runs, not made twice
    assert list(runs_by_history_end(small_db).values()) == [1, 1, 1]


def test_a_job_whose_process_keeps_dying_is_not_taken_up_for_ever(small_db: Path):
    job_id, _ = control.start(small_db, "refresh", {"horizon": 13}, "ana", launch=False)
    with db.connect(small_db) as con:
        con.execute(
            "UPDATE jobs SET pid = NULL, attempts = ? WHERE job_id = ?",
            [control.MAX_ATTEMPTS, job_id],
        )
    assert control.resume_interrupted(small_db) == []
    view = control.get_job(small_db, job_id)
    assert view.state == "failed" and "not taken up again" in view.error
    # Pressed again: a new job.
    again, started = control.start(small_db, "refresh", {"horizon": 13}, "ana", launch=False)
    assert started and again != job_id


@pytest.mark.slow
def test_make_past_forecasts_on_the_demand_page_runs_one_backfill_job(small_db: Path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    made = run_cli("jobs", "start", "refresh", "--db", str(small_db), "--wait", "--quiet")
    assert made.returncode == 0, made.stderr
    monkeypatch.setenv("SOP_DB", str(small_db))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240).run()
    at.switch_page("pages/demand.py").run()
    at.button(key="backfill").click().run()
    assert not at.exception, at.exception
    assert not any(b.key == "backfill" for b in at.button)  # accuracy is shown instead
    jobs = json.loads(run_cli("jobs", "--db", str(small_db), "--json").stdout)["jobs"]
    assert [(j["kind"], j["state"], j["started_by"]) for j in jobs] == [
        ("backfill", "done", "planner"),
        ("refresh", "done", jobs[1]["started_by"]),
    ]
    assert len(runs_by_history_end(small_db)) == 9  # 8 past runs and the current one


def test_the_sidebar_shows_a_job_that_failed_with_its_error(small_db: Path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from sop_ui.formatting import plain

    job_id, _ = control.start(small_db, "pack", {"out": "/no/such"}, "ben", launch=False)
    with db.transaction(small_db) as con:
        store.finish(con, job_id, "failed", error="The folder /no/such does not exist.")
    monkeypatch.setenv("SOP_DB", str(small_db))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    (warning,) = at.sidebar.warning
    assert warning.value == plain(
        f"Meeting pack (job {job_id}, ben) failed: The folder /no/such does not exist."
    )
    assert not at.sidebar.get("progress")


def test_a_plan_job_by_scenario_name_is_what_the_supply_page_shows(small_db: Path):
    """The command line's form (a saved scenario's name, or none: the baseline) still plans on
    the current forecast; the plan it stores is the one the Supply page finds for the
    baseline. A page's scenario that cannot be read fails the job with why."""
    from sop_core.data.errors import InputError
    from sop_core.data.stores import forecast_runs
    from sop_core.demand.plan_base import load_plan_base
    from sop_core.jobs import worker
    from sop_core.scenario.model import Scenario
    from sop_core.supply.planning import stored_plan

    made = run_cli("jobs", "start", "plan", "--db", str(small_db), "--wait", "--json")
    assert made.returncode == 0, made.stderr
    view = json.loads(made.stdout)
    assert view["parameters"] == {"scenario": None, "horizon": 26}
    assert view["state"] == "done" and view["result"]["status"] == "optimal"
    with db.connect(small_db) as con:
        base = load_plan_base(con, forecast_runs.latest_run_id(con))
        shown = stored_plan(con, base, Scenario("baseline"), len(base.weeks))
    assert view["result"]["run_id"] == base.run_id
    assert shown is not None and shown.plan_id == view["result"]["plan_id"]
    assert shown.total_cost == view["result"]["total_cost"]

    job_id, _ = control.start(
        small_db, "plan", {"scenario_json": "{not json", "horizon": 26}, "ana", launch=False
    )
    with pytest.raises(InputError, match="scenario to plan could not be read"):
        worker.run_job(small_db, job_id)
    failed = control.get_job(small_db, job_id)
    assert failed.state == "failed" and "could not be read" in failed.error
