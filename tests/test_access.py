"""Who may change what (issue 22, first part): users and roles kept in DuckDB, the core's
check every write goes through, and the audit trail written in the same transaction."""

from __future__ import annotations

import json

import pytest

from sop_core.data import access, db
from sop_core.data.errors import InputError
from sop_core.data.sample import build_empty_database
from sop_core.data.stores import audit, users
from tests.helpers import run_cli

ADMIN, MARKETING = "sam@aurora.test", "ana@aurora.test"


@pytest.fixture()
def path(tmp_path):
    path = tmp_path / "sop.duckdb"
    build_empty_database(path)
    return path


def entries(path):
    with db.connect(path) as con:
        return audit.entries(con)


def test_single_team_mode_lets_everyone_write_until_the_first_user(path):
    with db.connect(path) as con:
        for write in access.WRITES:
            assert access.require(con, "anyone", write) is None
    with pytest.raises(InputError, match="first user must be an admin"):
        access.add_user(path, MARKETING, "marketing", "anyone")
    assert entries(path).empty  # a refused write is not an entry
    access.add_user(path, ADMIN, "admin,sop_lead", "anyone", "Sam Okafor")
    with db.connect(path) as con, pytest.raises(access.AccessDenied, match="not an active user"):
        access.require(con, "anyone", "scenario")


@pytest.mark.parametrize("role", list(access.ROLES))
def test_every_role_may_make_its_writes_and_no_other(path, role):
    access.add_user(path, ADMIN, "admin", ADMIN)
    access.add_user(path, MARKETING, role, ADMIN)
    with db.connect(path) as con:
        for write, roles in access.WRITES.items():
            if role in roles:
                assert access.require(con, MARKETING, write).email == MARKETING
            else:
                needed = access.ROLE_NAMES[roles[0]]
                with pytest.raises(access.AccessDenied, match=f"takes the role {needed}"):
                    access.require(con, MARKETING, write)


def test_a_person_may_hold_several_roles_and_a_deactivated_one_none(path):
    access.add_user(path, ADMIN, "admin", ADMIN)
    access.add_user(path, MARKETING, "marketing, demand planner", ADMIN)
    with db.connect(path) as con:
        assert users.user(con, MARKETING.upper()).roles == ("marketing", "demand_planner")
        assert access.require(con, MARKETING, "override")
    access.deactivate(path, MARKETING, ADMIN)
    with db.connect(path) as con, pytest.raises(access.AccessDenied):
        access.require(con, MARKETING, "scenario")


def test_only_an_admin_manages_users_and_the_last_admin_stays(path):
    access.add_user(path, ADMIN, "admin", ADMIN)
    access.add_user(path, MARKETING, "marketing", ADMIN)
    before = len(entries(path))
    with pytest.raises(access.AccessDenied, match="may not change users"):
        access.add_user(path, "lea@aurora.test", "viewer", MARKETING)
    with pytest.raises(InputError, match="last active admin"):
        access.set_roles(path, ADMIN, "sop_lead", ADMIN)
    with pytest.raises(InputError, match="last active admin"):
        access.deactivate(path, ADMIN, ADMIN)
    with pytest.raises(InputError, match="Unknown role 'boss'"):
        access.set_roles(path, MARKETING, "boss", ADMIN)
    assert len(entries(path)) == before  # nothing refused was recorded
    with db.connect(path) as con:
        assert users.user(con, ADMIN).roles == ("admin",) and users.user(con, ADMIN).active


def test_each_change_is_audited_with_before_and_after(path):
    access.add_user(path, ADMIN, "admin", "whoever", "Sam")
    access.add_user(path, MARKETING, "marketing", ADMIN.upper())
    access.set_roles(path, MARKETING, "marketing,operations", ADMIN)
    access.deactivate(path, MARKETING, ADMIN)
    trail = entries(path)
    assert trail["action"].tolist() == [
        "users add", "users add", "users set-role", "users deactivate",
    ]  # fmt: skip
    assert trail["who"].tolist()[1:] == [ADMIN] * 3  # the user's own email, however typed
    assert json.loads(trail["before"].iloc[2]) == {"roles": ["marketing"]}
    assert json.loads(trail["after"].iloc[2]) == {"roles": ["marketing", "operations"]}


def test_the_cli_manages_users_as_someone_and_prints_the_audit(path):
    done = run_cli("users", "list", "--db", str(path))
    assert "Single-team mode" in done.stdout
    refused = run_cli(
        "users", "add", "--db", str(path), "--email", MARKETING, "--role", "marketing"
    )
    assert refused.returncode == 1 and "first user must be an admin" in refused.stderr
    for args in (
        ("add", "--email", ADMIN, "--role", "admin", "--name", "Sam", "--as", ADMIN),
        ("add", "--email", MARKETING, "--role", "marketing", "--as", ADMIN),
    ):
        done = run_cli("users", *args[:1], "--db", str(path), *args[1:])
        assert done.returncode == 0, done.stderr
    denied = run_cli(
        "users", "set-role", "--db", str(path), "--email", MARKETING, "--role", "admin", "--as",
        MARKETING,
    )  # fmt: skip
    assert denied.returncode == 1 and "may not change users" in denied.stderr
    listed = json.loads(run_cli("users", "list", "--db", str(path), "--json").stdout)
    assert [u["email"] for u in listed["users"]] == [MARKETING, ADMIN]
    trail = json.loads(run_cli("audit", "--db", str(path), "--json").stdout)["entries"]
    assert [e["action"] for e in trail] == ["users add", "users add"]
    assert set(trail[0]) == {"at", "who", "action", "object", "scope", "before", "after"}
    mine = json.loads(run_cli("audit", "--db", str(path), "--who", MARKETING, "--json").stdout)
    assert mine["entries"] == []


def test_the_sidebar_says_single_team_mode_until_the_first_user(app_env):
    from streamlit.testing.v1 import AppTest

    from tests.test_pages import ROOT

    def sidebar_text() -> str:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
        assert not at.exception
        return " ".join(c.value for c in at.sidebar.caption)

    assert "Single-team mode" in sidebar_text()
    access.add_user(app_env, ADMIN, "admin", ADMIN)
    assert "Single-team mode" not in sidebar_text()
