"""Scenarios: promotion, price, campaign and distribution levers that revise the targets,
revenue, gross margin and hours needed, live.

A scenario is a named list of levers plus, optionally, overrides of the estimated driver
effects. Its maths runs on arrays already in memory (SKU x week), built once per forecast run
by ``load_plan_base``: a lever move never refits a model and never touches the database.

How a lever moves volume (all effects are on log units, per SKU, from ``driver_effects``):

- promotion: ``share x (promo_depth x discount + price_elasticity x log(1 - discount)) +
  feature x feature_support + display x display_support``, and in the week after it ends
  ``post_promotion x discount x share`` (the dip); ``share`` is the part of the distribution
  taking part (1 by default). In one channel it lifts only that channel's share.
- price change: ``price_elasticity x log(1 + change)`` from its first week until the next
  price change for the same scope and target starts, or its end week if that comes first
  (none: the end of the horizon); a plan file's price rows mean the same.
- campaign and distribution: ``log(1 + change)``: the uplift or the change in distribution
  the marketer assumes.
- cannibalisation: a share of the extra volume a promotion or campaign wins for some SKUs of
  a family comes out of the family's other SKUs that week (never more than they sell), so a
  family never gains more than its promoted SKUs do.

When a lever guesses, its revised band widens: ``sop_core.scenario.history`` holds what
each SKU's history has seen and the rule.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from sop_core.data.errors import InputError
from sop_core.demand.fences import TimeFences, frozen_warning
from sop_core.demand.plan_base import PlanBase
from sop_core.scenario.history import history_ranges
from sop_core.scenario.model import LEVER_KINDS, OVERRIDABLE, CapacityChange, Lever, Scenario

UNCERTAIN_ELASTICITY = 0.5  # standard error above which a price response is flagged
UNCERTAIN_UPLIFT = 0.15  # the same for the log-uplift of a 10% discount
LOG_90 = float(np.log(0.9))
LAYOUTS_KEPT = 32  # lever layouts whose cells a plan base keeps (``_lever_cells``)


@dataclass
class ScenarioResult:
    """A scenario's revised targets and what they drive.

    Volumes and money are kept per channel, ``(SKUs, channels, weeks)``, because a lever may
    act in one channel only; the ``(SKUs, weeks)`` totals are sums over channels.
    """

    base: PlanBase
    revised: np.ndarray  # (SKUs, weeks)
    revenue: np.ndarray
    lower_80: np.ndarray
    upper_80: np.ndarray
    margin_base: np.ndarray  # (SKUs, weeks)
    margin: np.ndarray
    discount_cost: np.ndarray
    hours_base: np.ndarray  # (lines, weeks)
    hours: np.ndarray
    warnings: list[str]
    promotion_margin_change: float = 0.0
    # The promotions' trade spend: their discounts on the baseline's units (the units that
    # would have sold anyway), the denominator of the promotion ROI.
    promotion_spend: float = 0.0
    available_hours: np.ndarray | None = None  # with the scenario's capacity changes
    # Per channel, when a lever acts in one channel only; otherwise derived on demand from
    # the channel shares and prices, the price factor and the discount (SKUs x weeks).
    channel_volume: np.ndarray | None = None
    channel_revenue: np.ndarray | None = None
    price_factor: np.ndarray | None = None
    discount: np.ndarray | None = None
    # Per channel when a lever acts in one channel only: the discount on the baseline's units
    # at the scenario's listed prices (the trade spend, SKUs x channels x weeks).
    channel_trade_spend: np.ndarray | None = None
    # Where levers are beyond what the history has seen: the SKUs (rows) and weeks (a slice)
    # holding one, and how many times as wide the 80% band is there (``band_widening``).
    widened: tuple[np.ndarray, slice, np.ndarray] | None = None

    @functools.cached_property
    def band_widening(self) -> np.ndarray | None:
        """How many times as wide the 80% band is around the revised target, per SKU and week
        (1 inside what the history has seen; None: no lever is outside history). See the
        module's docstring."""
        if self.widened is None:
            return None
        rows, weeks, block = self.widened
        widening = np.ones(self.revised.shape)
        widening[rows, weeks] = block
        return widening

    @property
    def outside_history(self) -> np.ndarray:
        """Per SKU and week, whether a price or promotion lever there is outside history."""
        if self.band_widening is None:
            return np.zeros(self.revised.shape, dtype=bool)
        return self.band_widening > 1

    @functools.cached_property
    def revised_by_channel(self) -> np.ndarray:
        if self.channel_volume is not None:
            return self.channel_volume
        factor = np.divide(
            self.revised,
            self.base.baseline,
            out=np.ones_like(self.revised),
            where=self.base.baseline > 0,
        )
        return self.base.baseline_by_channel * factor[:, None, :]

    @functools.cached_property
    def revenue_by_channel(self) -> np.ndarray:
        if self.channel_revenue is not None:
            return self.channel_revenue
        price = (
            self.base.channel_price[:, :, None]
            * (self.price_factor * (1 - self.discount))[:, None, :]
        )
        return self.revised_by_channel * price

    @property
    def revenue_base_by_channel(self) -> np.ndarray:
        return self.base.revenue_base_by_channel

    @property
    def revenue_base(self) -> np.ndarray:
        return self.base.revenue_base

    @property
    def available(self) -> np.ndarray:
        """Available hours per line and week, the scenario's capacity changes included."""
        return self.base.available_hours if self.available_hours is None else self.available_hours

    def view(self, families: tuple[str, ...] = (), channels: tuple[str, ...] = ()) -> dict:
        """Per SKU and week, the part of the scenario in the chosen families and channels:
        ``baseline, revised, lower_80, upper_80, revenue_base, revenue, margin_base, margin``
        (empty tuples: everything)."""
        base = self.base
        rows = (
            np.isin(base.families, list(families))
            if families
            else np.ones(len(base.skus), dtype=bool)
        )
        chosen = (
            np.isin(base.channels, list(channels))
            if channels
            else np.ones(len(base.channels), dtype=bool)
        )
        revised = self.revised_by_channel[:, chosen].sum(axis=1)
        baseline = base.baseline_by_channel[:, chosen].sum(axis=1)
        # What the chosen channels hold of each SKU's volume, for the SKU-level figures.
        part = np.divide(revised, self.revised, out=np.zeros_like(revised), where=self.revised > 0)
        part_base = np.divide(
            baseline, base.baseline, out=np.zeros_like(baseline), where=base.baseline > 0
        )
        keep = rows[:, None]
        return {
            "baseline": np.where(keep, baseline, 0.0),
            "revised": np.where(keep, revised, 0.0),
            "lower_80": np.where(keep, self.lower_80 * part, 0.0),
            "upper_80": np.where(keep, self.upper_80 * part, 0.0),
            "revenue_base": np.where(
                keep, self.revenue_base_by_channel[:, chosen].sum(axis=1), 0.0
            ),
            "revenue": np.where(keep, self.revenue_by_channel[:, chosen].sum(axis=1), 0.0),
            "margin_base": np.where(keep, self.margin_base * part_base, 0.0),
            "margin": np.where(keep, self.margin * part, 0.0),
        }

    def kpis(
        self, families: tuple[str, ...] = (), channels: tuple[str, ...] = ()
    ) -> dict[str, float]:
        """Totals over the horizon: volume, revenue and margin with their changes (for the
        chosen families and channels), promotion ROI (the margin the promotions add, dips and
        cannibalisation included, per unit of trade spend: docs/GLOSSARY.md) and overloaded
        line-weeks (whole scenario)."""
        if families or channels:
            part = {name: float(v.sum()) for name, v in self.view(families, channels).items()}
        else:  # the whole scenario: no need to split by channel
            part = {
                **self.base.baseline_totals,
                "revised": float(self.revised.sum()),
                "revenue": float(self.revenue.sum()),
                "margin": float(self.margin.sum()),
            }
        spend = float(self.discount_cost.sum())
        over = (self.hours > self.available + 1e-9) & (self.hours > 0)
        over_base = (self.hours_base > self.base.available_hours + 1e-9) & (self.hours_base > 0)
        return {
            "baseline_volume": part["baseline"],
            "volume": part["revised"],
            "volume_change": part["revised"] - part["baseline"],
            "baseline_revenue": part["revenue_base"],
            "revenue": part["revenue"],
            "revenue_change": part["revenue"] - part["revenue_base"],
            "baseline_margin": part["margin_base"],
            "margin": part["margin"],
            "margin_change": part["margin"] - part["margin_base"],
            "discount_cost": spend,
            "promotion_roi": (
                self.promotion_margin_change / self.promotion_spend
                if self.promotion_spend > 0
                else float("nan")
            ),
            "overloaded_line_weeks": int(over.sum()),
            "overloaded_line_weeks_baseline": int(over_base.sum()),
        }

    def weekly(
        self, families: tuple[str, ...] = (), channels: tuple[str, ...] = ()
    ) -> pd.DataFrame:
        """Weekly totals: baseline, revised with its 80% band, revenue and margin. The band
        of a total adds the SKUs' bands: wider than the total's own band, a cautious width."""
        part = self.view(families, channels)
        return pd.DataFrame(
            {
                "week": pd.to_datetime(self.base.weeks),
                **{name: values.sum(axis=0) for name, values in part.items()},
            }
        )

    def by(self, level: str) -> pd.DataFrame:
        """Totals over the horizon by ``family``, ``brand``, ``sku`` or ``channel``."""
        base = self.base
        if level == "channel":
            baseline = base.baseline_by_channel
            share = np.divide(
                self.revised_by_channel,
                self.revised[:, None, :],
                out=np.zeros_like(self.revised_by_channel),
                where=self.revised[:, None, :] > 0,
            )
            frame = pd.DataFrame(
                {
                    "channel": base.channels,
                    "baseline": baseline.sum(axis=(0, 2)),
                    "revised": self.revised_by_channel.sum(axis=(0, 2)),
                    "revenue": self.revenue_by_channel.sum(axis=(0, 2)),
                    "margin": (share * self.margin[:, None, :]).sum(axis=(0, 2)),
                }
            )
        else:
            keys = {"family": base.families, "brand": base.brands, "sku": base.skus}[level]
            frame = (
                pd.DataFrame(
                    {
                        level: keys,
                        "baseline": base.baseline.sum(axis=1),
                        "revised": self.revised.sum(axis=1),
                        "revenue": self.revenue.sum(axis=1),
                        "margin": self.margin.sum(axis=1),
                    }
                )
                .groupby(level, as_index=False)
                .sum()
            )
        frame["change"] = frame["revised"] - frame["baseline"]
        frame["change_share"] = frame["change"] / frame["baseline"].where(frame["baseline"] > 0)
        return frame

    def targets(self) -> pd.DataFrame:
        """Per SKU and week: baseline, revised target with its 80% band, change, revenue,
        gross margin and line hours."""
        n, w = self.revised.shape
        return pd.DataFrame(
            {
                "sku": np.repeat(self.base.skus, w),
                "family": np.repeat(self.base.families, w),
                "week": np.tile(pd.to_datetime(self.base.weeks), n),
                "baseline": self.base.baseline.ravel(),
                "revised": self.revised.ravel(),
                "lower_80": self.lower_80.ravel(),
                "upper_80": self.upper_80.ravel(),
                "change": (self.revised - self.base.baseline).ravel(),
                "revenue": self.revenue.ravel(),
                "margin": self.margin.ravel(),
                "line_hours": (self.revised * self.base.hours_per_unit[:, None]).ravel(),
            }
        )

    def line_load(self) -> pd.DataFrame:
        """Per line and week: hours needed (baseline and revised) against available hours;
        ``utilisation`` is the demand load (defined in ``sop_core.supply.loads``)."""
        lines, weeks = self.hours.shape
        available = self.available
        return pd.DataFrame(
            {
                "line": np.repeat(self.base.lines, weeks),
                "line_name": np.repeat(self.base.line_names, weeks),
                "week": np.tile(pd.to_datetime(self.base.weeks), lines),
                "hours_base": self.hours_base.ravel(),
                "hours": self.hours.ravel(),
                "available_hours": available.ravel(),
                "utilisation": (self.hours / np.where(available > 0, available, np.nan)).ravel(),
            }
        )


