"""Line load, defined once: the two measures every page, the meeting pack, the exports and the
CLI show, their names and their labels.

- **Demand load** (``demand_load``): the hours the revised targets need on a line in a week
  (units / (units per hour x OEE) on each SKU's default line) over that week's available
  hours, before any production plan. Above 100%: the demand asks more than the line has.
- **Planned load** (``planned_load``): the hours the production plan uses on a line in a week
  (its regular hours plus overtime) over the same available hours. Above 100% is overtime;
  the overtime hours are reported beside it (``Peak.overtime_hours``), never folded away.
- **Available hours**: what the capacity calendar says for that line and week: standard hours,
  less shutdowns, plus added shifts, with the scenario's capacity changes
  (``ScenarioResult.available``). A week without hours (a full shutdown) has no load (NaN):
  it is never a peak.

A figure is always one measure over stated weeks: ``peak`` gives the highest line-week of a
measure over the first ``weeks`` weeks, and ``peak_label`` says which ("Peak demand load, next
13 weeks"). The production plan behind a planned load is solved over ``plan_weeks`` (at least
``PLAN_WEEKS``), so the weeks shown can build stock ahead of later peaks and every page that
shows the planned load of the next 13 weeks shows the same plan's. Beyond the weekly detail
(13 weeks, ``sop_core.demand.fences``) the plan is solved per fiscal month and its hours spread
over the month's weeks with the demand: a week there can show more than its hours (a shutdown
week with demand in it) while the month as a whole fits, so read it per month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sop_core.data import formats
from sop_core.scenario.levers import ScenarioResult

DEMAND_LOAD = "Demand load"
PLANNED_LOAD = "Planned load"
MEASURES = {"demand_load": DEMAND_LOAD, "planned_load": PLANNED_LOAD}
"""Key (in frames, JSON and ``Overview.loads``) -> the label people read."""
HELP = {
    DEMAND_LOAD: "The hours the revised targets need on the line (before any production "
    "plan) over the week's available hours: standard hours less shutdowns plus added shifts, "
    "as the capacity calendar and the scenario's capacity changes say. The highest line-week "
    "of the weeks named.",
    PLANNED_LOAD: "The hours the production plan uses on the line, overtime included, over "
    "the same available hours; above 100% is overtime, whose hours are shown beside. The "
    "highest line-week of the weeks named, from the plan over the next 26 weeks.",
}
"""The help text of a load tile, by measure."""
KPI_WEEKS = 13  # the meeting's "next 13 weeks": the window of every load tile
PLAN_WEEKS = 26  # the shortest production plan a planned load is read from


def load_ratio(hours: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Hours over available hours, NaN where a line-week has no available hours."""
    hours = np.asarray(hours, dtype=float)
    available = np.asarray(available, dtype=float)
    return np.divide(hours, available, out=np.full_like(hours, np.nan), where=available > 0)


def demand_load(result: ScenarioResult, weeks: int | None = None) -> np.ndarray:
    """Demand load per line x week over the first ``weeks`` weeks (all when None)."""
    return load_ratio(result.hours[:, :weeks], result.available[:, :weeks])


def planned_load(
    plan_hours: np.ndarray, result: ScenarioResult, weeks: int | None = None
) -> np.ndarray:
    """Planned load per line x week: a production plan's hours (``ProductionPlan.hours``,
    overtime included) over the scenario's available hours, for the first ``weeks`` weeks."""
    w = plan_hours.shape[1] if weeks is None else min(weeks, plan_hours.shape[1])
    return load_ratio(plan_hours[:, :w], result.available[:, :w])


def plan_weeks(weeks: int, horizon: int) -> int:
    """The weeks to solve a production plan over when its planned load is read over the first
    ``weeks``: at least ``PLAN_WEEKS``, at most the forecast's ``horizon``."""
    return max(1, min(max(weeks, PLAN_WEEKS), horizon))


def peak_label(measure: str, weeks: int, which: str = "next") -> str:
    """The label of a peak, e.g. "Peak demand load, next 13 weeks": measure and weeks."""
    return f"Peak {measure[0].lower()}{measure[1:]}, {which} {weeks} weeks"


