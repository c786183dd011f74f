"""The scenario commands: ``import-plan`` (marketing's promotion and price plan as a
scenario), ``targets`` (revised targets by SKU and week) and ``holdout`` (how much a
plan improves the targets, measured on the company's own history).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sop_core.cli.common import (
    EXIT_FAILURE,
    add_as_option,
    add_bucket_option,
    author,
    issues_json,
    print_notes,
    print_wait,
    progress_bar,
    whole_number,
    worker_count,
)
from sop_core.data import db
from sop_core.data.errors import InputError
from sop_core.data.export import check_out_file, check_out_folder
from sop_core.data.stores.scenarios import scenario_names
from sop_core.forecast.runs import latest_run


def _print_plan_errors(report: Any) -> None:
    """A plan file's errors on stderr: the summary, then up to 20 problems."""
    print(f"error: {report.summary()}", file=sys.stderr)
    for issue in report.report.errors[:20]:
        print(f"  {issue.text()}", file=sys.stderr)


def command_import_plan(args: argparse.Namespace) -> int:
    from sop_core.data.importer import parse_mapping
    from sop_core.scenario.model import checked_cannibalisation
    from sop_core.scenario.plan_files import read_plan
    from sop_core.scenario.store import create_scenario, load_scenario, save_scenario

    if args.cannibalisation is not None:
        checked_cannibalisation(args.cannibalisation)
    plan = read_plan(args.db, args.file, mapping=parse_mapping(args.map))
    result = {
        "ok": plan.ok,
        "written": False,
        "scenario": args.scenario,
        "file": plan.report.file_name,
        "rows_in_file": plan.report.rows_in_file,
        "rows_used": plan.rows_used,
        "scope": plan.scope,
        "levers": len(plan.levers),
        "columns": plan.report.columns,
        "issues": issues_json(plan.issues),
        "rows_by_scope": plan.rows_by_scope,
        "overlaps": [overlap.as_dict() for overlap in plan.overlaps],
    }
    if plan.ok and not args.dry_run:
        user = author(args)
        scenario = plan.scenario(args.scenario, args.cannibalisation)
        with db.connect(args.db, on_wait=print_wait) as con:
            run = latest_run(con)
            exists = args.scenario in scenario_names(con)
            stored = load_scenario(con, args.scenario) if exists else None
        if stored is None:
            create_scenario(args.db, scenario, user, run, plan_file=plan.report.file_name)
        elif not args.replace:
            raise InputError(
                f"A scenario called {args.scenario!r} exists; give --replace to replace its "
                "levers with the plan's (its effect overrides and capacity changes stay)."
            )
        else:
            scenario.overrides = stored.scenario.overrides
            scenario.capacity = stored.scenario.capacity
            if args.cannibalisation is None:
                scenario.cannibalisation = stored.scenario.cannibalisation
            save_scenario(args.db, stored, scenario, user, run, plan_file=plan.report.file_name)
        result["written"] = True
    if args.json:
        print(json.dumps(result))
    else:
        print_notes(plan.issues)
    if not plan.ok:
        _print_plan_errors(plan)
        return EXIT_FAILURE
    if not args.json:
        done = (
            "dry run: nothing written" if args.dry_run else f"saved as scenario {args.scenario!r}"
        )
        print(f"{plan.summary()} ({done})")
    return 0


def _outside_history_json(outside: Any) -> dict:
    """``targets --json``'s ``outside_history``: the counts, and one row per SKU-week."""
    return {
        "sku_weeks": len(outside),
        "skus": int(outside["sku"].nunique()),
        "rows": [
            {
                "sku": sku,
                "week": f"{week:%Y-%m-%d}",
                "outside_history": True,
                "band_widening": round(float(widening), 3),
            }
            for sku, week, widening in zip(
                outside["sku"], outside["week"], outside["band_widening"], strict=True
            )
        ],
    }


