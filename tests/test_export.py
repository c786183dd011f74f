"""Export: every table out as CSV, Parquet or Excel, with formulas escaped for spreadsheets."""

from __future__ import annotations

import datetime as dt

import duckdb
import openpyxl
import pandas as pd
import pytest

from sop_core.data import db, schema
from sop_core.data.errors import InputError
from sop_core.data.export import export_bytes, export_table
from sop_core.data.importer import import_file
from sop_core.data.workbook import unique_sheet_name
from tests.helpers import run_cli

NASTY = ['=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "plain"]


@pytest.fixture()
def nasty_db(sample_db):
    with db.transaction(sample_db) as con:
        for index, text in enumerate(NASTY):
            con.execute(
                "INSERT INTO channels (channel, name, description) VALUES (?, ?, ?)",
                [f"c{index}", text, "x'); DROP TABLE products; --"],
            )
    return sample_db


def test_csv_and_excel_escape_what_a_spreadsheet_would_run(nasty_db, tmp_path):
    rows = export_table(nasty_db, "channels", tmp_path / "channels.csv")
    frame = pd.read_csv(tmp_path / "channels.csv", keep_default_na=False)
    assert rows == len(frame)
    names = frame.set_index("channel")["name"]
    assert [names[f"c{i}"] for i in range(len(NASTY))] == [
        "'" + t if t[0] in "=+-@\t" else t for t in NASTY
    ]
    assert (frame["description"] == "x'); DROP TABLE products; --").sum() == len(NASTY)

    export_table(nasty_db, "channels", tmp_path / "channels.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "channels.xlsx").active
    cells = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert '\'=HYPERLINK("http://x")' in cells and not any(str(c).startswith("=") for c in cells)
    with db.connect(nasty_db) as con:  # the SQL-looking text stayed data
        assert con.execute("SELECT count(*) FROM products").fetchone()[0] == 40


def test_parquet_keeps_values_and_types(sample_db, tmp_path):
    rows = export_table(sample_db, "sales_history", tmp_path / "sales.parquet")
    with duckdb.connect() as con:
        back = con.execute(
            f"SELECT count(*), sum(units) FROM '{tmp_path / 'sales.parquet'}'"
        ).fetchone()
    with db.connect(sample_db) as con:
        assert back == con.execute("SELECT count(*), sum(units) FROM sales_history").fetchone()
    assert back[0] == rows
    assert export_bytes(sample_db, "channels", "csv").startswith(b"channel,name,description")


def test_bad_exports_say_why(sample_db, tmp_path):
    with pytest.raises(InputError, match="no table called"):
        export_table(sample_db, "nope", tmp_path / "x.csv")
    with pytest.raises(InputError, match=r"\.csv, \.parquet or \.xlsx"):
        export_table(sample_db, "products", tmp_path / "x.json")
    with pytest.raises(InputError, match="does not exist"):
        export_table(sample_db, "products", tmp_path / "missing" / "x.csv")


def test_the_cli_exports_every_table_into_a_folder(sample_db, tmp_path):
    result = run_cli("export", "--db", str(sample_db), "--table", "all", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "sales_history.csv").stat().st_size > 0
    assert "products: 40 rows" in result.stdout


def test_excel_refuses_a_table_over_its_limit_up_front(sample_db, tmp_path):
    with db.transaction(sample_db) as con:
        con.execute("CREATE TABLE big AS SELECT range AS n FROM range(1048576)")
    one = run_cli(
        "export", "--db", str(sample_db), "--table", "big", "--out", str(tmp_path / "b.xlsx")
    )
    assert one.returncode == 1 and "1,048,576 rows, more than an Excel sheet holds" in one.stderr
    assert len(one.stderr.strip().splitlines()) == 1
    folder = tmp_path / "all"
    folder.mkdir()
    every = run_cli(
        "export", "--db", str(sample_db), "--table", "all", "--out", str(folder), "--format", "xlsx"
    )
    assert every.returncode == 1 and "big has 1,048,576 rows" in every.stderr
    assert list(folder.iterdir()) == []  # refused before any table was written
    assert not (tmp_path / "b.xlsx").exists()
    one = run_cli(
        "export", "--db", str(sample_db), "--table", "all", "--out", str(folder / "all.xlsx")
    )
    assert one.returncode == 1 and "big has 1,048,576 rows" in one.stderr
    assert list(folder.iterdir()) == []


def test_export_all_into_one_workbook_finance_can_file(sample_db, tmp_path):
    out = tmp_path / "everything.xlsx"
    result = run_cli(
        "export", "--db", str(sample_db), "--table", "all", "--out", str(out), "--author", "Ana"
    )
    assert result.returncode == 0, result.stderr
    with db.connect(sample_db) as con:
        tables = sorted(schema.table_columns(con))
        sales = con.execute("SELECT count(*), sum(units) FROM sales_history").fetchone()
    book = openpyxl.load_workbook(out)
    # One sheet per table (each name a table's, at most 31 characters), then the cover.
    assert book.sheetnames == [*tables, "Cover"]
    assert f"Wrote {len(tables)} tables to {out}, one sheet each." in result.stdout
    cover = {r[0]: r[1] for r in book["Cover"].iter_rows(min_row=3, values_only=True)}
    assert cover["Company"] and cover["Made by"] == "Ana"
    assert isinstance(cover["Made at"], dt.datetime)
    assert cover["Forecast run"] and cover["Plan of record"] and cover["Scenario"]
    assert cover["Contents"].startswith(f"{len(tables)} tables, one sheet each")

    sheet = book["sales_history"]
    assert sheet.max_row - 1 == sales[0]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:I{sales[0] + 1}"
    head = [c.value for c in sheet[1]]
    assert head[:4] == ["Week", "SKU", "Channel", "Units"]  # headers in words
    columns = {name: [row[i] for row in sheet.iter_rows(min_row=2)] for i, name in enumerate(head)}
    units = columns["Units"]
    assert all(isinstance(c.value, int | float) for c in units)  # numbers, not text
    assert {c.number_format for c in units} == {"#,##0"}
    assert sum(c.value for c in units) == pytest.approx(sales[1])
    assert {c.number_format for c in columns["Net price"] if c.value is not None} == {"#,##0.00"}
    depth = columns["Discount depth"]  # a share: a fraction shown as a percent
    assert {c.number_format for c in depth} == {"0.0%"} and max(c.value for c in depth) <= 1
    weeks = columns["Week"]
    assert all(c.is_date for c in weeks) and {c.number_format for c in weeks} == {"d mmm yyyy"}
    assert sheet.column_dimensions["A"].width >= 11  # "30 Nov 2026" fits
    # Nothing was text that should be a number, in any sheet.
    for table in tables:
        for row in book[table].iter_rows(min_row=2, max_row=50):
            for cell in row:
                if isinstance(cell.value, str):
                    assert not cell.value.replace(".", "", 1).isdigit(), (table, cell.value)
                    assert not cell.value.endswith("%"), (table, cell.value)


def test_one_workbook_is_only_excel_and_a_table_export_reads_back_in(sample_db, tmp_path):
    wrong = run_cli(
        "export", "--db", str(sample_db), "--table", "all", "--out", str(tmp_path / "x.xlsx"),
        "--format", "csv",
    )  # fmt: skip
    assert wrong.returncode == 1 and "only as Excel" in wrong.stderr
    assert not (tmp_path / "x.xlsx").exists()
    # A table's workbook: its sheet first, the cover after it, so the importer (which reads
    # the first sheet) takes an export back as it came out.
    out = tmp_path / "products.xlsx"
    assert export_table(sample_db, "products", out, author="Ana") == 40
    assert openpyxl.load_workbook(out).sheetnames == ["products", "Cover"]
    report = import_file(sample_db, "products", out, dry_run=True)
    assert report.ok and report.rows_in_file == 40 and not report.ignored, report.summary()


def test_sheet_names_are_short_unique_and_allowed():
    taken: list[str] = []
    for name in ["plan_of_record_production_by_line_and_week"] * 3 + ["a/b:c", "Cover", "cover"]:
        taken.append(unique_sheet_name(name, taken))
    assert all(len(name) <= 31 for name in taken)
    assert len({name.lower() for name in taken}) == len(taken)
    assert taken[0] == "plan_of_record_production_by_li" and taken[3] == "a_b_c"
