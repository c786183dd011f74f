"""Run one job in this process: claim it, do its work, record how it ended.

The database is written twice: when the job is claimed (running, this process) and when it
ends (done with what it made, or failed with the error). In between the progress goes to the
job's progress file (a few times a second at most), never holding the database's lock. A
process killed on the way leaves the job running with a process that is gone: the next start
takes it up again, and the work already stored (past forecast runs, by their fingerprint) is
reused, not redone.
"""

from __future__ import annotations

import json
import os
import re
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sop_core.data import db, settings
from sop_core.data.errors import InputError, SopError
from sop_core.data.stores import jobs as store
from sop_core.jobs import control

Progress = Callable[[float, str], None]

# The live progress file is rewritten at most this often (and whenever the step changes).
PROGRESS_EVERY = 0.3
_COUNTS = re.compile(r"[\d,.]+")


def _refresh(
    path: Path, parameters: dict[str, Any], progress: Progress, workers: int | None, job_id: int
) -> dict[str, Any]:
    from sop_core.forecast.engine import ForecastSettings
    from sop_core.forecast.runs import refresh_forecast

    engine, scheduler = settings.forecast_engine()
    summary = refresh_forecast(
        path,
        ForecastSettings(horizon=int(parameters.get("horizon", 26))),
        jobs=workers,
        progress=progress,
        who=parameters.get("started_by", ""),
        engine=engine,
        scheduler=scheduler,
    )
    return {"run_id": summary.run_id, "reused": summary.reused}


def _meeting(
    path: Path, parameters: dict[str, Any], progress: Progress, workers: int | None, job_id: int
) -> dict[str, Any]:
    """The sample's meeting in progress (``meeting.story``), then its past forecasts as a
    job of their own (the one "Make past forecasts" starts, so a press joins it)."""
    from sop_core.meeting.story import PAST_RUN_STEP, PAST_RUNS, seed_meeting

    made = seed_meeting(path, jobs=parameters.get("jobs") or workers, progress=progress)
    job_id, _ = control.start(
        path,
        "backfill",
        {"count": PAST_RUNS, "step": PAST_RUN_STEP, "horizon": 26},
        parameters.get("started_by", "first start"),
    )
    return {**made, "backfill_job": job_id}


def _backfill(
    path: Path, parameters: dict[str, Any], progress: Progress, workers: int | None, job_id: int
) -> dict[str, Any]:
    from sop_core.forecast.engine import ForecastSettings
    from sop_core.forecast.runs import backfill_runs

    engine, scheduler = settings.forecast_engine()
    past = backfill_runs(
        path,
        int(parameters.get("count", 8)),
        int(parameters.get("step", 2)),
        ForecastSettings(horizon=int(parameters.get("horizon", 26))),
        jobs=workers,
        progress=progress,
        who=parameters.get("started_by", ""),
        engine=engine,
        scheduler=scheduler,
    )
    return {
        "run_ids": [p.run_id for p in past],
        "history_ends": [p.history_end for p in past],
        "reused": sum(p.reused for p in past),
    }


def _plan(
    path: Path, parameters: dict[str, Any], progress: Progress, workers: int | None, job_id: int
) -> dict[str, Any]:
    """A production plan, stored: of the saved scenario ``scenario`` (or the baseline) on the
    current forecast, or, with ``scenario_json``, of that scenario exactly as a page had it
    (saved or an unsaved draft; ``scenario`` is then the name stored with it), on the
    forecast run ``run_id`` when given."""
    from sop_core.scenario.model import Scenario
    from sop_core.supply.planning import build_plan

    name = parameters.get("scenario")
    scenario = None
    if parameters.get("scenario_json") is not None:
        try:
            scenario = Scenario.from_json(name or "baseline", parameters["scenario_json"])
        except (ValueError, TypeError, KeyError) as error:
            raise InputError(f"The scenario to plan could not be read: {error}") from None
    run_id = parameters.get("run_id")
    plan, _, result, plan_id = build_plan(
        path,
        name,
        int(parameters.get("horizon", 26)),
        scenario=scenario,
        run_id=None if run_id is None else int(run_id),
        jobs=workers,
        progress=progress,
        who=parameters.get("started_by", ""),
    )
    summary = plan.summary(result.available[:, : plan.demand.shape[1]])
    return {
        "plan_id": plan_id,
        "run_id": result.base.run_id,
        "status": summary["status"],
        "total_cost": summary["total_cost"],
    }


