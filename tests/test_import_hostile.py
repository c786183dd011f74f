"""Issue 24, imports: a file is read and capped before the database is opened; channels,
families and brands match existing codes whatever their case and spaces; RFC 4180 CSV.

Every test works on real DuckDB files and, where a second program matters, real processes.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from sop_core.data import db
from sop_core.data.importer import import_file
from tests.helpers import ROOT

WORKER = Path(__file__).resolve().parent / "import_worker.py"
MAIN = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
RELATIONS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006"


def compressed_workbook(path: Path, rows: int) -> Path:
    """An .xlsx whose one sheet holds ``rows`` identical sales rows: written as XML straight
    into the zip, it packs a million rows (112 MB of XML) into under 1 MB in half a second."""

    def cell(text: str) -> str:
        return f'<c t="inlineStr"><is><t>{text}</t></is></c>'

    header = "<row>" + cell("week") + cell("sku") + cell("units") + "</row>"
    row = "<row>" + cell("2024-01-01") + cell("A1") + "<c><v>5</v></c></row>"
    sheet = f"<worksheet {MAIN}><sheetData>{header}{row * rows}</sheetData></worksheet>"
    xml = '<?xml version="1.0" encoding="UTF-8"?>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr(
            "[Content_Types].xml",
            f'{xml}<Types xmlns="{PACKAGE}/content-types">'
            '<Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            f'{xml}<Relationships xmlns="{PACKAGE}/relationships"><Relationship Id="rId1" '
            f'Type="{RELATIONS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'{xml}<workbook {MAIN} xmlns:r="{RELATIONS}"><sheets>'
            '<sheet name="Sales" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'{xml}<Relationships xmlns="{PACKAGE}/relationships"><Relationship Id="rId1" '
            f'Type="{RELATIONS}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        )
        archive.writestr("xl/worksheets/sheet1.xml", xml + sheet)
    return path


@pytest.fixture(scope="module")
def million_rows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = compressed_workbook(tmp_path_factory.mktemp("bomb") / "sales.xlsx", 1_000_000)
    assert path.stat().st_size < 1_000_000
    return path


def cli_env(**settings: str) -> dict[str, str]:
    return {**os.environ, **settings}


def test_a_compressed_million_row_workbook_is_refused_fast_naming_the_cap(
    sample_db: Path, million_rows: Path
):
    started = time.monotonic()
    command = ["import", "--db", str(sample_db), "--table", "sales_history", str(million_rows)]
    result = subprocess.run(
        [sys.executable, "-m", "sop_core", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(),  # the default caps
    )
    seconds = time.monotonic() - started
    assert result.returncode != 0
    assert "more than 250,000 rows" in result.stderr
    assert "SOP_IMPORT_MAX_SHEET_ROWS" in result.stderr
    assert "Traceback" not in result.stderr
    assert seconds <= 10, f"refused after {seconds:.1f} s"


def test_a_workbook_over_the_unpacked_cap_is_refused_from_its_zip_directory(
    sample_db: Path, million_rows: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SOP_IMPORT_MAX_UNPACKED_MB", "100")
    started = time.monotonic()
    report = import_file(sample_db, "sales_history", million_rows)
    assert time.monotonic() - started < 2  # nothing was inflated
    assert not report.ok and not report.written
    (error,) = report.errors
    assert "unpacks to 112 MB, more than the 100 MB" in error.text()
    assert "SOP_IMPORT_MAX_UNPACKED_MB" in error.text()


def test_csv_and_parquet_over_the_row_cap_are_refused(
    sample_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import duckdb

    monkeypatch.setenv("SOP_IMPORT_MAX_ROWS", "1000")
    for suffix, options in (("csv", "(HEADER)"), ("parquet", "(FORMAT parquet)")):
        path = tmp_path / f"sales.{suffix}"
        duckdb.sql(
            "COPY (SELECT DATE '2024-01-01' + CAST(7 * i AS INTEGER) AS week, 'A1' AS sku, "
            f"5 AS units FROM range(1001) t(i)) TO '{path}' {options}"
        )
        report = import_file(sample_db, "sales_history", path)
        assert [e.text() for e in report.errors] == [
            f"sales.{suffix} has more than 1,000 rows, the most one import takes (setting "
            "SOP_IMPORT_MAX_ROWS); split the file, or raise the setting."
        ]
    monkeypatch.setenv("SOP_IMPORT_MAX_UNPACKED_MB", "1")
    big = tmp_path / "big.csv"
    big.write_text("week,sku,units\n" + "2024-01-01,A1,5\n" * 70_000)
    (error,) = import_file(sample_db, "sales_history", big).errors
    assert "SOP_IMPORT_MAX_UNPACKED_MB" in error.text()


@pytest.mark.slow
def test_info_answers_while_a_big_workbook_is_being_read(sample_db: Path, million_rows: Path):
    # With the workbook cap raised the million rows are read (slowly, by the spreadsheet
    # reader); the database must stay free meanwhile.
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), str(sample_db), str(million_rows)],
        cwd=ROOT,
        env=cli_env(SOP_IMPORT_MAX_SHEET_ROWS="2000000"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = worker.stdout.readline()
        assert "Reading the file" in line, line + worker.stderr.read()
        info = subprocess.run(
            [sys.executable, "-m", "sop_core", "info", "--db", str(sample_db), "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env=cli_env(SOP_LOCK_TIMEOUT="3"),
        )
        assert info.returncode == 0, info.stderr
        assert '"sales_history"' in info.stdout
        assert worker.poll() is None, "the import ended before info ran: nothing was shown"
    finally:
        worker.kill()
        worker.wait()


# --- channels, families and brands -----------------------------------------------------------


def query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    with db.connect(path) as con:
        return con.execute(sql, params or []).fetchall()


def test_a_mis_cased_channel_lands_on_the_existing_one(sample_db: Path, tmp_path: Path):
    week, sku, channel, units = query(
        sample_db,
        "SELECT week, sku, channel, units FROM sales_history ORDER BY week DESC, sku LIMIT 1",
    )[0]
    channels = query(sample_db, "SELECT channel FROM channels ORDER BY channel")
    total = "SELECT sum(units) FROM sales_history WHERE week = ? AND sku = ?"
    (before,) = query(sample_db, total, [week, sku])[0]
    file = tmp_path / "sales.csv"
    # The same SKU-week under the channel as typed by hand, twice (a trailing space, capitals).
    file.write_text(
        f"week,sku,channel,units\n{week},{sku},{channel.upper()} ,7\n"
        f"{week - dt.timedelta(weeks=1)},{sku}, {channel.title()},8\n"
    )
    report = import_file(sample_db, "sales_history", file)
    assert report.ok and report.written, [i.text() for i in report.issues]
    assert report.rows_replaced == 2 and report.rows_added == 0
    assert query(sample_db, "SELECT channel FROM channels ORDER BY channel") == channels
    # Not double-counted: the SKU-week's total has the file's volume in place of the old one.
    assert query(sample_db, total, [week, sku]) == [(before - units + 7,)]
    assert not [i for i in report.issues if i.severity == "warning"]
    notices = " ".join(i.text() for i in report.issues)
    assert f"'{channel.upper()}' as '{channel}'" in notices


def test_a_really_new_channel_is_a_warning_naming_it(sample_db: Path, tmp_path: Path):
    week, sku = query(sample_db, "SELECT max(week), min(sku) FROM sales_history")[0]
    file = tmp_path / "sales.csv"
    file.write_text(f"week,sku,channel,units\n{week},{sku},Vending,3\n{week},{sku},VENDING ,4\n")
    report = import_file(sample_db, "sales_history", file, dry_run=True)
    # Two spellings of one new channel are one channel: the same SKU-week twice.
    assert [e.message for e in report.errors] == [
        "the same week + sku + channel appears more than once"
    ]
    file.write_text(f"week,sku,channel,units\n{week},{sku},Vending,3\n")
    report = import_file(sample_db, "sales_history", file)
    warnings = [i.text() for i in report.issues if i.severity == "warning"]
    assert warnings == [
        "1 new channel(s), not in channels yet: 'Vending'. Check the spelling: an existing "
        "channel is matched whatever its case and spaces."
    ]
    assert query(sample_db, "SELECT count(*) FROM channels WHERE channel = 'Vending'") == [(1,)]


def test_families_and_brands_match_and_new_ones_are_named(sample_db: Path, tmp_path: Path):
    family, brand = query(sample_db, "SELECT family, brand FROM products ORDER BY sku LIMIT 1")[0]
    file = tmp_path / "products.csv"
    file.write_text(
        "sku,family,brand,list_price\n"
        f"NEW-1,{family.upper()}, {brand.lower()} ,10\n"
        f"NEW-2,Sun care,{brand},12\n"
    )
    report = import_file(sample_db, "products", file)
    assert report.ok and report.written
    assert query(sample_db, "SELECT sku, family, brand FROM products WHERE sku LIKE 'NEW-%'") == [
        ("NEW-1", family, brand),
        ("NEW-2", "Sun care", brand),
    ]
    warnings = [i.text() for i in report.issues if i.severity == "warning"]
    assert (
        len(warnings) == 1
        and "1 new family(s), not in the product list yet: 'Sun care'" in (warnings[0])
    )


# --- RFC 4180 CSV ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "stored"),
    [
        ('"Hand cream\nlarge"', "Hand cream\nlarge"),  # Alt+Enter in Excel
        ('"Cream, large"', "Cream, large"),
        ('"The ""big"" one"', 'The "big" one'),
    ],
    ids=["quoted line break", "quoted separator", "doubled quotes"],
)
def test_rfc_4180_quoted_fields_import(sample_db: Path, tmp_path: Path, field: str, stored: str):
    file = tmp_path / "products.csv"
    # More rows after the quoted one, and a short last row (the reader pads it).
    rows = [f"Q-{n},Plain {n},9" for n in range(1, 8)]
    file.write_text(
        "sku,name,list_price\n" + f"Q-0,{field},9\n" + "\n".join(rows) + "\nQ-9,Short\n",
        newline="",
    )
    report = import_file(sample_db, "products", file)
    # Lines are counted as a spreadsheet shows them: a record with a line break is one row.
    assert [i.text() for i in report.errors] == ["list price is empty (1 row: line 10)"]
    file.write_text("sku,name,list_price\n" + f"Q-0,{field},9\n" + "\n".join(rows) + "\n")
    report = import_file(sample_db, "products", file)
    assert report.ok and report.written, [i.text() for i in report.errors]
    assert query(sample_db, "SELECT name FROM products WHERE sku = 'Q-0'") == [(stored,)]
    assert query(sample_db, "SELECT count(*) FROM products WHERE sku LIKE 'Q-%'") == [(8,)]
