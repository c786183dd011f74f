"""A table's columns as the formatting module writes figures (``sop_core.data.formats``): one
named constructor per kind of figure, each an ``st.column_config`` config, used by every table
and editor of the pages.

- ``week``: the ISO week and its Monday, ``W48 · 23 Nov`` (the weeks of our data are Mondays);
- ``date`` / ``moment``: a day, ``23 Nov 2026``; a moment, ``23 Nov 2026 14:05``;
- ``units`` / ``hours``: whole numbers with thousands separators, ``12,345``;
- ``money``: whole currency units with separators, the currency in the header;
- ``price``: two decimals; ``number``: a count or a figure with the decimals asked for;
- ``share`` / ``change``: a percent with one decimal; a change carries its sign (``+2.4%``);
- ``text``: words.

Percents: a ``share`` or a ``change`` holds a fraction (``0.845``) unless ``points`` says the
column holds percent points already (``84.5``, as an editor's cells do). A fraction column is
marked by its format (``SHARE`` or ``CHANGE``): ``sop_ui.widgets.table`` recognises the mark,
shows the column in percent points and writes it with one decimal (a sign for a change). The
marks are for ``table``: an ``st.dataframe`` of its own takes ``points`` columns.

Every constructor passes its keyword arguments (``width``, ``help``, ``pinned``, ...) on to
Streamlit's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

if TYPE_CHECKING:
    from streamlit.elements.lib.column_types import ColumnConfig

# momentJS formats (Streamlit's date columns): ``WW`` is the ISO week, two digits.
WEEK_FORMAT = "[W]WW · D MMM"
DATE_FORMAT = "D MMM YYYY"
MOMENT_FORMAT = "D MMM YYYY HH:mm"

# The marks of a column of fractions shown as percents (``widgets.table`` converts them).
SHARE = "percent"  # Streamlit's own percent: a fraction
CHANGE = "signed percent"
# The formats of percent points: one decimal, a change signed.
SHARE_POINTS = "%.1f%%"
CHANGE_POINTS = "%+.1f%%"
# The percent points format of each fraction mark.
PERCENT_POINTS = {SHARE: SHARE_POINTS, CHANGE: CHANGE_POINTS}


def week(label: str, **kw: Any) -> ColumnConfig:
    """A week's Monday as the room names the week: ``W48 · 23 Nov``."""
    return st.column_config.DateColumn(label, format=WEEK_FORMAT, **kw)


def date(label: str, **kw: Any) -> ColumnConfig:
    """A day that is not a week: ``23 Nov 2026``."""
    return st.column_config.DateColumn(label, format=DATE_FORMAT, **kw)


def moment(label: str, **kw: Any) -> ColumnConfig:
    """A date and time (when something was made or approved): ``23 Nov 2026 14:05``."""
    return st.column_config.DatetimeColumn(label, format=MOMENT_FORMAT, **kw)


def _number(label: str, decimals: int, signed: bool, **kw: Any) -> ColumnConfig:
    if signed:
        # Streamlit's separators come only with its "localized" format, which has no sign.
        return st.column_config.NumberColumn(label, format=f"%+.{decimals}f", **kw)
    return st.column_config.NumberColumn(
        label, format="localized", step=10.0**-decimals if decimals else 1, **kw
    )


def units(label: str, *, signed: bool = False, **kw: Any) -> ColumnConfig:
    """Whole units with thousands separators (``12,345``); ``signed`` for a change (``+830``,
    without separators)."""
    return _number(label, 0, signed, **kw)


def hours(label: str, *, decimals: int = 0, signed: bool = False, **kw: Any) -> ColumnConfig:
    """Hours: whole hours with thousands separators unless ``decimals`` asks for more."""
    return _number(label, decimals, signed, **kw)


def money(label: str, currency: str, *, signed: bool = False, **kw: Any) -> ColumnConfig:
    """Money in whole currency units with thousands separators, the currency in the header:
    ``Revenue (EUR)``, ``1,234,567``."""
    return _number(f"{label} ({currency})", 0, signed, **kw)


def price(label: str, *, decimals: int = 2, **kw: Any) -> ColumnConfig:
    """A price or a unit cost: two decimals (``decimals`` for more)."""
    return _number(label, decimals, False, **kw)


def number(label: str, decimals: int = 0, *, signed: bool = False, **kw: Any) -> ColumnConfig:
    """A count (an id, a number of weeks) or a figure with ``decimals`` (an elasticity, a
    ratio); ``signed`` writes its sign."""
    return _number(label, decimals, signed, **kw)


def ratio(label: str, *, signed: bool = False, **kw: Any) -> ColumnConfig:
    """A ratio (MASE, ROI, an elasticity): two decimals."""
    return _number(label, 2, signed, **kw)


def share(label: str, *, points: bool = False, **kw: Any) -> ColumnConfig:
    """A share as a percent with one decimal (``84.5%``): a fraction, or percent ``points``."""
    return st.column_config.NumberColumn(label, format=SHARE_POINTS if points else SHARE, **kw)


def change(label: str, *, points: bool = False, **kw: Any) -> ColumnConfig:
    """A change as a signed percent with one decimal (``+2.4%``, ``-0.7%``): a fraction, or
    percent ``points``."""
    return st.column_config.NumberColumn(label, format=CHANGE_POINTS if points else CHANGE, **kw)


def text(label: str, **kw: Any) -> ColumnConfig:
    """Words: a name, a reason, a description."""
    return st.column_config.TextColumn(label, **kw)


def percent_mark(config: object) -> str | None:
    """The fraction mark (``SHARE`` or ``CHANGE``) of a column's config, if it has one."""
    if not isinstance(config, dict):
        return None
    shown = (config.get("type_config") or {}).get("format")
    return shown if shown in PERCENT_POINTS else None