def command_targets(args: argparse.Namespace) -> int:
    from sop_core.data.importer import parse_mapping
    from sop_core.data.stores import master
    from sop_core.scenario.targets import (
        PlanFileError,
        bucketed_targets,
        compute_targets,
        targets_cover,
        targets_file_name,
        targets_label,
        write_targets,
    )

    # --out FILE is written as given; a folder (or no --out: here) gets the file named
    # after the targets and their first week.
    folder = Path.cwd() if args.out is None else args.out if args.out.is_dir() else None
    if folder is None:
        check_out_file(args.out)
    else:
        check_out_folder(folder)
    if args.plan is not None and not args.plan.is_file():
        raise InputError(f"There is no plan file at {args.plan}.")
    try:
        targets = compute_targets(
            args.db,
            scenario=args.scenario,
            plan=args.plan,
            plan_of_record=args.plan_of_record,
            mapping=parse_mapping(args.map),
            horizon=args.horizon,
            cannibalisation=args.cannibalisation,
        )
    except PlanFileError as error:
        _print_plan_errors(error.report)
        return EXIT_FAILURE
    weekly = targets.frame
    with db.connect(args.db) as con:
        calendar = master.fiscal_calendar(con)
    frame = bucketed_targets(weekly, args.bucket, calendar)
    out = args.out
    if folder is not None:
        name = targets_file_name(
            targets_label(targets), weekly["week"].min(), args.format or "csv", args.bucket
        )
        out = folder / name
    kind = args.format or ("xlsx" if out.suffix.lower() == ".xlsx" else None)
    cover = (
        targets_cover(args.db, targets.source, targets.run_id, author(args), args.bucket)
        if kind == "xlsx"
        else None
    )
    rows = write_targets(frame, out, args.format, cover)
    for note in targets.notes:
        print(f"warning: {note}", file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {
                    "out": str(out),
                    "rows": rows,
                    "skus": int(frame["sku"].nunique()),
                    "weeks": int(weekly["week"].nunique()),
                    "bucket": args.bucket,
                    "periods": int(frame[args.bucket].nunique()),
                    "source": targets.source,
                    "run_id": targets.run_id,
                    "baseline": round(float(frame["baseline"].sum()), 2),
                    "revised": round(float(frame["revised"].sum()), 2),
                    "revenue": round(float(frame["revenue"].sum()), 2),
                    "margin": round(float(frame["margin"].sum()), 2),
                    "notes": targets.notes,
                    # The SKU-weeks whose price or promotion lever is outside what the history
                    # has seen: their 80% band is widened (sop_core.scenario.levers).
                    "outside_history": _outside_history_json(targets.outside_history),
                }
            )
        )
        return 0
    change = frame["revised"].sum() - frame["baseline"].sum()
    print(
        f"Wrote {rows:,} targets ({frame['sku'].nunique():,} SKUs x "
        f"{_periods(frame, args.bucket)}) of the {targets.source} to {out}: revised "
        f"{frame['revised'].sum():,.0f} units, {change:+,.0f} against the baseline."
    )
    outside = targets.outside_history
    if len(outside):
        print(
            f"warning: {len(outside):,} SKU-weeks ({outside['sku'].nunique():,} SKUs) have a "
            "price or promotion lever outside what their history has seen: those targets are "
            "a guess and their 80% band is widened (--json lists them under outside_history).",
            file=sys.stderr,
        )
    return 0


def _periods(frame, bucket: str) -> str:
    """``26 weeks``, ``7 months``: how many periods a targets frame spans."""
    count = frame[bucket].nunique()
    return f"{count} {bucket}" + ("" if count == 1 else "s")


def command_holdout(args: argparse.Namespace) -> int:
    import tempfile

    from sop_core.scenario.holdout import plan_holdout

    with (
        tempfile.TemporaryDirectory(prefix="sop-holdout-") as folder,
        progress_bar(args.quiet) as progress,
    ):
        figures = plan_holdout(
            args.db,
            folder,
            args.weeks,
            cannibalisation=args.cannibalisation,
            jobs=args.jobs,
            progress=progress,
        )
    figures.pop("plan_file")
    if args.json:
        print(json.dumps(figures))
        return 0
    print(
        f"Held out {args.weeks} weeks after {figures['history_end']}: {figures['plan_rows']:,} "
        f"plan rows ({figures['levers']:,} levers) over {figures['skus']} SKUs."
    )
    for name in ("promoted", "unpromoted"):
        print(
            f"{name.capitalize():>11} SKU-weeks ({figures[f'{name}_sku_weeks']:,}): WAPE "
            f"baseline {figures[f'wape_{name}_baseline']:.1%}, with the plan "
            f"{figures[f'wape_{name}_revised']:.1%} ({-figures[f'{name}_reduction']:+.0%})."
        )
    return 0


