"""Import: a company's own files in, checked row by row, written all or nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from sop_core.data import db
from sop_core.data.importer import SPECS, import_file, parse_mapping
from sop_core.data.sample import build_empty_database
from sop_core.data.schema import INPUT_TABLES, table_columns
from tests.helpers import run_cli


@pytest.fixture()
def empty_db(tmp_path: Path) -> Path:
    path = tmp_path / "own.duckdb"
    build_empty_database(path, company_name="Acme")
    return path


def rows(path: Path, sql: str) -> list[tuple]:
    with db.connect(path) as con:
        return con.execute(sql).fetchall()


def daily_sales(path: Path, days: int = 70, price: bool = True) -> Path:
    """Three SKUs, one row per day from Monday 1 Jan 2024, with a price when asked."""
    dates = pd.date_range("2024-01-01", periods=days, freq="D")
    frame = pd.DataFrame(
        {
            "Date": np.tile(dates.strftime("%Y-%m-%d"), 3),
            "Item": np.repeat(["A1", "B2", "C3"], days),
            "Qty": np.tile(np.arange(days) % 5 + 1, 3),
        }
    )
    if price:
        frame["Price"] = 9.5
    frame.to_csv(path, index=False)
    return path


def test_every_input_table_has_import_rules_for_every_column():
    for table in INPUT_TABLES:
        assert table in SPECS, table
    con = duckdb.connect()
    from sop_core.data import schema

    schema.migrate(con)
    live = table_columns(con)
    for table, spec in SPECS.items():
        assert [c.name for c in spec.columns] == live[table], table


def test_minimal_daily_sales_become_weeks_products_and_a_forecast(empty_db, tmp_path):
    report = import_file(empty_db, "sales_history", daily_sales(tmp_path / "sales.csv"))
    assert report.ok and report.written, [i.text() for i in report.issues]
    assert report.columns == {"week": "Date", "sku": "Item", "units": "Qty", "net_price": "Price"}
    # 70 days from a Monday are exactly 10 weeks per SKU: summed, on Mondays.
    assert report.rows_to_write == 30 and report.products_created == 3
    weekly = rows(
        empty_db,
        "SELECT sku, min(week), count(*), sum(units) FROM sales_history GROUP BY sku ORDER BY sku",
    )
    assert weekly[0] == ("A1", dt.date(2024, 1, 1), 10, float(sum(np.arange(70) % 5 + 1)))
    assert rows(empty_db, "SELECT DISTINCT isodow(week) FROM sales_history") == [(1,)]
    texts = " ".join(i.text() for i in report.issues)
    assert "3 SKU(s) are not in the product list" in texts and "summed into 30" in texts
    # The price column feeds the price drivers: each row has a list price to compare with.
    assert rows(empty_db, "SELECT count(*) FROM sales_history WHERE list_price IS NULL") == [(0,)]
    assert rows(empty_db, "SELECT channel FROM channels") == [("all",)]
    log = rows(empty_db, "SELECT table_name, file_name, file_sha256, rows_added FROM import_log")
    assert log[0][:2] == ("sales_history", "sales.csv") and len(log[0][2]) == 64
    assert log[0][3] == 30

    from sop_core.forecast.runs import refresh_forecast

    summary = refresh_forecast(empty_db, jobs=1)
    assert summary.skus == 3


def test_a_week_cut_short_by_the_file_is_flagged(empty_db, tmp_path):
    report = import_file(empty_db, "sales_history", daily_sales(tmp_path / "s.csv", days=66))
    assert report.ok
    assert any("has data for only 3 of its 7 days" in i.text() for i in report.issues)


def test_bad_rows_are_reported_by_line_and_nothing_is_written(sample_db, tmp_path):
    before = rows(
        sample_db, "SELECT count(*), sum(hash(week, sku, channel, units)) FROM sales_history"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "week,sku,channel,units\n"
        "2026-01-05,SKN-0001,retail,3\n"
        "2026-01-05,SKN-0001,retail,4\n"  # the same key twice
        "2026-13-05,SKN-0001,retail,2\n"  # no such date
        "2026-01-12,NOPE-1,retail,-1\n"  # negative
        "2026-01-12,SKN-0002,retail,abc\n"
    )
    report = import_file(sample_db, "sales_history", bad)
    assert not report.ok and not report.written
    messages = [i.text() for i in report.errors]
    assert any("week is not a date" in m and "line 4" in m for m in messages), messages
    assert any("units is negative" in m and "line 5" in m for m in messages), messages
    assert any("units is not a number" in m and "line 6" in m for m in messages), messages
    assert (
        rows(sample_db, "SELECT count(*), sum(hash(week, sku, channel, units)) FROM sales_history")
        == before
    )
    assert rows(sample_db, "SELECT count(*) FROM import_log") == [(0,)]

    duplicate = tmp_path / "dup.csv"
    duplicate.write_text(
        "week,sku,channel,units\n2026-01-05,SKN-0001,retail,3\n2026-01-05,SKN-0001,retail,4\n"
    )
    (issue,) = import_file(sample_db, "sales_history", duplicate).errors
    assert "appears more than once" in issue.text() and "line 2, 3" in issue.text()


def test_references_ranges_and_missing_columns(sample_db, tmp_path):
    stock = tmp_path / "stock.csv"
    stock.write_text("week,sku,units_on_hand\n2026-11-16,GHOST,5\n")
    (issue,) = import_file(sample_db, "inventory", stock).errors
    assert "unknown sku" in issue.text() and "line 2" in issue.text()

    promotions = tmp_path / "promo.csv"
    promotions.write_text("sku,start_week,end_week,discount\nSKN-0001,2027-01-04,2027-01-18,25\n")
    (issue,) = import_file(sample_db, "promotions", promotions).errors
    assert "discount depth is at or above 1" in issue.text() and "0.25 for 25%" in issue.text()

    lines = tmp_path / "lines.csv"
    lines.write_text("line,plant\nL9,North\n")
    (issue,) = import_file(sample_db, "production_lines", lines).errors
    assert "Missing column(s): standard_hours_per_week" in issue.text()


def test_mapping_other_names_and_replacing_rows_with_the_same_key(sample_db, tmp_path):
    assert parse_mapping("units=Menge, sku=Artikel") == {"units": "Menge", "sku": "Artikel"}
    with pytest.raises(Exception, match="target=source"):
        parse_mapping("units")
    stock = tmp_path / "lager.csv"
    stock.write_text("Woche;Artikel;Bestand\n2026-11-16;SKN-0001;123\n2026-11-16;SKN-0002;7\n")
    mapping = {"week": "Woche", "sku": "Artikel", "units_on_hand": "Bestand"}
    first = import_file(sample_db, "inventory", stock, mapping=mapping, author="Ana")
    assert first.ok and first.written
    assert (first.rows_added, first.rows_replaced) == (0, 2)  # the sample has stock that week
    assert rows(
        sample_db,
        "SELECT units_on_hand FROM inventory WHERE sku = 'SKN-0001' AND week = '2026-11-16'",
    ) == [(123.0,)]
    unknown = import_file(sample_db, "inventory", stock, mapping={"stock": "Bestand"})
    assert "not a column of this table" in unknown.errors[0].text()


def test_dates_inside_a_week_align_to_its_start_with_a_notice(sample_db, tmp_path):
    changes = tmp_path / "prices.csv"
    changes.write_text("sku,effective_week,list_price\nSKN-0001,2027-01-07,19.9\n")  # a Thursday
    report = import_file(sample_db, "price_changes", changes)
    assert report.ok
    assert any("not on the first day of a week" in i.text() for i in report.issues)
    assert rows(sample_db, "SELECT effective_week FROM price_changes WHERE list_price = 19.9") == [
        (dt.date(2027, 1, 4),)
    ]


def test_excel_and_parquet_files(sample_db, tmp_path):
    frame = pd.DataFrame(
        {
            "sku": ["NEW-1", "NEW-2"],
            "name": ["One", "Two"],
            "family": "skincare",
            "brand": "Lumen",
            "list_price": [10.0, 12.5],
        }
    )
    frame.to_excel(tmp_path / "products.xlsx", index=False)
    report = import_file(sample_db, "products", tmp_path / "products.xlsx")
    assert report.ok and report.rows_added == 2, [i.text() for i in report.issues]
    with duckdb.connect() as con:
        con.execute(
            "COPY (SELECT DATE '2026-11-16' AS week, 'NEW-1' AS sku, 40.0 AS units_on_hand) "
            f"TO '{tmp_path / 'stock.parquet'}' (FORMAT parquet)"
        )
    report = import_file(sample_db, "inventory", tmp_path / "stock.parquet")
    assert report.ok and report.written
    assert rows(sample_db, "SELECT units_on_hand FROM inventory WHERE sku = 'NEW-1'") == [(40.0,)]
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    assert "could not be read" in import_file(sample_db, "products", broken).errors[0].text()


def test_the_cli_writes_nothing_on_a_dry_run_and_fails_clearly(sample_db, tmp_path):
    good = tmp_path / "stock.csv"
    good.write_text("week,sku,units_on_hand\n2026-11-16,SKN-0001,5\n")
    dry = run_cli("import", "--db", str(sample_db), "--table", "inventory", str(good), "--dry-run")
    assert dry.returncode == 0 and "dry run: nothing written" in dry.stdout
    assert rows(sample_db, "SELECT count(*) FROM import_log") == [(0,)]
    bad = tmp_path / "bad.csv"
    bad.write_text("week,sku,units_on_hand\n2026-11-16,SKN-0001,-5\n")
    failed = run_cli("import", "--db", str(sample_db), "--table", "inventory", str(bad))
    assert failed.returncode == 1
    assert "nothing was written" in failed.stderr and "units on hand is negative" in failed.stderr
    assert "Traceback" not in failed.stderr
    done = run_cli("import", "--db", str(sample_db), "--table", "inventory", str(good), "--json")
    assert done.returncode == 0 and '"written": true' in done.stdout


def test_init_empty_makes_a_database_with_no_data(tmp_path):
    path = tmp_path / "new.duckdb"
    result = run_cli("init", "--db", str(path), "--empty", "--company", "Acme")
    assert result.returncode == 0, result.stderr
    assert rows(path, "SELECT count(*) FROM sales_history") == [(0,)]
    assert ("company_name", "Acme") in rows(path, "SELECT key, value FROM company_settings")
    again = run_cli("init", "--db", str(path), "--empty")
    assert again.returncode != 0 and "already exists" in again.stderr


def test_two_digit_years_and_ambiguous_day_month_are_refused(sample_db, tmp_path):
    short = tmp_path / "short.csv"
    short.write_text("week,sku,units_on_hand\n23.11.26,SKN-0001,12\n")
    (issue,) = import_file(sample_db, "inventory", short).errors
    assert "four-digit years" in issue.text() and "line 2" in issue.text()
    either = tmp_path / "either.csv"
    either.write_text("week,sku,units_on_hand\n05/01/2026,SKN-0001,12\n06/02/2026,SKN-0002,3\n")
    (issue,) = import_file(sample_db, "inventory", either).errors
    assert "could be 5 January or 1 May" in issue.text()
    clear = tmp_path / "clear.csv"
    clear.write_text("week,sku,units_on_hand\n13/01/2026,SKN-0001,12\n06/02/2026,SKN-0002,3\n")
    report = import_file(sample_db, "inventory", clear)
    assert report.ok and report.written
    assert rows(
        sample_db,
        "SELECT units_on_hand FROM inventory WHERE sku = 'SKN-0002' AND week = '2026-02-02'",
    ) == [(3.0,)]