def _pack(
    path: Path, parameters: dict[str, Any], progress: Progress, workers: int | None, job_id: int
) -> dict[str, Any]:
    """A meeting pack written into the folder ``out``, or, with ``packs`` (the app's packs
    folder, ``meeting.pack.packs_folder``), into a folder of its own in it named by the job's
    id, so a pack being made never overwrites one someone is downloading."""
    from sop_core.data.export import check_out_folder
    from sop_core.meeting.pack import build_pack

    if parameters.get("packs"):
        packs = Path(parameters["packs"])
        try:
            packs.mkdir(exist_ok=True)
        except OSError as error:
            raise InputError(
                f"Cannot make the packs folder {packs} ({error.strerror or error})."
            ) from None
        out = check_out_folder(packs) / str(job_id)
        out.mkdir(exist_ok=True)
    elif parameters.get("out"):
        out = check_out_folder(Path(parameters["out"]))
    else:
        raise InputError("A meeting pack job needs the folder to write into (out).")
    files = build_pack(
        path,
        out,
        parameters.get("scenario"),
        weeks=int(parameters.get("weeks", 26)),
        progress=progress,
        author=parameters.get("started_by"),
    )
    return {"folder": str(out), "files": {kind: str(file) for kind, file in files.items()}}


# A job's work: (database, parameters, progress, worker processes, job id) -> what it made.
Work = Callable[[Path, dict[str, Any], Progress, int | None, int], dict[str, Any]]

WORK: dict[str, Work] = {
    "meeting": _meeting,
    "refresh": _refresh,
    "backfill": _backfill,
    "plan": _plan,
    "pack": _pack,
}


class _ProgressFile:
    """The ``progress(fraction, message)`` a job's work is given: the file next to the
    database, rewritten at most every ``PROGRESS_EVERY`` s or when the step changes."""

    def __init__(self, path: Path, job_id: int, echo: Progress | None) -> None:
        self.path, self.job_id, self.echo = path, job_id, echo
        self.last = 0.0
        self.step = ""
        self.fraction = 0.0

    def __call__(self, fraction: float, message: str) -> None:
        if self.echo is not None:
            self.echo(fraction, message)
        self.fraction = fraction
        # The step: a backfill's "Run 3 of 8 (...)" before the colon; else the message with
        # its counts left out ("Fitted 12 of 40 SKUs" is one step however far it has got).
        step = message.split(":", 1)[0] if ":" in message else _COUNTS.sub("#", message)
        now = time.monotonic()
        if step != self.step or now - self.last >= PROGRESS_EVERY:
            self.step, self.last = step, now
            control.write_progress(self.path, self.job_id, fraction, message)


def run_job(
    path: Path | str, job_id: int, echo: Progress | None = None, workers: int | None = None
) -> control.JobView:
    """Run job ``job_id`` here unless another live process has it; return it as it ended
    (or as it is, when it was not ours to run). ``echo`` is told the progress too;
    ``workers``: forecast processes (default: one per core). A failure is recorded, then
    raised again."""
    path = Path(path)
    me = os.getpid()
    with db.transaction(path) as con:
        job = store.job(con, job_id)
        if job is None:
            raise InputError(f"There is no job {job_id} in {path.name}.")
        mine = job.pid in (me, os.getppid()) or not control.process_alive(job)
        if job.active and mine:
            store.claim(con, job_id, me, control.process_token(me))
    if not (job.active and mine):
        return control.get_job(path, job_id)
    parameters = json.loads(job.parameters)
    progress = _ProgressFile(path, job_id, echo)
    if job.attempts > 1:
        progress(0.0, f"Taken up again (attempt {job.attempts})")
    try:
        work = WORK.get(job.kind)
        if work is None:
            raise InputError(f"There is no job kind {job.kind!r}.")
        # Who started the job is who made what it writes (the meeting pack's cover).
        result = work(path, {**parameters, "started_by": job.started_by}, progress, workers, job_id)
    except Exception as error:
        text = str(error) if isinstance(error, SopError) else _failure(error)
        with db.transaction(path) as con:
            store.finish(
                con, job_id, "failed", error=text, message="Failed", progress=progress.fraction
            )
        control.clear_progress(path, job_id)
        raise
    with db.transaction(path) as con:
        store.finish(con, job_id, "done", message="Done", result=json.dumps(result), progress=1.0)
    control.clear_progress(path, job_id)
    return control.get_job(path, job_id)


def _failure(error: BaseException) -> str:
    """An unexpected error in one line, with where it happened."""
    last = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    where = f" ({Path(last[0].filename).name}:{last[0].lineno})" if last else ""
    first = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first}{where}".strip()
