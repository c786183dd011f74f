"""The jobs command: list the jobs of a database, start one, run one here, resume the
interrupted ones. The same jobs the dashboard starts (``sop_core.jobs``).

- ``jobs --db PATH [--json]``: the newest jobs first;
- ``jobs start KIND --db PATH [options] [--wait]``: start (or join) a job in its own process;
- ``jobs run --db PATH --id N``: run job N in this process (what a started job's process does);
- ``jobs resume --db PATH``: take up again every job whose process is gone.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sop_core.cli.common import (
    EXIT_FAILURE,
    WEEKS_AHEAD,
    add_as_option,
    author,
    progress_bar,
    whole_number,
)
from sop_core.data.errors import InputError


def _parameters(args: argparse.Namespace) -> dict:
    """The job's parameters from the options its kind uses (the rest are left out, so the
    same work is the same job whichever options were typed)."""
    if args.kind == "refresh":
        return {"horizon": args.horizon}
    if args.kind == "backfill":
        return {"count": args.count, "step": args.step, "horizon": args.horizon}
    if args.kind == "plan":
        return {"scenario": args.scenario, "horizon": args.horizon}
    if args.out is None:
        raise InputError("A meeting pack job needs --out DIR.")
    return {"out": str(Path(args.out).resolve()), "scenario": args.scenario, "weeks": args.weeks}


def _line(view) -> str:
    when = f"finished {view.finished}" if view.finished else f"started {view.started}"
    what = view.error if view.state == "failed" else view.message or ""
    return (
        f"{view.job_id:>5}  {view.kind:<9}{view.state:<12}{view.progress:>5.0%}  "
        f"{view.started_by:<12}{when}  {what}"
    ).rstrip()


def command_jobs(args: argparse.Namespace) -> int:
    from sop_core.jobs import control

    if args.action == "list":
        views = control.list_jobs(args.db, limit=args.limit)
        if args.json:
            print(json.dumps({"jobs": [view.as_json() for view in views]}))
            return 0
        if not views:
            print("No jobs yet.")
        for view in views:
            print(_line(view))
        return 0
    if args.action == "resume":
        resumed = control.resume_interrupted(args.db)
        if args.json:
            print(json.dumps({"resumed": resumed}))
        else:
            print(
                f"Resumed jobs: {', '.join(map(str, resumed))}."
                if resumed
                else "Nothing to resume."
            )
        return 0
    if args.action == "run":
        if args.id is None:
            raise InputError("jobs run needs --id N.")
        from sop_core.jobs.worker import run_job

        with progress_bar(args.quiet) as progress:
            view = run_job(args.db, args.id, echo=progress)
        return _report(args, view)
    if args.kind is None:
        raise InputError(f"jobs start needs a kind: {', '.join(control.KINDS)}.")
    control.check_kind(args.kind)
    job_id, started = control.start(args.db, args.kind, _parameters(args), author(args))
    if not args.wait:
        view = control.get_job(args.db, job_id)
        if args.json:
            print(json.dumps({**view.as_json(), "joined": not started}))
        else:
            how = "started" if started else "already running: joined"
            print(f"Job {job_id} ({args.kind}) {how}.")
        return 0
    with progress_bar(args.quiet) as progress:
        view = control.wait(args.db, job_id, on_progress=progress)
    return _report(args, view)


def _report(args: argparse.Namespace, view) -> int:
    if args.json:
        print(json.dumps(view.as_json()))
    else:
        print(_line(view))
    return EXIT_FAILURE if view.state in ("failed", "interrupted") else 0


# ---- parsers -----------------------------------------------------------------------------------


def add_jobs_parser(commands: argparse._SubParsersAction) -> None:
    jobs = commands.add_parser(
        "jobs",
        help="list, start, run and resume jobs (refresh, backfill, plan, pack)",
        description="Long work runs as a job recorded in the database, in its own process: "
        "closing the dashboard does not stop it, the same job is never started twice, and an "
        "interrupted one is taken up again from what it had stored. Without an action: list "
        'the jobs, newest first (--json: {"jobs": [{"id", "kind", "state", "progress", '
        '"started_by", "started", "finished", "error", ...}]}).',
    )
    jobs.add_argument(
        "action",
        nargs="?",
        default="list",
        choices=("list", "start", "run", "resume"),
        help="list (default), start KIND, run --id N (here), resume",
    )
    jobs.add_argument(
        "kind", nargs="?", default=None, help="with start: refresh, backfill, plan or pack"
    )
    jobs.add_argument("--db", required=True, type=Path, help="database file")
    jobs.add_argument("--json", action="store_true", help="print JSON")
    jobs.add_argument("--id", type=whole_number(1), default=None, help="with run: the job")
    jobs.add_argument("--limit", type=whole_number(1, 10_000), default=100, help="jobs listed")
    jobs.add_argument("--by", default=None, help="who starts it (the same as --as)")
    add_as_option(jobs)
    jobs.add_argument("--wait", action="store_true", help="with start: wait until it ends")
    jobs.add_argument("--quiet", action="store_true", help="no progress on stderr")
    jobs.add_argument("--horizon", type=WEEKS_AHEAD, default=26, help="weeks forecast/planned")
    jobs.add_argument(
        "--count", type=whole_number(1, 52), default=8, help="backfill: past runs (8)"
    )
    jobs.add_argument(
        "--step", type=whole_number(1, 13), default=2, help="backfill: weeks apart (2)"
    )
    jobs.add_argument("--scenario", default=None, help="plan, pack: saved scenario")
    jobs.add_argument("--out", type=Path, default=None, help="pack: folder to write into")
    jobs.add_argument("--weeks", type=WEEKS_AHEAD, default=26, help="pack: weeks covered (26)")
    jobs.set_defaults(handler=command_jobs)


PARSERS = {"jobs": add_jobs_parser}
"""This group's commands and the functions that add their subparsers."""
