"""Export: every table out as CSV, Parquet or Excel, with formulas escaped for spreadsheets."""

from __future__ import annotations

import duckdb
import openpyxl
import pandas as pd
import pytest

from sop_core.data import db
from sop_core.data.errors import InputError
from sop_core.data.export import export_bytes, export_table
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