def effective_effects(base: PlanBase, scenario: Scenario) -> dict[str, np.ndarray]:
    """The log effects the scenario uses: the estimates with the user's overrides (an effect
    the data cannot tell stays NaN, so it can be reported rather than silently zero).

    A discount's response is ``promo_depth x discount + price_elasticity x log(1 - discount)``;
    ``promo_depth`` is set so that a 10% discount gives exactly the uplift per 10% the
    forecast engine reports (``drivers``), so what the page shows is what the levers do.
    """
    effects = {driver: values.copy() for driver, values in base.effects.items()}
    uplift_10 = np.where(
        np.isnan(effects["promo_10pct"]),
        0.1 * effects["promo_depth"] + effects["price_elasticity"] * LOG_90,
        effects["promo_10pct"],
    )
    for override in scenario.overrides:
        override.validated()
        mask = base.scope_mask(override.scope, override.target)
        if override.driver == "price_elasticity":
            effects["price_elasticity"][mask] = override.value
        elif override.driver == "promo_uplift_per_10pct":
            uplift_10[mask] = np.log1p(override.value)
        else:
            effects[override.driver.removesuffix("_uplift")][mask] = np.log1p(override.value)
    elasticity = np.nan_to_num(effects["price_elasticity"])
    effects["promo_depth"] = (uplift_10 - elasticity * LOG_90) / 0.1
    return effects


