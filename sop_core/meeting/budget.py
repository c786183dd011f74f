"""The comparisons the room asks for: the plan per fiscal month or quarter against the budget,
the same fiscal period last year and the last approved plan of record; and the Overview's
headline, the gap to budget of the current fiscal quarter and year.

Figures are units, revenue and margin. The budget's margin is its revenue less its units x
the average unit cost of its SKUs (``stores.budget.budget_rows``: variable cost plus setup
spread, as the plan's margin, weighted by the SKUs' last 52 weeks' units).

A period the plan covers only in part (its horizon starts or ends inside it) is compared on
that part: the budget, last year and the plan of record count the same share of each fiscal
month (by its weeks, a split week by its days). In the headline a period's weeks already past
count their actual sales, the weeks ahead the plan; a gap is outturn less budget, so a
negative gap is a shortfall, and what a scenario closes is its outturn less the baseline's.

A family filter narrows the plan, the actuals and the budget to its families; the budget's
company-total rows then do not count (they cannot be split), and ``Gap.note`` says so. The
budget has no channel split: a channel filter is not applied here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from sop_core.data.fiscal import FiscalCalendar, checked_bucket
from sop_core.data.stores import budget as budget_store
from sop_core.data.stores import master, plans_of_record, products
from sop_core.data.stores.sales import Scope

VALUES = ("units", "revenue", "margin")
SOURCES = ("plan", "budget", "last_year", "plan_of_record")


def weekly_plan(targets: pd.DataFrame) -> pd.DataFrame:
    """A ``result_targets`` frame as ``sku, family, week, units, revenue, margin`` (units are
    the revised target)."""
    frame = targets[["sku", "family", "week", "revised", "revenue", "margin"]]
    return frame.rename(columns={"revised": "units"}).assign(week=lambda f: pd.to_datetime(f.week))


def in_families(frame: pd.DataFrame, families: tuple[str, ...]) -> pd.DataFrame:
    """The rows of ``frame`` in ``families`` (all of them when it is empty)."""
    return frame if not families else frame[frame["family"].isin(list(families))]


def budget_in_scope(budget: pd.DataFrame, families: tuple[str, ...] = ()) -> pd.DataFrame:
    """``stores.budget.budget_rows`` in ``families``, with its ``margin`` and fiscal ``year``
    and ``month``; without a family filter every row counts (SKU, family and total rows are
    each part of the company's budget)."""
    frame = budget if not families else budget[budget["family"].isin(list(families))]
    return frame.assign(
        margin=frame["revenue"] - frame["units"] * frame["unit_cost"],
    )


def monthly(frame: pd.DataFrame, calendar: FiscalCalendar) -> pd.DataFrame:
    """Weekly ``VALUES`` summed per fiscal month (a split week by its days): indexed by
    ``year, month``, with ``weeks`` (the month's weeks the frame holds)."""
    if frame.empty:
        index = pd.MultiIndex.from_arrays([[], []], names=["year", "month"])
        return pd.DataFrame({c: [] for c in (*VALUES, "weeks")}, index=index, dtype=float)
    mapping = calendar.weeks(frame["week"])
    merged = frame[["week", *VALUES]].merge(mapping, on="week")
    for column in VALUES:
        merged[column] = merged[column] * merged["share"]
    sums = merged.groupby(["year", "month"])[list(VALUES)].sum()
    # Weeks counted once each, however many SKUs a week has.
    return sums.join(mapping.groupby(["year", "month"])["share"].sum().rename("weeks"))


def budget_monthly(budget: pd.DataFrame, calendar: FiscalCalendar) -> pd.DataFrame:
    """``budget_in_scope`` rows summed per fiscal month, indexed by ``year, month``."""
    if budget.empty:
        index = pd.MultiIndex.from_arrays([[], []], names=["year", "month"])
        return pd.DataFrame({c: [] for c in VALUES}, index=index, dtype=float)
    keys = [calendar.fiscal_month(pd.Timestamp(m).date()) for m in budget["month"]]
    frame = budget[list(VALUES)].assign(year=[k[0] for k in keys], month=[k[1] for k in keys])
    return frame.groupby(["year", "month"])[list(VALUES)].sum()


def month_weeks(calendar: FiscalCalendar, year: int, month: int) -> float:
    """How many weeks fiscal month ``month`` of ``year`` holds (days / 7)."""
    period = calendar.months(year)[month - 1]
    return (period.end - period.start).days / 7


def _figures(table: pd.DataFrame, key: tuple[int, int], share: float = 1.0) -> np.ndarray:
    if key not in table.index:
        return np.zeros(len(VALUES))
    return table.loc[key, list(VALUES)].to_numpy(dtype=float) * share


def period_comparison(
    plan: pd.DataFrame,
    budget: pd.DataFrame,
    history: pd.DataFrame,
    record: pd.DataFrame | None,
    calendar: FiscalCalendar,
    bucket: str = "month",
) -> pd.DataFrame:
    """The plan per fiscal month or quarter against the budget, the same period last year
    and the plan of record.

    Parameters
    ----------
    plan
        ``weekly_plan``: SKU x week with units, revenue and margin.
    budget
        ``budget_in_scope`` rows.
    history
        Actual sales (``stores.budget.weekly_actuals``) covering the plan's weeks a year
        earlier.
    record
        The plan of record's weekly frame (``sku, family, week, units, revenue, margin``),
        None when nothing is approved; only the weeks the plan covers count.
    bucket
        ``month`` or ``quarter``.

    Returns
    -------
    pd.DataFrame
        One row per period: ``<bucket>`` (its name), ``period_start``, ``covered`` (the share
        of the period the plan holds), ``<source>_<value>`` for each of ``SOURCES`` and
        ``VALUES``, and ``gap_<source>_<value>`` (plan less that source).
    """
    if checked_bucket(bucket) == "week":
        raise ValueError("Compare in months or quarters: the budget is monthly.")
    plan_months = monthly(plan, calendar)
    budget_months = budget_monthly(budget, calendar)
    history_months = monthly(history, calendar)
    weeks = set(pd.to_datetime(plan["week"]))
    record_months = (
        monthly(record[pd.to_datetime(record["week"]).isin(weeks)], calendar)
        if record is not None
        else None
    )
    rows = []
    for (year, month), row in plan_months.iterrows():
        whole = month_weeks(calendar, year, month)
        share = min(float(row["weeks"]) / whole, 1.0)
        figures = {
            "plan": row[list(VALUES)].to_numpy(dtype=float),
            "budget": _figures(budget_months, (year, month), share),
            "last_year": _figures(history_months, (year - 1, month), share),
            "plan_of_record": (
                _figures(record_months, (year, month))
                if record_months is not None
                else np.full(len(VALUES), np.nan)
            ),
        }
        quarter = (month - 1) // 3 + 1
        out = {"year": year, "month": month, "quarter": quarter, "held": row["weeks"]}
        out["whole"] = whole
        for source, values in figures.items():
            out.update({f"{source}_{v}": x for v, x in zip(VALUES, values, strict=True)})
        rows.append(out)
    columns = [f"{s}_{v}" for s in SOURCES for v in VALUES]
    frame = pd.DataFrame(rows, columns=["year", "month", "quarter", "held", "whole", *columns])
    period = "month" if bucket == "month" else "quarter"
    grouped = frame.groupby(["year", period], sort=True).agg(
        **{c: (c, lambda s: s.sum(min_count=1)) for c in columns},
        held=("held", "sum"),
        whole=("whole", "sum"),
        first_month=("month", "min"),
    )
    if bucket == "quarter":
        # A quarter's share covered is over its three months, held or not.
        grouped["whole"] = [
            sum(month_weeks(calendar, y, (q - 1) * 3 + m) for m in (1, 2, 3))
            for y, q in grouped.index
        ]
    label = calendar.month_label if bucket == "month" else calendar.quarter_label
    out = pd.DataFrame(
        {
            bucket: [label(int(y), int(p)) for y, p in grouped.index],
            "period_start": [
                pd.Timestamp(calendar.month_start(int(y), int(m)))
                for (y, _), m in zip(grouped.index, grouped["first_month"], strict=True)
            ],
            "covered": (grouped["held"] / grouped["whole"]).clip(upper=1.0).to_numpy(),
        }
    )
    for column in columns:
        out[column] = grouped[column].to_numpy()
    for source in SOURCES[1:]:
        for value in VALUES:
            out[f"gap_{source}_{value}"] = out[f"plan_{value}"] - out[f"{source}_{value}"]
    return out


@dataclass(frozen=True)
class Gap:
    """The gap to budget of one fiscal period: figures as ``{value: amount}`` for ``VALUES``.

    ``covered`` is the share of the period the actuals and the plan hold together (below 1
    when the plan's horizon ends inside it; the budget counts the same share)."""

    period: str  # "quarter" or "year"
    label: str  # "Q4 2026", "FY2027"
    covered: float
    budget: dict[str, float]
    baseline: dict[str, float]
    scenario: dict[str, float]
    actual: dict[str, float]  # the part of both outturns already sold
    note: str = ""

    @property
    def baseline_gap(self) -> dict[str, float]:
        """Baseline outturn less budget (negative: short of budget)."""
        return {v: self.baseline[v] - self.budget[v] for v in VALUES}

    @property
    def scenario_gap(self) -> dict[str, float]:
        return {v: self.scenario[v] - self.budget[v] for v in VALUES}

    @property
    def closed(self) -> dict[str, float]:
        """What the scenario adds to the baseline's outturn."""
        return {v: self.scenario[v] - self.baseline[v] for v in VALUES}

    def closed_share(self, value: str) -> float | None:
        """The share of the baseline's shortfall the scenario closes (None without one)."""
        shortfall = -self.baseline_gap[value]
        return self.closed[value] / shortfall if shortfall > 0 else None


def _outturn_months(
    actuals: pd.DataFrame, plan: pd.DataFrame, calendar: FiscalCalendar
) -> pd.DataFrame:
    """Actual and planned figures per fiscal month (the plan's weeks after the actuals')."""
    if not actuals.empty:
        plan = plan[pd.to_datetime(plan["week"]) > pd.to_datetime(actuals["week"]).max()]
    both = pd.concat([actuals[["week", *VALUES]], plan[["week", *VALUES]]], ignore_index=True)
    return monthly(both.assign(week=pd.to_datetime(both["week"])), calendar)


def budget_gaps(
    baseline: pd.DataFrame,
    scenario: pd.DataFrame,
    actuals: pd.DataFrame,
    budget: pd.DataFrame,
    calendar: FiscalCalendar,
    note: str = "",
) -> list[Gap]:
    """The gap to budget of the current fiscal quarter and year (the period holding most of
    the plan's first week), for the baseline and the scenario.

    Parameters
    ----------
    baseline, scenario
        ``weekly_plan`` frames of the baseline and of the scenario (same weeks).
    actuals
        Actual sales (``stores.budget.weekly_actuals``) from the year's start to the last
        week of history.
    budget
        ``budget_in_scope`` rows.

    Returns
    -------
    list[Gap]
        The quarter's, then the year's.
    """
    first = pd.to_datetime(baseline["week"]).min().date()
    year, quarter = calendar.period_of(first, "quarter")
    base_months = _outturn_months(actuals, baseline, calendar)
    scenario_months = _outturn_months(actuals, scenario, calendar)
    actual_months = monthly(actuals.assign(week=pd.to_datetime(actuals["week"])), calendar)
    budget_months = budget_monthly(budget, calendar)
    gaps = []
    for period, months in (
        ("quarter", range((quarter - 1) * 3 + 1, quarter * 3 + 1)),
        ("year", range(1, 13)),
    ):
        totals = {name: np.zeros(len(VALUES)) for name in ("budget", "base", "scen", "act")}
        held = whole = 0.0
        for month in months:
            key = (year, month)
            weeks = float(base_months.loc[key, "weeks"]) if key in base_months.index else 0.0
            size = month_weeks(calendar, year, month)
            share = min(weeks / size, 1.0)
            held, whole = held + weeks, whole + size
            totals["budget"] += _figures(budget_months, key, share)
            totals["base"] += _figures(base_months, key)
            totals["scen"] += _figures(scenario_months, key)
            totals["act"] += _figures(actual_months, key)
        label = (
            calendar.quarter_label(year, quarter)
            if period == "quarter"
            else calendar.year_label(year)
        )
        as_dict = {k: dict(zip(VALUES, map(float, v), strict=True)) for k, v in totals.items()}
        gaps.append(
            Gap(
                period,
                label,
                min(held / whole, 1.0) if whole else 0.0,
                as_dict["budget"],
                as_dict["base"],
                as_dict["scen"],
                as_dict["act"],
                note,
            )
        )
    return gaps


@dataclass
class BudgetInputs:
    """What the comparisons read from the database for one scope."""

    calendar: FiscalCalendar
    budget: pd.DataFrame  # budget_in_scope
    actuals: pd.DataFrame  # weekly_actuals from a year before the fiscal year to the history
    record: pd.DataFrame | None  # the latest plan of record, weekly_plan-shaped
    notes: list[str] = field(default_factory=list)

    @property
    def has_budget(self) -> bool:
        return not self.budget.empty


def load_inputs(
    con: duckdb.DuckDBPyConnection, first_week: dt.date, families: tuple[str, ...] = ()
) -> BudgetInputs:
    """The budget in ``families``, the actual sales from the start of the fiscal year before
    the one of ``first_week`` (the plan's first week) to the history's end, and the latest
    plan of record, for ``period_comparison`` and ``budget_gaps``."""
    calendar = master.fiscal_calendar(con)
    rows = budget_store.budget_rows(con)
    notes = []
    if families and rows["family"].isna().any():
        notes.append(
            "The budget's company-total rows are left out: they cannot be split by family."
        )
    start = calendar.year_start(calendar.year_of(first_week) - 1)
    actuals = budget_store.weekly_actuals(
        con, start, first_week - dt.timedelta(days=1), Scope(families=families)
    )
    latest = plans_of_record.plan_of_record(con)
    record = None
    if latest is not None:
        frozen = plans_of_record.frozen_targets(con, latest.plan_version)
        labels = products.product_labels(con)[["family"]]
        record = in_families(
            frozen.join(labels, on="sku").rename(columns={"target": "units"})[
                ["sku", "family", "week", *VALUES]
            ],
            families,
        )
    return BudgetInputs(calendar, budget_in_scope(rows, families), actuals, record, notes)
