"""When a lever guesses (``history_ranges``, ``lever_history``): each SKU's history has seen a
range of price moves (its lowest and highest unpromoted net price against its regular price
now, in any channel-week) and of discount depths (none up to its deepest). A lever on one SKU
is held against that SKU's range; a lever on a family, brand, channel or the total against the
range of each SKU's family (the widest any of its SKUs has seen). In log price units, a price
change ``c`` is ``x = log(1 + c)`` against ``[low, high]`` (today's price, 0, always in it),
and a discount ``d`` is ``x = -log(1 - d)`` against ``[0, -log(1 - deepest)]``. A lever beyond
its range is *outside history* by

    beyond = distance past the nearer end / max(range width, MIN_HISTORY_WIDTH)

(``MIN_HISTORY_WIDTH`` = 0.1, about a 10% move, so a SKU whose price never moved, or that was
never promoted, is not divided by zero). Inside the range ``beyond`` is 0 and nothing changes.
Campaign and distribution levers are the marketer's own assumptions and are not held against
the history. The revised 80% band of a SKU-week widens around the revised target by

    half-width x (1 + sum of beyond over the price and promotion levers acting there)

(per channel, the largest; the lower end never below zero): a move as far past the range as
the range is wide doubles the band. A +100% price on the sample's SKUs (their prices moved
about -15% to +7%) is 2 to 3.5 range widths out: a band about 3 to 4.5 times as wide.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sop_core.data.errors import InputError
from sop_core.demand.plan_base import PlanBase
from sop_core.scenario.model import Lever

# The smallest range width (log units, about a 10% move) a distance beyond the history is
# measured in: see the module's docstring.
MIN_HISTORY_WIDTH = 0.1


@dataclass(frozen=True)
class HistoryRanges:
    """Per SKU, what its history has seen (``history_ranges``): price moves in log units
    against its regular price now (``low <= 0 <= high``) and the deepest discount, its own
    (``sku_*``) and its family's (``family_*``: the widest of the family's SKUs)."""

    sku_low: np.ndarray
    sku_high: np.ndarray
    sku_discount: np.ndarray
    family_low: np.ndarray
    family_high: np.ndarray
    family_discount: np.ndarray
    sku_weeks: np.ndarray  # weeks of history of the SKU
    family_weeks: np.ndarray  # and of its family (the longest of its SKUs')

    def beyond(
        self, kind: str, rows: np.ndarray, own: np.ndarray, values: np.ndarray
    ) -> np.ndarray:
        """Per entry (a SKU ``rows`` and a lever's value), how far past what the history has
        seen, in range widths (0 inside it); ``own``: held against the SKU's own range rather
        than its family's. ``kind`` is "price" (``values``: changes) or "promotion"
        (discounts)."""
        if kind == "price":
            low = np.where(own, self.sku_low[rows], self.family_low[rows])
            high = np.where(own, self.sku_high[rows], self.family_high[rows])
            x = np.log1p(values)
        else:
            deepest = np.where(own, self.sku_discount[rows], self.family_discount[rows])
            low, high = np.zeros(len(rows)), -np.log1p(-deepest)
            x = -np.log1p(-values)
        distance = np.maximum(np.maximum(x - high, low - x), 0.0)
        return distance / np.maximum(high - low, MIN_HISTORY_WIDTH)


def history_ranges(base: PlanBase) -> HistoryRanges:
    """What each SKU's (and family's) history has seen, computed once per plan base."""
    cache = base.__dict__
    if "_history_ranges" not in cache:
        if base.price_low_seen is None or base.price_high_seen is None:
            move = np.log1p(np.nan_to_num(base.price_change_seen))
            low, high = -move, move
        else:
            low = np.minimum(np.nan_to_num(base.price_low_seen), 0.0)
            high = np.maximum(np.nan_to_num(base.price_high_seen), 0.0)
        deepest = np.clip(np.nan_to_num(base.max_discount_seen), 0.0, 0.95)
        weeks = (
            np.zeros(len(base.skus), dtype=int)
            if base.history_weeks is None
            else np.asarray(base.history_weeks, dtype=int)
        )
        family = base.family_index
        size = int(family.max()) + 1 if len(family) else 0
        by_family = {}
        for name, values, ufunc in (
            ("low", low, np.minimum),
            ("high", high, np.maximum),
            ("discount", deepest, np.maximum),
            ("weeks", weeks, np.maximum),
        ):
            pooled = np.zeros(size, dtype=values.dtype)
            ufunc.at(pooled, family, values)
            by_family[name] = pooled[family]
        cache["_history_ranges"] = HistoryRanges(
            low,
            high,
            deepest,
            by_family["low"],
            by_family["high"],
            by_family["discount"],
            weeks,
            by_family["weeks"],
        )
    return cache["_history_ranges"]


@dataclass(frozen=True)
class LeverHistory:
    """What the history of a lever's SKUs has seen, and whether the lever leaves it."""

    kind: str  # "price" or "promotion"
    skus: int  # SKUs in the lever's scope
    outside: int  # of them, those the lever takes outside history
    low: float  # the range seen (of the SKUs outside, if any): price changes (-0.08) ...
    high: float  # ... or discount depths (0 to the deepest)
    weeks: int  # weeks of history behind it
    widening: float  # the most the lever widens a SKU-week's band (1: not at all)

    def text(self) -> str:
        """``Outside history: prices moved -8% to +5% in the last 160 weeks; ...``."""
        weeks = f"in the last {self.weeks} weeks" if self.weeks else "in the history"
        if self.kind == "price":
            seen = f"prices moved {self.low:+.0%} to {self.high:+.0%} {weeks}"
        elif self.high > 0:
            seen = f"discounts went to {self.high:.0%} at most {weeks}"
        else:
            seen = f"never discounted {weeks}"
        if not self.outside:
            return f"Within history: {seen}."
        which = "" if self.outside == self.skus else f" for {self.outside} of {self.skus} SKUs"
        wider = (
            f"up to {self.widening:.1f} times as wide"
            if self.widening >= 1.05
            else "slightly wider"
        )
        return (
            f"Outside history{which}: {seen}; the revised target is a guess, its 80% band {wider}."
        )


