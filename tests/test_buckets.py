"""Figures by week, fiscal month or quarter: the CLI's targets in every bucket hold the same
totals as the weekly file, to the unit, under every fiscal calendar."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from openpyxl import load_workbook

from sop_core.data import db
from sop_core.data.fiscal import FiscalCalendar
from sop_core.data.stores import master
from tests.helpers import run_cli

FIGURES = ["baseline", "revised", "revenue", "margin"]


@pytest.fixture()
def targets_by(forecast_db, tmp_path):
    """``targets_by(bucket, calendar)``: the targets file of the sample in ``bucket`` and the
    command's JSON summary."""
    path = tmp_path / "sop.duckdb"
    shutil.copy(forecast_db, path)

    def run(bucket: str, calendar: FiscalCalendar):
        with db.transaction(path) as con:
            master.set_fiscal_calendar(con, calendar)
        out = tmp_path / f"{bucket}-{calendar.start_month}-{calendar.pattern}.csv"
        done = run_cli(
            "targets", "--db", str(path), "--bucket", bucket, "--horizon", "20", "--out",
            str(out), "--json",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return pd.read_csv(out), json.loads(done.stdout)

    return run


@pytest.mark.parametrize(
    "calendar", [FiscalCalendar(), FiscalCalendar(7, "445"), FiscalCalendar(4, "544")], ids=str
)
def test_targets_by_month_and_quarter_sum_to_the_weekly_totals(targets_by, calendar):
    weekly, _ = targets_by("week", calendar)
    for bucket in ("month", "quarter"):
        frame, summary = targets_by(bucket, calendar)
        assert list(frame.columns[:2]) == ["sku", bucket]
        assert summary["bucket"] == bucket and summary["weeks"] == 20
        for column in FIGURES:  # to the unit (each file's rows are rounded to cents)
            assert frame[column].sum() == pytest.approx(weekly[column].sum(), abs=1.0)
        per_sku = frame.groupby("sku")["revised"].sum()
        assert per_sku.to_numpy() == pytest.approx(
            weekly.groupby("sku")["revised"].sum().to_numpy(), abs=0.5
        )
        # Every SKU's periods hold its 20 weeks; a band is never narrower than no band.
        assert frame.groupby("sku")["weeks"].sum().round(1).eq(20).all()
        assert (frame["lower_80"] <= frame["revised"] + 0.01).all()
        assert (frame["upper_80"] >= frame["revised"] - 0.01).all()
    if calendar.retail:  # whole weeks: no month holds a fraction of one
        frame, _ = targets_by("month", calendar)
        assert (frame["weeks"] == frame["weeks"].round()).all()


def test_a_month_file_is_named_after_its_bucket_and_its_workbook_says_so(forecast_db, tmp_path):
    done = run_cli(
        "targets", "--db", str(forecast_db), "--bucket", "quarter", "--format", "xlsx", "--out",
        str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (written,) = tmp_path.glob("targets-*.xlsx")
    assert written.name.endswith("-by-quarter.xlsx")
    book = load_workbook(written)
    cover = {row[0]: row[1] for row in book["Cover"].iter_rows(values_only=True) if row[0]}
    assert cover["Figures by"].startswith("quarter (Fiscal year from Jan")
    assert [c.value for c in book["targets"][1]][:2] == ["sku", "quarter"]


def test_an_unknown_bucket_is_refused_by_argparse(forecast_db, tmp_path):
    done = run_cli("targets", "--db", str(forecast_db), "--bucket", "year", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "invalid choice: 'year'" in done.stderr
    assert not list(tmp_path.iterdir())


def test_export_by_month_keeps_totals_revenue_and_order(forecast_db, tmp_path):
    """A weekly table by month: units and revenue (units x the period's price) as weekly,
    each SKU's months in order, a stock as its period's last week's, bands around centres."""
    with db.connect(forecast_db) as con:
        units, revenue = con.execute(
            "SELECT sum(units), sum(units * net_price) FROM sales_history"
        ).fetchone()
        last_stock = con.execute(
            "SELECT arg_max(units_on_hand, week) FROM inventory WHERE sku = 'BDY-0001' "
            "AND week < DATE '2026-01-01' AND week >= DATE '2025-10-01'"
        ).fetchone()[0]
    out = tmp_path / "sales.csv"
    done = run_cli(
        "export", "--db", str(forecast_db), "--table", "sales_history", "--bucket", "month",
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sales = pd.read_csv(out)
    assert list(sales.columns[:4]) == ["sku", "channel", "month", "period_start"]
    assert sales["units"].sum() == pytest.approx(units)
    assert (sales["units"] * sales["net_price"]).sum() == pytest.approx(revenue, rel=1e-9)
    for _, rows in sales.groupby(["sku", "channel"]):
        assert rows["period_start"].is_monotonic_increasing

    book = tmp_path / "all.xlsx"
    done = run_cli(
        "export", "--db", str(forecast_db), "--table", "all", "--bucket", "quarter", "--out",
        str(book),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    stock = pd.read_excel(book, sheet_name="inventory")
    q4 = stock[(stock["SKU"] == "BDY-0001") & (stock["Quarter"] == "Q4 2025")]
    assert q4["Units on hand"].tolist() == [last_stock]
    forecast = pd.read_excel(book, sheet_name="forecast_rows")
    assert (forecast["Lower 80"] <= forecast["Forecast"] + 1e-6).all()
    assert (forecast["Upper 95"] >= forecast["Upper 80"] - 1e-6).all()
    cover = pd.read_excel(book, sheet_name="Cover", header=None)
    assert cover.astype(str).apply(lambda c: c.str.contains("by fiscal quarter")).any().any()


def test_the_pack_by_quarter_names_its_bucket_and_keeps_the_weekly_totals(forecast_db, tmp_path):
    path = tmp_path / "sop.duckdb"
    shutil.copy(forecast_db, path)
    sheets = {}
    for bucket in ("week", "quarter"):
        out = tmp_path / bucket
        out.mkdir()
        done = run_cli("pack", "--db", str(path), "--out", str(out), "--bucket", bucket, "--quiet")
        assert done.returncode == 0, done.stderr
        (book,) = out.glob("*.xlsx")
        assert book.name.endswith("-by-quarter.xlsx") == (bucket == "quarter")
        sheets[bucket] = pd.read_excel(book, sheet_name=None)
    quarterly, weekly = sheets["quarter"], sheets["week"]
    assert "Quarter" in quarterly["Targets"].columns and "Week" not in quarterly["Targets"]
    for sheet, column in [("Targets", "Revised"), ("Targets", "Revenue"), ("Capacity", "Hours")]:
        assert quarterly[sheet][column].sum() == pytest.approx(weekly[sheet][column].sum())
    cover = quarterly["Cover"].astype(str)
    assert cover.apply(lambda c: c.str.startswith("quarter (Fiscal year from Jan")).any().any()


def test_a_weekly_chart_drawn_per_month_names_its_months():
    """``period_axis``: the scenario chart of monthly figures has one point per month on a
    category axis of month names in time order, hovers name the month, titles say "month"."""
    from sop_core.charts.promotions import scenario_chart
    from sop_core.charts.style import WEEK_X, is_weekly, period_axis
    from sop_core.data.export import bucketed_frame

    calendar = FiscalCalendar()
    weeks = pd.date_range("2026-11-23", periods=14, freq="7D")
    weekly = pd.DataFrame(
        {"week": weeks, "baseline": 100.0, "revised": 120.0, "lower_80": 90.0, "upper_80": 150.0}
    )
    monthly = bucketed_frame(weekly, "month", calendar, centre="revised")
    figure = scenario_chart(monthly.rename(columns={"period_start": "week"}))
    assert is_weekly(figure)
    figure = period_axis(figure, lambda day: calendar.period_label(day, "month"), "month")
    assert not is_weekly(figure)
    assert list(figure.layout.xaxis.categoryarray) == [
        "Nov 2026",
        "Dec 2026",
        "Jan 2027",
        "Feb 2027",
    ]
    for trace in figure.data:
        assert list(trace.x) == list(figure.layout.xaxis.categoryarray)
        assert WEEK_X not in (trace.hovertemplate or "")
    assert figure.layout.yaxis.title.text == "Units per month"
    revised = next(t for t in figure.data if t.name == "revised target")
    assert sum(revised.y) == pytest.approx(120.0 * 14)
