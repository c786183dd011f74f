"""Scenarios in DuckDB: create, load, save, duplicate, rename, delete.

Saving uses optimistic concurrency: the caller says which version it started from, and the
update only lands if the stored version is still that one. Otherwise ``ConflictError`` names
who saved in between and when, and nothing is overwritten.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from sop_core.data import db
from sop_core.data.errors import ConflictError, InputError
from sop_core.scenario.levers import Scenario

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


def list_scenarios(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every saved scenario (without its definition), newest change first."""
    return con.execute(
        "SELECT scenario_id, name, owner, status, based_on_run, version, created_at, "
        "updated_at, updated_by FROM scenarios ORDER BY updated_at DESC, name"
    ).df()


def load_scenario(con: duckdb.DuckDBPyConnection, name: str) -> StoredScenario:
    row = con.execute(
        "SELECT scenario_id, name, owner, status, based_on_run, definition, version, "
        "created_at, updated_at, updated_by FROM scenarios WHERE name = ?",
        [name],
    ).fetchone()
    if row is None:
        raise InputError(f"There is no scenario called {name!r}; it may have been deleted.")
    sid, name, owner, status, run, definition, version, created, updated, by = row
    return StoredScenario(
        Scenario.from_json(name, definition), sid, version, owner, status, run, created, updated, by
    )


def create_scenario(
    path: Path | str,
    scenario: Scenario,
    owner: str,
    based_on_run: int | None,
    status: str = "draft",
) -> StoredScenario:
    """Save a new scenario; a name already in use is refused."""
    name = _clean_name(scenario.name)
    if status not in STATUSES:
        raise InputError(f"Status must be one of {', '.join(STATUSES)}.")
    try:
        with db.transaction(path) as con:
            if con.execute("SELECT 1 FROM scenarios WHERE name = ?", [name]).fetchone():
                raise _taken(name)
            con.execute(
                "INSERT INTO scenarios (name, owner, status, based_on_run, definition, "
                "updated_by) VALUES (?, ?, ?, ?, ?, ?)",
                [name, owner, status, based_on_run, scenario.to_json(), owner],
            )
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
) -> StoredScenario:
    """Save ``scenario`` over ``stored``, if nobody saved it since ``stored`` was loaded."""
    status = status or stored.status
    if status not in STATUSES:
        raise InputError(f"Status must be one of {', '.join(STATUSES)}.")
    try:
        return _save(path, stored, scenario, user, based_on_run, status)
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
) -> StoredScenario:
    with db.transaction(path) as con:
        updated = con.execute(
            "UPDATE scenarios SET definition = ?, status = ?, based_on_run = ?, "
            "version = version + 1, updated_at = current_timestamp, updated_by = ? "
            "WHERE scenario_id = ? AND version = ? RETURNING version",
            [scenario.to_json(), status, based_on_run, user, stored.scenario_id, stored.version],
        ).fetchall()
        if not updated:
            raise _conflict(con, stored)
        return load_scenario(con, stored.scenario.name)


def _conflict(con: duckdb.DuckDBPyConnection, stored: StoredScenario) -> ConflictError | InputError:
    now = con.execute(
        "SELECT updated_by, updated_at, name FROM scenarios WHERE scenario_id = ?",
        [stored.scenario_id],
    ).fetchone()
    if now is None:
        return InputError(
            f"The scenario {stored.scenario.name!r} was deleted by someone else; "
            "save yours under a new name to keep it."
        )
    by, when, name = now
    return ConflictError(
        f"{by} saved {name!r} at {when:%H:%M:%S} after you opened it; nothing was "
        "overwritten. Reload to see their version, or save yours under a new name."
    )


def duplicate_scenario(path: Path | str, name: str, new_name: str, owner: str) -> StoredScenario:
    with db.connect(path) as con:
        source = load_scenario(con, name)
    copy = Scenario(
        _clean_name(new_name),
        source.scenario.levers,
        source.scenario.overrides,
        source.scenario.cannibalisation,
    )
    return create_scenario(path, copy, owner, source.based_on_run)


def rename_scenario(
    path: Path | str, stored: StoredScenario, new_name: str, user: str
) -> StoredScenario:
    new_name = _clean_name(new_name)
    try:
        with db.transaction(path) as con:
            if con.execute(
                "SELECT 1 FROM scenarios WHERE name = ? AND scenario_id <> ?",
                [new_name, stored.scenario_id],
            ).fetchone():
                raise _taken(new_name)
            updated = con.execute(
                "UPDATE scenarios SET name = ?, version = version + 1, "
                "updated_at = current_timestamp, updated_by = ? "
                "WHERE scenario_id = ? AND version = ? RETURNING version",
                [new_name, user, stored.scenario_id, stored.version],
            ).fetchall()
            if not updated:
                raise _conflict(con, stored)
            return load_scenario(con, new_name)
    except duckdb.ConstraintException:
        raise _taken(new_name) from None


def delete_scenario(path: Path | str, stored: StoredScenario) -> None:
    """Delete a scenario, unless someone saved it since it was loaded."""
    with db.transaction(path) as con:
        deleted = con.execute(
            "DELETE FROM scenarios WHERE scenario_id = ? AND version = ? RETURNING scenario_id",
            [stored.scenario_id, stored.version],
        ).fetchall()
        if not deleted:
            raise _conflict(con, stored)
