"""Who may change what: the roles, the writes each role may make, and the check every write
goes through (``require``), in the core so the pages, the CLI and any later API obey the same
rules.

While the ``users`` table is empty the product runs in **single-team mode**: everyone may do
everything, and the sidebar and the CLI say so. The first user added must be an admin; from
then on every write checks that the person making it is an active user holding a role that
may make it. A person may hold several roles.

The CLI acts as ``--as EMAIL`` (default: the operating system's user name). Its checks guard
against mistakes, not against someone who can open the database file: docs/SECURITY.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from sop_core.data import db
from sop_core.data.errors import InputError, SopError
from sop_core.data.stores import audit, users

ROLES = {
    "viewer": "reads everything and exports",
    "marketing": "scenarios, promotion and price levers, plan files",
    "demand_planner": "consensus overrides and forecast refreshes",
    "operations": "the capacity calendar and production plans",
    "sop_lead": "approves the plan of record and keeps the decisions log",
    "admin": "imports, users and settings",
}
ROLE_NAMES = {
    "viewer": "viewer",
    "marketing": "marketing",
    "demand_planner": "demand planner",
    "operations": "operations",
    "sop_lead": "S&OP lead",
    "admin": "admin",
}
"""Each role as people say it (messages and pages; the CLI and the database use the keys)."""
# Every kind of write, and the roles that may make it (an admin only what is an admin's).
WRITES = {
    "scenario": ("marketing",),
    "plan_file": ("marketing",),
    "override": ("demand_planner",),
    "forecast": ("demand_planner",),
    "capacity": ("operations",),
    "production_plan": ("operations",),
    "approve": ("sop_lead",),
    "decision": ("sop_lead",),
    "import": ("admin",),
    "users": ("admin",),
    "settings": ("admin",),
}
SINGLE_TEAM = (
    "Single-team mode: no users are set up, so everyone may change everything. Add the first "
    "user, an admin, to check who changes what (`python -m sop_core users add`)."
)


class AccessDenied(SopError):
    """A write the person making it may not make: nothing was written."""


def checked_roles(roles: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Roles as given ("marketing, demand_planner" or a list), each one known; an unknown
    role, or none, is refused with the known ones named."""
    names = roles.split(",") if isinstance(roles, str) else list(roles)
    cleaned = tuple(
        dict.fromkeys(
            name.strip().lower().replace(" ", "_").replace("s&op_", "sop_")
            for name in names
            if name.strip()
        )
    )
    unknown = [name for name in cleaned if name not in ROLES]
    if unknown or not cleaned:
        problem = f"Unknown role {unknown[0]!r}" if unknown else "No role given"
        raise InputError(f"{problem}: the roles are {', '.join(ROLES)}.")
    return cleaned


def may(user: users.User, write: str) -> bool:
    """Whether ``user`` may make ``write`` (a key of ``WRITES``)."""
    return user.active and any(role in WRITES[write] for role in user.roles)


def require(con: duckdb.DuckDBPyConnection, who: str, write: str) -> users.User | None:
    """Refuse (``AccessDenied``) a ``write`` that ``who`` may not make; the user when they
    may, None in single-team mode (no users yet: everyone may)."""
    if write not in WRITES:
        raise ValueError(f"unknown kind of write {write!r}")
    if users.user_count(con) == 0:
        return None
    user = users.user(con, who)
    if user is None or not may(user, write):
        raise AccessDenied(f"{refusal(user, who, write)} Nothing was changed.")
    return user


def refusal(user: users.User | None, who: str, write: str) -> str:
    """Why ``who`` (the user, None when not an active one) may not make ``write``."""
    if user is None or not user.active:
        return (
            f"{who or 'Nobody'} is not an active user of this database, so may read but not "
            "change anything. An admin adds users (Data page, or `python -m sop_core users add`)."
        )
    allowed = " or ".join(ROLE_NAMES[role] for role in WRITES[write])
    held = ", ".join(ROLE_NAMES.get(role, role) for role in user.roles)
    return (
        f"{user.name or user.email} ({held}) may not change "
        f"{WHAT[write]}: that takes the role {allowed}."
    )


