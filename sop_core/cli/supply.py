"""The supply commands: ``plan``, the capacity-constrained production plan for a scenario, and
``capacity`` (list, add, remove), a scenario's capacity changes (extra shifts, shutdowns) as
Supply & capacity keeps them: in the saved scenario, saved through ``store.save_scenario``
with the operations role."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import replace
from pathlib import Path

from sop_core.cli.common import (
    WEEKS_AHEAD,
    add_as_option,
    add_engine_options,
    add_week_range,
    author,
    print_wait,
    progress_bar,
)
from sop_core.data import db
from sop_core.data.errors import InputError


def command_plan(args: argparse.Namespace) -> int:
    from sop_core.demand.fences import is_frozen_warning
    from sop_core.supply import loads
    from sop_core.supply.planning import build_plan

    with progress_bar(args.quiet) as progress:
        plan, chase, result, plan_id = build_plan(
            args.db,
            args.scenario,
            args.horizon,
            jobs=args.jobs,
            progress=progress,
            on_wait=print_wait,
            who=author(args),
        )
    for note in result.warnings:
        if is_frozen_warning(note):  # the scenario's other notes show where it is made
            print(f"warning: {note}", file=sys.stderr)
    weeks = plan.demand.shape[1]
    summary = plan.summary(result.available[:, :weeks])
    peer = chase.summary(result.available[:, :weeks])
    # Both load measures (sop_core.supply.loads) over the next 13 weeks and the weeks planned.
    windows = sorted({min(loads.KPI_WEEKS, weeks), weeks})
    peaks = [loads.peaks(result, plan.hours, plan.overtime, w) for w in windows]
    if args.json:
        print(
            json.dumps(
                {
                    **summary,
                    "plan_id": plan_id,
                    "scenario": args.scenario,
                    "weeks": weeks,
                    "loads": [peak.as_json() for window in peaks for peak in window.values()],
                    "chase_plan": peer,
                }
            )
        )
        return 0
    print(
        f"Plan {plan_id} for {args.scenario or 'the baseline'}, {weeks} weeks: "
        f"{summary['status']}, total cost {summary['total_cost']:,.0f}, unmet "
        f"{summary['unmet_units']:,.0f} units, overtime {summary['overtime_hours']:,.0f} h, "
        f"solved in {summary['seconds']:.2f} s."
    )
    for window in peaks:
        print("; ".join(f"{peak.label}: {peak.shown} ({peak.where})" for peak in window.values()))
    print(
        f"A chase plan on the same data would cost {peer['total_cost']:,.0f} "
        f"({peer['total_cost'] - summary['total_cost']:+,.0f}) with "
        f"{peer['unmet_units']:,.0f} units unmet and {peer['overtime_hours']:,.0f} h overtime."
    )
    return 0


def _capacity_json(stored) -> list[dict]:
    return [
        {
            "number": number,
            "line": change.line,
            "start_week": change.start_week.isoformat() if change.start_week else None,
            "end_week": change.end_week.isoformat() if change.end_week else None,
            "hours": change.hours,
            "reason": change.reason,
            "text": change.describe(),
        }
        for number, change in enumerate(stored.scenario.capacity, start=1)
    ]


def _capacity_list(args: argparse.Namespace) -> int:
    from sop_core.scenario.store import load_scenario

    with db.connect(args.db, on_wait=print_wait) as con:
        stored = load_scenario(con, args.scenario)
    changes = _capacity_json(stored)
    if args.json:
        print(json.dumps({"scenario": args.scenario, "capacity": changes}))
        return 0
    if not changes:
        print(f"{args.scenario}: no capacity changes (the lines' standard hours and the calendar).")
    for change in changes:
        print(f"{change['number']}. {change['text']}")
    return 0


def _week(day: dt.date | None) -> dt.date | None:
    from sop_core.data.calendar import week_start

    return None if day is None else week_start(day)


def _capacity_save(args: argparse.Namespace, edit) -> tuple[object, object]:
    """Load ``--scenario`` (with ``--create``, a new empty one when there is none), apply
    ``edit`` to its capacity changes and save it as the page's scenario bar does; returns the
    stored scenario before and after."""
    from sop_core.data.stores.scenarios import scenario_names
    from sop_core.forecast.runs import latest_run
    from sop_core.scenario.model import Scenario
    from sop_core.scenario.store import create_scenario, load_scenario, save_scenario

    who = author(args)
    with db.connect(args.db, on_wait=print_wait) as con:
        run = latest_run(con)
        exists = args.scenario in scenario_names(con)
        create = getattr(args, "create", False)
        stored = load_scenario(con, args.scenario) if exists or not create else None
    if stored is None:
        scenario = Scenario(args.scenario, capacity=edit([]))
        return None, create_scenario(args.db, scenario, who, run)
    edited = replace(stored.scenario, capacity=edit(list(stored.scenario.capacity)))
    based_on = run if run is not None else stored.based_on_run
    return stored, save_scenario(args.db, stored, edited, who, based_on)


def _capacity_add(args: argparse.Namespace) -> int:
    from sop_core.data.stores import production
    from sop_core.scenario.model import CapacityChange

    if not args.hours:
        raise InputError(
            "Give the hours a week to add (an extra shift, e.g. --hours 16) or to remove (a "
            "shutdown, e.g. --hours -40): 0 h changes nothing, so nothing was added."
        )
    change = CapacityChange(
        args.line,
        _week(args.first_week),
        _week(args.last_week or args.first_week),
        float(args.hours),
        (args.reason or "").strip(),
    ).validated()
    with db.connect(args.db, on_wait=print_wait) as con:
        lines = production.line_names(con)["line"].tolist()
    if args.line not in lines:
        raise InputError(
            f"There is no line called {args.line!r}; the lines are {', '.join(lines)}."
        )
    before, after = _capacity_save(args, lambda changes: [*changes, change])
    made = "" if before is not None else " (a new scenario)"
    if args.json:
        print(json.dumps({"scenario": args.scenario, "capacity": _capacity_json(after)}))
        return 0
    print(
        f"Added to {args.scenario!r}{made} as change {len(after.scenario.capacity)}: "
        f"{change.describe()}."
    )
    return 0


def _capacity_remove(args: argparse.Namespace) -> int:
    removed = []

    def without(changes: list) -> list:
        if not 1 <= args.number <= len(changes):
            raise InputError(
                f"{args.scenario!r} has {len(changes)} capacity change(s); there is no number "
                f"{args.number} (capacity list shows them)."
            )
        removed.append(changes.pop(args.number - 1))
        return changes

    _, after = _capacity_save(args, without)
    if args.json:
        print(json.dumps({"scenario": args.scenario, "capacity": _capacity_json(after)}))
        return 0
    print(f"Removed from {args.scenario!r}: {removed[0].describe()}.")
    return 0


def command_capacity(args: argparse.Namespace) -> int:
    return {"list": _capacity_list, "add": _capacity_add, "remove": _capacity_remove}[args.action](
        args
    )


# ---- parsers -----------------------------------------------------------------------------------


def add_plan_parser(commands: argparse._SubParsersAction) -> None:
    plan = commands.add_parser(
        "plan",
        help="capacity-constrained production plan",
        description="Plan production by SKU, line and week for a scenario's revised targets "
        "(a linear program: make the revised targets within each line's available hours plus "
        "overtime up to a limit, build stock ahead of peaks) and store it.",
    )
    add_engine_options(plan)
    add_as_option(plan)
    plan.add_argument(
        "--scenario",
        default=None,
        help="saved scenario to plan (default: the baseline, the consensus with no levers)",
    )
    plan.add_argument("--horizon", type=WEEKS_AHEAD, default=26, help="weeks to plan (26)")
    plan.add_argument(
        "--json",
        action="store_true",
        help='print {"status", "total_cost", "unmet_units", "overtime_hours", '
        '"max_utilisation", "seconds", "loads", ...}: max_utilisation is the peak planned '
        "load over the weeks planned; loads lists the peak demand load and peak planned load "
        'over the next 13 weeks and the weeks planned ({"measure", "weeks", "peak", "line", '
        '"week"}, the planned load with its "overtime_hours")',
    )
    plan.set_defaults(handler=command_plan)


def add_capacity_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "capacity",
        help="a scenario's capacity changes: list, add, remove (extra shifts, shutdowns)",
        description="Hours added to (an extra shift) or removed from (a shutdown) a line's "
        "weeks, on top of the capacity calendar, kept in a saved scenario as on Supply & "
        "capacity; changing them takes the operations role.",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    for name, help_text in (
        ("list", "the scenario's capacity changes, numbered"),
        ("add", "add a capacity change to the scenario"),
        ("remove", "remove capacity change NUMBER (capacity list) from the scenario"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("--db", required=True, type=Path, help="database file")
        action.add_argument("--scenario", required=True, help="saved scenario")
        if name == "add":
            action.add_argument("--line", required=True, help="production line code")
            add_week_range(action)
            action.add_argument(
                "--hours",
                required=True,
                type=float,
                help="hours a week: + an extra shift, - a shutdown (-168 to 168)",
            )
            action.add_argument("--reason", default="", help="e.g. Saturday shift")
        if name == "remove":
            action.add_argument("number", type=int, help="the change's number (capacity list)")
        if name == "add":
            action.add_argument(
                "--create",
                action="store_true",
                help="no scenario of that name exists: make one holding only this change",
            )
        if name != "list":
            add_as_option(action)
        action.add_argument(
            "--json",
            action="store_true",
            help='print {"scenario", "capacity": [{"number", "line", "start_week", '
            '"end_week", "hours", "reason", "text"}]}',
        )
    parser.set_defaults(handler=command_capacity)


PARSERS = {"plan": add_plan_parser, "capacity": add_capacity_parser}
"""This group's commands and the functions that add their subparsers."""