@dataclass(frozen=True)
class CurrentEffect:
    """What a scenario uses now for one driver effect over a scope's SKUs, in an effect
    override's units (the elasticity itself, an uplift as a fraction: 0.3 = +30%)."""

    value: float | None  # weighted by the SKUs' baseline volume; None: no SKU's is known
    lowest: float | None
    highest: float | None
    skus: int  # SKUs in the scope whose effect is known


def current_effect(
    base: PlanBase, scenario: Scenario, driver: str, scope: str, target: str | None
) -> CurrentEffect:
    """The value of ``driver`` the scenario uses now for the SKUs of a scope: the forecast's
    estimates with the scenario's effect overrides (``effective_effects``), averaged over the
    scope's SKUs weighted by their baseline volume. An effect override form starts here, so
    submitting it unchanged changes nothing.

    Parameters
    ----------
    base, scenario
        The plan base and the scenario (its levers do not matter, its overrides do).
    driver
        One of ``OVERRIDABLE``.
    scope, target
        As a lever's (a channel scope means every SKU).

    Returns
    -------
    CurrentEffect
        The volume-weighted value, the range over the SKUs and how many SKUs are known.
    """
    if driver not in OVERRIDABLE:
        raise InputError(f"Unknown effect {driver!r}; use one of {', '.join(OVERRIDABLE)}.")
    effects = effective_effects(base, scenario)
    if driver == "price_elasticity":
        values = effects["price_elasticity"]
    elif driver == "promo_uplift_per_10pct":
        # effective_effects sets promo_depth so that this is the uplift of a 10% discount.
        log_uplift = 0.1 * effects["promo_depth"]
        values = np.expm1(log_uplift + np.nan_to_num(effects["price_elasticity"]) * LOG_90)
    else:
        values = np.expm1(effects[driver.removesuffix("_uplift")])
    rows = base.scope_rows(scope, target)
    values = values[rows]
    known = np.isfinite(values)
    if not known.any():
        return CurrentEffect(None, None, None, 0)
    weights = base.baseline[rows][known].sum(axis=1)
    known_values = values[known]
    value = (
        float(np.average(known_values, weights=weights))
        if weights.sum() > 0
        else float(known_values.mean())
    )
    return CurrentEffect(
        value, float(known_values.min()), float(known_values.max()), int(known.sum())
    )


