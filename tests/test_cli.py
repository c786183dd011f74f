"""The CLI as a scheduler uses it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import datetime as dt
import io
import json
from itertools import pairwise
from pathlib import Path

import duckdb
import pytest

from sop_core.cli.common import ProgressBar
from tests.helpers import hold_lock, run_cli, run_cli_waiting


@pytest.mark.slow
def test_init_then_info(tmp_path: Path):
    path = tmp_path / "demo.duckdb"
    built = run_cli(
        "init",
        "--db",
        str(path),
        "--skus",
        "12",
        "--weeks",
        "110",
        "--seed",
        "1",
        "--as-of",
        "2026-11-25",
        "--quiet",
    )
    assert built.returncode == 0, built.stderr
    assert "12 SKUs" in built.stdout and "Meeting in progress" in built.stdout
    con = duckdb.connect(str(path), read_only=True)
    try:
        # A meeting in progress: the current forecast and 8 past ones, last week's plan of
        # record, overrides with reasons, scenarios, decisions with one overdue.
        runs = con.execute("SELECT count(DISTINCT history_end) FROM forecast_runs").fetchone()[0]
        approved = con.execute("SELECT approved_at FROM plans_of_record").fetchall()
        reasons = con.execute("SELECT reason FROM consensus_overrides").fetchall()
        scenarios = con.execute("SELECT count(*) FROM scenarios").fetchone()[0]
        overdue = con.execute(
            "SELECT count(*) FROM decisions WHERE due_date < DATE '2026-11-16'"
        ).fetchone()[0]
    finally:
        con.close()
    assert runs == 9
    assert len(approved) == 1 and approved[0][0].date() == dt.date(2026, 11, 16)
    assert len(reasons) >= 2 and all(len(r) > 10 for (r,) in reasons)
    assert scenarios == 3 and overdue == 1
    info = run_cli("info", "--db", str(path), "--json")
    assert info.returncode == 0, info.stderr
    payload = json.loads(info.stdout)
    assert payload["tables"]["products"] == 12
    assert payload["tables"]["sales_history"] > 0
    assert payload["history_last_week"] == "2026-11-16"
    text = run_cli("info", "--db", str(path))
    assert "sales_history" in text.stdout and text.returncode == 0


@pytest.mark.slow
def test_init_refuses_to_overwrite_without_force(tmp_path: Path):
    path = tmp_path / "demo.duckdb"
    assert (
        run_cli(
            "init", "--db", str(path), "--skus", "6", "--weeks", "104", "--data-only", "--quiet"
        ).returncode
        == 0
    )
    again = run_cli("init", "--db", str(path), "--skus", "6", "--quiet")
    assert again.returncode != 0
    assert again.stderr.strip().count("\n") == 0 and "--force" in again.stderr
    forced = run_cli(
        "init",
        "--db",
        str(path),
        "--skus",
        "7",
        "--weeks",
        "104",
        "--force",
        "--data-only",
        "--quiet",
    )
    assert forced.returncode == 0, forced.stderr
    con = duckdb.connect(str(path))
    assert con.execute("SELECT count(*) FROM products").fetchone()[0] == 7
    con.close()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["init", "--db", "/no/such/dir/x.duckdb"], "does not exist"),
        (["init", "--db", "{tmp}/x.duckdb", "--skus", "many"], "expected a whole number"),
        (["init", "--db", "{tmp}/x.duckdb", "--skus", "-3"], "from 5 to 20000, got -3"),
        (["init", "--db", "{tmp}/x.duckdb", "--skus", "3"], "from 5 to 20000, got 3"),
        (["init", "--db", "{tmp}/x.duckdb", "--weeks", "10"], "from 104 to 520, got 10"),
        (["init", "--db", "{tmp}/x.duckdb", "--as-of", "yesterday"], "YYYY-MM-DD"),
        (["info", "--db", "{tmp}/absent.duckdb"], "no database"),
        (["info"], "required: --db"),
        (["bogus"], "invalid choice"),
    ],
)
def test_bad_input_gives_one_line_and_a_non_zero_exit(tmp_path: Path, arguments, message):
    result = run_cli(*[a.replace("{tmp}", str(tmp_path)) for a in arguments])
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.duckdb").exists()


def test_a_file_that_is_not_a_database(tmp_path: Path):
    path = tmp_path / "notes.duckdb"
    path.write_text("this is a shopping list")
    result = run_cli("info", "--db", str(path))
    assert result.returncode != 0 and "could not be used" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_info_waits_for_a_writer_in_another_process(sample_db: Path):
    holder = hold_lock(sample_db, None)
    result = run_cli_waiting(holder, "info", "--db", str(sample_db), "--json")
    holder.wait(timeout=60)
    assert result.returncode == 0, result.stderr
    assert "waiting" in result.stderr and "in use by another program" in result.stderr
    assert json.loads(result.stdout)["tables"]["products"] == 40


@pytest.mark.parametrize("command", ["init", "info", "dictionary"])
def test_every_command_has_help(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0 and "usage:" in result.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["init", "--db", "{tmp}/x.duckdb", "--as-of", "0001-01-03"], "between 2000-01-01"),
        (["init", "--db", "{tmp}/x.duckdb", "--skus", "20000", "--weeks", "520"], "3,200,000"),
        (["dictionary", "--out", "/no/such/dir/d.md"], "The folder /no/such/dir does not exist"),
        (["info", "--db", "{tmp}/empty.duckdb"], "is not an S&OP dashboard database"),
    ],
)
def test_more_bad_input_gives_one_line(tmp_path: Path, arguments, message):
    duckdb.connect(str(tmp_path / "empty.duckdb")).close()
    result = run_cli(*[a.replace("{tmp}", str(tmp_path)) for a in arguments])
    assert result.returncode != 0 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_force_replaces_a_file_that_is_not_a_database(tmp_path: Path):
    path = tmp_path / "old.duckdb"
    path.write_text("not a database")
    result = run_cli(
        "init",
        "--db",
        str(path),
        "--skus",
        "5",
        "--weeks",
        "104",
        "--force",
        "--data-only",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert run_cli("info", "--db", str(path), "--json").returncode == 0


@pytest.mark.slow
def test_init_force_waits_for_a_reader_and_says_so(sample_db: Path):
    holder = hold_lock(sample_db, None)
    result = run_cli_waiting(
        holder,
        "init",
        "--db",
        str(sample_db),
        "--skus",
        "6",
        "--weeks",
        "104",
        "--force",
        "--data-only",
        "--quiet",
    )
    holder.wait(timeout=60)
    assert result.returncode == 0, result.stderr
    assert "waiting" in result.stderr
    con = duckdb.connect(str(sample_db))
    assert con.execute("SELECT count(*) FROM products").fetchone()[0] == 6
    con.close()


@pytest.mark.slow
def test_accuracy_reports_lags_value_added_and_exceptions(backfilled_db, sample_db):
    result = run_cli("accuracy", "--db", str(backfilled_db), "--lag", "2", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [row["lag"] for row in report["by_lag"]] == [1, 2, 3, 4, 5, 6]
    assert report["origins"] == 3
    assert [row["step"] for row in report["value_added"]] == ["naive", "statistical", "consensus"]
    impacts = [row["impact"] for row in report["exceptions"]]
    assert len(impacts) == 10 and impacts == sorted(impacts, reverse=True)

    unknown = run_cli("accuracy", "--db", str(backfilled_db), "--level", "family", "--value", "x")
    assert unknown.returncode != 0 and "no family called 'x'" in unknown.stderr
    none_yet = run_cli("accuracy", "--db", str(sample_db))
    assert none_yet.returncode != 0 and "--backfill" in none_yet.stderr
    assert "Traceback" not in unknown.stderr + none_yet.stderr


def test_help_lists_every_command_in_the_planners_order():
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    listed = result.stdout.split("{", 1)[1].split("}", 1)[0].split(",")
    assert listed == [
        "init",
        "import",
        "import-plan",
        "scenario",
        "targets",
        "holdout",
        "pack",
        "export",
        "info",
        "forecast",
        "backtest",
        "evaluate",
        "accuracy",
        "drivers",
        "overrides",
        "capacity",
        "plan",
        "approve",
        "plans",
        "decisions",
        "jobs",
        "users",
        "audit",
        "dictionary",
    ]


def test_progress_in_a_log_is_a_few_plain_lines_and_quiet_has_none(tmp_path: Path):
    arguments = ["--skus", "6", "--weeks", "104", "--as-of", "2026-11-25", "--data-only"]
    logged = run_cli("init", "--db", str(tmp_path / "a.duckdb"), *arguments)
    assert logged.returncode == 0, logged.stderr
    lines = logged.stderr.splitlines()
    # A line each time the work moved on by a tenth: no carriage returns, no bar.
    assert "\r" not in logged.stderr and "|" not in logged.stderr
    assert 3 <= len(lines) <= 11, lines
    percents = [int(line.split("%")[0]) for line in lines]
    assert percents == sorted(percents) and all(b - a >= 10 for a, b in pairwise(percents))
    assert lines[0] == "  4%  Designing products" and lines[-1] == "100%  Done"
    quiet = run_cli("init", "--db", str(tmp_path / "b.duckdb"), *arguments, "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_progress_on_a_terminal_is_one_line_redrawn_in_place():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = ProgressBar(stream)
    for fraction, message in [(0.0, "Reading the history"), (0.5, "Fitted 4 of 8"), (1.0, "Done")]:
        progress(fraction, message)
    text = stream.getvalue()
    assert text.startswith("\r  0%|") and "Reading the history" in text
    assert text.endswith("\n") and text.count("\n") == 1
    assert text.rstrip().rsplit("\r", 1)[1].startswith("100%|") and "| Done [" in text


def test_info_on_a_database_without_sales_history(tmp_path: Path):
    empty = tmp_path / "empty.duckdb"
    assert run_cli("init", "--db", str(empty), "--empty").returncode == 0
    payload = json.loads(run_cli("info", "--db", str(empty), "--json").stdout)
    assert payload["history_first_week"] is None and payload["tables"]["sales_history"] == 0
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE notes (x INTEGER)")
    con.close()
    # Another program's database is refused, not described (tests/test_foreign_database.py).
    result = run_cli("info", "--db", str(other), "--json")
    assert result.returncode == 1 and "not an S&OP dashboard database" in result.stderr


# ---- --out is checked before any work ---------------------------------------------------------


def _runs_stored(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        tables = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
        if "forecast_runs" not in tables:
            return 0
        return con.execute("SELECT count(*) FROM forecast_runs").fetchone()[0]


def _one_line(result, message: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and "Errno" not in result.stderr


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        ("forecast", ["--quiet"]),
        ("forecast", ["--quiet", "--backfill", "2"]),
        ("targets", []),
    ],
)
def test_out_into_a_missing_folder_is_refused_before_any_work(
    sample_db: Path, tmp_path: Path, command: str, extra: list[str]
):
    # The sample has no forecast: a command that started working would fit one (forecast)
    # or say there is none (targets) before it ever looked at --out.
    out = tmp_path / "missing" / "out.csv"
    result = run_cli(command, "--db", str(sample_db), "--out", str(out), *extra)
    _one_line(result, f"The folder {out.parent} does not exist")
    assert _runs_stored(sample_db) == 0
    assert not out.parent.exists()


def test_out_into_a_folder_that_cannot_be_written_is_refused_before_any_work(sample_db: Path):
    folder = Path("/sys")
    try:
        (folder / "probe").touch()
    except OSError:
        pass
    else:  # pragma: no cover - a machine where /sys is writable
        pytest.skip("/sys is writable here")
    result = run_cli("forecast", "--db", str(sample_db), "--out", "/sys/f.csv", "--quiet")
    _one_line(result, "Cannot write into the folder /sys")
    assert _runs_stored(sample_db) == 0
    result = run_cli("export", "--db", str(sample_db), "--table", "products", "--out", "/sys/p.csv")
    _one_line(result, "Cannot write into the folder /sys")


def test_pack_out_that_is_a_file_says_it_is_a_file(sample_db: Path, tmp_path: Path):
    existing = tmp_path / "pack"
    existing.write_text("not a folder")
    result = run_cli("pack", "--db", str(sample_db), "--out", str(existing), "--quiet")
    _one_line(result, f"{existing} is a file, not a folder")
    assert existing.read_text() == "not a folder"
    missing = run_cli("pack", "--db", str(sample_db), "--out", str(tmp_path / "nope"), "--quiet")
    _one_line(missing, "does not exist")


def test_dictionary_into_a_missing_folder_is_one_line(tmp_path: Path):
    out = tmp_path / "missing" / "d.md"
    _one_line(run_cli("dictionary", "--out", str(out)), f"The folder {out.parent} does not exist")
    written = run_cli("dictionary", "--out", str(tmp_path / "d.md"))
    assert written.returncode == 0 and (tmp_path / "d.md").read_text().startswith("#")


def test_export_out_that_is_a_folder_or_all_into_a_file(sample_db: Path, tmp_path: Path):
    into_folder = run_cli(
        "export", "--db", str(sample_db), "--table", "products", "--out", str(tmp_path)
    )
    _one_line(into_folder, "name the file")  # "--out DIR" without a name: name a .csv file
    afile = tmp_path / "x.csv"
    afile.write_text("keep")
    into_file = run_cli("export", "--db", str(sample_db), "--table", "all", "--out", str(afile))
    _one_line(into_file, "is a file, not a folder")
    assert afile.read_text() == "keep"


# ---- numeric flags state their real range -------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["forecast", "--horizon", "-5"],
            "--horizon: expected a whole number from 1 to 104, got -5",
        ),
        (["forecast", "--horizon", "0"], "--horizon: expected a whole number from 1 to 104, got 0"),
        (["forecast", "--horizon", "105"], "from 1 to 104, got 105"),
        (["forecast", "--backfill", "53"], "--backfill: expected a whole number from 0 to 52"),
        (
            ["forecast", "--backfill-step", "0"],
            "--backfill-step: expected a whole number from 1 to 13",
        ),
        (["forecast", "--jobs", "0"], "--jobs: expected a whole number from 1 to"),
        (["forecast", "--horizon", "many"], "expected a whole number from 1 to 104, got 'many'"),
        (["backtest", "--horizon", "0"], "--horizon: expected a whole number >= 1, got 0"),
        (["accuracy", "--lag", "-1"], "--lag: expected a whole number >= 0, got -1"),
        (["accuracy", "--top", "-1"], "--top: expected a whole number >= 0, got -1"),
        (["plan", "--horizon", "0"], "--horizon: expected a whole number from 1 to 104, got 0"),
        (
            ["pack", "--out", "{tmp}", "--weeks", "0"],
            "--weeks: expected a whole number from 1 to 104",
        ),
        (
            ["targets", "--out", "{tmp}/t.csv", "--horizon", "0"],
            "--horizon: expected a whole number >= 1",
        ),
        (
            ["targets", "--out", "{tmp}/t.csv", "--plan-of-record", "-1"],
            "expected a whole number >= 0",
        ),
        (["holdout", "--weeks", "0"], "--weeks: expected a whole number >= 1, got 0"),
        (["init", "--seed", "-1"], "--seed: expected a whole number from 0 to 4294967295"),
        (["init", "--lines", "0"], "--lines: expected a whole number >= 5, got 0"),
    ],
)
def test_numeric_flags_state_their_real_range(tmp_path: Path, arguments, message):
    db = ["--db", str(tmp_path / "x.duckdb")]
    result = run_cli(arguments[0], *db, *[a.replace("{tmp}", str(tmp_path)) for a in arguments[1:]])
    assert result.returncode == 2, result.stderr
    assert message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "x.duckdb").exists()


def test_init_above_the_meeting_size_builds_the_data_only_and_says_so(
    tmp_path: Path, monkeypatch, capsys
):
    from sop_core.cli import data as data_commands
    from sop_core.cli import main

    monkeypatch.setattr(data_commands, "MEETING_MAX_SKUS", 6)
    path = tmp_path / "big.duckdb"
    arguments = ["init", "--db", str(path), "--skus", "7", "--weeks", "104", "--quiet"]
    assert main([*arguments, "--as-of", "2026-11-25"]) == 0
    said = capsys.readouterr().out
    assert "Above 6 SKUs init builds the company's data only" in said and "--meeting" in said
    con = duckdb.connect(str(path))
    try:
        assert con.execute("SELECT count(*) FROM products").fetchone()[0] == 7
        assert con.execute("SELECT count(*) FROM forecast_runs").fetchone()[0] == 0
    finally:
        con.close()
    refused = run_cli(*arguments, "--force", "--meeting", "--data-only")
    assert refused.returncode != 0 and "--meeting" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
