"""Jobs in the app: start long work as a job (``sop_core.jobs``), follow it with a progress
bar, and show every running job with its progress in the sidebar of every page.

A job runs in a process of its own: leaving the page, closing the tab or restarting the app
does not stop it, and two people pressing the same button get the same job. The sidebar
follows the jobs running on the database (whoever started them) a few times a second and
redraws the page when one ends, so what it made shows at once; a job that failed in the last
hour is shown with its error. At the app's start, jobs whose process is gone are taken up
again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from sop_core.data import db
from sop_core.data.errors import SopError
from sop_core.data.stores import jobs as jobs_store
from sop_core.jobs import control
from sop_ui import identity, loaders
from sop_ui.formatting import plain

# How often the sidebar looks at the running jobs (their progress files; the database only
# when it has changed).
POLL_SECONDS = 1.5
# The newest jobs looked at; a failure among them is shown for FAILED_SHOWN after it ended.
RECENT = 20
FAILED_SHOWN = dt.timedelta(hours=1)


def start(kind: str, parameters: dict[str, Any]) -> tuple[int, bool]:
    """Start a job as the person at the keyboard (or join the same one already running);
    ``(job id, True when this press started it)``."""
    return control.start(loaders.database_path(), kind, parameters, identity.who())


def run_with_progress(kind: str, parameters: dict[str, Any], label: str) -> control.JobView:
    """Start (or join) a job and follow it with a progress bar until it ends; a failure is
    shown as the job recorded it. Leaving the page stops the following, not the job."""
    path = loaders.database_path()
    job_id, started = start(kind, parameters)
    bar = st.progress(0.0, text=f"{label}: starting")
    if not started:
        st.caption(f"Already running (job {job_id}): following it.")
    try:
        view = control.wait(
            path,
            job_id,
            on_progress=lambda fraction, message: bar.progress(
                min(max(fraction, 0.0), 1.0), text=f"{label}: {plain(message)}"
            ),
        )
    finally:
        bar.empty()
    if view.state == "failed":
        raise SopError(f"{label} failed (job {job_id}): {view.error}")
    if view.state == "interrupted":
        raise SopError(
            f"{label} was interrupted (job {job_id}); it is taken up again at the next start, "
            "keeping what it had stored."
        )
    return view


def latest_done(kind: str, parameters: dict[str, Any]) -> control.JobView | None:
    """The newest job of ``kind`` with these parameters that ended done (what it made is in
    its ``result``), or None: a page shows what the last press made, after any restart."""
    job = loaders.latest_done_job(kind, control.canonical(parameters))
    return None if job is None else control.view(loaders.database_path(), job)


@st.cache_data(show_spinner=False, max_entries=8)
def _recent(path: str, version: tuple[int, int]) -> list[jobs_store.Job]:
    # ``version`` is only part of the key: a job that starts or ends changes the file.
    with db.connect(path, timeout=loaders.QUICK_LOCK_WAIT) as con:
        return jobs_store.list_jobs(con, limit=RECENT)


def _recent_now(path: str) -> list[jobs_store.Job]:
    try:
        return _recent(path, db.data_version(path))
    except SopError:  # busy (a job is saving): show the jobs at the next look
        return []


def _active_now(path: str) -> list[jobs_store.Job]:
    return [job for job in _recent_now(path) if job.active]


@st.cache_resource(show_spinner=False)
def resume_at_start(path: str) -> list[int]:
    """Once per app process and database: take up again the jobs whose process is gone."""
    try:
        return control.resume_interrupted(path)
    except SopError:
        return []


_ACTIVE_SEEN = "jobs_active_seen"  # the jobs running at the panel's last look


def preparing(kinds: tuple[str, ...] = ("meeting", "refresh")) -> str | None:
    """What is being prepared right now among ``kinds`` (a job's title and progress), or None:
    a page without a forecast says so instead of offering to make one."""
    path = str(loaders.database_path())
    for job in _active_now(path):
        if job.kind in kinds:
            view = control.view(path, job)
            return f"{view.title}: {view.message or 'starting'} ({view.progress:.0%})"
    return None


def running_jobs() -> None:
    """The running jobs and their progress (nothing when none runs); call it in the sidebar
    of every page (the shell does)."""
    path = str(loaders.database_path())
    recent = _recent_now(path)
    since = dt.datetime.now() - FAILED_SHOWN
    for job in recent:
        if job.state == "failed" and job.finished_at is not None and job.finished_at > since:
            view = control.view(path, job)
            st.warning(
                plain(f"{view.title} (job {job.job_id}, {job.started_by}) failed: {job.error}"),
                icon=":material/error:",
            )
    if any(job.active for job in recent):
        _running_panel(path)


@st.fragment(run_every=POLL_SECONDS)
def _running_panel(path: str) -> None:
    active = _active_now(path)
    ids = {job.job_id for job in active}
    seen = st.session_state.get(_ACTIVE_SEEN, ids)
    st.session_state[_ACTIVE_SEEN] = ids
    if not active or seen - ids:
        # A job ended (another may have started after it): redraw the page with what it made.
        st.rerun(scope="app")
    views = [control.view(path, job) for job in active]
    if any(v.state == "interrupted" for v in views):
        control.resume_interrupted(path)
    st.caption("Running now")
    for view in views:
        who = f"{view.title}, started by {view.started_by}"
        message = "taken up again" if view.state == "interrupted" else view.message or "queued"
        st.progress(min(max(view.progress, 0.0), 1.0), text=f"{plain(who)}: {plain(message)}")
