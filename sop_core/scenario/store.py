"""Scenarios in DuckDB: create, load, save, duplicate, rename, delete.

Saving uses optimistic concurrency: the caller says which version it started from, and the
update only lands if the stored version is still that one. Otherwise ``ConflictError`` names
who saved in between and when, and nothing is overwritten.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from sop_core.data import access, db
from sop_core.data.errors import ConflictError, InputError
from sop_core.data.stores import scenarios
from sop_core.scenario.model import Scenario

STATUSES = ("draft", "proposed", "approved")


@dataclass(frozen=True)
class StoredScenario:
    """A scenario as saved, with the version a later save must name."""

    scenario: Scenario
    scenario_id: int
    version: int
    owner: str
    status: str
    based_on_run: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    updated_by: str


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise InputError("Give the scenario a name.")
    if len(name) > 80:
        raise InputError("Keep the scenario name under 80 characters.")
    return name


def _taken(name: str) -> InputError:
    return InputError(f"A scenario called {name!r} already exists; pick another name.")


def writes(
    before: Scenario | None, after: Scenario, plan_file: str | None = None
) -> tuple[str, ...]:
    """The kinds of write (``access.WRITES``) saving ``after`` over ``before`` makes: a
    scenario's levers and effect overrides are marketing's, its capacity changes operations'
    (a new scenario holding only capacity changes is operations' alone), and levers from a
    plan file a plan file's."""
    kinds = ["plan_file"] if plan_file else []
    if before is None:
        demand = bool(after.levers or after.overrides) or not after.capacity
    else:
        demand = (before.levers, before.overrides, before.cannibalisation) != (
            after.levers,
            after.overrides,
            after.cannibalisation,
        )
    if demand:
        kinds.append("scenario")
    if after.capacity != (before.capacity if before is not None else []):
        kinds.append("capacity")
    return tuple(kinds) or ("scenario",)


def _source(plan_file: str | None) -> str | None:
    return f"from the plan file {plan_file}" if plan_file else None


def list_scenarios(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every saved scenario (without its definition), newest change first."""
    return scenarios.saved_scenarios(con)


def load_scenario(con: duckdb.DuckDBPyConnection, name: str) -> StoredScenario:
    row = scenarios.scenario_row(con, name)
    if row is None:
        raise InputError(f"There is no scenario called {name!r}; it may have been deleted.")
    return StoredScenario(
        Scenario.from_json(row.name, row.definition),
        row.scenario_id,
        row.version,
        row.owner,
        row.status,
        row.based_on_run,
        row.created_at,
        row.updated_at,
        row.updated_by,
    )


def create_scenario(
    path: Path | str,
    scenario: Scenario,
    owner: str,
    based_on_run: int | None,
    status: str = "draft",
    *,
    plan_file: str | None = None,
    copy_of: Scenario | None = None,
) -> StoredScenario:
    """Save a new scenario; a name already in use is refused. ``plan_file``: the name of the
    plan file it comes from (a write of its own, ``access.WRITES``); ``copy_of``: the scenario
    it copies, whose levers and capacity changes it carries unchanged (a copy is a new
    scenario, not a new lever or shift: it takes the scenario role alone)."""
    name = _clean_name(scenario.name)
    if status not in STATUSES:
        raise InputError(f"Status must be one of {', '.join(STATUSES)}.")
    kinds = writes(copy_of, scenario, plan_file)
    scope = _source(plan_file) or (f"copy of {copy_of.name}" if copy_of is not None else None)
    try:
        with access.writing(path, owner, kinds) as write:
            con = write.con
            if scenarios.scenario_name_taken(con, name):
                raise _taken(name)
            definition = scenario.to_json()
            scenarios.insert_scenario(con, name, write.actor, status, based_on_run, definition)
            write.record("scenario create", name, scope=scope, after=json.loads(definition))
            return load_scenario(con, name)
    except (duckdb.ConstraintException, ConflictError):
        raise _taken(name) from None  # someone took the name at the same moment


def save_scenario(
    path: Path | str,
    stored: StoredScenario,
    scenario: Scenario,
    user: str,
    based_on_run: int | None,
    status: str | None = None,
    *,
    plan_file: str | None = None,
) -> StoredScenario:
    """Save ``scenario`` over ``stored``, if nobody saved it since ``stored`` was loaded
    (``plan_file``: the plan file it comes from)."""
    status = status or stored.status
    if status not in STATUSES:
        raise InputError(f"Status must be one of {', '.join(STATUSES)}.")
    try:
        return _save(path, stored, scenario, user, based_on_run, status, plan_file)
    except ConflictError:
        # Lost a race with a save at the same moment: say who won, as for a stale save.
        with db.connect(path) as con:
            raise _conflict(con, stored) from None


def _save(
    path: Path | str,
    stored: StoredScenario,
    scenario: Scenario,
    user: str,
    based_on_run: int | None,
    status: str,
    plan_file: str | None,
) -> StoredScenario:
    with access.writing(path, user, writes(stored.scenario, scenario, plan_file)) as write:
        con = write.con
        definition = scenario.to_json()
        if not scenarios.update_scenario(
            con,
            stored.scenario_id,
            stored.version,
            definition,
            status,
            based_on_run,
            write.actor,
        ):
            raise _conflict(con, stored)
        write.record(
            "scenario save",
            stored.scenario.name,
            scope=_source(plan_file),
            before={"status": stored.status, **json.loads(stored.scenario.to_json())},
            after={"status": status, **json.loads(definition)},
        )
        return load_scenario(con, stored.scenario.name)


def _conflict(con: duckdb.DuckDBPyConnection, stored: StoredScenario) -> ConflictError | InputError:
    now = scenarios.scenario_stamp(con, stored.scenario_id)
    if now is None:
        return InputError(
            f"The scenario {stored.scenario.name!r} was deleted by someone else; "
            "save yours under a new name to keep it."
        )
    return ConflictError(
        f"{now.updated_by} saved {now.name!r} at {now.updated_at:%H:%M:%S} after you opened "
        "it; nothing was overwritten. Reload to see their version, or save yours under a new "
        "name."
    )


def duplicate_scenario(path: Path | str, name: str, new_name: str, owner: str) -> StoredScenario:
    """A copy of scenario ``name`` under ``new_name``, owned by ``owner``: its levers, effect
    overrides, cannibalisation and capacity changes."""
    with db.connect(path) as con:
        stored = load_scenario(con, name)
    source = stored.scenario
    copy = Scenario(
        _clean_name(new_name),
        source.levers,
        source.overrides,
        source.cannibalisation,
        source.capacity,
    )
    return create_scenario(path, copy, owner, stored.based_on_run, copy_of=source)


def rename_scenario(
    path: Path | str, stored: StoredScenario, new_name: str, user: str
) -> StoredScenario:
    new_name = _clean_name(new_name)
    try:
        with access.writing(path, user, "scenario") as write:
            con = write.con
            if scenarios.scenario_name_taken(con, new_name, other_than=stored.scenario_id):
                raise _taken(new_name)
            if not scenarios.rename_scenario_row(
                con, stored.scenario_id, stored.version, new_name, write.actor
            ):
                raise _conflict(con, stored)
            write.record("scenario rename", new_name, before=stored.scenario.name, after=new_name)
            return load_scenario(con, new_name)
    except duckdb.ConstraintException:
        raise _taken(new_name) from None


def delete_scenario(path: Path | str, stored: StoredScenario, user: str = "") -> None:
    """Delete a scenario, unless someone saved it since it was loaded."""
    with access.writing(path, user, "scenario") as write:
        if not scenarios.delete_scenario_row(write.con, stored.scenario_id, stored.version):
            raise _conflict(write.con, stored)
        write.record(
            "scenario delete", stored.scenario.name, before=json.loads(stored.scenario.to_json())
        )
