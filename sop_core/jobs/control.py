"""Start, list and resume jobs.

A job is a row of ``jobs`` and a process of its own (``python -m sop_core jobs run --db PATH
--id N``) in a new session, so closing the tab or stopping the app does not stop it. The
process records its state in DuckDB (running, done, failed, with the error) at its start and
end only; while it runs it writes its progress to a small file next to the database, which
anyone reads without touching the database's lock.

The same kind and parameters are one job while it is queued or running (a unique key), so two
people pressing the same button get the same job. A job whose process is gone while it is
still queued or running was interrupted (the machine restarted, the process was killed): the
next start of the same job, ``resume_interrupted`` (the app's start, ``jobs resume``) or
``jobs run`` takes it up again, and the work it had stored (past forecast runs) is reused.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from sop_core.data import access, db
from sop_core.data.errors import ConflictError, InputError, SopError
from sop_core.data.stores import jobs as store

KINDS = {
    "meeting": "Preparing the sample's meeting",
    "refresh": "Forecast refresh",
    "backfill": "Past forecasts",
    "plan": "Production plan",
    "pack": "Meeting pack",
}
"""Every kind of job, with its name on screen."""
WRITES = {"meeting": "forecast", "refresh": "forecast", "backfill": "forecast",
          "plan": "production_plan"}  # fmt: skip
"""The write (``access.WRITES``) each kind of job makes; a pack only reads."""

# A job whose process died this many times is not taken up again (a recorded failure, an
# error in its work, never is: it ends the job as failed at once).
MAX_ATTEMPTS = 5

# The folder that holds the ``sop_core`` package: the worker runs from there.
_HOME = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True)
class JobView:
    """A job as a planner sees it: its live progress and whether it is really running."""

    job_id: int
    kind: str
    parameters: dict[str, Any]
    started_by: str
    state: str  # queued, running, interrupted (process gone), done, failed
    progress: float
    message: str | None
    started: str
    finished: str | None
    error: str | None
    result: dict[str, Any] | None

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running", "interrupted")

    @property
    def title(self) -> str:
        return KINDS.get(self.kind, self.kind)

    def as_json(self) -> dict[str, Any]:
        """The ``jobs --json`` entry: id, kind, state, progress, started_by, started,
        finished, error (and what it does and did: parameters, message, result)."""
        return {
            "id": self.job_id,
            "kind": self.kind,
            "state": self.state,
            "progress": round(self.progress, 4),
            "started_by": self.started_by,
            "started": self.started,
            "finished": self.finished,
            "error": self.error,
            "parameters": self.parameters,
            "message": self.message,
            "result": self.result,
        }


# ---- parameters and processes -----------------------------------------------------------------


def canonical(parameters: dict[str, Any]) -> str:
    """Parameters as the one JSON text that names them (sorted keys, no spaces)."""
    return json.dumps(parameters, sort_keys=True, separators=(",", ":"), default=str)


def job_key(kind: str, parameters: dict[str, Any]) -> str:
    return f"{kind}|{canonical(parameters)}"


def process_token(pid: int) -> str | None:
    """``pid`` and its start time while it runs (None when it has ended or is a zombie), so
    a process number the system has given to another program is not taken for ours."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        if Path("/proc/self/stat").exists():
            return None
        try:  # no /proc (not Linux): the process number alone
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return f"{pid}"
    if fields[0] in ("Z", "X"):
        return None
    return f"{pid}:{fields[19]}"


def process_alive(job: store.Job) -> bool:
    """True while the process recorded for ``job`` still runs."""
    if job.pid is None:
        return False
    token = process_token(job.pid)
    return token is not None and (job.process_token is None or token == job.process_token)


# ---- live progress, in a file next to the database ------------------------------------------


def progress_file(path: Path | str, job_id: int) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.job-{job_id}.progress.json")


def write_progress(path: Path | str, job_id: int, fraction: float, message: str) -> None:
    """Replace the job's progress file (atomically: a reader never sees half of it)."""
    target = progress_file(path, job_id)
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    text = json.dumps({"progress": min(max(float(fraction), 0.0), 1.0), "message": message})
    with contextlib.suppress(OSError):  # progress is a courtesy: never fail the job for it
        temporary.write_text(text)
        os.replace(temporary, target)


