"""The one formatting module: units, money, percents, weeks, headers and missing values."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from sop_core.data import formats


@pytest.mark.parametrize(
    ("value", "shown"),
    [(12345.6, "12,346"), (0.4, "0"), (-0.4, "0"), (None, "–"), (np.nan, "–"), (pd.NA, "–")],
)
def test_units_are_whole_with_separators_and_missing_is_a_dash(value, shown):
    assert formats.units(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(830.2, "830 EUR"), (12_345, "12.3k EUR"), (2_500_000, "2.5M EUR"), (-1.2e9, "-1.2bn EUR")],
)
def test_money_is_compact_in_the_company_currency(value, shown):
    assert formats.money(value, "EUR") == shown
    assert formats.money(1_234_567.4, "USD", exact=True) == "1,234,567 USD"


def test_a_change_in_units_or_money_carries_its_sign():
    assert formats.compact(12_345, signed=True) == "+12.3k"
    assert formats.compact(-830.2, signed=True) == "-830"
    assert formats.compact(0.3, signed=True) == "0"  # shows as 0: no sign
    assert formats.money(2_500_000, "EUR", signed=True) == "+2.5M EUR"
    assert formats.money(-1_234.4, "EUR", exact=True, signed=True) == "-1,234 EUR"
    assert formats.money(1_234.4, "EUR", exact=True, signed=True) == "+1,234 EUR"
    assert formats.compact(12_345) == "12.3k"  # unsigned by default


def test_percents_have_one_decimal_and_changes_a_sign():
    assert formats.percent(0.8449) == "84.5%"
    assert formats.percent(0.024, change=True) == "+2.4%"
    assert formats.percent(-0.00001, change=True) == "+0.0%"  # no "-0.0%"
    assert formats.relative_change(104, 100) == "+4.0%"
    assert formats.relative_change(5, 0) is None


def test_a_week_is_its_iso_number_and_monday_whatever_day_is_given():
    for day in (dt.date(2026, 11, 23), dt.date(2026, 11, 29), pd.Timestamp("2026-11-25")):
        assert formats.week(day) == "W48 · 23 Nov"
    assert formats.week(np.datetime64("2026-12-28"), year=True) == "W53 · 28 Dec 2026"
    assert formats.weeks_span(dt.date(2026, 11, 23), dt.date(2026, 12, 7)) == (
        "W48-W50 (23 Nov - 7 Dec)"
    )


def test_a_day_has_no_leading_zero():
    assert formats.date(dt.date(2026, 12, 7)) == "7 Dec 2026"
    assert formats.week(dt.date(2026, 12, 9)) == "W50 · 7 Dec"


def test_headers_are_words():
    frame = pd.DataFrame(columns=["sku", "weekly_units", "gap_hours"])
    assert list(formats.headers(frame).columns) == ["SKU", "Weekly units", "Hours short"]


def test_any_cell_as_text():
    assert [formats.text(v) for v in (None, True, 1234, 2.345, 1234.5)] == [
        "–",
        "yes",
        "1,234",
        "2.35",
        "1,234",
    ]
