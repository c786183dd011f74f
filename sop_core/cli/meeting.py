"""The meeting's commands: ``approve`` (the plan of record), ``plans`` (its versions),
``decisions`` (the decisions and assumptions log) and ``pack`` (the meeting pack: Excel
workbook, HTML report, PDF), through the core functions Plan & decisions uses."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from sop_core.cli.common import (
    WEEKS_AHEAD,
    add_as_option,
    add_bucket_option,
    author,
    iso_date,
    print_wait,
    progress_bar,
    whole_number,
)
from sop_core.data import db
from sop_core.data.errors import InputError


def command_pack(args: argparse.Namespace) -> int:
    from sop_core.data.export import check_out_folder
    from sop_core.meeting.pack import build_pack

    check_out_folder(args.out)
    started = time.perf_counter()
    with progress_bar(args.quiet) as progress:
        files = build_pack(
            args.db,
            args.out,
            args.scenario,
            weeks=args.weeks,
            progress=progress,
            author=author(args),
            bucket=args.bucket,
        )
    for kind, path in files.items():
        print(f"{kind}: {path}")
    if "pdf" not in files:
        print("pdf: not made (Chromium is not installed); the HTML report opens in any browser")
    print(f"Meeting pack written in {time.perf_counter() - started:.1f} s.")
    return 0


def command_approve(args: argparse.Namespace) -> int:
    from sop_core.meeting.plan_of_record import approve

    done = approve(args.db, args.scenario, author(args), note=args.note or "", weeks=args.weeks)
    if args.json:
        print(
            json.dumps(
                {
                    "version": done.plan_version,
                    "scenario": done.scenario,
                    "weeks": done.weeks,
                    "volume": round(done.volume, 2),
                    "revenue": round(done.revenue, 2),
                    "margin": round(done.margin, 2),
                    "unmet_units": round(done.unmet_units, 2),
                    "overtime_hours": round(done.overtime_hours, 2),
                    "max_utilisation": round(done.max_utilisation, 4),
                }
            )
        )
        return 0
    print(
        f"Plan of record version {done.plan_version} approved: {done.scenario}, {done.weeks} "
        f"weeks, {done.volume:,.0f} units, revenue {done.revenue:,.0f}, margin "
        f"{done.margin:,.0f}; unmet {done.unmet_units:,.0f} units, overtime "
        f"{done.overtime_hours:,.0f} h, peak load {done.max_utilisation:.0%}."
    )
    return 0


def _plan_json(row: dict) -> dict:
    return {
        "version": int(row["plan_version"]),
        "scenario": row["scenario"],
        "approved_by": row["approved_by"],
        "approved_at": str(row["approved_at"]),
        "note": row["note"] if isinstance(row["note"], str) else None,
        "run_id": int(row["run_id"]),
        "weeks": int(row["weeks"]),
        "volume": round(float(row["volume"]), 2),
        "revenue": round(float(row["revenue"]), 2),
        "margin": round(float(row["margin"]), 2),
    }


def _plans_list(args: argparse.Namespace) -> int:
    from sop_core.data.stores import plans_of_record

    with db.connect(args.db, on_wait=print_wait) as con:
        rows = plans_of_record.plans_of_record(con)
    records = [_plan_json(row) for row in rows.to_dict("records")]
    if args.json:
        print(json.dumps({"plans": records}))
        return 0
    if not records:
        print("No plan of record approved yet (approve --scenario NAME makes the first).")
    for r in records:
        note = f"\t{r['note']}" if r["note"] else ""
        print(
            f"v{r['version']}\t{r['approved_at'][:16]}\t{r['approved_by']}\t{r['scenario']}\t"
            f"{r['weeks']} weeks, {r['volume']:,.0f} units{note}"
        )
    return 0


def _plans_show(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from sop_core.data.stores import plans_of_record
    from sop_core.meeting.plan_of_record import verify

    with db.connect(args.db, on_wait=print_wait) as con:
        record = plans_of_record.plan_of_record(con, args.version)
        if record is None:
            raise InputError(
                "No plan of record approved yet."
                if args.version is None
                else f"There is no plan of record version {args.version}."
            )
        intact = verify(con, record.plan_version)
    fields: dict[str, Any] = asdict(record)
    shown = {
        "version": record.plan_version,
        **{k: v for k, v in fields.items() if k not in ("plan_version", "definition", "overrides")},
        "approved_at": str(record.approved_at),
        "history_end": str(record.history_end),
        "definition": json.loads(record.definition) if record.definition else None,
        "overrides": json.loads(record.overrides) if record.overrides else [],
        "intact": intact,
    }
    if args.json:
        print(json.dumps(shown))
        return 0
    print(
        f"Plan of record version {record.plan_version}: {record.scenario}, approved by "
        f"{record.approved_by} at {record.approved_at:%Y-%m-%d %H:%M}"
        + (f" ({record.note})" if record.note else "")
    )
    print(
        f"Forecast run {record.run_id} (history to {record.history_end}), {record.weeks} weeks: "
        f"{record.volume:,.0f} units, revenue {record.revenue:,.0f}, margin {record.margin:,.0f}; "
        f"unmet {record.unmet_units:,.0f} units, overtime {record.overtime_hours:,.0f} h, peak "
        f"load {record.max_utilisation:.0%}."
    )
    levers = len((shown["definition"] or {}).get("levers", []))
    capacity = len((shown["definition"] or {}).get("capacity", []))
    print(
        f"{levers} lever(s), {capacity} capacity change(s), {len(shown['overrides'])} "
        "override(s) in force."
    )
    print(
        "Unchanged since approval (SHA-256 verified)."
        if intact
        else "WARNING: its rows differ from what was approved."
    )
    return 0


def command_plans(args: argparse.Namespace) -> int:
    return {"list": _plans_list, "show": _plans_show}[args.action](args)


def _decision_json(row: dict) -> dict:
    due = row["due_date"]
    return {
        "number": int(row["decision_id"]),
        "kind": row["kind"],
        "text": row["text"],
        "owner": row["owner"],
        "due": None if due is None or str(due) in ("NaT", "nan") else str(due)[:10],
        "scenario": row["scenario"] if isinstance(row["scenario"], str) else None,
        "status": row["status"],
        "state": row["state"],
        "version": int(row["version"]),
        "created_by": row["created_by"],
        "updated_by": row["updated_by"],
        "updated_at": str(row["updated_at"]),
    }


def _decisions(path: Path) -> list[dict]:
    from sop_core.meeting.decisions import decision_log

    with db.connect(path, on_wait=print_wait) as con:
        return [_decision_json(row) for row in decision_log(con).to_dict("records")]


def _decisions_list(args: argparse.Namespace) -> int:
    items = _decisions(args.db)
    if args.open:
        items = [item for item in items if item["status"] == "open"]
    if args.json:
        print(json.dumps({"decisions": items}))
        return 0
    if not items:
        print("Nothing recorded yet.")
    for i in items:
        due = f"\tdue {i['due']}" if i["due"] else ""
        print(f"{i['number']}\t{i['kind']}\t{i['state']}\t{i['owner']}{due}\t{i['text']}")
    return 0


def _decisions_add(args: argparse.Namespace) -> int:
    from sop_core.meeting.decisions import add_item

    number = add_item(
        args.db,
        args.kind,
        args.text,
        args.owner,
        author(args),
        due_date=args.due,
        scenario=args.scenario,
    )
    if args.json:
        print(json.dumps({"number": number}))
        return 0
    print(f"Recorded {args.kind} {number}.")
    return 0


def _decisions_close(args: argparse.Namespace) -> int:
    from sop_core.meeting.decisions import set_status

    # The version this command read: a change by someone else in between is not overwritten.
    item = next((i for i in _decisions(args.db) if i["number"] == args.number), None)
    if item is None:
        raise InputError(f"There is no item number {args.number}.")
    set_status(args.db, args.number, args.status, author(args), item["version"])
    if args.json:
        print(json.dumps({"number": args.number, "status": args.status}))
        return 0
    print(f"Item {args.number} is now {args.status}.")
    return 0


def command_decisions(args: argparse.Namespace) -> int:
    return {"list": _decisions_list, "add": _decisions_add, "close": _decisions_close}[args.action](
        args
    )


# ---- parsers -----------------------------------------------------------------------------------


def add_pack_parser(commands: argparse._SubParsersAction) -> None:
    pack = commands.add_parser(
        "pack",
        help="write the meeting pack (Excel workbook, HTML report, PDF)",
        description="Write the meeting pack: the latest plan of record as frozen (with "
        "--scenario: that scenario planned on today's forecast; with nothing approved: the "
        "baseline): an Excel workbook with a cover, the summary, the targets by SKU x week, "
        "production and capacity by line x week and the decisions; a self-contained HTML "
        "report with the charts as pictures (it opens offline); and a PDF of it where "
        "Chromium is installed, on A4 or Letter (SOP_PAPER_SIZE).",
    )
    pack.add_argument("--db", required=True, type=Path, help="database file")
    pack.add_argument("--out", required=True, type=Path, help="folder to write into")
    pack.add_argument("--scenario", default=None, help="saved scenario (default: see above)")
    pack.add_argument("--weeks", type=WEEKS_AHEAD, default=26, help="weeks covered (26)")
    pack.add_argument(
        "--author", default=None, help="who makes the pack, on its cover (default: $USER)"
    )
    add_bucket_option(pack)
    pack.add_argument("--quiet", action="store_true", help="no progress on stderr")
    pack.set_defaults(handler=command_pack)


def add_approve_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "approve",
        help="approve a scenario as the next plan of record",
        description="Freeze a saved scenario (none: the baseline) as the next version of the "
        "plan of record, as Plan & decisions does: its production plan is solved on the "
        "current forecast and consensus, and its targets, production and line load are stored, "
        "never changed afterwards. Takes the S&OP lead role; with four-eyes approval on, not "
        "the scenario's author or last saver. Prints the version.",
    )
    parser.add_argument("--db", required=True, type=Path, help="database file")
    parser.add_argument(
        "--scenario", default=None, help="saved scenario to approve (default: the baseline)"
    )
    parser.add_argument("--note", default=None, help="a note kept with the version")
    parser.add_argument("--weeks", type=WEEKS_AHEAD, default=26, help="weeks frozen (26)")
    add_as_option(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"version", "scenario", "weeks", "volume", "revenue", "margin", '
        '"unmet_units", "overtime_hours", "max_utilisation"}',
    )
    parser.set_defaults(handler=command_approve)


def add_plans_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "plans",
        help="the plan of record's versions: list, show",
        description="The approved plans of record, newest first, and one version in full "
        "(its totals, levers, overrides in force, and whether its rows are as approved).",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    listed = actions.add_parser("list", help="every version, newest first")
    shown = actions.add_parser("show", help="one version (default: the latest)")
    shown.add_argument(
        "version", type=whole_number(1), nargs="?", default=None, help="version (the latest)"
    )
    for action in (listed, shown):
        action.add_argument("--db", required=True, type=Path, help="database file")
    listed.add_argument(
        "--json",
        action="store_true",
        help='print {"plans": [{"version", "scenario", "approved_by", "approved_at", "note", '
        '"run_id", "weeks", "volume", "revenue", "margin"}]}',
    )
    shown.add_argument("--json", action="store_true", help="print the version as JSON")
    parser.set_defaults(handler=command_plans)


def add_decisions_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "decisions",
        help="the decisions and assumptions log: list, add, close",
        description="The meeting's decisions (an owner and a due date) and assumptions (an "
        "owner and an expiry date), as on Plan & decisions. Writing takes the S&OP lead role.",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    listed = actions.add_parser("list", help="every item, open ones first")
    listed.add_argument("--open", action="store_true", help="only open items")
    add = actions.add_parser("add", help="record a decision or an assumption")
    add.add_argument("text", help="what was decided or assumed")
    add.add_argument("--owner", required=True, help="who owns it")
    add.add_argument("--kind", choices=["decision", "assumption"], default="decision")
    add.add_argument(
        "--due",
        type=iso_date,
        default=None,
        metavar="DATE",
        help="due date (a decision) or expiry date (an assumption: required)",
    )
    add.add_argument("--scenario", default=None, help="the scenario it belongs to")
    close = actions.add_parser("close", help="close (done), drop or reopen an item")
    close.add_argument("number", type=int, help="the item's number (decisions list)")
    close.add_argument(
        "--status", choices=["done", "dropped", "open"], default="done", help="(done)"
    )
    for action in (listed, add, close):
        action.add_argument("--db", required=True, type=Path, help="database file")
        if action is not listed:
            add_as_option(action)
    listed.add_argument(
        "--json",
        action="store_true",
        help='print {"decisions": [{"number", "kind", "text", "owner", "due", "scenario", '
        '"status", "state", "version", ...}]}',
    )
    for action in (add, close):
        action.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=command_decisions)


PARSERS = {
    "pack": add_pack_parser,
    "approve": add_approve_parser,
    "plans": add_plans_parser,
    "decisions": add_decisions_parser,
}
"""This group's commands and the functions that add their subparsers."""