def lever_history(base: PlanBase, lever: Lever) -> LeverHistory | None:
    """The range of price moves or discounts the history of ``lever``'s SKUs has seen and
    whether the lever leaves it (None for a campaign or distribution lever, which the history
    does not hold). Over several SKUs the range shown is that of the SKUs outside it (all of
    the scope's when none is)."""
    if lever.kind not in ("price", "promotion"):
        return None
    lever.validated()
    ranges = history_ranges(base)
    rows = base.scope_rows(lever.scope, lever.target)
    own = np.full(len(rows), lever.scope == "sku")
    value = lever.change if lever.kind == "price" else lever.discount
    beyond = ranges.beyond(lever.kind, rows, own, np.full(len(rows), value))
    outside = beyond > 0
    part = outside if outside.any() else np.ones(len(rows), dtype=bool)
    if lever.kind == "price":
        low = np.where(own, ranges.sku_low[rows], ranges.family_low[rows])[part]
        high = np.where(own, ranges.sku_high[rows], ranges.family_high[rows])[part]
        low_seen, high_seen = float(np.expm1(low.min())), float(np.expm1(high.max()))
    else:
        deepest = np.where(own, ranges.sku_discount[rows], ranges.family_discount[rows])
        low_seen, high_seen = 0.0, float(deepest[part].max())
    weeks = np.where(own, ranges.sku_weeks[rows], ranges.family_weeks[rows])[part]
    return LeverHistory(
        lever.kind,
        len(rows),
        int(outside.sum()),
        low_seen,
        high_seen,
        int(weeks.max()),
        float(1 + beyond.max()),
    )


def levers_outside_history(base: PlanBase, levers: list[Lever]) -> list[Lever]:
    """The levers (of a scenario, a plan file) outside history for at least one of their
    SKUs, in their order (``lever_history`` says what the history has seen); a lever whose
    weeks are past the horizon, or whose scope this forecast no longer has, acts on nothing
    and is left out. One numpy pass per kind: a plan file has thousands of levers."""
    ranges = history_ranges(base)
    outside = np.zeros(len(levers), dtype=bool)
    for kind in ("price", "promotion"):
        numbers, rows = [], []
        for number, lever in enumerate(levers):
            if lever.kind != kind:
                continue
            weeks = base.week_span(lever.start_week, lever.end_week)
            if weeks.stop <= weeks.start:
                continue
            try:
                rows.append(base.scope_rows(lever.scope, lever.target))
            except InputError:
                continue
            numbers.append(number)
        if not numbers:
            continue
        chosen = [levers[number].validated() for number in numbers]
        counts = np.array([len(r) for r in rows])
        values = [lever.change if kind == "price" else lever.discount for lever in chosen]
        beyond = ranges.beyond(
            kind,
            np.concatenate(rows),
            np.repeat([lever.scope == "sku" for lever in chosen], counts),
            np.repeat(np.array(values, dtype=float), counts),
        )
        starts = np.cumsum(counts) - counts
        outside[numbers] = np.maximum.reduceat(beyond, starts) > 0
    return [lever for lever, out in zip(levers, outside, strict=True) if out]
