"""Saved scenarios: create, save with a version check, rename, duplicate, delete."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from sop_core.data import db
from sop_core.data.errors import ConflictError, InputError
from sop_core.scenario.model import Lever, Scenario
from sop_core.scenario.store import (
    create_scenario,
    delete_scenario,
    duplicate_scenario,
    list_scenarios,
    load_scenario,
    rename_scenario,
    save_scenario,
)


@pytest.fixture()
def path(forecast_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "sop.duckdb"
    shutil.copy(forecast_db, copy)
    return copy


def test_create_load_and_save(path: Path):
    lever = Lever("promotion", "family", "skincare", discount=0.2)
    created = create_scenario(path, Scenario("Q1 push", [lever]), "ana", 1)
    assert created.version == 1 and created.owner == "ana" and created.status == "draft"
    saved = save_scenario(path, created, Scenario("Q1 push", [lever, lever]), "ben", 1, "proposed")
    assert saved.version == 2 and saved.updated_by == "ben" and saved.status == "proposed"
    with db.connect(path) as con:
        again = load_scenario(con, "Q1 push")
    assert len(again.scenario.levers) == 2 and again.owner == "ana"


def test_a_stale_save_is_refused_and_names_who_saved(path: Path):
    created = create_scenario(path, Scenario("Shared"), "ana", 1)
    save_scenario(path, created, Scenario("Shared", [Lever("campaign", change=0.1)]), "ben", 1)
    with pytest.raises(ConflictError, match="ben saved 'Shared'"):
        save_scenario(path, created, Scenario("Shared", [Lever("campaign", change=0.2)]), "ana", 1)
    with db.connect(path) as con:
        kept = load_scenario(con, "Shared")
    assert kept.scenario.levers[0].change == 0.1  # ben's save was not overwritten


def test_two_sessions_saving_at_once_never_both_win(path: Path):
    created = create_scenario(path, Scenario("Race"), "ana", 1)
    outcomes: list[str] = []

    def save(user: str) -> None:
        try:
            save_scenario(path, created, Scenario("Race", [Lever("campaign", change=0.1)]), user, 1)
            outcomes.append("saved")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=save, args=(user,)) for user in ("ana", "ben", "cy")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "conflict", "saved"]
    with db.connect(path) as con:
        assert load_scenario(con, "Race").version == 2


def test_names_are_unique_and_rename_duplicate_delete_work(path: Path):
    first = create_scenario(path, Scenario("A"), "ana", 1)
    create_scenario(path, Scenario("B"), "ana", 1)
    with pytest.raises(InputError, match="already exists"):
        create_scenario(path, Scenario("A"), "ben", 1)
    with pytest.raises(InputError, match="already exists"):
        rename_scenario(path, first, "B", "ana")
    renamed = rename_scenario(path, first, "A renamed", "ana")
    copy = duplicate_scenario(path, "A renamed", "A copy", "ben")
    assert copy.owner == "ben"
    with pytest.raises(ConflictError):
        delete_scenario(path, first)  # stale version: renamed since
    delete_scenario(path, renamed)
    with db.connect(path) as con:
        names = set(list_scenarios(con)["name"])
    assert names == {"B", "A copy"}


def test_a_blank_name_is_refused(path: Path):
    with pytest.raises(InputError, match="Give the scenario a name"):
        create_scenario(path, Scenario("   "), "ana", 1)
