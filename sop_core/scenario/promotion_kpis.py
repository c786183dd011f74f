"""Promotion KPIs: what a lever brings in its own scope and weeks, not in the company's total.

For each lever of a scenario's result (``apply_scenario``), over the lever's SKUs (and its
channel, for a channel lever) and its weeks inside the horizon:

- incremental units, revenue and gross margin: revised minus baseline (the gross margin after
  the discount: incremental revenue less the variable cost of the incremental units);
- trade spend: the discount on the units that would have sold anyway, baseline units x the
  scenario's listed price x the discount (in its share of distribution);
- the post-promotion dip: the units (and margin) the promotion's own dip takes in the week
  after it, the one week the scenario maths lowers (by ``post_promotion x discount x share``;
  zero where the forecast found no dip, none when the promotion ends with the horizon; alone
  in that week, it is revised minus baseline there);
- cannibalised units and margin: revised minus baseline of the rest of the lever's families
  (their SKUs outside the scope) in the promoted weeks;
- promotion ROI: the margin the promotion adds (incremental gross margin, the dip's and the
  cannibalised margin) per unit of trade spend, as ``ScenarioResult.kpis`` reports it for all
  the promotions of a scenario together (docs/GLOSSARY.md, *Promotion ROI*).

Except the dip, the figures are the whole scenario's in that scope and those weeks: another
lever acting on the same SKUs and weeks counts in them too. Pure numpy on the result's arrays,
run on every lever move: running sums along the weeks the levers cover, over the SKUs of their
families, then two values per SKU and lever (a plan file's thousands of levers take one pass,
not one each).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sop_core.demand.plan_base import PlanBase
from sop_core.scenario.levers import ScenarioResult
from sop_core.scenario.model import Lever

# Columns of ``promotion_kpis_table``, after ``lever`` (its description) and ``kind``.
FIGURES = (
    "baseline_units",
    "incremental_units",
    "baseline_revenue",
    "incremental_revenue",
    "baseline_margin",
    "incremental_margin",
    "trade_spend",
    "dip_units",
    "dip_margin",
    "cannibalised_units",
    "cannibalised_margin",
)


@dataclass(frozen=True)
class PromotionKpis:
    """One lever's figures in its scope and weeks (money in the company's currency).

    ``first_week`` and ``last_week`` are the lever's weeks inside the horizon (None: it lies
    outside, and every figure is 0); ``dip_week`` is the week after a promotion when the
    horizon holds it (None for a lever that is not a promotion).
    """

    lever: Lever
    first_week: dt.date | None
    last_week: dt.date | None
    dip_week: dt.date | None
    baseline_units: float
    incremental_units: float
    baseline_revenue: float
    incremental_revenue: float
    baseline_margin: float
    incremental_margin: float
    trade_spend: float
    dip_units: float
    dip_margin: float
    cannibalised_units: float
    cannibalised_margin: float

    @property
    def added_margin(self) -> float:
        """The gross margin the lever adds: incremental, dip and cannibalised margin."""
        return self.incremental_margin + self.dip_margin + self.cannibalised_margin

    @property
    def roi(self) -> float:
        """Promotion ROI: ``added_margin / trade_spend`` (NaN without trade spend)."""
        return _roi(self.added_margin, self.trade_spend)


def promotion_kpis(result: ScenarioResult, lever: Lever) -> PromotionKpis:
    """The figures of ``lever`` in its scope and weeks, from a scenario's ``result``.

    Parameters
    ----------
    result
        ``apply_scenario`` of a scenario (the lever usually among its levers).
    lever
        Its scope (total, family, brand, channel or SKU) and weeks say where to look; a
        promotion also gives the trade spend and the dip.

    Returns
    -------
    PromotionKpis
        Incremental units, revenue and gross margin, trade spend, dip, cannibalisation, ROI.
    """
    sums, weeks = _sums(result, [lever])
    return PromotionKpis(
        lever,
        **{name: _day(dates[0]) for name, dates in weeks.items()},
        **{name: float(sums[name][0]) for name in FIGURES},
    )


def promotion_kpis_table(
    result: ScenarioResult, levers: list[Lever], largest: int | None = None
) -> pd.DataFrame:
    """``promotion_kpis`` for each of ``levers``, one row each in their order.

    Parameters
    ----------
    result
        ``apply_scenario`` of a scenario.
    levers
        The levers to report (usually the scenario's promotions).
    largest
        Keep only this many levers, those with the most trade spend (a plan file's thousands
        of promotions do not make a table to read); None keeps them all.

    Returns
    -------
    pandas.DataFrame
        ``lever`` (its description), ``kind``, ``first_week``, ``last_week``, ``dip_week``
        (NaT where there is none), the ``FIGURES``, ``added_margin`` and ``roi`` (NaN
        without trade spend).
    """
    sums, weeks = _sums(result, levers)
    kept = np.arange(len(levers))
    if largest is not None and largest < len(levers):
        kept = np.sort(np.argsort(-sums["trade_spend"], kind="stable")[:largest])
    columns = {name: values[kept] for name, values in sums.items()}
    added = columns["incremental_margin"] + columns["dip_margin"] + columns["cannibalised_margin"]
    spend = columns["trade_spend"]
    return pd.DataFrame(
        {
            "lever": [levers[i].describe() for i in kept],
            "kind": [levers[i].kind for i in kept],
            **{name: values[kept] for name, values in weeks.items()},
            **columns,
            "added_margin": added,
            "roi": np.divide(added, spend, out=np.full(len(kept), np.nan), where=spend > 0),
        }
    )


def _roi(added_margin: float, trade_spend: float) -> float:
    return added_margin / trade_spend if trade_spend > 0 else math.nan


def _day(week: np.datetime64) -> dt.date | None:
    return None if np.isnat(week) else week.astype("datetime64[D]").astype(dt.date)


def _sums(
    result: ScenarioResult, levers: list[Lever]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every figure of ``FIGURES``, one value per lever, summed over the cells each covers;
    and each lever's ``first_week``, ``last_week`` and ``dip_week`` (NaT: none)."""
    base = result.base
    layout = _layout(base, levers)
    count, window = len(levers), layout.window
    n = len(base.skus)
    by_sku = _Running(_sku_figures(result, layout.rows, window), layout.rows, n, window.start)
    scope = _range_sums(by_sku, layout.scope_sku, count)
    if len(layout.scope_channel.row):
        needed = layout.channel_rows
        by_channel = _Running(
            _channel_figures(result, needed, window),
            needed,
            n * len(base.channels),
            window.start,
        )
        scope = _add(scope, _range_sums(by_channel, layout.scope_channel, count))
    dip = _dips(result, layout.dips, count)
    # The same by family, for what the levers take from the rest of their families.
    families = int(base.family_index.max()) + 1
    one_hot = base.family_index[layout.rows][None, :] == np.arange(families)[:, None]
    by_family = _Running({}, np.arange(families), families, window.start)
    by_family.sums = {name: one_hot @ by_sku.sums[name] for name in ("units", "margin")}
    whole = _range_sums(by_family, layout.families, count, ("units", "margin"))
    return {
        "baseline_units": scope["baseline_units"],
        "incremental_units": scope["units"],
        "baseline_revenue": scope["baseline_revenue"],
        "incremental_revenue": scope["revenue"],
        "baseline_margin": scope["baseline_margin"],
        "incremental_margin": scope["margin"],
        "trade_spend": scope["trade_spend"],
        "dip_units": dip["units"],
        "dip_margin": dip["margin"],
        "cannibalised_units": whole["units"] - scope["units"],
        "cannibalised_margin": whole["margin"] - scope["margin"],
    }, layout.weeks


@dataclass(frozen=True)
class _Entries:
    """Cells to sum, one entry per lever and row: which lever, which row (a SKU, a SKU x
    channel or a family), its first week and the week after its last."""

    lever: np.ndarray
    row: np.ndarray
    start: np.ndarray
    stop: np.ndarray

    @classmethod
    def of(cls, found: list[tuple[int, np.ndarray, int, int]]) -> _Entries:
        if not found:
            return cls(*(np.zeros(0, dtype=int) for _ in range(4)))
        numbers, rows, starts, stops = zip(*found, strict=True)
        sizes = np.array([len(r) for r in rows])
        return cls(
            np.repeat(np.array(numbers), sizes),
            np.concatenate(rows),
            np.repeat(np.array(starts), sizes),
            np.repeat(np.array(stops), sizes),
        )


@dataclass(frozen=True)
class _Dips:
    """The dips of the levers' promotions, one entry per lever and SKU: its dip week, its log
    dip (``post_promotion x discount x share``) and its channel (-1: every channel)."""

    lever: np.ndarray
    row: np.ndarray
    week: np.ndarray
    dip_log: np.ndarray
    channel: np.ndarray

    @classmethod
    def of(cls, base: PlanBase, found: list[tuple[int, np.ndarray, int, float, int]]) -> _Dips:
        """From (lever number, SKU rows, dip week, discount x share, channel) per promotion."""
        if not found:
            return cls(*(np.zeros(0, dtype=int) for _ in range(3)), np.zeros(0), np.zeros(0, int))
        numbers, rows, weeks, strengths, channels = zip(*found, strict=True)
        sizes = np.array([len(r) for r in rows])
        row = np.concatenate(rows)
        post_promotion = np.nan_to_num(base.effects["post_promotion"])
        return cls(
            np.repeat(np.array(numbers), sizes),
            row,
            np.repeat(np.array(weeks), sizes),
            post_promotion[row] * np.repeat(np.array(strengths, dtype=float), sizes),
            np.repeat(np.array(channels), sizes),
        )


@dataclass(frozen=True)
class _Layout:
    """Where each lever looks, independent of the lever values' effects: the same for every
    lever move while the scenario's levers stay (``_layout`` keeps it)."""

    scope_sku: _Entries
    scope_channel: _Entries  # rows are SKU x channels + channel
    families: _Entries  # rows are family numbers
    dips: _Dips
    rows: np.ndarray  # the SKUs of the levers' families
    channel_rows: np.ndarray  # the SKU x channel rows of channel levers
    window: slice  # the weeks any lever covers
    weeks: dict[str, np.ndarray]  # first_week, last_week, dip_week per lever (NaT: none)


LAYOUTS_KEPT = 4  # a scenario's promotions and the last few levers being edited


def _layout(base: PlanBase, levers: list[Lever]) -> _Layout:
    """The layout of ``levers`` on ``base``, kept on the base for the next lever move (a plan
    file's thousands of levers would otherwise be walked again each time)."""
    kept = base.__dict__.setdefault("_promotion_layouts", {})
    key = tuple(levers)
    layout = kept.pop(key, None) or _new_layout(base, levers)
    kept[key] = layout  # the newest last; the oldest goes
    while len(kept) > LAYOUTS_KEPT:  # (sessions share the base: never fail on a race)
        try:
            kept.pop(next(iter(kept)), None)
        except (StopIteration, RuntimeError):
            break
    return layout


def _new_layout(base: PlanBase, levers: list[Lever]) -> _Layout:
    w = len(base.weeks)
    count = len(levers)
    first, last, dip_at = (np.full(count, -1) for _ in range(3))
    scope_sku, scope_channel, families, dips = [], [], [], []
    family_of: dict[tuple[str, str | None], np.ndarray] = {}
    channels = len(base.channels)
    for number, lever in enumerate(levers):
        span = base.week_span(lever.start_week, lever.end_week)
        if span.stop <= span.start:
            continue
        first[number], last[number] = span.start, span.stop - 1
        rows = base.scope_rows(lever.scope, lever.target)
        key = (lever.scope, lever.target)
        if key not in family_of:
            family_of[key] = (
                base.family_index[rows] if len(rows) == 1 else np.unique(base.family_index[rows])
            )
        families.append((number, family_of[key], span.start, span.stop))
        channel = -1
        if lever.scope == "channel":
            channel = base.channel_slice(lever.scope, lever.target)
            scope_channel.append((number, rows * channels + channel, span.start, span.stop))
        else:
            scope_sku.append((number, rows, span.start, span.stop))
        if lever.kind == "promotion" and span.stop < w:
            dip_at[number] = span.stop
            dips.append((number, rows, span.stop, lever.discount * lever.share, channel))
    family_entries = _Entries.of(families)
    touched = np.zeros(int(base.family_index.max()) + 1, dtype=bool)
    touched[family_entries.row] = True
    channel_entries = _Entries.of(scope_channel)
    return _Layout(
        scope_sku=_Entries.of(scope_sku),
        scope_channel=channel_entries,
        families=family_entries,
        dips=_Dips.of(base, dips),
        rows=np.flatnonzero(touched[base.family_index]),
        channel_rows=np.unique(channel_entries.row),
        window=slice(
            int(family_entries.start.min(initial=w)), int(family_entries.stop.max(initial=0))
        ),
        weeks={
            name: np.where(index >= 0, base.weeks[np.maximum(index, 0)], np.datetime64("NaT"))
            for name, index in (("first_week", first), ("last_week", last), ("dip_week", dip_at))
        },
    )


SUMMED = (
    "units",
    "revenue",
    "margin",
    "baseline_units",
    "baseline_revenue",
    "baseline_margin",
    "trade_spend",
)


class _Running:
    """Running sums along the weeks of figures, for some rows and a window of weeks: what
    ``_range_sums`` reads two values per row from."""

    def __init__(self, figures: dict[str, np.ndarray], rows: np.ndarray, size: int, first: int):
        # Where each of the ``size`` rows sits among ``rows`` (None: all of them, in order).
        self.where = None
        if len(rows) < size:
            self.where = np.full(size, -1)
            self.where[rows] = np.arange(len(rows))
        self.first = first  # the window's first week
        self.sums = {}
        for name, values in figures.items():
            running = np.zeros((values.shape[0], values.shape[1] + 1))
            np.cumsum(values, axis=1, out=running[:, 1:])
            self.sums[name] = running


def _sku_figures(result: ScenarioResult, rows: np.ndarray, weeks: slice) -> dict[str, np.ndarray]:
    """The figures of ``rows`` (SKUs) in ``weeks``."""
    base = result.base
    every = slice(None) if len(rows) == len(base.skus) else rows

    def cut(values: np.ndarray) -> np.ndarray:
        return values[every, weeks]

    baseline = cut(base.baseline)
    units = cut(result.revised) - baseline
    revenue = cut(result.revenue) - cut(base.revenue_base)
    if result.channel_trade_spend is None:  # every channel alike
        spend = baseline * cut(base.weekly_price) * cut(result.price_factor) * cut(result.discount)
    else:
        spend = result.channel_trade_spend[every, :, weeks].sum(axis=1)
    return {
        "units": units,
        "revenue": revenue,
        # The gross margin after the discount; the setups are the same on both sides.
        "margin": revenue - units * base.variable_cost[every, None],
        "baseline_units": baseline,
        "baseline_revenue": cut(base.revenue_base),
        "baseline_margin": cut(result.margin_base),
        "trade_spend": spend,
    }


def _channel_figures(
    result: ScenarioResult, rows: np.ndarray, weeks: slice
) -> dict[str, np.ndarray]:
    """The figures of ``rows`` of SKU x channel (numbered ``SKU x channels + channel``) in
    ``weeks``."""
    base = result.base
    c = len(base.channels)
    sku, channel = rows // c, rows % c

    def flat(values: np.ndarray) -> np.ndarray:
        return values[sku, channel, weeks]

    baseline = flat(base.baseline_by_channel)
    units = flat(result.revised_by_channel) - baseline
    revenue = flat(result.revenue_by_channel) - flat(base.revenue_base_by_channel)
    # A SKU's baseline margin split over its channels as its baseline units.
    total = base.baseline[sku, weeks]
    share = np.divide(baseline, total, out=np.zeros_like(baseline), where=total > 0)
    return {
        "units": units,
        "revenue": revenue,
        "margin": revenue - units * base.variable_cost[sku, None],
        "baseline_units": baseline,
        "baseline_revenue": flat(base.revenue_base_by_channel),
        "baseline_margin": result.margin_base[sku, weeks] * share,
        "trade_spend": flat(result.channel_trade_spend),
    }


def _range_sums(
    running: _Running, entries: _Entries, count: int, names: tuple[str, ...] = SUMMED
) -> dict[str, np.ndarray]:
    """Per lever (``count`` of them), each of ``names`` summed over its entries' rows and
    weeks."""
    start, stop = entries.start - running.first, entries.stop - running.first
    at = entries.row if running.where is None else running.where[entries.row]
    return {
        name: np.bincount(
            entries.lever,
            weights=running.sums[name][at, stop] - running.sums[name][at, start],
            minlength=count,
        )
        for name in names
    }


def _dips(result: ScenarioResult, dips: _Dips, count: int) -> dict[str, np.ndarray]:
    """Per lever, the units and gross margin its own post-promotion dip takes in the week after
    it: the revised volume there less what it would be without the dip, ``volume x (1 -
    exp(-post_promotion x discount x share))``; for the dip alone, revised minus baseline."""
    row, week, channel = dips.row, dips.week, dips.channel
    volume, revenue = result.revised[row, week], result.revenue[row, week]
    one = channel >= 0
    if one.any():  # a channel promotion dips in its channel only
        picked = (row[one], channel[one], week[one])
        volume[one] = result.revised_by_channel[picked]
        revenue[one] = result.revenue_by_channel[picked]
    units = volume * -np.expm1(-dips.dip_log)
    # Each unit lost takes its revenue that week (its price, after any discount) less its cost.
    earned = np.divide(revenue, volume, out=np.zeros_like(revenue), where=volume > 0)
    margin = units * (earned - result.base.variable_cost[row])
    return {
        "units": np.bincount(dips.lever, weights=units, minlength=count),
        "margin": np.bincount(dips.lever, weights=margin, minlength=count),
    }


def _add(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: first[name] + second[name] for name in first}