def apply_scenario(base: PlanBase, scenario: Scenario) -> ScenarioResult:
    """Revise the baseline with the scenario's levers: vectorised, no model refit.

    Work is per SKU, channel and week; each lever touches only its SKUs (a row index), its
    channel (or all) and its weeks (a slice). Sums by line and by family use precomputed
    groupings, so a lever move over 1,000 SKUs x 52 weeks stays in milliseconds.
    """
    known = effective_effects(base, scenario)
    effects = {driver: np.nan_to_num(values) for driver, values in known.items()}
    elasticity = effects["price_elasticity"]
    n, w = base.baseline.shape
    # Without a channel lever every channel moves alike: work on one "all channels" column
    # (three times less to compute) and split by channel at the end.
    by_channel = any(lever.scope == "channel" for lever in scenario.levers)
    c = len(base.channels) if by_channel else 1
    # Prices as (SKUs, channels, 1) per channel, or (SKUs, 1, weeks) for all channels together
    # (each week at its own channel mix, which the team's overrides may move).
    prices = base.channel_price[:, :, None] if by_channel else base.weekly_price[:, None, :]
    cells = _lever_cells(base, scenario.levers, by_channel, (n, c, w))
    promotion, price = cells["promotion"], cells["price"]
    # In part of the distribution, the discount's drivers scale with the share taking part (as
    # the forecast's channel-weighted drivers do), and so does the money given.
    promo_log = promotion.add(
        promotion.share
        * (
            effects["promo_depth"][promotion.row] * promotion.discount
            + elasticity[promotion.row] * np.log1p(-promotion.discount)
        )
        + effects["feature"][promotion.row] * promotion.feature
        + effects["display"][promotion.row] * promotion.display
    )  # promotions (they cannibalise and count for the ROI)
    discount = promotion.add(promotion.discount * promotion.share)
    dip_log = promotion.add(  # the week after a promotion (none after the horizon)
        effects["post_promotion"][promotion.row] * promotion.discount * promotion.share,
        after=True,
    )
    price_change = np.log1p(price.change)
    price_log = price.add(price_change)
    other_log = price.add(elasticity[price.row] * price_change) + cells["distribution"].add(
        np.log1p(cells["distribution"].change)
    )  # price changes and distribution
    campaign_log = cells["campaign"].add(np.log1p(cells["campaign"].change))

    baseline_c = base.baseline_by_channel if by_channel else base.baseline[:, None, :]
    revised_c, promotion_margin, promotion_spend = _volumes_and_roi(
        base,
        scenario,
        baseline_c,
        prices,
        promo_log,
        campaign_log,
        dip_log,
        other_log,
        discount,
        promotion.row,
    )
    # The SKU's change is the ratio of its channels' totals, so that without levers the
    # revised target is the baseline exactly (not a sum of channel parts that rounds).
    if by_channel:
        channel_total, baseline_total = revised_c.sum(axis=1), baseline_c.sum(axis=1)
    else:  # one "all channels" column: its own total (the same numbers, no pass to sum it)
        channel_total, baseline_total = revised_c[:, 0, :], base.baseline
    factor = np.divide(
        channel_total, baseline_total, out=np.ones_like(channel_total), where=baseline_total > 0
    )
    revised = base.baseline * factor
    discount = np.minimum(discount, 0.95)
    variable = base.variable_cost[:, None]
    setups = base.setup_spend[:, None]
    common = {
        "base": base,
        "revised": revised,
        **_revised_band(base, revised, factor, cells),
        "margin_base": base.margin_base,
        "hours_base": base.baseline_hours,
        "hours": base.line_hours(revised),
        "warnings": scenario_warnings(base, scenario, known),
        "promotion_margin_change": promotion_margin,
        "promotion_spend": promotion_spend,
        "available_hours": capacity_with_changes(base, scenario.capacity),
    }
    if by_channel:
        listed = base.channel_price[:, :, None] * np.exp(price_log)
        revenue_c = revised_c * listed * (1 - discount)
        revenue = revenue_c.sum(axis=1)
        return ScenarioResult(
            **common,
            revenue=revenue,
            margin=revenue - revised * variable - setups,
            discount_cost=(revised_c * listed * discount).sum(axis=1),
            channel_volume=revised_c,
            channel_revenue=revenue_c,
            channel_trade_spend=baseline_c * listed * discount,
        )
    price_factor, flat_discount = np.exp(price_log[:, 0]), discount[:, 0]
    listed = base.weekly_price * price_factor
    revenue = revised * listed * (1 - flat_discount)
    return ScenarioResult(
        **common,
        revenue=revenue,
        margin=revenue - revised * variable - setups,
        discount_cost=revised * listed * flat_discount,
        price_factor=price_factor,
        discount=flat_discount,
    )