def read_progress(path: Path | str, job_id: int) -> tuple[float, str] | None:
    try:
        data = json.loads(progress_file(path, job_id).read_text())
        return float(data["progress"]), str(data["message"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clear_progress(path: Path | str, job_id: int) -> None:
    progress_file(path, job_id).unlink(missing_ok=True)


# ---- reading -----------------------------------------------------------------------------------


def view(path: Path | str, job: store.Job) -> JobView:
    """``job`` as a planner sees it: live progress from its file; interrupted when its
    process is gone."""
    state, progress, message = job.state, float(job.progress), job.message
    if job.active:
        live = read_progress(path, job.job_id)
        if live is not None:
            progress, message = live
        if not process_alive(job):
            state = "interrupted"
    return JobView(
        job_id=job.job_id,
        kind=job.kind,
        parameters=json.loads(job.parameters),
        started_by=job.started_by,
        state=state,
        progress=progress,
        message=message,
        started=_iso(job.started_at),
        finished=_iso(job.finished_at) if job.finished_at is not None else None,
        error=job.error,
        result=json.loads(job.result) if job.result else None,
    )


def _iso(moment: Any) -> str:
    return moment.isoformat(timespec="seconds") if hasattr(moment, "isoformat") else str(moment)


def list_jobs(path: Path | str, *, active_only: bool = False, limit: int = 100) -> list[JobView]:
    """The newest jobs first, with their live progress; an active job whose process is gone
    shows as ``interrupted``."""
    with db.connect(path) as con:
        try:
            rows = store.list_jobs(con, active_only=active_only, limit=limit)
        except duckdb.CatalogException:  # a database from before jobs (schema 8): none yet
            return []
    return [view(path, job) for job in rows]


def get_job(path: Path | str, job_id: int) -> JobView | None:
    with db.connect(path) as con:
        job = store.job(con, job_id)
    return None if job is None else view(path, job)


# ---- starting ---------------------------------------------------------------------------------


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InputError(f"There is no job kind {kind!r}; the kinds are {', '.join(KINDS)}.")


def start(
    path: Path | str,
    kind: str,
    parameters: dict[str, Any],
    started_by: str,
    *,
    launch: bool = True,
) -> tuple[int, bool]:
    """Start a job, or join the same one already queued or running; an interrupted one is
    taken up again. Returns ``(job id, True when this call started or resumed it)``.

    ``launch=False`` records the job and leaves it to the caller to run it (``jobs run``)."""
    check_kind(kind)
    if not Path(path).exists():
        raise InputError(f"There is no database at {path}.")
    db.ensure_schema(path)
    if kind in WRITES:  # refused before it is queued; its work checks again as it writes
        access.check(path, started_by, WRITES[kind])
    key = job_key(kind, parameters)
    for _ in range(5):
        try:
            job_id, ours = _take(path, kind, canonical(parameters), started_by, key)
        except (duckdb.ConstraintException, ConflictError):
            continue  # someone else recorded the same job meanwhile: join theirs
        if ours and launch:
            _launch(path, job_id)
        return job_id, ours
    raise ConflictError("The job could not be recorded; try again.")


def _take(
    path: Path | str, kind: str, parameters: str, started_by: str, key: str
) -> tuple[int, bool]:
    """Record the job (or take up an interrupted one) as this process's to launch."""
    me = os.getpid()
    with db.transaction(path) as con:
        existing = store.active_job(con, key)
        if existing is not None and process_alive(existing):
            return existing.job_id, False
        if existing is None:
            job_id = store.insert_job(con, kind, parameters, started_by, key)
        elif existing.attempts >= MAX_ATTEMPTS:
            # Its process died every time (never a recorded failure): stop trying, free it.
            store.finish(
                con,
                existing.job_id,
                "failed",
                error=f"Interrupted {existing.attempts} times; not taken up again.",
            )
            clear_progress(path, existing.job_id)
            return existing.job_id, False
        else:
            job_id = existing.job_id
        # Until the worker runs, the launching process answers for the job: another start
        # meanwhile sees it alive and joins, and if this process dies first the job is
        # interrupted and the next start takes it up.
        store.take_up(con, job_id, me, process_token(me))
    return job_id, True


def _launch(path: Path | str, job_id: int) -> int:
    """Run the job in a new process, in a session of its own; return its process id."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(_HOME), *filter(None, [environment.get("PYTHONPATH")])]
    )
    command = [
        sys.executable,
        "-m",
        "sop_core",
        "jobs",
        "run",
        "--db",
        str(Path(path).resolve()),
        "--id",
        str(job_id),
        "--quiet",
    ]
    try:
        process = subprocess.Popen(
            command,
            cwd=_HOME,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as error:
        # Nobody would ever run it: end it now, so the next press can try again.
        with db.transaction(path) as con:
            store.finish(con, job_id, "failed", error=f"Could not start its process: {error}")
        raise SopError(f"Could not start job {job_id}: {error}") from error
    # Reaped when it ends, so a long-running app keeps no zombie behind.
    threading.Thread(target=process.wait, daemon=True).start()
    token = process_token(process.pid)
    # The worker records itself anyway when it starts: a failure here is not one.
    with contextlib.suppress(Exception), db.transaction(path) as con:
        current = store.job(con, job_id)
        if current is not None and current.pid in (os.getpid(), process.pid):
            store.set_process(con, job_id, process.pid, token)
    return process.pid


def resume_interrupted(path: Path | str) -> list[int]:
    """Take up again every queued or running job whose process is gone; return their ids."""
    active = []
    with db.connect(path) as con, contextlib.suppress(duckdb.CatalogException):
        active = store.list_jobs(con, active_only=True)
    resumed = []
    for job in active:
        if process_alive(job):
            continue
        job_id, ours = start(path, job.kind, json.loads(job.parameters), job.started_by)
        if ours:
            resumed.append(job_id)
    return resumed


def wait(
    path: Path | str,
    job_id: int,
    timeout: float | None = None,
    on_progress: Callable[[float, str], None] | None = None,
    poll: float = 0.2,
) -> JobView:
    """Block until job ``job_id`` ends or is interrupted (or ``timeout`` seconds pass);
    return it as it is then. ``on_progress(fraction, message)`` is told the live progress,
    read from its file; the database is looked at once a second."""
    deadline = None if timeout is None else time.monotonic() + timeout
    checked = 0.0
    while True:
        if time.monotonic() - checked >= 1.0:
            view = get_job(path, job_id)
            checked = time.monotonic()
            if view is None:
                raise InputError(f"There is no job {job_id}.")
            if not view.active or view.state == "interrupted":
                return view
        live = read_progress(path, job_id)
        if on_progress is not None and live is not None:
            on_progress(*live)
        if deadline is not None and time.monotonic() >= deadline:
            return view
        time.sleep(poll)
