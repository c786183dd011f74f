"""The fiscal calendar: weeks to fiscal months, quarters and years, and totals that stay the
same in every bucket."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from sop_core.data.errors import InputError
from sop_core.data.export import bucketed_frame
from sop_core.data.fiscal import BUCKETS, PATTERNS, FiscalCalendar, checked_bucket

CALENDARS = [FiscalCalendar(start, pattern) for pattern in PATTERNS for start in (1, 4, 7, 10)]


@pytest.mark.parametrize("calendar", CALENDARS, ids=str)
def test_every_week_belongs_to_its_periods_whole(calendar):
    """Over eight years every week's shares sum to one, and a retail week sits in one month."""
    weeks = pd.date_range("2024-01-01", "2031-12-29", freq="7D")
    table = calendar.weeks(weeks)
    shares = table.groupby("week")["share"].sum()
    assert len(shares) == len(weeks)
    np.testing.assert_allclose(shares.to_numpy(), 1.0)
    if calendar.retail:
        assert (table["share"] == 1).all()
        assert table["week"].is_unique


@pytest.mark.parametrize("pattern", ["445", "454", "544"])
def test_a_retail_year_has_52_or_53_weeks_in_its_pattern(pattern):
    calendar = FiscalCalendar(1, pattern)
    lengths = {calendar.weeks_in_year(year) for year in range(2020, 2040)}
    assert lengths == {52, 53}
    for year in range(2020, 2040):
        months = calendar.months(year)
        weeks = [(m.end - m.start).days // 7 for m in months]
        assert sum(weeks) == calendar.weeks_in_year(year)
        assert months[0].start.weekday() == 0
        expected = [int(c) for c in pattern] * 4
        expected[-1] += calendar.weeks_in_year(year) - 52  # the 53rd week ends the year
        assert weeks == expected
        assert months[-1].end == calendar.year_start(year + 1)


def test_the_53rd_week_year_is_the_one_whose_start_is_53_weeks_from_the_next():
    calendar = FiscalCalendar(1, "445")
    # 1 Jan 2026 is a Thursday: the year starts on Monday 29 Dec 2025, the next on 4 Jan 2027.
    assert calendar.year_start(2026) == dt.date(2025, 12, 29)
    assert calendar.year_start(2027) == dt.date(2027, 1, 4)
    assert calendar.weeks_in_year(2026) == 53


def test_a_calendar_month_week_is_split_by_its_days():
    table = FiscalCalendar().weeks([dt.date(2026, 9, 28)])  # Mon 28 Sep - Sun 4 Oct
    assert table["month"].tolist() == [9, 10]
    assert table["share"].tolist() == pytest.approx([3 / 7, 4 / 7])
    assert table["quarter"].tolist() == [3, 4]


def test_a_fiscal_year_is_named_after_the_year_it_ends_in():
    calendar = FiscalCalendar(7, "calendar")
    assert calendar.year_of(dt.date(2026, 7, 1)) == 2027
    assert calendar.year_of(dt.date(2026, 6, 30)) == 2026
    assert calendar.month_label(2027, 1) == "Jul 2026"
    assert calendar.month_label(2027, 12) == "Jun 2027"
    assert calendar.quarter_label(2027, 2) == "Q2 FY2027"
    assert FiscalCalendar().quarter_label(2026, 4) == "Q4 2026"


@pytest.mark.parametrize("calendar", CALENDARS[::3], ids=str)
@pytest.mark.parametrize("bucket", BUCKETS)
def test_totals_are_the_same_in_every_bucket(calendar, bucket):
    rng = np.random.default_rng(3)
    weeks = pd.date_range("2026-11-30", periods=78, freq="7D")
    frame = pd.DataFrame(
        {
            "sku": np.repeat(["a", "b", "c"], len(weeks)),
            "week": np.tile(weeks, 3),
            "units": rng.integers(0, 5000, 3 * len(weeks)).astype(float),
        }
    )
    out = bucketed_frame(frame, bucket, calendar)
    assert out["units"].sum() == pytest.approx(frame["units"].sum(), abs=1e-6)
    per_sku = out.groupby("sku")["units"].sum()
    expected = frame.groupby("sku")["units"].sum()
    np.testing.assert_allclose(per_sku.to_numpy(), expected.to_numpy())
    if bucket != "week":
        assert out.groupby("sku")["weeks"].sum().round(6).eq(78).all()
        for _, rows in out.groupby("sku"):
            assert rows["period_start"].is_monotonic_increasing


def test_bad_settings_are_refused_with_a_sentence():
    with pytest.raises(InputError, match="first month must be 1 to 12"):
        FiscalCalendar(13)
    with pytest.raises(InputError, match="Unknown fiscal pattern"):
        FiscalCalendar(1, "446")
    with pytest.raises(InputError, match="Unknown bucket"):
        checked_bucket("year")
    assert FiscalCalendar.from_settings({"fiscal_start_month": "7", "fiscal_pattern": "445"}) == (
        FiscalCalendar(7, "445")
    )
    for calendar in CALENDARS:
        assert FiscalCalendar.from_settings(calendar.settings()) == calendar
    assert FiscalCalendar(7, "445").settings() == {
        "fiscal_start_month": "Jul",
        "fiscal_pattern": "4-4-5",
    }


def test_init_keeps_the_fiscal_calendar_it_is_given(tmp_path):
    from sop_core.data import db
    from sop_core.data.stores import master
    from tests.helpers import run_cli

    path = tmp_path / "fiscal.duckdb"
    done = run_cli(
        "init", "--db", str(path), "--empty", "--fiscal-start", "Jul", "--fiscal-pattern", "445"
    )
    assert done.returncode == 0, done.stderr
    with db.connect(path) as con:
        assert master.fiscal_calendar(con) == FiscalCalendar(7, "445")
    refused = run_cli("init", "--db", str(tmp_path / "x.duckdb"), "--empty", "--fiscal-start", "13")
    assert refused.returncode == 2
    assert "expected a month, 1 to 12" in refused.stderr
    assert not (tmp_path / "x.duckdb").exists()


@pytest.mark.parametrize("calendar", CALENDARS, ids=str)
def test_a_calendar_month_names_one_fiscal_month(calendar):
    """Each calendar month of four years stands for one fiscal month, named after it."""
    names = set()
    for year in range(2025, 2029):
        for month in range(1, 13):
            fiscal = calendar.fiscal_month(dt.date(year, month, 1))
            assert calendar.month_label(*fiscal) == f"{dt.date(year, month, 1):%b %Y}"
            names.add(fiscal)
    assert len(names) == 48