def scenario_json(stored: Any) -> dict:
    """A saved scenario as ``scenario show --json`` prints it: its levers, effect overrides and
    capacity changes, each with the page's one-line description."""
    scenario = stored.scenario
    definition = json.loads(scenario.to_json())
    return {
        "name": scenario.name,
        "status": stored.status,
        "version": stored.version,
        "owner": stored.owner,
        "based_on_run": stored.based_on_run,
        "created": str(stored.created_at),
        "updated": str(stored.updated_at),
        "updated_by": stored.updated_by,
        "cannibalisation": scenario.cannibalisation,
        "levers": [
            {**item, "text": lever.describe()}
            for item, lever in zip(definition["levers"], scenario.levers, strict=True)
        ],
        "overrides": [
            {**item, "text": override.describe()}
            for item, override in zip(definition["overrides"], scenario.overrides, strict=True)
        ],
        "capacity": [
            {"number": number, **item, "text": change.describe()}
            for number, (item, change) in enumerate(
                zip(definition["capacity"], scenario.capacity, strict=True), start=1
            )
        ],
    }


def _stored(path: Path, name: str) -> Any:
    from sop_core.scenario.store import load_scenario

    with db.connect(path, on_wait=print_wait) as con:
        return load_scenario(con, name)


def _scenario_list(args: argparse.Namespace) -> int:
    from sop_core.scenario.store import list_scenarios, load_scenario

    with db.connect(args.db, on_wait=print_wait) as con:
        rows = list_scenarios(con)
        stored = {name: load_scenario(con, name) for name in rows["name"]}
    records = [
        {
            "name": row["name"],
            "levers": len(stored[row["name"]].scenario.levers),
            "created": str(row["created_at"]),
            "updated": str(row["updated_at"]),
            "author": row["owner"],
            "updated_by": row["updated_by"],
            "status": row["status"],
            "version": int(row["version"]),
            "capacity_changes": len(stored[row["name"]].scenario.capacity),
        }
        for row in rows.to_dict("records")
    ]
    if args.json:
        print(json.dumps({"scenarios": records}))
        return 0
    if not records:
        print("No saved scenarios: make one on Promotions & pricing, or with import-plan.")
    for r in records:
        print(
            f"{r['name']}\t{r['status']}\t{r['levers']} lever(s), {r['capacity_changes']} "
            f"capacity change(s)\tby {r['author']}\tsaved {r['updated'][:16]} by {r['updated_by']}"
        )
    return 0


def _scenario_show(args: argparse.Namespace) -> int:
    shown = scenario_json(_stored(args.db, args.name))
    if args.json:
        print(json.dumps(shown))
        return 0
    print(
        f"{shown['name']} ({shown['status']}, version {shown['version']}, by {shown['owner']}; "
        f"saved {shown['updated'][:16]} by {shown['updated_by']}); cannibalisation "
        f"{shown['cannibalisation']:.0%}"
    )
    for title, key in (
        ("Levers", "levers"),
        ("Effect overrides", "overrides"),
        ("Capacity changes", "capacity"),
    ):
        items = shown[key]
        print(f"{title}: {'none' if not items else len(items)}")
        for number, item in enumerate(items, start=1):
            print(f"  {number}. {item['text']}")
    return 0


