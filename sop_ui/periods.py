"""Figures by week, fiscal month or quarter: the sidebar's *Figures by* switch (in the URL as
``bucket``) applied to what a page shows.

A page passes each weekly frame it charts or tables through ``frame``
(``sop_core.supply.periods.by_period``, the meeting pack's too: the rules of a bucketed export,
sums with split weeks allocated by their days, stocks as a period's last week's, bands combined
as independent errors, and the ratios it names recomputed from their sums; ``PLAN`` and
``LOAD`` for the plan and load charts). The frame keeps a ``week`` column, each period's first day,
so the chart builders draw it as they draw weeks; ``widgets.chart`` then names the periods on
the axis (``charts.style.period_axis``) and ``widgets.table`` shows the period's name instead
of the week. Totals are the same in every bucket.
"""

from __future__ import annotations

import pandas as pd

from sop_core.data.fiscal import FiscalCalendar
from sop_core.supply.periods import LOAD, PLAN, by_period
from sop_ui import filters, loaders

__all__ = ["LOAD", "PLAN", "bucket", "calendar", "frame", "weekly"]


def bucket() -> str:
    """ "week", "month" or "quarter": what the sidebar's *Figures by* says."""
    return filters.bucket()


def weekly() -> bool:
    return bucket() == "week"


def calendar() -> FiscalCalendar:
    return loaders.fiscal_calendar()


def frame(
    weekly_frame: pd.DataFrame,
    *,
    centre: str | None = None,
    ratios: dict[str, tuple[str, str]] | None = None,
    rules: dict[str, str] | None = None,
) -> pd.DataFrame:
    """``weekly_frame`` per period of the chosen bucket (as it is by week):
    ``sop_core.supply.periods.by_period``."""
    return by_period(weekly_frame, bucket(), calendar(), centre=centre, ratios=ratios, rules=rules)
