"""Time fences over the planning horizon: what may change where, and how finely it is planned.

- **Frozen zone**: the first ``SOP_FROZEN_WEEKS`` weeks (4 by default). Production there is
  scheduled and materials are bought, so a lever or a consensus override that changes one of
  those weeks comes with a warning that names them (``frozen_warning``); it is not refused, as
  the room may still decide to chase a late order.
- **Weekly detail**: the first ``DETAIL_WEEKS`` weeks (13, the weeks the meeting decides) are
  planned week by week.
- **Months beyond**: later weeks are planned per fiscal month (``planning_periods``), which is
  as fine as an 18-month view is read and keeps the production plan's program small.

The fences live in the demand room because both the consensus (demand) and the levers
(scenario) check the frozen zone, and the production plan (supply) reads the periods.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sop_core.data import formats, settings
from sop_core.data.fiscal import FiscalCalendar

DETAIL_WEEKS = 13
"""Weeks planned week by week; fiscal months beyond."""
MAX_HORIZON_WEEKS = 78
"""The longest horizon the meeting plans: 18 months."""
FROZEN_ZONE = "inside the frozen zone"
"""Words every frozen-zone warning holds (``is_frozen_warning``)."""


@dataclass(frozen=True)
class TimeFences:
    """The frozen zone and the weekly detail, in weeks from the first week of the horizon."""

    frozen: int = 4
    detail: int = DETAIL_WEEKS

    @classmethod
    def from_settings(cls) -> TimeFences:
        """The fences as ``SOP_FROZEN_WEEKS`` sets them."""
        return cls(frozen=settings.frozen_weeks())


def frozen_weeks_touched(
    weeks: np.ndarray, changed: np.ndarray, fences: TimeFences | None = None
) -> np.ndarray:
    """The horizon weeks (``weeks``, datetime64) inside the frozen zone where ``changed`` (a
    boolean mask over ``weeks``) is true."""
    fences = fences or TimeFences.from_settings()
    inside = np.zeros(len(weeks), dtype=bool)
    inside[: fences.frozen] = True
    return np.asarray(weeks)[inside & np.asarray(changed, dtype=bool)]


def frozen_warning(
    what: str, weeks: np.ndarray, changed: np.ndarray, fences: TimeFences | None = None
) -> str | None:
    """A planner-readable warning when ``what`` (a lever's or an override's description)
    changes weeks of the frozen zone: it names those weeks. None when it changes none."""
    fences = fences or TimeFences.from_settings()
    touched = frozen_weeks_touched(weeks, changed, fences)
    if not len(touched):
        return None
    names = [formats.week(pd.Timestamp(week)) for week in touched]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    plural = "week" if len(names) == 1 else "weeks"
    return (
        f"{what} changes {len(names)} {plural} {FROZEN_ZONE} (the first "
        f"{fences.frozen} weeks, where production is already scheduled): {listed}. Agree it "
        "with supply before relying on it."
    )


def is_frozen_warning(note: str) -> bool:
    """Whether ``note`` (one of a scenario's warnings) is a frozen-zone warning."""
    return FROZEN_ZONE in note


def planning_periods(
    weeks: np.ndarray | pd.DatetimeIndex,
    calendar: FiscalCalendar | None = None,
    detail: int = DETAIL_WEEKS,
) -> list[tuple[int, int]]:
    """The horizon cut into planning periods, as (first week's index, number of weeks): one
    week each for the first ``detail`` weeks, then one per fiscal month of ``calendar`` (a
    week split between two calendar months goes to the month holding most of its days, so
    every week is in exactly one period). A month the detail weeks have started is finished
    with the weeks left of it."""
    calendar = calendar or FiscalCalendar()
    mondays = [pd.Timestamp(week).date() for week in weeks]
    detail = max(0, min(detail, len(mondays)))
    periods = [(t, 1) for t in range(detail)]
    previous: tuple[int, int] | None = None
    for t in range(detail, len(mondays)):
        month = calendar.period_of(mondays[t], "month")
        if month == previous:
            start, length = periods[-1]
            periods[-1] = (start, length + 1)
        else:
            periods.append((t, 1))
        previous = month
    return periods