def _scenario_copy(args: argparse.Namespace) -> int:
    from sop_core.scenario.store import duplicate_scenario

    copy = duplicate_scenario(args.db, args.name, args.new, author(args))
    if args.json:
        print(json.dumps(scenario_json(copy)))
        return 0
    print(
        f"Copied {args.name!r} to {copy.scenario.name!r} ({len(copy.scenario.levers)} lever(s), "
        f"{len(copy.scenario.capacity)} capacity change(s))."
    )
    return 0


def _scenario_rename(args: argparse.Namespace) -> int:
    from sop_core.scenario.store import rename_scenario

    renamed = rename_scenario(args.db, _stored(args.db, args.name), args.new, author(args))
    if args.json:
        print(json.dumps(scenario_json(renamed)))
        return 0
    print(f"Renamed {args.name!r} to {renamed.scenario.name!r}.")
    return 0


def _scenario_delete(args: argparse.Namespace) -> int:
    from sop_core.scenario.store import delete_scenario

    delete_scenario(args.db, _stored(args.db, args.name), author(args))
    if args.json:
        print(json.dumps({"deleted": args.name}))
        return 0
    print(f"Deleted the scenario {args.name!r}.")
    return 0


def command_scenario(args: argparse.Namespace) -> int:
    return {
        "list": _scenario_list,
        "show": _scenario_show,
        "copy": _scenario_copy,
        "rename": _scenario_rename,
        "delete": _scenario_delete,
    }[args.action](args)


# ---- parsers -----------------------------------------------------------------------------------


def add_import_plan_parser(commands: argparse._SubParsersAction) -> None:
    planfile = commands.add_parser(
        "import-plan",
        help="import marketing's promotion and price plan as a scenario",
        description="Read a promotion and price plan (CSV or Excel: week; scope columns sku, "
        "family, brand, channel, each row for its most specific non-empty one (none: the "
        "total), the more specific row winning where two meet on a SKU-week; discount 0-0.9, "
        "optional share of distribution 0-1, feature and display 0-1, optional net price for "
        "SKU rows: without a discount it sets the price from its week until the SKU's next "
        "price row, or its optional until week) through the importer's checks, and save it "
        "as a scenario's levers. A net price that disagrees with the week's list price less "
        "the discount is reported. --json adds rows_by_scope and overlaps. Any error: "
        "nothing is saved, the problems go to stderr and the exit code is 1.",
    )
    planfile.add_argument("--db", required=True, type=Path, help="database file")
    planfile.add_argument("--scenario", required=True, help="scenario to save the levers in")
    planfile.add_argument("file", type=Path, help="CSV or Excel (.xlsx) plan file")
    planfile.add_argument(
        "--map", default=None, metavar="TARGET=SOURCE,...", help="column mapping, as for import"
    )
    planfile.add_argument(
        "--replace", action="store_true", help="replace the levers of an existing scenario"
    )
    planfile.add_argument(
        "--cannibalisation",
        type=float,
        default=None,
        help="share of a promotion's extra volume taken from its family (default 0.3)",
    )
    planfile.add_argument("--dry-run", action="store_true", help="check only; save nothing")
    planfile.add_argument("--author", default=None, help="who imports (the same as --as)")
    add_as_option(planfile)
    planfile.add_argument("--json", action="store_true", help="print the report as JSON")
    planfile.set_defaults(handler=command_import_plan)