@dataclass
class _Cells:
    """The (SKU, channel, weeks) cells of every lever of one kind, one entry per SKU a lever
    touches, with that lever's values; ``add`` turns per-entry values into a (SKUs, channels,
    weeks) array in one numpy pass (a plan file has thousands of levers)."""

    shape: tuple[int, int, int]
    row: np.ndarray
    channel: np.ndarray  # -1: every channel
    start: np.ndarray
    stop: np.ndarray
    discount: np.ndarray
    share: np.ndarray
    feature: np.ndarray
    display: np.ndarray
    change: np.ndarray
    own: np.ndarray  # the entry's lever is on one SKU (held against the SKU's own history)
    # ``_spread``'s results, shared by every set of cells with the same layout (see
    # ``_lever_cells``): a lever move keeps the other levers' cells.
    spreads: dict = field(default_factory=dict)

    def add(self, values: np.ndarray, after: bool = False) -> np.ndarray:
        """``values`` (one per entry) added over each entry's weeks (``after``: in the week
        after them, if still in the horizon)."""
        flat, entry = self._spread(after)
        if not len(flat):
            return np.zeros(self.shape)
        weights = np.broadcast_to(values, self.row.shape)[entry]
        size = self.shape[0] * self.shape[1] * self.shape[2]
        return np.bincount(flat, weights=weights, minlength=size).reshape(self.shape)

    def _spread(self, after: bool) -> tuple[np.ndarray, np.ndarray]:
        """The flat cell number of every (entry, channel, week) the entries cover, and its
        entry; computed once per kind of week span."""
        cache = self.spreads
        if after not in cache:
            _, c, w = self.shape
            start, stop = (self.stop, self.stop + 1) if after else (self.start, self.stop)
            start, stop = np.minimum(start, w), np.minimum(stop, w)
            span = stop - start
            entry = np.repeat(np.arange(len(self.row)), span)
            week = start[entry] + np.arange(len(entry)) - np.repeat(np.cumsum(span) - span, span)
            first = self.row[entry] * c  # the entry's SKU, its first channel
            channel = self.channel[entry]
            every = channel < 0  # the same value in each channel
            flat = np.concatenate(
                [
                    (first[~every] + channel[~every]) * w + week[~every],
                    ((first[every, None] + np.arange(c)) * w + week[every, None]).ravel(),
                ]
            )
            cache[after] = (flat, np.concatenate([entry[~every], np.repeat(entry[every], c)]))
        return cache[after]


def price_lever_ends(levers: list[Lever]) -> dict[int, dt.date | None]:
    """Per price lever (by its position in ``levers``), the last week it holds: its end
    week, or the week before the next price lever of the same scope and target starts if
    that comes first (a later lever starting the same week replaces it: it holds no week)."""
    starts: dict[tuple, list[tuple[dt.date, int]]] = {}
    for number, lever in enumerate(levers):
        if lever.kind == "price":
            key = (lever.scope, lever.target)
            starts.setdefault(key, []).append((lever.start_week or dt.date.min, number))
    ends: dict[int, dt.date | None] = {}
    for group in starts.values():
        group.sort()
        for (_, number), following in zip(group, [*group[1:], None], strict=True):
            end = levers[number].end_week
            if following is not None:
                cut = max(following[0], dt.date.min + dt.timedelta(days=7)) - dt.timedelta(days=7)
                end = cut if end is None else min(end, cut)
            ends[number] = end
    return ends


def _lever_cells(
    base: PlanBase, levers: list[Lever], by_channel: bool, shape: tuple[int, int, int]
) -> dict[str, _Cells]:
    """Per lever kind, the cells of its levers inside the horizon (a lever outside it has no
    effect, and no dip either)."""
    parts: dict[str, list[tuple]] = {kind: [] for kind in LEVER_KINDS}
    price_ends = price_lever_ends(levers)
    for number, lever in enumerate(levers):
        lever.validated()
        weeks = base.week_span(lever.start_week, price_ends.get(number, lever.end_week))
        if weeks.stop <= weeks.start:
            continue
        rows = base.scope_rows(lever.scope, lever.target)
        channel = base.channel_slice(lever.scope, lever.target) if by_channel else slice(None)
        parts[lever.kind].append(
            (rows, -1 if isinstance(channel, slice) else channel, weeks.start, weeks.stop, lever)
        )
    cells = {}
    layouts = base.__dict__.setdefault("_lever_layouts", {})
    for kind, found in parts.items():
        # Where a kind's levers sit (not their values) decides its cells' spread: kept per
        # layout on the base, so moving one lever recomputes only its own kind's.
        layout = (
            kind,
            shape,
            tuple((part[4].scope, part[4].target, *part[1:4]) for part in found),
        )
        if layout not in layouts:
            if len(layouts) >= LAYOUTS_KEPT:
                layouts.pop(next(iter(layouts)))
            layouts[layout] = {}
        # One entry per SKU a lever touches: each lever's values repeated over its SKUs.
        counts = np.array([len(part[0]) for part in found], dtype=int)
        columns = list(zip(*found, strict=True)) if found else [[]] * 5
        values = {
            name: [getattr(lever, name) for lever in columns[4]]
            for name in ("discount", "share", "feature", "display", "change")
        }
        cells[kind] = _Cells(
            shape,
            row=np.concatenate(columns[0]) if found else np.zeros(0, dtype=int),
            channel=np.repeat(np.array(columns[1], dtype=int), counts),
            start=np.repeat(np.array(columns[2], dtype=int), counts),
            stop=np.repeat(np.array(columns[3], dtype=int), counts),
            **{name: np.repeat(np.array(v, dtype=float), counts) for name, v in values.items()},
            own=np.repeat(np.array([lever.scope == "sku" for lever in columns[4]], bool), counts),
            spreads=layouts[layout],
        )
    return cells