@dataclass(frozen=True)
class Peak:
    """The highest line-week of one load measure over the first ``weeks`` weeks."""

    measure: str  # DEMAND_LOAD or PLANNED_LOAD
    weeks: int
    value: float  # NaN when no line-week has hours
    line: str = ""
    line_name: str = ""
    week: pd.Timestamp | None = None
    overtime_hours: float = 0.0  # planned load: the plan's overtime over the same weeks

    @property
    def label(self) -> str:
        return peak_label(self.measure, self.weeks)

    @property
    def shown(self) -> str:
        """The value as every page and the pack show it (``"110%"``, ``"n/a"``)."""
        return "n/a" if self.week is None else f"{self.value:.0%}"

    @property
    def where(self) -> str:
        """Which line-week it is (``"L3, W50 · 7 Dec"``), empty when there is none."""
        return "" if self.week is None else f"{self.line}, {formats.week(self.week)}"

    def as_json(self) -> dict:
        """``{"measure", "weeks", "peak", "line", "week"}`` (plus ``overtime_hours`` for the
        planned load): the CLI's and the exports' form."""
        out = {
            "measure": self.measure.lower(),
            "weeks": self.weeks,
            "peak": None if self.week is None else round(float(self.value), 4),
            "line": self.line or None,
            "week": None if self.week is None else f"{self.week:%Y-%m-%d}",
        }
        if self.measure == PLANNED_LOAD:
            out["overtime_hours"] = round(float(self.overtime_hours), 1)
        return out


def peak(
    load: np.ndarray,
    result: ScenarioResult,
    measure: str,
    weeks: int | None = None,
    overtime: np.ndarray | None = None,
) -> Peak:
    """The peak of ``load`` (lines x weeks, from ``demand_load`` or ``planned_load``) over its
    first ``weeks`` weeks (all when None); ``overtime`` (lines x weeks) is summed over the same
    weeks for a planned load."""
    w = load.shape[1] if weeks is None else min(weeks, load.shape[1])
    span = load[:, :w]
    hours = 0.0 if overtime is None else float(overtime[:, :w].sum())
    known = np.isfinite(span)
    if not known.any():
        return Peak(measure, w, float("nan"), overtime_hours=hours)
    li, wi = np.unravel_index(np.nanargmax(np.where(known, span, -np.inf)), span.shape)
    base = result.base
    return Peak(
        measure,
        w,
        float(span[li, wi]),
        str(base.lines[li]),
        str(base.line_names[li]),
        pd.Timestamp(base.weeks[wi]),
        hours,
    )


def peak_in_frame(frame: pd.DataFrame, measure: str, weeks: int | None = None) -> Peak:
    """The peak of a long frame (``line, line_name, week`` and the measure's ratio in
    ``utilisation``, as ``LoadView.frame`` gives it) over its first ``weeks`` weeks: for a page
    that shows only some lines."""
    shown = sorted(frame["week"].unique())
    w = len(shown) if weeks is None else min(weeks, len(shown))
    inside = frame[frame["week"].isin(shown[:w])]
    known = inside["utilisation"].dropna()
    if known.empty:
        return Peak(measure, w, float("nan"))
    row = inside.loc[known.idxmax()]
    return Peak(
        measure,
        w,
        float(row["utilisation"]),
        str(row["line"]),
        str(row.get("line_name", "")),
        pd.Timestamp(row["week"]),
    )


def peaks(
    result: ScenarioResult,
    plan_hours: np.ndarray | None,
    plan_overtime: np.ndarray | None,
    weeks: int,
) -> dict[str, Peak]:
    """Both measures' peaks over the first ``weeks`` weeks, keyed as ``MEASURES`` (without a
    plan, ``planned_load`` has no line-week: ``week`` None, shown "n/a")."""
    weeks = min(weeks, result.hours.shape[1])
    out = {"demand_load": peak(demand_load(result), result, DEMAND_LOAD, weeks)}
    if plan_hours is None:
        out["planned_load"] = Peak(PLANNED_LOAD, weeks, float("nan"))
    else:
        out["planned_load"] = peak(
            planned_load(plan_hours, result), result, PLANNED_LOAD, weeks, plan_overtime
        )
    return out
