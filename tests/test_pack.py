"""The meeting pack: the files are read back, not just written."""

from __future__ import annotations

import datetime as dt
import re
import shutil

import openpyxl
import pandas as pd
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
    files = build_pack(pack_db, out, weeks=13, author="Ben Ode")

    book = openpyxl.load_workbook(files["xlsx"], read_only=True)
    assert book.sheetnames == list(SHEETS)
    targets = list(book["Targets"].iter_rows(values_only=True))
    header, rows = targets[0], targets[1:]
    target = header.index("Target")  # the plan of record's rows, as frozen; headers in words
    assert sum(r[target] for r in rows) == pytest.approx(approval.volume)
    with db.connect(pack_db) as con:
        skus = con.execute("SELECT count(*) FROM products").fetchone()[0]
        lines = con.execute("SELECT count(*) FROM production_lines").fetchone()[0]
    assert len(rows) == 13 * skus
    assert book["Capacity"].max_row - 1 == 13 * lines
    decision = [r for r in book["Decisions"].iter_rows(values_only=True) if "extra shift" in str(r)]
    assert decision and any(str(c).startswith("'=cmd") for c in decision[0])  # escaped
    cover = _cover(book)
    assert cover["Plan of record"].startswith("v1, approved by Ana")
    assert cover["Targets"] == "as frozen at approval" and cover["Forecast run"] == 1
    assert cover["Made by"] == "Ben Ode" and isinstance(cover["Made at"], dt.datetime)
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Revised target (units)"] == round(approval.volume)

    report = files["html"].read_text(encoding="utf-8")
    assert "Revised targets and planned production" in report and "Planned load by line" in report
    assert "Ben Ode" in report and f"{round(approval.volume):,}" in report  # the workbook's
    if shutil.which("chromium"):
        # The charts are pictures: no plotly.js, no toolbar, and nothing fetched.
        assert report.count('<img alt="') == 3 and "Plotly.newPlot" not in report
        assert "modebar" not in report
        assert files["html"].stat().st_size <= 1_500_000
        _assert_offline(report)
        pages = _pdf_pages(files["pdf"])
        assert "S&OP meeting pack" in pages[0] and "Revised target" in pages[0]
        assert all(f"Page {n} of {len(pages)}" in text for n, text in enumerate(pages, 1))


def _cover(book) -> dict:
    return {r[0]: r[1] for r in book["Cover"].iter_rows(min_row=3, values_only=True) if r[0]}


