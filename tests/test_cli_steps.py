"""Every meeting step from the command line (issue 25): scenarios, consensus overrides,
capacity changes, approval and plans of record, decisions. Each command's ``--json`` against
the core's own reads; a refused write (a viewer, with users set up) is one line on stderr,
exit 1, and changes no table; a bad input is one line."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from sop_core.cli import main
from sop_core.data import access, company, db
from sop_core.data.stores import plans_of_record
from sop_core.demand.consensus import override_history
from sop_core.demand.plan_base import load_plan_base
from sop_core.forecast.runs import latest_run
from sop_core.meeting.decisions import decision_log
from sop_core.scenario import store
from sop_core.scenario.model import CapacityChange, Lever, Scenario
from tests.helpers import run_cli

ADMIN = "admin@example.com"


def _email(role: str) -> str:
    return f"{role.replace('_', '-')}@example.com"


VIEWER = _email("viewer")


@pytest.fixture()
def path(forecast_db: Path, tmp_path: Path) -> Path:
    """A private copy of the sample with its forecast, in single-team mode."""
    copy = tmp_path / "steps.duckdb"
    shutil.copy(forecast_db, copy)
    return copy


@pytest.fixture()
def roles(path: Path) -> Path:
    """``path`` with one user per role (``_email(role)``): every write is checked."""
    access.add_user(path, ADMIN, "admin", "setup", "Ada Admin")
    for role in access.ROLES:
        if role != "admin":
            access.add_user(path, _email(role), role, ADMIN)
    return path


def cli(capsys: pytest.CaptureFixture, *args: str | Path) -> tuple[int, str, str]:
    """Run the CLI in this process: exit code, stdout, stderr."""
    code = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return code, out, err


def cli_json(capsys: pytest.CaptureFixture, *args: str | Path) -> dict:
    code, out, err = cli(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def one_line(code: int, err: str, *words: str) -> str:
    """The command failed with exit 1 and one line on stderr holding ``words``."""
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1, err
    assert lines[0].startswith("error: ") and all(w in lines[0] for w in words), lines[0]
    return lines[0]


def snapshot(path: Path) -> dict:
    """Everything these commands write, to show a refused or bad one wrote nothing."""
    queries = {
        "scenarios": "SELECT name, version, definition FROM scenarios ORDER BY name",
        "overrides": "SELECT override_id, undone_at FROM consensus_overrides ORDER BY 1",
        "plans": "SELECT plan_version FROM plans_of_record ORDER BY 1",
        "decisions": "SELECT decision_id, status, version FROM decisions ORDER BY 1",
        "audit": "SELECT count(*) FROM audit_log",
    }
    with db.connect(path) as con:
        return {name: con.execute(sql).fetchall() for name, sql in queries.items()}


def _base(path: Path):
    with db.connect(path) as con:
        return load_plan_base(con, latest_run(con))


def _week(base, n: int) -> dt.date:
    return base.weeks[n].astype("datetime64[D]").astype(dt.date)


def _scenario(path: Path, name: str = "Spring push", who: str = "marketing") -> Scenario:
    base = _base(path)
    lever = Lever("promotion", "family", base.families[0], _week(base, 6), _week(base, 7), 0.2)
    with db.connect(path) as con:
        run = latest_run(con)
    made = Scenario(name, [lever])
    store.create_scenario(path, made, who, run)
    return made


def _stored(path: Path, name: str) -> store.StoredScenario:
    with db.connect(path) as con:
        return store.load_scenario(con, name)


# ---- scenario ----------------------------------------------------------------------------------


def test_scenario_list_show_copy_rename_delete(path, capsys):
    _scenario(path)
    listed = cli_json(capsys, "scenario", "list", "--db", path)["scenarios"]
    with db.connect(path) as con:
        rows = store.list_scenarios(con)
    assert [s["name"] for s in listed] == rows["name"].tolist() == ["Spring push"]
    assert {"name", "levers", "created", "updated", "author"} <= set(listed[0])
    assert listed[0]["levers"] == 1 and listed[0]["author"] == "marketing"

    shown = cli_json(capsys, "scenario", "show", "Spring push", "--db", path)
    saved = _stored(path, "Spring push").scenario
    assert [lever["discount"] for lever in shown["levers"]] == [saved.levers[0].discount]
    assert shown["levers"][0]["text"] == saved.levers[0].describe() and shown["capacity"] == []

    code, _, err = cli(capsys, "scenario", "copy", "Spring push", "Copy", "--db", path)
    assert code == 0, err
    assert _stored(path, "Copy").scenario.levers == saved.levers
    code, _, err = cli(capsys, "scenario", "rename", "Copy", "Autumn", "--db", path, "--as", "me")
    assert code == 0, err
    code, _, err = cli(capsys, "scenario", "delete", "Autumn", "--db", path, "--as", "me")
    assert code == 0, err
    with db.connect(path) as con:
        assert store.list_scenarios(con)["name"].tolist() == ["Spring push"]


def test_a_copy_carries_the_capacity_changes_and_takes_the_scenario_role_alone(roles, capsys):
    """Marketing copies a scenario that holds operations' Saturday shift to try a deeper
    promotion: the copy has the shift too, and copying it is not a capacity decision."""
    made = _scenario(roles, who=_email("marketing"))
    base = _base(roles)
    shift = CapacityChange(base.lines[0], _week(base, 2), _week(base, 3), 16.0, "Saturday shift")
    stored = _stored(roles, made.name)
    store.save_scenario(
        roles,
        stored,
        Scenario(made.name, made.levers, capacity=[shift]),
        _email("operations"),
        stored.based_on_run,
    )
    code, _, err = cli(
        capsys, "scenario", "copy", made.name, "Deeper", "--db", roles, "--as", _email("marketing")
    )
    assert code == 0, err
    copy = _stored(roles, "Deeper")
    assert copy.scenario.capacity == [shift] and copy.scenario.levers == made.levers
    assert copy.owner == _email("marketing")
    with db.connect(roles) as con:
        (scope,) = con.execute(
            "SELECT scope FROM audit_log WHERE action = 'scenario create' AND object = 'Deeper'"
        ).fetchone()
    assert scope == f"copy of {made.name}"


def test_scenario_writes_refused_for_a_viewer_and_bad_names_are_one_line(roles, capsys):
    _scenario(roles, who=_email("marketing"))
    before = snapshot(roles)
    for command in (
        ("copy", "Spring push", "Copy"),
        ("rename", "Spring push", "Autumn"),
        ("delete", "Spring push"),
    ):
        code, _, err = cli(capsys, "scenario", *command, "--db", roles, "--as", VIEWER)
        one_line(code, err, "may not change", "marketing")
    assert snapshot(roles) == before
    code, _, err = cli(capsys, "scenario", "show", "Nope", "--db", roles)
    one_line(code, err, "no scenario called 'Nope'")
    code, _, err = cli(
        capsys, "scenario", "copy", "Nope", "X", "--db", roles, "--as", _email("marketing")
    )
    one_line(code, err, "no scenario called 'Nope'")
    assert snapshot(roles) == before


# ---- overrides ---------------------------------------------------------------------------------


def test_overrides_add_list_undo(path, capsys):
    base = _base(path)
    sku, week = base.skus[0], _week(base, 6)
    added = cli_json(
        capsys, "overrides", "add", "--db", path, "--sku", sku, "--from", week,
        "--percent", "10", "--reason", "new listing", "--as", "ana",
    )  # fmt: skip
    with db.connect(path) as con:
        history = override_history(con)
    row = history[history["override_id"] == added["id"]].iloc[0]
    assert row["level"] == "sku" and row["target"] == sku and row["author"] == "ana"
    assert added["units_before"] == pytest.approx(row["units_before"], abs=0.01)
    assert added["units_after"] == pytest.approx(row["units_after"], abs=0.01)
    assert row["units_after"] == pytest.approx(row["units_before"] * 1.1)
    listed = cli_json(capsys, "overrides", "list", "--db", path)["overrides"]
    assert [o["id"] for o in listed] == history["override_id"].tolist()
    assert listed[0]["status"] == "in force" and listed[0]["reason"] == "new listing"

    # The Demand page asks before a change of more than half; the CLI wants --yes.
    big = ["overrides", "add", "--db", path, "--sku", sku, "--from", week, "--percent", "90"]
    before = snapshot(path)
    code, _, err = cli(capsys, *big, "--reason", "launch")
    one_line(code, err, "--yes")
    code, _, err = cli(capsys, *big[:-2], "--units", "5", "--reason", " ")
    one_line(code, err, "reason is required")
    code, _, err = cli(capsys, *big[:5], "NOPE", *big[6:], "--reason", "x")
    one_line(code, err, "no sku called 'NOPE'")
    assert snapshot(path) == before

    assert cli_json(capsys, "overrides", "undo", str(added["id"]), "--db", path)["status"]
    listed = cli_json(capsys, "overrides", "list", "--db", path, "--in-force")["overrides"]
    assert added["id"] not in [o["id"] for o in listed]
    code, _, err = cli(capsys, "overrides", "undo", str(added["id"]), "--db", path)
    one_line(code, err, "already undone")


def test_overrides_refused_for_a_viewer(roles, capsys):
    base = _base(roles)
    before = snapshot(roles)
    code, _, err = cli(
        capsys, "overrides", "add", "--db", roles, "--family", base.families[0], "--from",
        _week(base, 6), "--percent", "5", "--reason", "x", "--as", VIEWER,
    )  # fmt: skip
    one_line(code, err, "may not change consensus overrides", "demand planner")
    assert snapshot(roles) == before


def _overrides_file(folder: Path, base, bad: str | None = None) -> Path:
    first, last = _week(base, 6), _week(base, 8)
    lines = [
        "sku,family,first_week,last_week,percent,units,set_units,reason",
        f"{base.skus[0]},,{first},{last},10,,,retailer listing",
        f",{base.families[-1]},{last},,,200,,campaign",
    ]
    if bad:
        lines.insert(2, bad.format(first=first))
    file = folder / ("bad.csv" if bad else "overrides.csv")
    file.write_text("\n".join(lines) + "\n")
    return file


def test_overrides_import_writes_every_row_in_one_go(path, tmp_path, capsys):
    base = _base(path)
    report = cli_json(capsys, "overrides", "import", _overrides_file(tmp_path, base), "--db", path)
    assert report["ok"] and report["written"] and report["rows_in_file"] == 2
    with db.connect(path) as con:
        history = override_history(con)
    ids = [o["id"] for o in report["overrides"]]
    assert sorted(ids) == sorted(history["override_id"].tolist()[:2])
    made = history.set_index("override_id").loc[ids]
    assert made["level"].tolist() == ["sku", "family"]
    assert made["mode"].tolist() == ["percent", "units"]
    assert made["reason"].tolist() == ["retailer listing", "campaign"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("NOPE,,{first},,5,,,typo", "no sku called 'NOPE'"),
        (",skincare,{first},,5,,,", "reason is required"),
        (",skincare,{first},,5,20,,two changes", "one change per row"),
        (",,{first},,5,,,no scope", "sku and family are both empty"),
        (",skincare,2031-01-05,,5,,,far", "outside the forecast horizon"),
    ],
)
def test_an_overrides_file_with_one_bad_row_writes_nothing(path, tmp_path, capsys, bad, message):
    base = _base(path)
    before = snapshot(path)
    file = _overrides_file(tmp_path, base, bad)
    code, _, err = cli(capsys, "overrides", "import", file, "--db", path)
    line = one_line(code, err, message, "line 3", "nothing was written")
    assert "bad.csv" in line
    assert snapshot(path) == before


def test_overrides_import_refused_for_a_viewer_in_a_real_process(roles, tmp_path):
    before = snapshot(roles)
    file = _overrides_file(tmp_path, _base(roles))
    refused = run_cli("overrides", "import", str(file), "--db", str(roles), "--as", VIEWER)
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "may not change" in lines[0], refused.stderr
    assert snapshot(roles) == before
    done = run_cli(
        "overrides", "import", str(file), "--db", str(roles), "--as", _email("demand_planner")
    )
    assert done.returncode == 0, done.stderr
    assert len(snapshot(roles)["overrides"]) == len(before["overrides"]) + 2


# ---- capacity ----------------------------------------------------------------------------------


def test_capacity_add_list_remove(path, capsys):
    _scenario(path)
    base = _base(path)
    line = base.lines[0]
    add = [
        "capacity", "add", "--db", path, "--scenario", "Spring push", "--line", line,
        "--from", _week(base, 2), "--to", _week(base, 4),
    ]  # fmt: skip
    shown = cli_json(capsys, *add, "--hours", "16", "--reason", "Saturday shift")
    cli_json(capsys, *add, "--hours", "-40")
    stored = _stored(path, "Spring push").scenario
    assert stored.capacity == [
        CapacityChange(line, _week(base, 2), _week(base, 4), 16.0, "Saturday shift"),
        CapacityChange(line, _week(base, 2), _week(base, 4), -40.0, ""),
    ]
    assert shown["capacity"][0]["hours"] == 16.0
    listed = cli_json(capsys, "capacity", "list", "--db", path, "--scenario", "Spring push")
    assert [c["hours"] for c in listed["capacity"]] == [16.0, -40.0]
    assert len(stored.levers) == 1  # the levers stay as they were
    cli_json(capsys, "capacity", "remove", "1", "--db", path, "--scenario", "Spring push")
    assert [c.hours for c in _stored(path, "Spring push").scenario.capacity] == [-40.0]
    shown = cli_json(capsys, "scenario", "show", "Spring push", "--db", path)
    assert [c["hours"] for c in shown["capacity"]] == [-40.0]

    before = snapshot(path)
    code, _, err = cli(capsys, *add[:7], "ZZ", *add[8:], "--hours", "8")
    one_line(code, err, "no line called 'ZZ'")
    code, _, err = cli(capsys, *add, "--hours", "0")
    one_line(code, err, "0 h changes nothing")
    code, _, err = cli(capsys, "capacity", "remove", "5", "--db", path, "--scenario", "Spring push")
    one_line(code, err, "no number 5")
    code, _, err = cli(capsys, "capacity", "list", "--db", path, "--scenario", "Nope")
    one_line(code, err, "no scenario called 'Nope'")
    assert snapshot(path) == before


def test_capacity_takes_the_operations_role(roles, capsys):
    _scenario(roles, who=_email("marketing"))
    line = _base(roles).lines[0]
    add = ["capacity", "add", "--db", roles, "--scenario", "Spring push", "--line", line]
    add += ["--from", str(_week(_base(roles), 2)), "--hours", "16"]
    before = snapshot(roles)
    for who in (VIEWER, _email("marketing")):
        code, _, err = cli(capsys, *add, "--as", who)
        one_line(code, err, "may not change the capacity calendar", "operations")
    assert snapshot(roles) == before
    code, _, err = cli(capsys, *add, "--as", _email("operations"))
    assert code == 0, err
    assert len(_stored(roles, "Spring push").scenario.capacity) == 1


# ---- approve, plans ----------------------------------------------------------------------------


def test_approve_then_plans_list_and_show(roles, capsys):
    _scenario(roles, who=_email("marketing"))
    lead = _email("sop_lead")
    before = snapshot(roles)
    code, _, err = cli(
        capsys, "approve", "--db", roles, "--scenario", "Spring push", "--as", VIEWER
    )
    one_line(code, err, "may not change the plan of record", "S&OP lead")
    code, _, err = cli(capsys, "approve", "--db", roles, "--scenario", "Nope", "--as", lead)
    one_line(code, err, "no scenario called 'Nope'")
    assert snapshot(roles) == before

    approved = cli_json(
        capsys, "approve", "--db", roles, "--scenario", "Spring push", "--note", "May meeting",
        "--weeks", "8", "--as", lead,
    )  # fmt: skip
    plans = cli_json(capsys, "plans", "list", "--db", roles)["plans"]
    with db.connect(roles) as con:
        stored = plans_of_record.plans_of_record(con)
    assert [p["version"] for p in plans] == stored["plan_version"].tolist()
    assert plans[0] == {
        **plans[0],
        "version": approved["version"],
        "scenario": "Spring push",
        "approved_by": lead,
        "note": "May meeting",
    }
    assert {"version", "scenario", "approved_by", "approved_at", "note"} <= set(plans[0])
    shown = cli_json(capsys, "plans", "show", "--db", roles)
    assert shown["version"] == approved["version"] and shown["intact"] is True
    assert shown["volume"] == pytest.approx(approved["volume"])
    code, out, err = cli(capsys, "approve", "--db", roles, "--weeks", "8", "--as", lead)
    assert code == 0, err
    assert f"version {approved['version'] + 1} approved" in out
    code, _, err = cli(capsys, "plans", "show", "99", "--db", roles)
    one_line(code, err, "no plan of record version 99")


def test_four_eyes_approval_from_the_cli(roles, capsys):
    author = "lead@example.com"
    access.add_user(roles, author, "marketing, sop_lead", ADMIN, "Lee Lead")
    _scenario(roles, "Lee's plan", who=author)
    company.set_four_eyes(roles, True, ADMIN)
    before = snapshot(roles)
    code, _, err = cli(capsys, "approve", "--db", roles, "--scenario", "Lee's plan", "--as", author)
    one_line(code, err, "Four-eyes")
    assert snapshot(roles) == before


# ---- decisions ---------------------------------------------------------------------------------


def test_decisions_add_list_close(roles, capsys):
    lead = _email("sop_lead")
    added = cli_json(
        capsys, "decisions", "add", "Run a Saturday shift", "--owner", "Ops", "--due",
        "2026-12-10", "--db", roles, "--as", lead,
    )  # fmt: skip
    listed = cli_json(capsys, "decisions", "list", "--db", roles)["decisions"]
    with db.connect(roles) as con:
        log = decision_log(con)
    assert [d["number"] for d in listed] == log["decision_id"].tolist()
    item = next(d for d in listed if d["number"] == added["number"])
    assert item["text"] == "Run a Saturday shift" and item["status"] == "open"
    assert item["due"] == "2026-12-10" and item["created_by"] == lead

    before = snapshot(roles)
    code, _, err = cli(capsys, "decisions", "close", str(added["number"]), "--db", roles,
                       "--as", VIEWER)  # fmt: skip
    one_line(code, err, "may not change the decisions log")
    code, _, err = cli(capsys, "decisions", "add", "x", "--owner", "o", "--kind", "assumption",
                       "--db", roles, "--as", lead)  # fmt: skip
    one_line(code, err, "expiry date")
    code, _, err = cli(capsys, "decisions", "close", "999", "--db", roles, "--as", lead)
    one_line(code, err, "no item number 999")
    assert snapshot(roles) == before

    cli_json(capsys, "decisions", "close", str(added["number"]), "--db", roles, "--as", lead)
    listed = cli_json(capsys, "decisions", "list", "--db", roles, "--open")["decisions"]
    assert added["number"] not in [d["number"] for d in listed]
    with db.connect(roles) as con:
        log = decision_log(con).set_index("decision_id")
    assert log.loc[added["number"], "status"] == "done"