def _volumes_and_roi(
    base: PlanBase,
    scenario: Scenario,
    baseline_c: np.ndarray,
    prices: np.ndarray,
    promo_log: np.ndarray,
    campaign_log: np.ndarray,
    dip_log: np.ndarray,
    other_log: np.ndarray,
    discount: np.ndarray,
    promoted_rows: np.ndarray,
) -> tuple[np.ndarray, float, float]:
    """Revised volume per SKU, channel and week; the margin the promotions alone add and
    their trade spend, the discount on the baseline's units (for the promotion ROI).
    ``promoted_rows``: the rows the promotion levers reach (repeats allowed)."""

    rate = scenario.cannibalisation

    def volume(uplift: np.ndarray, rest: np.ndarray, rows: np.ndarray | slice) -> np.ndarray:
        """Volume of ``rows`` (a slice or the rows of whole families, so that cannibalisation,
        which stays within a family, is complete)."""
        start = baseline_c[rows]
        lift = uplift[rows]
        result = start * np.exp(lift + rest[rows])
        if rate <= 0:
            return result
        lifted_rows = lift.any(axis=(1, 2))
        if not lifted_rows.any():
            return result
        # A SKU-week with no promotion or campaign in any channel gives up volume to its
        # family's promoted SKUs: only the families holding a lifted SKU can change, so the
        # work is done on their rows alone (at 20,000 SKUs a family's promotion touches a
        # fifth of the company, not all of it).
        numbers = np.arange(len(base.skus))[rows]
        families = base.family_index[numbers]
        inside = np.flatnonzero(np.isin(families, families[lifted_rows]))
        start, lift = start[inside], lift[inside]
        lifted = start * np.exp(lift)
        donor = (lift == 0).all(axis=1)
        take = _cannibalised_share(
            base, lifted.sum(axis=1), (lifted - start).sum(axis=1), donor, rate, numbers[inside]
        )
        if take is not None:
            part = result[inside]
            result[inside] = np.where(donor[:, None, :], part * (1 - take[:, None, :]), part)
        return result

    revised = volume(promo_log + campaign_log, dip_log + other_log, slice(None))
    promotion_margin = promotion_spend = 0.0
    if any(lever.kind == "promotion" for lever in scenario.levers):
        # The promotions alone, dips included (no campaign, price or distribution change):
        # only the families holding a promoted SKU can differ from the baseline.
        # Only the promotions' own rows can hold a lift or a dip: look at those, not at all.
        rows = np.unique(promoted_rows)
        touched = rows[
            (promo_log[rows] != 0).any(axis=(1, 2)) | (dip_log[rows] != 0).any(axis=(1, 2))
        ]
        rows = np.flatnonzero(np.isin(base.family_index, base.family_index[touched]))
        alone = volume(promo_log, dip_log, rows)
        depth = np.minimum(discount[rows], 0.95)
        price = prices[rows]
        variable = base.variable_cost[rows][:, None]
        gained = (alone * price * (1 - depth)).sum(axis=1) - alone.sum(axis=1) * variable
        before = (baseline_c[rows] * price).sum(axis=1) - base.baseline[rows] * variable
        promotion_margin = float(gained.sum() - before.sum())
        promotion_spend = float((baseline_c[rows] * price * depth).sum())
    return revised, promotion_margin, promotion_spend


def _revised_band(
    base: PlanBase, revised: np.ndarray, factor: np.ndarray, cells: dict[str, _Cells]
) -> dict:
    """The revised 80% band (``lower_80``, ``upper_80``): the baseline's moved with the target,
    widened where levers are outside history (``widened``, the module's docstring)."""
    lower, upper = base.lower_80 * factor, base.upper_80 * factor
    widened = _band_widening(base, cells)
    if widened is not None:  # only where they act: a lever move stays fast
        rows, weeks, widening = widened
        # A family's SKUs are neighbours: a slice of rows is a view, worked on in place.
        block = (
            slice(rows[0], rows[-1] + 1) if rows[-1] - rows[0] + 1 == len(rows) else rows,
            weeks,
        )
        target, low, high = revised[block], lower[block], upper[block]
        outside = widening > 1  # elsewhere the band stays exactly as it was
        wider = np.subtract(target, low)
        np.multiply(wider, widening, out=wider)
        np.subtract(target, wider, out=wider)
        np.copyto(low, np.maximum(wider, 0.0, out=wider), where=outside)
        np.subtract(high, target, out=wider)
        np.multiply(wider, widening, out=wider)
        np.copyto(high, np.add(wider, target, out=wider), where=outside)
        if not isinstance(block[0], slice):  # rows picked one by one: copies, put back
            lower[block], upper[block] = low, high
    return {"lower_80": lower, "upper_80": upper, "widened": widened}


