"""The demand review's commands: ``overrides`` (list, add, undo, import), the consensus
overrides the Demand review page makes, through the same core functions and checks
(``sop_core.demand.consensus``: reason required, the scope's volume never below zero, the
demand planner's role; an overrides file stored whole or not at all)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sop_core.cli.common import (
    EXIT_FAILURE,
    add_as_option,
    add_week_range,
    author,
    issues_json,
    print_notes,
    print_wait,
)
from sop_core.data import access, db
from sop_core.data.errors import InputError


def _forecast(path: Path) -> tuple[dict[str, Any], Any]:
    """The current forecast run (``run_id``, ``history_end``, ...) and its plan base: what
    the Demand review shows and makes overrides on."""
    from sop_core.data.stores import forecast_runs
    from sop_core.demand.plan_base import load_plan_base

    with db.connect(path, on_wait=print_wait) as con:
        run = forecast_runs.latest_forecast_run(con)
        if run is None:
            raise InputError(
                "There is no forecast to override yet: make it first "
                "(python -m sop_core forecast --db PATH)."
            )
        return run, load_plan_base(con, run["run_id"])


def _override_json(row: dict) -> dict:
    def day(value: Any) -> str | None:
        return None if value is None or str(value) in ("NaT", "nan", "None") else str(value)[:10]

    return {
        "id": int(row["override_id"]),
        "scope": row["scope"],
        "level": row["level"],
        "target": row["target"] if isinstance(row["target"], str) else None,
        "first_week": day(row["first_week"]),
        "last_week": day(row["last_week"]),
        "mode": row["mode"],
        "amount": float(row["amount"]),
        "change": row["change"],
        "reason": row["reason"],
        "author": row["author"],
        "created": str(row["created_at"]),
        "units_before": round(float(row["units_before"]), 2),
        "units_after": round(float(row["units_after"]), 2),
        "status": row["status"],
    }


def _list(args: argparse.Namespace) -> int:
    from sop_core.demand.consensus import override_history

    with db.connect(args.db, on_wait=print_wait) as con:
        history = override_history(con)
    if args.in_force:
        history = history[history["status"] == "in force"]
    records = [_override_json(row) for row in history.to_dict("records")]
    if args.json:
        print(json.dumps({"overrides": records}))
        return 0
    if not records:
        print("No overrides" + (" in force" if args.in_force else "") + ": the consensus is "
              "the statistical forecast.")  # fmt: skip
    for r in records:
        print(
            f"{r['id']}\t{r['status']}\t{r['scope']}, {r['first_week']} to {r['last_week']}: "
            f"{r['change']}\t{r['author']}\t{r['reason']}"
        )
    return 0


def _scope(args: argparse.Namespace) -> tuple[str, str | None]:
    for level in ("sku", "family", "brand", "channel"):
        if getattr(args, level) is not None:
            return level, getattr(args, level)
    return "total", None


def _add(args: argparse.Namespace) -> int:
    from sop_core.demand import consensus

    access.check(args.db, author(args), "override")  # as the page: the role before the form
    run, base = _forecast(args.db)
    mode, amount = next(
        (mode, value)
        for mode, value in (("percent", args.percent), ("units", args.units), ("set", args.set))
        if value is not None
    )
    level, target = _scope(args)
    override = consensus.Override(
        level,
        target,
        args.first_week,
        args.last_week or args.first_week,
        mode,
        amount,
        args.reason,
        author=author(args),
    )
    # The Demand review's check before it saves: against the consensus it shows, and a move of
    # more than half the scope's volume asked once (here: --yes).
    before, after = consensus.scope_change(
        base, base.statistical_by_channel, base.consensus_by_channel, override
    )
    if not args.yes and consensus.large_change(before, after):
        raise InputError(
            f"{override.validated().describe()} takes the scope from {before:,.0f} to "
            f"{after:,.0f} units over those weeks, a change of more than "
            f"{consensus.LARGE_CHANGE:.0%}; give --yes if that is meant. Nothing was changed."
        )
    saved = consensus.add_override(
        args.db,
        base,
        base.statistical_by_channel,
        override,
        run_id=run["run_id"],
        cycle=run["history_end"],
    )
    if saved.warning:
        print(f"warning: {saved.warning}", file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {
                    "id": saved.override_id,
                    "units_before": round(saved.units_before, 2),
                    "units_after": round(saved.units_after, 2),
                    "warning": saved.warning,
                }
            )
        )
        return 0
    print(
        f"Override {saved.override_id} saved: {override.validated().describe()}. Over those "
        f"weeks: {saved.units_before:,.0f} -> {saved.units_after:,.0f} units."
    )
    return 0


def _undo(args: argparse.Namespace) -> int:
    from sop_core.demand.consensus import undo_override

    run, _ = _forecast(args.db)
    undo_override(args.db, args.id, author(args), run["history_end"])
    if args.json:
        print(json.dumps({"id": args.id, "status": "undone"}))
    else:
        print(f"Override {args.id} undone (it stays in the history).")
    return 0


def _import(args: argparse.Namespace) -> int:
    from sop_core.data.importer import parse_mapping
    from sop_core.demand.consensus import add_overrides
    from sop_core.demand.override_files import read_overrides

    who = author(args)
    if not args.dry_run:
        access.check(args.db, who, "override")  # refused before the file is read; again on writing
    run, base = _forecast(args.db)
    found = read_overrides(
        args.db, args.file, base, who, mapping=parse_mapping(args.map), confirmed=args.yes
    )
    saved = []
    if found.ok and not args.dry_run:
        saved = add_overrides(
            args.db,
            base,
            base.statistical_by_channel,
            found.overrides,
            run_id=run["run_id"],
            cycle=run["history_end"],
        )
    report = found.report
    if args.json:
        print(
            json.dumps(
                {
                    "ok": found.ok,
                    "written": bool(saved),
                    "file": report.file_name,
                    "rows_in_file": report.rows_in_file,
                    "overrides": [
                        {
                            "id": item.override_id,
                            "scope": override.scope_text(),
                            "change": override.describe(),
                            "units_before": round(item.units_before, 2),
                            "units_after": round(item.units_after, 2),
                        }
                        for item, override in zip(saved, found.overrides, strict=False)
                    ],
                    "checked": len(found.overrides) if found.ok else 0,
                    "columns": report.columns,
                    "issues": issues_json(report.issues),
                }
            )
        )
    else:
        print_notes(report.issues)
    for item in saved:
        if item.warning:
            print(f"warning: {item.warning}", file=sys.stderr)
    if not found.ok:
        # One line per problem (each bad row is its own), each saying nothing was written.
        for issue in report.errors:
            print(
                f"error: {report.file_name}: {issue.text()}; nothing was written.", file=sys.stderr
            )
        return EXIT_FAILURE
    if not args.json:
        if args.dry_run:
            print(f"{found.summary()} (dry run: nothing written)")
        else:
            ids = ", ".join(str(item.override_id) for item in saved)
            print(f"{report.file_name}: {len(saved):,} override(s) saved ({ids}).")
    return 0


def command_overrides(args: argparse.Namespace) -> int:
    return {"list": _list, "add": _add, "undo": _undo, "import": _import}[args.action](args)


# ---- parsers -----------------------------------------------------------------------------------


def add_overrides_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "overrides",
        help="consensus overrides: list, add, undo, import a file",
        description="The team's changes to the statistical forecast, as on the Demand review: "
        "a scope (the total, a family, a brand, a channel or a SKU), weeks, a change in %, in "
        "units per week to add or to set, and a reason. Writing takes the demand planner's "
        "role; an override is never deleted, undo marks it undone.",
    )
    actions = parser.add_subparsers(dest="action", required=True)

    listed = actions.add_parser("list", help="every override, newest first, with its status")
    listed.add_argument("--db", required=True, type=Path, help="database file")
    listed.add_argument("--in-force", action="store_true", help="only those in force")
    listed.add_argument(
        "--json",
        action="store_true",
        help='print {"overrides": [{"id", "scope", "level", "target", "first_week", '
        '"last_week", "mode", "amount", "change", "reason", "author", "created", '
        '"units_before", "units_after", "status"}]}',
    )

    add = actions.add_parser(
        "add",
        help="add an override on the current forecast",
        description="Add a consensus override. A change in units is spread over the scope's "
        "SKUs and channels in proportion to the statistical forecast. A change that moves the "
        "scope's volume by more than half needs --yes (the page asks too).",
    )
    add.add_argument("--db", required=True, type=Path, help="database file")
    scope = add.add_mutually_exclusive_group()
    scope.add_argument("--sku", default=None, help="a SKU")
    scope.add_argument("--family", default=None, help="a family")
    scope.add_argument("--brand", default=None, help="a brand")
    scope.add_argument("--channel", default=None, help="a channel (none of these: the total)")
    add_week_range(add)
    change = add.add_mutually_exclusive_group(required=True)
    change.add_argument("--percent", type=float, default=None, help="change by %% (+10, -5)")
    change.add_argument("--units", type=float, default=None, help="units per week to add")
    change.add_argument("--set", type=float, default=None, help="units per week to set")
    add.add_argument("--reason", required=True, help="why (required)")
    add.add_argument("--yes", action="store_true", help="confirm a change of more than half")
    add_as_option(add)
    add.add_argument("--json", action="store_true", help='print {"id", "units_before", ...}')

    undo = actions.add_parser("undo", help="mark an override undone")
    undo.add_argument("--db", required=True, type=Path, help="database file")
    undo.add_argument("id", type=int, help="the override's number (overrides list)")
    add_as_option(undo)
    undo.add_argument("--json", action="store_true", help='print {"id", "status"}')

    imported = actions.add_parser(
        "import",
        help="add the overrides of a CSV or Excel file, all or none",
        description="Read an overrides file (sku or family; first_week (or week) and "
        "optional last_week; one change: percent, units or set_units; reason) through the "
        "importer's checks and the Demand review's, and store every override in one "
        "transaction. Any bad row: nothing is written, each bad row is listed with its line "
        "on stderr and the exit code is 1.",
    )
    imported.add_argument("--db", required=True, type=Path, help="database file")
    imported.add_argument("file", type=Path, help="CSV or Excel (.xlsx) overrides file")
    imported.add_argument(
        "--map", default=None, metavar="TARGET=SOURCE,...", help="column mapping, as for import"
    )
    imported.add_argument("--dry-run", action="store_true", help="check only; write nothing")
    imported.add_argument(
        "--yes", action="store_true", help="confirm rows that change a scope by more than half"
    )
    add_as_option(imported)
    imported.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=command_overrides)


PARSERS = {"overrides": add_overrides_parser}
"""This group's commands and the functions that add their subparsers."""
