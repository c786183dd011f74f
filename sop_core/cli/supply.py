"""The supply command: ``plan``, the capacity-constrained production plan for a scenario."""

from __future__ import annotations

import argparse
import json
import sys

from sop_core.cli.common import (
    WEEKS_AHEAD,
    add_as_option,
    add_engine_options,
    author,
    print_wait,
    progress_bar,
)


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


PARSERS = {"plan": add_plan_parser}
"""This group's commands and the functions that add their subparsers."""