def add_targets_parser(commands: argparse._SubParsersAction) -> None:
    targets = commands.add_parser(
        "targets",
        help="write the revised targets by SKU and week (CSV or Excel)",
        description="Write sku, week, baseline, revised, lower_80, upper_80, then name, "
        "family, brand, revenue, margin for the next --horizon weeks of the current "
        "forecast: the baseline (consensus) with the levers of a saved --scenario or of a "
        "--plan file applied through the fitted driver effects (the Promotions page's "
        "maths), or the frozen targets of a --plan-of-record. Without --out, or with a "
        "folder, the file is named after the targets and their first week "
        "(targets-black-friday-2026-11-30.csv).",
    )
    targets.add_argument("--db", required=True, type=Path, help="database file")
    source = targets.add_mutually_exclusive_group()
    source.add_argument("--scenario", default=None, help="saved scenario")
    source.add_argument("--plan", type=Path, default=None, help="promotion and price plan file")
    source.add_argument(
        "--plan-of-record",
        type=whole_number(0),
        nargs="?",
        const=0,
        default=None,
        metavar="VERSION",
        help="an approved plan of record (no version: the latest)",
    )
    targets.add_argument(
        "--horizon",
        type=whole_number(1),
        default=None,
        help="weeks (26; a plan of record: all its frozen weeks)",
    )
    targets.add_argument(
        "--out",
        type=Path,
        default=None,
        help="file to write (.csv, .xlsx), or a folder to write "
        "targets-<scenario>-<first week>.csv into (default: the current folder)",
    )
    targets.add_argument("--format", choices=["csv", "xlsx"], default=None)
    targets.add_argument(
        "--author", default=None, help="who makes the file, on a workbook's cover ($USER)"
    )
    targets.add_argument(
        "--map", default=None, metavar="TARGET=SOURCE,...", help="plan file column mapping"
    )
    targets.add_argument(
        "--cannibalisation",
        type=float,
        default=None,
        help="share of a promotion's extra volume taken from its family (default: the "
        "scenario's, 0.3 for a plan file)",
    )
    add_bucket_option(targets)
    targets.add_argument("--json", action="store_true", help="print a summary as JSON")
    targets.set_defaults(handler=command_targets)


def add_holdout_parser(commands: argparse._SubParsersAction) -> None:
    holdout = commands.add_parser(
        "holdout",
        help="measure how much a promotion plan improves the targets, on your history",
        description="Hold out the last --weeks weeks, forecast from the history before them "
        "with a promotion calendar that does not know them, give the engine the promotions "
        "that really ran as a plan file, and report the WAPE of the baseline and of the "
        "revised targets on promoted and unpromoted SKU-weeks. Works on a copy; the "
        "database is only read.",
    )
    holdout.add_argument("--db", required=True, type=Path, help="database file")
    holdout.add_argument("--weeks", type=whole_number(1), default=26, help="weeks held out (26)")
    holdout.add_argument(
        "--cannibalisation",
        type=float,
        default=None,
        help="share of a promotion's extra volume taken from its family (default 0.3)",
    )
    holdout.add_argument("--jobs", type=worker_count, default=None, help="worker processes")
    holdout.add_argument("--json", action="store_true", help="print the figures as JSON")
    holdout.add_argument("--quiet", action="store_true", help="no progress on stderr")
    holdout.set_defaults(handler=command_holdout)


def add_scenario_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "scenario",
        help="saved scenarios: list, show, copy, rename, delete",
        description="The saved scenarios of Promotions & pricing and Supply & capacity: list "
        "them, show one's levers, effect overrides and capacity changes, and copy, rename or "
        "delete one (marketing's role), as the page's scenario bar does.",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    for name, help_text, arguments in (
        ("list", "every saved scenario, the last changed first", ()),
        ("show", "a scenario's levers and capacity changes", ("name",)),
        ("copy", "copy a scenario's levers and effect overrides", ("name", "new")),
        ("rename", "rename a scenario", ("name", "new")),
        ("delete", "delete a scenario", ("name",)),
    ):
        action = actions.add_parser(name, help=help_text, description=help_text[:1].upper()
                                    + help_text[1:] + ".")  # fmt: skip
        action.add_argument("--db", required=True, type=Path, help="database file")
        if "name" in arguments:
            action.add_argument("name", help="the scenario")
        if "new" in arguments:
            action.add_argument("new", help="the new name")
        if name not in ("list", "show"):
            add_as_option(action)
        action.add_argument(
            "--json",
            action="store_true",
            help='print {"scenarios": [{"name", "levers", "created", "updated", "author", ...}]}'
            if name == "list"
            else "print JSON",
        )
    parser.set_defaults(handler=command_scenario)


PARSERS = {
    "import-plan": add_import_plan_parser,
    "scenario": add_scenario_parser,
    "targets": add_targets_parser,
    "holdout": add_holdout_parser,
}
"""This group's commands and the functions that add their subparsers."""