def ready(path: Path | str) -> None:
    """Bring an existing database's schema up to date (the ``users`` and ``audit_log`` tables
    came with version 12), once per file in this process (a file put in its place is checked
    again); a missing file is left for the caller to refuse."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return
    key = (str(Path(path).resolve()), stat.st_dev, stat.st_ino)
    if key not in _READY:
        db.ensure_schema(path)
        _READY.add(key)


_READY: set[tuple[str, int, int]] = set()


def check(path: Path | str, who: str, write: str) -> users.User | None:
    """``require`` on its own, before long work (a forecast, a plan) whose write checks again."""
    ready(path)
    with db.connect(path) as con:
        return require(con, who, write)


@dataclass(frozen=True)
class Write:
    """A checked write in progress: its transaction and who makes it (``actor``)."""

    con: duckdb.DuckDBPyConnection
    actor: str

    def record(
        self, action: str, object_: str, scope: str | None = None, before: Any = None,
        after: Any = None,
    ) -> None:  # fmt: skip
        """Append the write to the audit trail, in its own transaction."""
        audit.append(self.con, self.actor, action, object_, scope, before, after)


@contextmanager
def writing(
    path: Path | str,
    who: str,
    write: str | tuple[str, ...],
    on_wait: db.WaitCallback | None = None,
) -> Iterator[Write]:
    """One transaction for a ``write`` (or several kinds at once) by ``who``: refused
    (``AccessDenied``, nothing written) unless they may make each; the body changes ``con``
    and ``record``s what it did, and the change and its audit row are committed together or
    not at all."""
    kinds = (write,) if isinstance(write, str) else write
    ready(path)
    with db.transaction(path, on_wait=on_wait) as con:
        user = None
        for kind in kinds:
            user = require(con, who, kind)
        yield Write(con, actor(user, who))


def actor(user: users.User | None, who: str) -> str:
    """What a write is recorded as: the user's own email, or ``who`` in single-team mode."""
    return user.email if user is not None else (who or "").strip() or "anonymous"


WHAT = {
    "scenario": "scenarios",
    "plan_file": "plan files",
    "override": "consensus overrides",
    "forecast": "the forecast",
    "capacity": "the capacity calendar",
    "production_plan": "production plans",
    "approve": "the plan of record",
    "decision": "the decisions log",
    "import": "the data (imports)",
    "users": "users",
    "settings": "settings",
}


# ---- managing users (each change checked, and audited in its own transaction) ----------------


def add_user(path: Path | str, email: str, roles: object, by: str, name: str = "") -> None:
    """Add the user ``email`` with ``roles``, as ``by``: in single-team mode the first user
    must be an admin (and ``by`` may be anyone); after that only an admin may add users."""
    email = _checked_email(email)
    chosen = checked_roles(roles)
    with writing(path, by, "users") as write:
        if users.user_count(write.con) == 0 and "admin" not in chosen:
            raise InputError(
                "The first user must be an admin (--role admin): from then on every "
                "change is checked against the roles, and an admin adds the others."
            )
        if users.user(write.con, email) is not None:
            raise InputError(f"{email} is already a user; change their roles with set-role.")
        users.add_user(write.con, email, name.strip(), chosen, write.actor)
        write.record("users add", email, after={"name": name, "roles": chosen})


def set_roles(path: Path | str, email: str, roles: object, by: str) -> None:
    """Give the user ``email`` the ``roles`` (an admin's change), keeping an active admin."""
    chosen = checked_roles(roles)
    with writing(path, by, "users") as write:
        before = _existing(write.con, email)
        if "admin" in before.roles and "admin" not in chosen:
            _keep_an_admin(write.con, before.email)
        users.set_roles(write.con, before.email, chosen)
        write.record(
            "users set-role", before.email, before={"roles": before.roles}, after={"roles": chosen}
        )


def deactivate(path: Path | str, email: str, by: str) -> None:
    """Deactivate the user ``email`` (an admin's change); the last active admin stays."""
    with writing(path, by, "users") as write:
        before = _existing(write.con, email)
        if "admin" in before.roles:
            _keep_an_admin(write.con, before.email)
        users.set_active(write.con, before.email, False)
        write.record(
            "users deactivate", before.email, before={"active": before.active},
            after={"active": False},
        )  # fmt: skip


def _existing(con: duckdb.DuckDBPyConnection, email: str) -> users.User:
    found = users.user(con, email)
    if found is None:
        raise InputError(f"There is no user {email!r}.")
    return found


def _keep_an_admin(con: duckdb.DuckDBPyConnection, email: str) -> None:
    others = [e for e in users.active_admins(con) if e.lower() != email.lower()]
    if not others:
        raise InputError(
            f"{email} is the last active admin: add another admin first, or nobody could "
            "manage users any more."
        )


def _checked_email(email: str) -> str:
    email = (email or "").strip()
    local, at, domain = email.partition("@")
    if not local or not at or "." not in domain or " " in email:
        raise InputError(f"{email!r} is not an email address (name@example.com).")
    return email
