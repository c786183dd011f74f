"""Issue 24, imports: a file is read and capped before the database is opened; channels,
families and brands match existing codes whatever their case and spaces; RFC 4180 CSV.

Every test works on real DuckDB files and, where a second program matters, real processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

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
        env=cli_env(SOP_IMPORT_MAX_ROWS="500000"),
    )
    seconds = time.monotonic() - started
    assert result.returncode != 0
    assert "more than 500,000 rows" in result.stderr and "SOP_IMPORT_MAX_ROWS" in result.stderr
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
    # Within the default caps the million rows are read (slowly, by the spreadsheet reader);
    # the database must stay free meanwhile.
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), str(sample_db), str(million_rows)],
        cwd=ROOT,
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