def _band_widening(
    base: PlanBase, cells: dict[str, _Cells]
) -> tuple[np.ndarray, slice, np.ndarray] | None:
    """Where price and promotion levers are outside history (the module's docstring): the
    SKUs (rows) and weeks (a slice) they reach, and how many times as wide the revised band
    is there (SKUs x weeks of that block, 1 where none is); None when no lever is."""
    total, first, last = None, len(base.weeks), 0
    reached = np.zeros(len(base.skus), dtype=bool)
    for kind, values in (("price", "change"), ("promotion", "discount")):
        part = cells[kind]
        if not len(part.row):
            continue
        beyond = history_ranges(base).beyond(kind, part.row, part.own, getattr(part, values))
        outside = beyond > 0
        if outside.any():
            added = part.add(beyond)
            total = added if total is None else total + added
            reached[part.row[outside]] = True
            first = min(first, int(part.start[outside].min()))
            last = max(last, int(part.stop[outside].max()))
    if total is None:
        return None
    rows, weeks = np.flatnonzero(reached), slice(first, last)
    # A family's SKUs are neighbours: their rows are a slice (a view, no copy).
    chosen = slice(rows[0], rows[-1] + 1) if rows[-1] - rows[0] + 1 == len(rows) else rows
    return rows, weeks, 1.0 + total[chosen, :, weeks].max(axis=1)


def capacity_with_changes(base: PlanBase, changes: list[CapacityChange]) -> np.ndarray:
    """Available hours per line and week after a scenario's capacity changes (never below 0)."""
    available = base.available_hours.copy()
    lines = {line: i for i, line in enumerate(base.lines)}
    for change in changes:
        change.validated()
        if change.line not in lines:
            raise InputError(f"There is no line called {change.line!r}.")
        span = base.week_span(change.start_week, change.end_week)
        available[lines[change.line], span] += change.hours
    return np.maximum(available, 0.0)


def _cannibalised_share(
    base: PlanBase,
    promoted: np.ndarray,
    gain: np.ndarray,
    donor: np.ndarray,
    rate: float,
    rows: np.ndarray,
) -> np.ndarray | None:
    """Per SKU and week (of ``rows``, whole families), the share of volume a non-promoted
    SKU loses to its family's promotions: ``rate`` of the promoted SKUs' extra volume, spread
    over the family's other SKUs in proportion to what they sell, never more than they sell."""
    extra = np.where(donor, 0.0, np.maximum(gain, 0.0))
    if not extra.any():
        return None
    families = base.family_index[rows]
    size = int(base.family_index.max()) + 1
    take = np.zeros((size, extra.shape[1]))
    pool = np.zeros_like(take)
    np.add.at(take, families, rate * extra)
    np.add.at(pool, families, np.where(donor, promoted, 0.0))
    fraction = np.divide(np.minimum(take, pool), pool, out=np.zeros_like(pool), where=pool > 0)
    return fraction[families]


def scenario_warnings(
    base: PlanBase, scenario: Scenario, effects: dict[str, np.ndarray] | None = None
) -> list[str]:
    """Levers beyond what the history has seen, resting on effects too uncertain to trust,
    or on effects the data cannot tell at all (those levers change nothing for those SKUs).

    One note per concern: with one lever it names the lever; with many (a plan file's
    hundreds) it counts them and the SKUs concerned, so the page is not a wall of warnings."""
    effects = effects if effects is not None else effective_effects(base, scenario)
    found: dict[str, list[tuple[Lever, np.ndarray, np.ndarray]]] = {}

    def concern(key: str, lever: Lever, skus: np.ndarray, flagged: np.ndarray) -> None:
        if flagged.any():
            found.setdefault(key, []).append((lever, skus, flagged))

    # Per SKU, once (a plan file has thousands of levers).
    unknown_of = {
        "promotion": np.isnan(effects["promo_depth"]),
        "price": np.isnan(effects["price_elasticity"]),
    }
    never_promoted = base.max_discount_seen <= 0
    shaky_promotion = np.nan_to_num(base.errors["promo_10pct"]) > UNCERTAIN_UPLIFT
    shaky_price = (np.nan_to_num(base.errors["price_elasticity"]) > UNCERTAIN_ELASTICITY) & (
        ~unknown_of["price"]
    )
    ranges = history_ranges(base)

    def outside_history(lever: Lever, skus: np.ndarray) -> np.ndarray:
        """The SKUs of ``skus`` the lever takes outside history: the rule the band widens by
        and the page's "Outside history" note use (``HistoryRanges.beyond``)."""
        rows = np.flatnonzero(skus)
        value = lever.change if lever.kind == "price" else lever.discount
        own = np.full(len(rows), lever.scope == "sku")
        outside = np.zeros(len(skus), dtype=bool)
        outside[rows] = ranges.beyond(lever.kind, rows, own, np.full(len(rows), value)) > 0
        return outside

    for lever in scenario.levers:
        if lever.kind not in ("promotion", "price"):
            continue
        skus = base.scope_mask(lever.scope, lever.target)
        unknown = skus & unknown_of[lever.kind]
        if lever.discount or lever.change:
            concern(f"unknown_{lever.kind}", lever, skus, unknown)
        if lever.kind == "promotion" and lever.discount > 0:
            known = skus & ~unknown
            never = known & never_promoted
            concern("never", lever, skus, never)
            concern("deeper", lever, skus, known & ~never & outside_history(lever, skus))
            concern("shaky_promotion", lever, skus, known & shaky_promotion)
        if lever.change if lever.kind == "price" else lever.discount:
            concern("shaky_price", lever, skus, skus & shaky_price)
        if lever.kind == "price" and lever.change:
            concern("bigger_move", lever, skus, skus & outside_history(lever, skus))
    notes = [_concern_note(key, items, base) for key, items in found.items()]
    frozen = frozen_lever_warning(base, scenario.levers)
    if frozen:
        notes.append(frozen)
    for override in scenario.overrides:
        notes.append(f"Effect override: {override.describe()} (instead of the estimate).")
    return notes


