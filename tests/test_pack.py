"""The meeting pack: the files are read back, not just written."""

from __future__ import annotations

import shutil

import openpyxl
import pytest

from sop_core.data import db
from sop_core.meeting import decisions
from sop_core.meeting.pack import SHEETS, build_pack
from sop_core.meeting.plan_of_record import approve
from tests.helpers import run_cli


@pytest.fixture()
def pack_db(forecast_db, tmp_path):
    path = tmp_path / "sop.duckdb"
    shutil.copy(forecast_db, path)
    return path


@pytest.mark.slow
def test_the_pack_holds_the_targets_capacity_decisions_and_charts(pack_db, tmp_path):
    decisions.add_item(pack_db, "decision", "=cmd|' /C calc'!A0 extra shift", "Ops", "Ana")
    approval = approve(pack_db, None, "Ana", weeks=13)
    out = tmp_path / "pack"
    out.mkdir()
    files = build_pack(pack_db, out, weeks=13)

    book = openpyxl.load_workbook(files["xlsx"], read_only=True)
    assert book.sheetnames == list(SHEETS)
    targets = list(book["Targets"].iter_rows(values_only=True))
    header, rows = targets[0], targets[1:]
    target = header.index("target")  # the plan of record's rows, as frozen
    assert sum(r[target] for r in rows) == pytest.approx(approval.volume)
    with db.connect(pack_db) as con:
        skus = con.execute("SELECT count(*) FROM products").fetchone()[0]
        lines = con.execute("SELECT count(*) FROM production_lines").fetchone()[0]
    assert len(rows) == 13 * skus
    assert book["Capacity"].max_row - 1 == 13 * lines
    decision = [r for r in book["Decisions"].iter_rows(values_only=True) if "extra shift" in str(r)]
    assert decision and any(str(c).startswith("'=cmd") for c in decision[0])  # escaped
    summary = dict(book["Summary"].iter_rows(min_row=2, values_only=True))
    assert summary["Plan of record"].startswith("v1, approved by Ana")
    assert summary["Targets"] == "as frozen at approval"

    report = files["html"].read_text(encoding="utf-8")
    assert "Revised targets and planned production" in report and "Planned load by line" in report
    assert report.count("Plotly.newPlot") == 3
    # plotly.js is inside, no script is fetched: it opens offline.
    assert '<script src="http' not in report and len(report) > 3_000_000
    if shutil.which("chromium"):
        assert files["pdf"].read_bytes().startswith(b"%PDF")


@pytest.mark.slow
def test_the_cli_writes_the_pack_and_refuses_a_missing_folder(pack_db, tmp_path):
    done = run_cli("pack", "--db", str(pack_db), "--out", str(tmp_path), "--weeks", "8", "--quiet")
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.glob("sop-pack-*.xlsx")) and list(tmp_path.glob("sop-pack-*.html"))
    missing = run_cli("pack", "--db", str(pack_db), "--out", str(tmp_path / "nope"))
    assert missing.returncode != 0 and "does not exist" in missing.stderr


def test_a_named_scenario_is_planned_today_and_says_so(pack_db, tmp_path):
    from sop_core.scenario.levers import Scenario
    from sop_core.scenario.store import create_scenario

    create_scenario(pack_db, Scenario("Push"), "Ana", 1)
    files = build_pack(pack_db, tmp_path, "Push", weeks=8, pdf=False)
    book = openpyxl.load_workbook(files["xlsx"], read_only=True)
    summary = dict(book["Summary"].iter_rows(min_row=2, values_only=True))
    assert summary["Scenario"] == "Push" and "not frozen" in summary["Targets"]
    assert "Revised target and what the lines can make" in files["html"].read_text(encoding="utf-8")