def _assert_offline(report: str) -> None:
    """No src, href or CSS url pointing anywhere: the file opens without a network."""
    pointers = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]+)|url\(([^)]*)\)""", report)
    targets = [a or b for a, b in pointers]
    assert targets and all(t.startswith("data:") for t in targets), targets
    assert not re.search(r"https?://", report)


def _pdf_pages(pdf) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(pdf).pages]


@pytest.mark.slow
def test_the_cli_writes_the_pack_and_refuses_a_missing_folder(pack_db, tmp_path):
    done = run_cli("pack", "--db", str(pack_db), "--out", str(tmp_path), "--weeks", "8", "--quiet")
    assert done.returncode == 0, done.stderr
    assert list(tmp_path.glob("sop-pack-*.xlsx")) and list(tmp_path.glob("sop-pack-*.html"))
    missing = run_cli("pack", "--db", str(pack_db), "--out", str(tmp_path / "nope"))
    assert missing.returncode != 0 and "does not exist" in missing.stderr


def test_a_named_scenario_is_planned_today_and_says_so(pack_db, tmp_path):
    from sop_core.scenario.model import Scenario
    from sop_core.scenario.store import create_scenario

    create_scenario(pack_db, Scenario("Push"), "Ana", 1)
    files = build_pack(pack_db, tmp_path, "Push", weeks=8, pdf=False)
    book = openpyxl.load_workbook(files["xlsx"])
    cover = _cover(book)
    assert cover["Scenario"] == "Push" and "not frozen" in cover["Targets"]
    assert cover["Made by"] == "\u2013" and isinstance(cover["First week"], dt.datetime)
    assert "Revised target and what the lines can make" in files["html"].read_text(encoding="utf-8")
    # Numbers stored as numbers, with the formats the report shows them in.
    summary = {r[0].value: r[1] for r in book["Summary"].iter_rows(min_row=2)}
    revenue = next(cell for label, cell in summary.items() if label.startswith("Revenue"))
    assert isinstance(revenue.value, int | float) and revenue.number_format == "#,##0"
    peak = summary["Peak demand load, next 8 weeks"]
    assert isinstance(peak.value, float) and peak.number_format == "0%"
    assert f"{peak.value:.0%}" in files["html"].read_text(encoding="utf-8")
    for name in ("Targets", "Production", "Capacity"):
        sheet = book[name]
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
        head = [c.value for c in sheet[1]]
        row = dict(zip(head, sheet[2], strict=True))
        assert row["Week"].is_date and row["Week"].number_format == "d mmm yyyy"
        numbers = [c for c in sheet[2] if isinstance(c.value, int | float)]
        assert numbers and all(c.number_format != "General" for c in numbers), name
        assert all(sheet.column_dimensions[c].width >= 6 for c in "ABC")


def test_without_pictures_the_report_keeps_static_charts_offline():
    # Where kaleido or Chromium is missing the charts come with plotly.js inline, drawn
    # static (no toolbar), still without a network.
    from sop_core.charts import scenario_chart
    from sop_core.meeting.pack import PackContent, report_html

    figure = scenario_chart(
        pd.DataFrame(
            {
                "week": pd.date_range("2026-11-30", periods=3, freq="7D"),
                "baseline": [1.0, 2.0, 3.0],
                "revised": [1.0, 2.5, 3.0],
                "lower_80": [0.5, 1.5, 2.0],
                "upper_80": [1.5, 3.0, 4.0],
            }
        )
    )
    content = PackContent("Push", [], [], {}, [figure], pd.Timestamp("2026-11-30"))
    page = report_html(content, [("Company", "Aurora")], pd.DataFrame(), None, "Letter")
    assert page.count("Plotly.newPlot") == 1 and '"staticPlot": true' in page
    assert "size: Letter" in page and "counter(pages)" in page
    assert '<script src="http' not in page


def test_the_pack_lists_the_changes_since_the_plan_of_record_with_who_made_them(pack_db, tmp_path):
    from sop_core.data import access, company

    for folder in ("before", "approved", "after"):
        (tmp_path / folder).mkdir()
    company.set_four_eyes(pack_db, True, "Ana")  # before any plan of record
    files = build_pack(pack_db, tmp_path / "before", weeks=8, pdf=False)
    book = openpyxl.load_workbook(files["xlsx"], read_only=True)
    rows = list(book["Changes"].iter_rows(values_only=True))
    assert rows[0][:5] == ("When", "Who", "Action", "Object", "Scope")
    listed = [r[1:4] for r in rows[1:]]  # everything so far: the fixture's forecast, then Ana's
    assert listed[-1] == ("Ana", "settings", "four-eyes approval")
    assert ("anonymous", "forecast run", "run 1") in listed
    report = files["html"].read_text(encoding="utf-8")
    assert "Changes recorded (no plan of record yet)" in report

    approve(pack_db, None, "Ana", weeks=8)
    files = build_pack(pack_db, tmp_path / "approved", weeks=8, pdf=False)
    assert "None: nothing was changed after its approval" in files["html"].read_text("utf-8")

    access.add_user(pack_db, "ada@example.com", ["admin"], by="Ana", name="Ada")
    company.set_four_eyes(pack_db, False, "ada@example.com")
    files = build_pack(pack_db, tmp_path / "after", weeks=8, pdf=False)
    book = openpyxl.load_workbook(files["xlsx"], read_only=True)
    changes = [r[1:5] for r in list(book["Changes"].iter_rows(values_only=True))[1:]]
    # Only what came after the approval, oldest first, each with who made it.
    assert changes == [
        ("Ana", "users add", "ada@example.com", None),
        ("ada@example.com", "settings", "four-eyes approval", None),
    ]
    report = files["html"].read_text(encoding="utf-8")
    section = report[report.index("Changes since the last plan of record") :]
    assert "ada@example.com" in section and "users add" in section
    assert section.count("<tr>") == 3  # the header and the two changes