def frozen_lever_warning(
    base: PlanBase, levers: list[Lever], fences: TimeFences | None = None
) -> str | None:
    """A warning naming the weeks of the frozen zone (``sop_core.demand.fences``) that the
    levers change; None when none does. One note for all the levers (a plan file's hundreds
    are counted, the first named)."""
    fences = fences or TimeFences.from_settings()
    changed = np.zeros(len(base.weeks), dtype=bool)
    touching: list[Lever] = []
    for lever in levers:
        acts = lever.discount or lever.feature or lever.display or lever.change
        weeks = base.week_span(lever.start_week, lever.end_week)
        if acts and weeks.start < min(fences.frozen, weeks.stop):
            changed[weeks.start : min(fences.frozen, weeks.stop)] = True
            touching.append(lever)
    if not touching:
        return None
    what = touching[0].describe()
    if len(touching) > 1:
        what = f"{len(touching)} levers (the first: {what})"
    return frozen_warning(what[0].upper() + what[1:], base.weeks, changed, fences)


def _concern_note(
    key: str, items: list[tuple[Lever, np.ndarray, np.ndarray]], base: PlanBase
) -> str:
    """One warning for every lever with the same concern (``scenario_warnings``)."""
    first = items[0][0]
    flagged = np.logical_or.reduce([f for _, _, f in items])
    count = int(np.logical_or.reduce([s for _, s, _ in items]).sum())
    if len(items) == 1:
        who = f"{first.describe()}: "
    else:
        who = f"{len(items)} levers (the first: {first.describe()}): "
    of = f"{int(flagged.sum())} of {count} SKUs"
    if key in ("deeper", "bigger_move"):
        # The range each lever was held against: its SKU's own, or its SKUs' families'.
        ranges = history_ranges(base)
        seen = {
            name: np.concatenate(
                [
                    getattr(ranges, ("sku_" if lever.scope == "sku" else "family_") + name)[f]
                    for lever, _, f in items
                ]
            )
            for name in ("low", "high", "discount")
        }
        if key == "deeper":
            return (
                f"{who}deeper than any discount {of} had in their history (deepest "
                f"{seen['discount'].max():.0%}); the response is extrapolated and its band "
                "widened."
            )
        return (
            f"{who}a bigger price move than {of} saw in their history (they moved "
            f"{np.expm1(seen['low'].min()):+.0%} to {np.expm1(seen['high'].max()):+.0%}); the "
            "elasticity is extrapolated and its band widened."
        )
    return (
        who
        + {
            "unknown_promotion": f"the data holds no promotions for {of}, so the lever changes "
            "nothing for them; override the effect (Effects behind the lever) to plan with one.",
            "unknown_price": f"the data holds no prices for {of}, so the lever changes nothing "
            "for them; override the effect (Effects behind the lever) to plan with one.",
            "never": f"{of} were never promoted; their response is their family's (or all SKUs').",
            "shaky_promotion": f"the promotion response of {of} is uncertain (more than "
            f"{UNCERTAIN_UPLIFT:.0%} either way per 10% off); treat the volume change as a rough "
            "guide.",
            "shaky_price": f"the price response of {of} is uncertain (standard error above "
            f"{UNCERTAIN_ELASTICITY}); treat the volume change as a rough guide.",
        }[key]
    )


def applicable(base: PlanBase, scenario: Scenario) -> tuple[Scenario, list[str]]:
    """``scenario`` without the levers whose family, brand, SKU or channel this forecast no
    longer has (a product line ended, a channel closed), and a note for each one left out: a
    view of the plan still shows, and says what it could not apply."""
    kept, missing = [], {}
    for lever in scenario.levers:
        try:
            if lever.scope == "channel":
                base.channel_slice(lever.scope, lever.target)
            else:
                base.scope_mask(lever.scope, lever.target)
        except InputError as error:
            missing.setdefault(str(error), []).append(lever)
            continue
        kept.append(lever)
    notes = [
        f"{scenario.name}: {levers[0].describe()} is left out. {error}"
        if len(levers) == 1
        else f"{scenario.name}: {len(levers)} levers (the first: {levers[0].describe()}) are "
        f"left out. {error}"
        for error, levers in missing.items()
    ]
    return replace(scenario, levers=kept), notes
