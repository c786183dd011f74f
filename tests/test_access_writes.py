"""Every role against every write, in the core (the pages and the CLI call the same
functions): a role makes exactly the writes ``access.WRITES`` gives it; each write made leaves
one audit row in its own transaction, each refused or failed one leaves none and changes
nothing."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from sop_core.data import access, company, db, importer
from sop_core.data.errors import ConflictError, InputError
from sop_core.data.sample import SampleConfig, build_sample_database
from sop_core.data.stores import master
from sop_core.demand import consensus
from sop_core.demand.consensus import Override
from sop_core.demand.plan_base import load_plan_base
from sop_core.forecast.engine import ForecastSettings
from sop_core.forecast.runs import latest_run, refresh_forecast
from sop_core.jobs import control
from sop_core.meeting import decisions, plan_of_record
from sop_core.scenario import store
from sop_core.scenario.model import CapacityChange, Scenario
from sop_core.supply.planning import build_plan
from tests.conftest import AS_OF

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "admin@example.com"


def _email(role: str) -> str:
    return f"{role.replace('_', '-')}@example.com"


def _with_users(source: Path, path: Path) -> Path:
    """A copy of ``source`` with one user per role (``_email(role)``), added by the admin."""
    shutil.copy(source, path)
    access.add_user(path, ADMIN, "admin", "setup", "Ada Admin")
    for role in access.ROLES:
        if role != "admin":
            access.add_user(path, _email(role), role, ADMIN)
    return path


def _audit_rows(path: Path) -> list[tuple]:
    with db.connect(path) as con:
        return con.execute("SELECT who, action, object FROM audit_log ORDER BY entry_id").fetchall()


def _table_counts(path: Path) -> dict[str, int]:
    with db.connect(path) as con:
        counts = master.table_row_counts(con)
    return dict(zip(counts["table"], counts["rows"], strict=True))


def _run_and_cycle(path: Path):
    with db.connect(path) as con:
        run = latest_run(con)
        cycle = con.execute(
            "SELECT history_end FROM forecast_runs WHERE run_id = ?", [run]
        ).fetchone()[0]
        return run, cycle, load_plan_base(con, run)


def _line(path: Path) -> str:
    with db.connect(path) as con:
        return con.execute("SELECT min(line) FROM capacity_calendar").fetchone()[0]


def _write(kind: str, path: Path, tmp: Path) -> Callable[[str, int], object]:
    """One write of ``kind`` on ``path``, as ``who`` (the ``n``-th attempt: names differ)."""
    if kind in ("scenario", "plan_file", "capacity"):
        run = latest_run_id(path)

        def scenario(who: str, n: int):
            capacity = [CapacityChange(_line(path), None, None, 40.0)] if kind == "capacity" else []
            made = Scenario(f"{kind} {n}", capacity=capacity)
            plan_file = "promotions.csv" if kind == "plan_file" else None
            return store.create_scenario(path, made, who, run, plan_file=plan_file)

        return scenario
    if kind == "override":
        run, cycle, base = _run_and_cycle(path)
        first = base.weeks[6].astype(dt.date)

        def override(who: str, n: int):
            change = Override("sku", base.skus[n], first, first, "units", 5, "listing", who)
            return consensus.add_override(
                path, base, base.statistical_by_channel, change, run_id=run, cycle=cycle
            )

        return override
    if kind == "forecast":
        settings = ForecastSettings(horizon=8, backtest_origins=(13,), backtest_horizons=(8,))
        return lambda who, n: refresh_forecast(path, settings, jobs=1, reuse=False, who=who)
    if kind == "production_plan":
        run = latest_run_id(path)
        return lambda who, n: build_plan(path, None, 8, run_id=run, jobs=1, who=who)
    if kind == "approve":
        return lambda who, n: plan_of_record.approve(path, None, who, weeks=8)
    if kind == "decision":
        return lambda who, n: decisions.add_item(path, "decision", f"Go {n}", "Ops", who)
    if kind == "import":

        def imported(who: str, n: int):
            sales = tmp / "sales.csv"
            with db.connect(path) as con:
                sku, channel, week = con.execute(
                    "SELECT sku, channel, week FROM sales_history ORDER BY week DESC LIMIT 1"
                ).fetchone()
            sales.write_text(f"week,sku,channel,units\n{week},{sku},{channel},{100 + n}\n")
            report = importer.import_file(path, "sales_history", sales, author=who)
            assert report.ok, report.errors
            return report

        return imported
    if kind == "users":
        return lambda who, n: access.add_user(path, f"new{n}@example.com", "viewer", who)
    if kind == "settings":
        return lambda who, n: company.set_four_eyes(path, n % 2 == 0, who)
    raise AssertionError(kind)


def latest_run_id(path: Path) -> int:
    with db.connect(path) as con:
        return latest_run(con)


def _stored(path: Path, name: str) -> store.StoredScenario:
    with db.connect(path) as con:
        return store.load_scenario(con, name)


@pytest.fixture(scope="module")
def tiny_forecast(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A six-SKU sample with a forecast: cheap enough to refit in a test."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.duckdb"
    build_sample_database(path, SampleConfig(skus=6, weeks=110, seed=3, as_of=AS_OF))
    refresh_forecast(path, ForecastSettings(horizon=8, backtest_origins=(13,)), jobs=1)
    return path


@pytest.mark.parametrize("kind", list(access.WRITES))
def test_each_role_makes_exactly_its_writes_each_audited_once(
    kind, forecast_db, tiny_forecast, tmp_path
):
    source = tiny_forecast if kind == "forecast" else forecast_db
    path = _with_users(source, tmp_path / "roles.duckdb")
    write = _write(kind, path, tmp_path)
    for n, role in enumerate(access.ROLES):
        who = ADMIN if role == "admin" else _email(role)
        before_audit, before_counts = _audit_rows(path), _table_counts(path)
        if role in access.WRITES[kind]:
            write(who, n)
            after = _audit_rows(path)
            assert len(after) == len(before_audit) + 1, (kind, role)
            assert after[-1][0] == who
        else:
            with pytest.raises(access.AccessDenied, match="may not change") as refused:
                write(who, n)
            assert " or ".join(access.ROLE_NAMES[r] for r in access.WRITES[kind]) in str(
                refused.value
            )
            assert _audit_rows(path) == before_audit, (kind, role)
            assert _table_counts(path) == before_counts, (kind, role)


def test_a_person_with_several_roles_makes_the_writes_of_each(forecast_db, tmp_path):
    path = _with_users(forecast_db, tmp_path / "roles.duckdb")
    both = "both@example.com"
    access.add_user(path, both, "marketing, operations", ADMIN, "Bo Both")
    run = latest_run_id(path)
    shift = CapacityChange(_line(path), None, None, 40.0)
    made = store.create_scenario(path, Scenario("Both", capacity=[shift]), both, run)
    assert made.owner == both
    changed = Scenario("Both", made.scenario.levers, cannibalisation=0.5, capacity=[])
    store.save_scenario(path, made, changed, both, run)  # a lever setting and capacity at once
    # Marketing alone may not take the capacity change out again, nor operations the levers.
    saved = store.save_scenario(path, _stored(path, "Both"), changed, both, run)
    with pytest.raises(access.AccessDenied, match="operations"):
        store.save_scenario(
            path, saved, Scenario("Both", cannibalisation=0.5, capacity=[shift]),
            _email("marketing"), run,
        )  # fmt: skip
    with pytest.raises(access.AccessDenied, match="marketing"):
        store.save_scenario(path, saved, Scenario("Both", capacity=[]), _email("operations"), run)
    actions = [action for who, action, _ in _audit_rows(path) if who == both]
    assert actions == ["scenario create", "scenario save", "scenario save"]


def test_an_unknown_or_deactivated_person_writes_nothing(forecast_db, tmp_path):
    path = _with_users(forecast_db, tmp_path / "roles.duckdb")
    access.deactivate(path, _email("sop_lead"), ADMIN)
    before = _audit_rows(path)
    for who in ("stranger@example.com", _email("sop_lead"), ""):
        with pytest.raises(access.AccessDenied, match="not an active user"):
            decisions.add_item(path, "decision", "Go", "Ops", who)
    assert _audit_rows(path) == before


def test_a_failed_write_leaves_no_audit_row_and_a_made_one_always_does(forecast_db, tmp_path):
    path = _with_users(forecast_db, tmp_path / "roles.duckdb")
    marketing = _email("marketing")
    run = latest_run_id(path)
    made = store.create_scenario(path, Scenario("Promo"), marketing, run)
    store.save_scenario(path, made, Scenario("Promo", cannibalisation=0.4), marketing, run)
    before = _audit_rows(path)
    # A stale save (someone saved since): refused, nothing written, no audit row.
    with pytest.raises(ConflictError):
        store.save_scenario(path, made, Scenario("Promo", cannibalisation=0.2), marketing, run)
    # A failure inside the write's transaction after its audit row: both roll back.
    with pytest.raises(RuntimeError), access.writing(path, marketing, "scenario") as write:
        write.con.execute("DELETE FROM scenarios")
        write.record("scenario delete", "everything")
        raise RuntimeError("the disk is full")
    # Bad input: refused before the transaction.
    with pytest.raises(InputError):
        store.create_scenario(path, Scenario(" "), marketing, run)
    assert _audit_rows(path) == before
    assert _stored(path, "Promo").scenario.cannibalisation == 0.4
    # Each write that landed is in the trail once, as who made it.
    actions = [(who, action, name) for who, action, name in before if who == marketing]
    assert actions == [
        (marketing, "scenario create", "Promo"),
        (marketing, "scenario save", "Promo"),
    ]


def test_four_eyes_approval_takes_another_sop_lead(forecast_db, tmp_path):
    path = _with_users(forecast_db, tmp_path / "roles.duckdb")
    author, other = "lead@example.com", _email("sop_lead")
    access.add_user(path, author, "marketing, sop_lead", ADMIN, "Lee Lead")
    run = latest_run_id(path)
    store.create_scenario(path, Scenario("Lee's plan", cannibalisation=0.4), author, run)
    company.set_four_eyes(path, True, ADMIN)
    with pytest.raises(access.AccessDenied, match="Four-eyes"):
        plan_of_record.approve(path, "Lee's plan", author, weeks=8)
    approval = plan_of_record.approve(path, "Lee's plan", other, weeks=8)
    assert approval.plan_version == 1
    with db.connect(path) as con:
        by = con.execute("SELECT approved_by FROM plans_of_record").fetchall()
    assert by == [(other,)]
    company.set_four_eyes(path, False, ADMIN)  # without four eyes the author may approve
    assert plan_of_record.approve(path, "Lee's plan", author, weeks=8).plan_version == 2
    settings = [row for row in _audit_rows(path) if row[1] == "settings"]
    assert [row[2] for row in settings] == ["four-eyes approval"] * 2


def test_a_job_that_writes_is_refused_before_it_is_queued(forecast_db, tmp_path):
    path = _with_users(forecast_db, tmp_path / "roles.duckdb")
    with pytest.raises(access.AccessDenied, match="demand planner"):
        control.start(path, "refresh", {"horizon": 26}, _email("viewer"), launch=False)
    with pytest.raises(access.AccessDenied, match="operations"):
        control.start(path, "plan", {"horizon": 26}, _email("marketing"), launch=False)
    with db.connect(path) as con:
        assert con.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0


def test_in_single_team_mode_everyone_writes_and_is_audited(forecast_db, tmp_path):
    path = tmp_path / "single.duckdb"
    shutil.copy(forecast_db, path)
    before = _audit_rows(path)  # the sample's own forecast run, as nobody in particular
    assert before == [("anonymous", "forecast run", "run 1")]
    decisions.add_item(path, "decision", "Go", "Ops", "Sam")
    assert _audit_rows(path) == [*before, ("Sam", "decision add", "item 1")]


def test_nothing_in_the_product_edits_or_deletes_an_audit_row():
    """The trail is only appended to: no SQL in the product updates or deletes its rows."""
    sql = re.compile(
        r"(UPDATE\s+audit_log|DELETE\s+FROM\s+audit_log|DROP\s+TABLE.*audit_log)", re.IGNORECASE
    )
    found = [
        str(file.relative_to(ROOT))
        for folder in ("sop_core", "sop_ui", "pages")
        for file in (ROOT / folder).rglob("*.py")
        if sql.search(file.read_text())
    ]
    assert found == []


def test_the_cli_writes_as_someone_and_refuses_in_one_line(forecast_db, tmp_path):
    """``--as`` on the writing commands: the same checks as the pages, one line when refused,
    nothing written; ``info`` says when the database is in single-team mode."""
    from tests.helpers import run_cli

    single = tmp_path / "single.duckdb"
    shutil.copy(forecast_db, single)
    assert "Single-team mode" in run_cli("info", "--db", str(single)).stdout
    path = _with_users(forecast_db, tmp_path / "roles.duckdb")
    assert json.loads(run_cli("info", "--db", str(path), "--json").stdout)["single_team"] is False
    plan = tmp_path / "plan.csv"
    _, _, base = _run_and_cycle(path)
    week = base.weeks[6].astype(dt.date)
    plan.write_text(f"week,sku,discount\n{week},{base.skus[0]},0.2\n")
    before = _audit_rows(path)
    for command in (
        ("import-plan", str(plan), "--scenario", "Spring"),
        ("plan", "--horizon", "8", "--jobs", "1"),
        ("jobs", "start", "refresh"),
    ):
        refused = run_cli(*command, "--db", str(path), "--as", _email("viewer"))
        assert refused.returncode != 0
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and "may not change" in lines[0], refused.stderr
    assert _audit_rows(path) == before
    done = run_cli(
        "import-plan", str(plan), "--scenario", "Spring", "--db", str(path), "--as",
        _email("marketing"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    trail = json.loads(
        run_cli("audit", "--db", str(path), "--who", _email("marketing"), "--json").stdout
    )["entries"]
    assert [(e["action"], e["object"], e["scope"]) for e in trail] == [
        ("scenario create", "Spring", "from the plan file plan.csv")
    ]
