"""Who may change what, from the command line: ``users`` (add, list, set-role, deactivate)
and ``audit`` (the trail of every write). Every command that writes acts as ``--as EMAIL``
(default: the operating system's user name); see ``sop_core.data.access``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sop_core.cli.common import add_as_option, author, iso_date
from sop_core.data import access, db
from sop_core.data.stores import audit, users


def command_users(args: argparse.Namespace) -> int:
    who = author(args)
    if args.action == "list":
        access.ready(args.db)
        with db.connect(args.db) as con:
            rows = users.user_rows(con)
        if args.json:
            records = rows.assign(added_at=rows["added_at"].astype(str)).to_dict("records")
            print(json.dumps({"users": records, "single_team": rows.empty}))
            return 0
        if rows.empty:
            print(access.SINGLE_TEAM)
            return 0
        for row in rows.itertuples():
            state = "" if row.active else " (deactivated)"
            print(f"{row.email}\t{row.name or ''}\t{row.role}{state}")
        return 0
    if args.action == "add":
        access.add_user(args.db, args.email, args.role, who, args.name or "")
        print(f"Added {args.email} ({args.role}).")
    elif args.action == "set-role":
        access.set_roles(args.db, args.email, args.role, who)
        print(f"{args.email} now holds: {args.role}.")
    else:
        access.deactivate(args.db, args.email, who)
        print(f"Deactivated {args.email}: they may change nothing now.")
    return 0


def command_audit(args: argparse.Namespace) -> int:
    access.ready(args.db)
    with db.connect(args.db) as con:
        rows = audit.entries(con, args.since, args.who)
    if args.json:
        entries = [
            {
                **{name: row[name] for name in ("who", "action", "object", "scope")},
                "at": str(row["changed_at"]),
                "before": json.loads(row["before"]) if row["before"] else None,
                "after": json.loads(row["after"]) if row["after"] else None,
            }
            for row in rows.to_dict("records")
        ]
        print(json.dumps({"entries": entries}))
        return 0
    if rows.empty:
        print("No changes recorded" + (" in this selection." if args.since or args.who else "."))
    for row in rows.itertuples():
        print(f"{row.changed_at:%Y-%m-%d %H:%M}\t{row.who}\t{row.action}\t{row.object}")
    return 0


# ---- parsers -----------------------------------------------------------------------------------


def add_users_parser(commands: argparse._SubParsersAction) -> None:
    users_parser = commands.add_parser(
        "users",
        help="who may change what: add, list, set-role, deactivate",
        description="The users and their roles (viewer, marketing, demand_planner, operations, "
        "sop_lead, admin; several comma-separated). With no users the product runs in "
        "single-team mode; the first user added must be an admin.",
    )
    actions = users_parser.add_subparsers(dest="action", required=True)
    for name, help_text in (
        ("add", "add a user"),
        ("list", "list the users"),
        ("set-role", "change a user's roles"),
        ("deactivate", "deactivate a user"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("--db", required=True, type=Path, help="database file")
        if name != "list":
            action.add_argument("--email", required=True, help="the user's email")
            add_as_option(action)
        if name in ("add", "set-role"):
            action.add_argument(
                "--role", required=True, help="one role, or several comma-separated"
            )
        if name == "add":
            action.add_argument("--name", default=None, help="their name")
        if name == "list":
            action.add_argument("--json", action="store_true", help="print JSON")
    users_parser.set_defaults(handler=command_users)


def add_audit_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "audit",
        help="the audit trail: who changed what, when",
        description="Every recorded write, oldest first.",
    )
    parser.add_argument("--db", required=True, type=Path, help="database file")
    parser.add_argument("--since", type=iso_date, default=None, help="from this day (YYYY-MM-DD)")
    parser.add_argument("--who", default=None, help="only this person's changes")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=command_audit)


PARSERS = {"users": add_users_parser, "audit": add_audit_parser}
"""This group's commands and the functions that add their subparsers."""
