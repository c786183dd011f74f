"""Scenarios: promotion, price, campaign and distribution levers that revise volume targets,
revenue, margin and line hours, live.

A scenario is a named list of levers plus, optionally, overrides of the estimated driver
effects. Its maths runs on arrays already in memory (SKU x week), built once per forecast run
by ``load_plan_base``: a lever move never refits a model and never touches the database.

How a lever moves volume (all effects are on log units, per SKU, from ``driver_effects``):

- promotion: ``promo_depth x discount + price_elasticity x log(1 - discount) + feature x
  feature_support + display x display_support``, and in the week after it ends
  ``post_promotion x discount`` (the dip). In one channel it lifts only that channel's share.
- price change: ``price_elasticity x log(1 + change)`` from its first week.
- campaign and distribution: ``log(1 + change)``: the uplift or the change in distribution
  the marketer assumes.
- cannibalisation: a share of the extra volume a promotion or campaign wins for some SKUs of
  a family comes out of the family's other SKUs that week (never more than they sell), so a
  family never gains more than its promoted SKUs do.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import asdict, dataclass, field, replace

import duckdb
import numpy as np
import pandas as pd

from sop_core import queries
from sop_core.errors import InputError

LEVER_KINDS = ("promotion", "price", "campaign", "distribution")
SCOPES = ("all", "family", "brand", "channel", "sku")
DRIVERS = ("price_elasticity", "promo_depth", "promo_10pct", "feature", "display", "post_promotion")
# What a planner may override, in the units the Promotions page shows: the elasticity itself,
# and uplifts as fractions (0.3 = +30%).
OVERRIDABLE = {
    "price_elasticity": "Price elasticity",
    "promo_uplift_per_10pct": "Uplift per 10% discount",
    "feature_uplift": "Feature uplift (full support)",
    "display_uplift": "Display uplift (full support)",
}
UNCERTAIN_ELASTICITY = 0.5  # standard error above which a price response is flagged
LOG_90 = float(np.log(0.9))


@dataclass(frozen=True)
class Lever:
    """One assumption of a scenario.

    ``change`` is the price change (+0.05 = +5%), the campaign uplift or the distribution
    change, depending on ``kind``. Weeks are week keys (Mondays); an empty ``end_week`` runs to
    the end of the horizon.
    """

    kind: str
    scope: str = "all"
    target: str | None = None
    start_week: dt.date | None = None
    end_week: dt.date | None = None
    discount: float = 0.0
    feature: float = 0.0
    display: float = 0.0
    change: float = 0.0

    def validated(self) -> Lever:
        if self.kind not in LEVER_KINDS:
            raise InputError(f"Unknown lever {self.kind!r}; use one of {', '.join(LEVER_KINDS)}.")
        if self.scope not in SCOPES:
            raise InputError(f"Unknown scope {self.scope!r}; use one of {', '.join(SCOPES)}.")
        if self.scope != "all" and not self.target:
            raise InputError(f"Say which {self.scope} the {self.kind} applies to.")
        if not 0 <= self.discount <= 0.9:
            raise InputError(f"A discount must be between 0% and 90% (got {self.discount:.0%}).")
        for name in ("feature", "display"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise InputError(
                    f"{name.capitalize()} support must be between 0% and 100% of "
                    f"stores (got {value:.0%})."
                )
        if not -0.9 <= self.change <= 3:
            raise InputError(
                f"A {self.kind} change must be between -90% and +300% (got {self.change:+.0%})."
            )
        if self.start_week and self.end_week and self.end_week < self.start_week:
            raise InputError(
                f"The {self.kind} ends ({self.end_week}) before it starts ({self.start_week})."
            )
        return self

    def describe(self) -> str:
        """A planner's one-line description, e.g. ``20% off, skincare, 7-21 Dec``."""
        where = "everything" if self.scope == "all" else f"{self.scope} {self.target}"
        when = _weeks_text(self.start_week, self.end_week)
        if self.kind == "promotion":
            extras = [f"feature {self.feature:.0%}"] if self.feature else []
            extras += [f"display {self.display:.0%}"] if self.display else []
            what = f"{self.discount:.0%} off" + (f" ({', '.join(extras)})" if extras else "")
        elif self.kind == "price":
            what = f"price {self.change:+.1%}"
        elif self.kind == "campaign":
            what = f"campaign uplift {self.change:+.0%}"
        else:
            what = f"distribution {self.change:+.0%}"
        return f"{what}, {where}, {when}"


@dataclass(frozen=True)
class EffectOverride:
    """A user's value for a driver effect, replacing the estimate for a scope of SKUs."""

    driver: str
    value: float
    scope: str = "all"
    target: str | None = None

    def validated(self) -> EffectOverride:
        if self.driver not in OVERRIDABLE:
            raise InputError(
                f"Unknown effect {self.driver!r}; use one of {', '.join(OVERRIDABLE)}."
            )
        if self.scope not in SCOPES or self.scope == "channel":
            raise InputError("An effect override applies to all SKUs, a family, a brand or a SKU.")
        if self.driver == "price_elasticity" and not -10 <= self.value <= 2:
            raise InputError(f"A price elasticity of {self.value} is not plausible (-10 to 2).")
        if self.driver != "price_elasticity" and not -0.9 <= self.value <= 5:
            raise InputError(f"An uplift of {self.value:+.0%} is not plausible (-90% to +500%).")
        return self

    def describe(self) -> str:
        where = "all SKUs" if self.scope == "all" else f"{self.scope} {self.target}"
        value = f"{self.value:.2f}" if self.driver == "price_elasticity" else f"{self.value:+.0%}"
        return f"{OVERRIDABLE[self.driver]} {value} for {where}"


@dataclass(frozen=True)
class CapacityChange:
    """A supply assumption of a scenario: hours added to (an extra shift) or removed from (a
    shutdown) a line's week, on top of the capacity calendar."""

    line: str
    start_week: dt.date | None
    end_week: dt.date | None
    hours: float
    reason: str = ""

    def validated(self) -> CapacityChange:
        if not -168 <= self.hours <= 168:
            raise InputError(
                f"A line week has at most 168 hours; {self.hours:+g} is not a change it can take."
            )
        if self.start_week and self.end_week and self.end_week < self.start_week:
            raise InputError("The capacity change ends before it starts.")
        return self

    def describe(self) -> str:
        what = "extra" if self.hours >= 0 else "fewer"
        reason = f" ({self.reason})" if self.reason else ""
        return (
            f"line {self.line}: {abs(self.hours):g} h {what} a week, "
            f"{_weeks_text(self.start_week, self.end_week)}{reason}"
        )


@dataclass
class Scenario:
    """A named set of levers, effect overrides and capacity changes."""

    name: str
    levers: list[Lever] = field(default_factory=list)
    overrides: list[EffectOverride] = field(default_factory=list)
    cannibalisation: float = 0.3
    capacity: list[CapacityChange] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(
            {
                "levers": [_lever_dict(lever) for lever in self.levers],
                "overrides": [asdict(o) for o in self.overrides],
                "cannibalisation": self.cannibalisation,
                "capacity": [_lever_dict(change) for change in self.capacity],
            }
        )

    @classmethod
    def from_json(cls, name: str, text: str) -> Scenario:
        data = json.loads(text or "{}")
        levers = [
            Lever(
                **{
                    **item,
                    **{
                        k: dt.date.fromisoformat(item[k])
                        for k in ("start_week", "end_week")
                        if item.get(k)
                    },
                }
            )
            for item in data.get("levers", [])
        ]
        overrides = [EffectOverride(**item) for item in data.get("overrides", [])]
        capacity = [CapacityChange(**_with_dates(item)) for item in data.get("capacity", [])]
        return cls(name, levers, overrides, float(data.get("cannibalisation", 0.3)), capacity)


def _with_dates(item: dict) -> dict:
    return {
        **item,
        **{k: dt.date.fromisoformat(item[k]) for k in ("start_week", "end_week") if item.get(k)},
    }


def _lever_dict(lever: Lever | CapacityChange) -> dict:
    data = asdict(lever)
    for key in ("start_week", "end_week"):
        if data[key] is not None:
            data[key] = data[key].isoformat()
    return data


def _weeks_text(start: dt.date | None, end: dt.date | None) -> str:
    if start and end:
        return f"weeks of {start:%d %b} to {end:%d %b %Y}"
    if start:
        return f"from the week of {start:%d %b %Y}"
    if end:
        return f"until the week of {end:%d %b %Y}"
    return "every week"


@dataclass
class PlanBase:
    """Everything a scenario's maths needs, as arrays: built once per forecast run."""

    run_id: int
    skus: np.ndarray
    names: np.ndarray
    families: np.ndarray
    brands: np.ndarray
    channels: np.ndarray
    weeks: np.ndarray  # datetime64[D]
    baseline: np.ndarray  # (SKUs, weeks)
    lower_80: np.ndarray
    upper_80: np.ndarray
    channel_share: np.ndarray  # (SKUs, channels)
    channel_price: np.ndarray  # (SKUs, channels): regular net price in each channel
    list_price: np.ndarray
    regular_price: np.ndarray  # average regular net price per unit
    unit_cost: np.ndarray  # variable cost + setup spread over the standard batch
    variable_cost: np.ndarray
    setup_cost: np.ndarray  # per batch
    batch_size: np.ndarray  # standard batch
    hours_per_unit: np.ndarray  # line hours per unit (0 where unknown)
    line_index: np.ndarray  # (SKUs,) index into ``lines``, -1 where none
    lines: np.ndarray
    line_names: np.ndarray
    available_hours: np.ndarray  # (lines, weeks)
    effects: dict[str, np.ndarray]  # driver -> (SKUs,), NaN where unknown
    errors: dict[str, np.ndarray]  # driver -> standard error
    max_discount_seen: np.ndarray
    price_change_seen: np.ndarray  # largest relative move of the regular price seen

    def scope_mask(self, scope: str, target: str | None) -> np.ndarray:
        """SKUs a lever applies to (for a channel scope: every SKU)."""
        if scope in ("all", "channel"):
            return np.ones(len(self.skus), dtype=bool)
        values = {"family": self.families, "brand": self.brands, "sku": self.skus}[scope]
        mask = values == target
        if not mask.any():
            raise InputError(f"There is no {scope} called {target!r}.")
        return mask

    def week_mask(self, start: dt.date | None, end: dt.date | None) -> np.ndarray:
        first = np.datetime64(start) if start else self.weeks[0]
        last = np.datetime64(end) if end else self.weeks[-1]
        return (self.weeks >= first) & (self.weeks <= last)

    def week_span(self, start: dt.date | None, end: dt.date | None) -> slice:
        """The weeks from ``start`` to ``end`` (inclusive) as a slice of the horizon."""
        first = np.searchsorted(self.weeks, np.datetime64(start, "D")) if start else 0
        last = (
            np.searchsorted(self.weeks, np.datetime64(end, "D"), side="right")
            if end
            else len(self.weeks)
        )
        return slice(int(first), int(max(first, last)))

    def channel_weight(self, scope: str, target: str | None) -> np.ndarray:
        """Per SKU, the share of its volume a lever reaches: its channel's share for a channel
        lever, else all of it."""
        if scope != "channel":
            return np.ones(len(self.skus))
        if target not in set(self.channels):
            raise InputError(f"There is no channel called {target!r}.")
        return self.channel_share[:, list(self.channels).index(target)]

    @functools.cached_property
    def family_index(self) -> np.ndarray:
        return np.unique(self.families, return_inverse=True)[1]

    @functools.cached_property
    def _family_groups(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(self.family_index, kind="stable")
        starts = np.flatnonzero(np.diff(self.family_index[order], prepend=-1))
        return order, starts

    def family_sum(self, values: np.ndarray) -> np.ndarray:
        """``values`` (SKUs x weeks) summed by family (families in sorted order)."""
        order, starts = self._family_groups
        return np.add.reduceat(values[order], starts, axis=0)

    @functools.cached_property
    def _line_groups(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        known = np.flatnonzero(self.line_index >= 0)
        order = known[np.argsort(self.line_index[known], kind="stable")]
        starts = np.flatnonzero(np.diff(self.line_index[order], prepend=-1))
        return order, starts, self.line_index[order][starts]

    def line_hours_sum(self, values: np.ndarray) -> np.ndarray:
        """``values`` (SKUs x weeks) summed by each SKU's default line (lines x weeks)."""
        total = np.zeros((len(self.lines), values.shape[1]))
        order, starts, lines = self._line_groups
        if len(order):
            total[lines] = np.add.reduceat(values[order], starts, axis=0)
        return total

    def line_hours(self, volume: np.ndarray) -> np.ndarray:
        """Line hours per line and week needed to make ``volume`` (SKUs x weeks)."""
        return self.line_hours_sum(volume * self.hours_per_unit[:, None])

    def line_units_per_hour(self) -> np.ndarray:
        """Units a line makes per available hour at its baseline mix (0 for an unused line)."""
        units = self.line_hours_sum(self.baseline).sum(axis=1)
        hours = self.baseline_hours.sum(axis=1)
        return np.divide(units, hours, out=np.zeros_like(units), where=hours > 0)

    @functools.cached_property
    def baseline_hours(self) -> np.ndarray:
        return self.line_hours(self.baseline)

    @functools.cached_property
    def setup_spend(self) -> np.ndarray:
        """Setup cost per week at the baseline's batch cadence (batches of the standard size)."""
        weekly = self.baseline.mean(axis=1)
        return np.nan_to_num(self.setup_cost * weekly / self.batch_size)


def load_plan_base(
    con: duckdb.DuckDBPyConnection, run_id: int, weeks: int | None = None
) -> PlanBase:
    """Build the arrays for the forecast run ``run_id`` (its first ``weeks`` weeks)."""
    rows = con.execute(
        "SELECT sku, week, forecast, lower_80, upper_80 FROM forecast_rows WHERE run_id = ? "
        "ORDER BY sku, week",
        [run_id],
    ).df()
    if rows.empty:
        raise InputError(f"Forecast run {run_id} has no rows.")
    all_weeks = np.sort(rows["week"].unique()).astype("datetime64[D]")
    if weeks:
        all_weeks = all_weeks[:weeks]
        rows = rows[rows["week"].isin(pd.to_datetime(all_weeks))]
    skus = np.array(sorted(rows["sku"].unique()), dtype=object)
    n, w = len(skus), len(all_weeks)

    def grid(column: str) -> np.ndarray:
        return rows[column].to_numpy(dtype=float).reshape(n, w)

    products = (
        con.execute(
            """
        SELECT p.sku, p.name, p.family, p.brand, p.list_price, p.unit_variable_cost,
               p.setup_cost_per_batch, p.standard_batch_size, p.default_line,
               p.units_per_hour, l.oee
        FROM products p LEFT JOIN production_lines l ON l.line = p.default_line
        """
        )
        .df()
        .set_index("sku")
        .reindex(skus)
    )
    channels_frame = con.execute(
        "SELECT sku, channel, share FROM forecast_channel_shares WHERE run_id = ?", [run_id]
    ).df()
    channels = np.array(sorted(channels_frame["channel"].unique()), dtype=object)
    share = (
        channels_frame.pivot(index="sku", columns="channel", values="share")
        .reindex(index=skus, columns=channels)
        .fillna(0.0)
        .to_numpy()
    )
    # Regular (unpromoted) net price per channel over the last 13 weeks of history.
    prices = con.execute(
        """
        WITH last AS (SELECT max(week) AS week FROM sales_history)
        SELECT s.sku, s.channel,
               sum(s.units * s.net_price) / nullif(sum(s.units), 0) AS regular_price,
               max(s.discount_depth) AS max_discount
        FROM sales_history s, last
        WHERE s.week > last.week - 91 AND s.discount_depth = 0 AND s.net_price IS NOT NULL
        GROUP BY ALL
        """
    ).df()
    list_price = products["list_price"].fillna(0.0).to_numpy(dtype=float)
    channel_price = (
        prices.pivot(index="sku", columns="channel", values="regular_price")
        .reindex(index=skus, columns=channels)
        .to_numpy(dtype=float)
    )
    channel_price = np.where(np.isfinite(channel_price), channel_price, list_price[:, None])
    regular_price = (share * channel_price).sum(axis=1)
    history = (
        con.execute(
            """
        SELECT sku, max(discount_depth) AS max_discount,
               max(abs(ln(net_price / list_price))) FILTER (WHERE discount_depth = 0)
                   AS price_move
        FROM sales_history WHERE net_price > 0 AND list_price > 0 GROUP BY sku
        """
        )
        .df()
        .set_index("sku")
        .reindex(skus)
    )
    batch = products["standard_batch_size"].to_numpy(dtype=float)
    unit_cost = products["unit_variable_cost"].fillna(0.0).to_numpy(dtype=float) + np.nan_to_num(
        products["setup_cost_per_batch"].to_numpy(dtype=float) / np.where(batch > 0, batch, np.nan)
    )
    speed = products["units_per_hour"].to_numpy(dtype=float)
    oee = products["oee"].to_numpy(dtype=float)
    hours_per_unit = np.nan_to_num(1.0 / (speed * oee), nan=0.0, posinf=0.0)

    lines_frame = con.execute("SELECT line, name FROM production_lines ORDER BY line").df()
    lines = lines_frame["line"].to_numpy(dtype=object)
    line_lookup = {line: i for i, line in enumerate(lines)}
    line_index = np.array([line_lookup.get(x, -1) for x in products["default_line"]])
    hours = queries.available_hours(con, all_weeks[0].astype(object), len(all_weeks))
    available = (
        hours.pivot(index="line", columns="week", values="available_hours")
        .reindex(index=lines, columns=pd.to_datetime(all_weeks))
        .fillna(0.0)
        .to_numpy()
    )

    drivers = con.execute(
        "SELECT sku, driver, estimate, standard_error FROM driver_effects WHERE run_id = ?",
        [run_id],
    ).df()
    effects, errors = {}, {}
    for driver in DRIVERS:
        subset = drivers[drivers["driver"] == driver].set_index("sku").reindex(skus)
        effects[driver] = subset["estimate"].to_numpy(dtype=float)
        errors[driver] = subset["standard_error"].to_numpy(dtype=float)

    return PlanBase(
        run_id=run_id,
        skus=skus,
        names=products["name"].fillna("").to_numpy(dtype=object),
        families=products["family"].fillna("unassigned").to_numpy(dtype=object),
        brands=products["brand"].fillna("unassigned").to_numpy(dtype=object),
        channels=channels,
        weeks=all_weeks,
        baseline=grid("forecast"),
        lower_80=grid("lower_80"),
        upper_80=grid("upper_80"),
        channel_share=share,
        channel_price=channel_price,
        list_price=list_price,
        regular_price=regular_price,
        unit_cost=unit_cost,
        variable_cost=products["unit_variable_cost"].fillna(0.0).to_numpy(dtype=float),
        setup_cost=products["setup_cost_per_batch"].fillna(0.0).to_numpy(dtype=float),
        batch_size=np.where(batch > 0, batch, np.nan),
        hours_per_unit=hours_per_unit,
        line_index=line_index,
        lines=lines,
        line_names=lines_frame["name"].to_numpy(dtype=object),
        available_hours=available,
        effects=effects,
        errors=errors,
        max_discount_seen=np.nan_to_num(history["max_discount"].to_numpy(dtype=float)),
        price_change_seen=np.nan_to_num(np.expm1(history["price_move"].to_numpy(dtype=float))),
    )


@dataclass
class ScenarioResult:
    """A scenario's revised targets and what they drive, as arrays over (SKUs, weeks)."""

    base: PlanBase
    revised: np.ndarray
    lower_80: np.ndarray
    upper_80: np.ndarray
    price: np.ndarray  # revised average net price per unit
    revenue_base: np.ndarray
    revenue: np.ndarray
    margin_base: np.ndarray
    margin: np.ndarray
    discount_cost: np.ndarray  # money given away in discounts
    hours_base: np.ndarray  # (lines, weeks)
    hours: np.ndarray
    warnings: list[str]
    promotion_margin_change: float = 0.0
    available_hours: np.ndarray | None = None  # with the scenario's capacity changes

    @property
    def available(self) -> np.ndarray:
        """Available hours per line and week, the scenario's capacity changes included."""
        return self.base.available_hours if self.available_hours is None else self.available_hours

    def kpis(self, weights: np.ndarray | None = None) -> dict[str, float]:
        """Totals over the horizon: volume, revenue and margin with their changes, promotion
        ROI (extra margin per unit of money given in discounts) and overloaded line-weeks.

        ``weights`` (one per SKU, see ``view_weights``) limits the totals to a family or
        channel; the promotion ROI and the line-weeks are always for the whole scenario.
        """
        w = np.ones(len(self.base.skus)) if weights is None else weights

        def total(values: np.ndarray) -> float:
            return float(w @ values.sum(axis=1))

        base_volume, volume = total(self.base.baseline), total(self.revised)
        revenue_base, revenue = total(self.revenue_base), total(self.revenue)
        margin_base, margin = total(self.margin_base), total(self.margin)
        spend = float(self.discount_cost.sum())
        over = (self.hours > self.available + 1e-9) & (self.hours > 0)
        over_base = (self.hours_base > self.base.available_hours + 1e-9) & (self.hours_base > 0)
        return {
            "baseline_volume": base_volume,
            "volume": volume,
            "volume_change": volume - base_volume,
            "baseline_revenue": revenue_base,
            "revenue": revenue,
            "revenue_change": revenue - revenue_base,
            "baseline_margin": margin_base,
            "margin": margin,
            "margin_change": margin - margin_base,
            "discount_cost": spend,
            "promotion_roi": self.promotion_margin_change / spend if spend > 0 else float("nan"),
            "overloaded_line_weeks": int(over.sum()),
            "overloaded_line_weeks_baseline": int(over_base.sum()),
        }

    def weekly(self, weights: np.ndarray | None = None) -> pd.DataFrame:
        """Weekly totals: baseline, revised with its 80% band, revenue and margin (``weights``
        as in ``kpis``). The band of a total adds the SKUs' bands, a cautious width."""
        w = np.ones(len(self.base.skus)) if weights is None else weights
        return pd.DataFrame(
            {
                "week": pd.to_datetime(self.base.weeks),
                "baseline": w @ self.base.baseline,
                "revised": w @ self.revised,
                "lower_80": w @ self.lower_80,
                "upper_80": w @ self.upper_80,
                "revenue_base": w @ self.revenue_base,
                "revenue": w @ self.revenue,
                "margin_base": w @ self.margin_base,
                "margin": w @ self.margin,
            }
        )

    def by(self, level: str) -> pd.DataFrame:
        """Totals over the horizon by ``family``, ``brand``, ``sku`` or ``channel``."""
        if level == "channel":
            share = self.base.channel_share
            frame = pd.DataFrame(
                {
                    "channel": self.base.channels,
                    "baseline": share.T @ self.base.baseline.sum(axis=1),
                    "revised": share.T @ self.revised.sum(axis=1),
                    "revenue": share.T @ self.revenue.sum(axis=1),
                    "margin": share.T @ self.margin.sum(axis=1),
                }
            )
        else:
            keys = {"family": self.base.families, "brand": self.base.brands, "sku": self.base.skus}[
                level
            ]
            frame = (
                pd.DataFrame(
                    {
                        level: keys,
                        "baseline": self.base.baseline.sum(axis=1),
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
        """Per line and week: hours needed (baseline and revised) against available hours."""
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


def view_weights(
    base: PlanBase, families: tuple[str, ...] = (), channels: tuple[str, ...] = ()
) -> np.ndarray:
    """One weight per SKU for looking at part of a scenario: 0 outside the chosen families,
    else the SKU's share of units in the chosen channels (1 with no channel filter)."""
    weights = np.ones(len(base.skus))
    if families:
        weights *= np.isin(base.families, list(families))
    if channels:
        chosen = np.isin(base.channels, list(channels))
        weights *= base.channel_share[:, chosen].sum(axis=1)
    return weights


def effective_effects(base: PlanBase, scenario: Scenario) -> dict[str, np.ndarray]:
    """The log effects the scenario uses: the estimates with the user's overrides.

    A discount's response is ``promo_depth x discount + price_elasticity x log(1 - discount)``;
    ``promo_depth`` is set so that a 10% discount gives exactly the uplift per 10% the
    forecast engine reports (``drivers``), so what the page shows is what the levers do.
    """
    effects = {
        driver: np.nan_to_num(values.copy(), nan=0.0) for driver, values in base.effects.items()
    }
    uplift_10 = np.where(
        np.isnan(base.effects["promo_10pct"]),
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
    effects["promo_depth"] = (uplift_10 - effects["price_elasticity"] * LOG_90) / 0.1
    return effects


def apply_scenario(base: PlanBase, scenario: Scenario) -> ScenarioResult:
    """Revise the baseline with the scenario's levers: vectorised, no model refit.

    Each lever touches only its SKUs (a row index) and its weeks (a slice); sums by line and
    by family use precomputed groupings, so a lever move over 1,000 SKUs x 52 weeks stays in
    milliseconds.
    """
    effects = effective_effects(base, scenario)
    elasticity = effects["price_elasticity"]
    n, w = base.baseline.shape
    promo_log = np.zeros((n, w))  # promotions and campaigns: the part that cannibalises
    other_log = np.zeros((n, w))  # price changes, distribution and post-promotion dips
    price_log = np.zeros((n, w))  # log of the price factor
    discount = np.zeros((n, w))  # average discount depth over channels
    for lever in scenario.levers:
        lever.validated()
        rows = np.flatnonzero(base.scope_mask(lever.scope, lever.target))
        weeks = base.week_span(lever.start_week, lever.end_week)
        share = base.channel_weight(lever.scope, lever.target)[rows]
        if lever.kind == "promotion":
            lift = (
                effects["promo_depth"][rows] * lever.discount
                + elasticity[rows] * np.log1p(-lever.discount)
                + effects["feature"][rows] * lever.feature
                + effects["display"][rows] * lever.display
            )
            promo_log[rows, weeks] += np.log1p(share * np.expm1(lift))[:, None]
            discount[rows, weeks] += (share * lever.discount)[:, None]
            if weeks.stop < w:  # the dip, in the week after the promotion
                dip = effects["post_promotion"][rows] * lever.discount
                other_log[rows, weeks.stop] += np.log1p(share * np.expm1(dip))
        elif lever.kind == "price":
            change = np.log1p(share * lever.change)
            other_log[rows, weeks] += (elasticity[rows] * change)[:, None]
            price_log[rows, weeks] += change[:, None]
        elif lever.kind == "campaign":
            promo_log[rows, weeks] += np.log1p(share * lever.change)[:, None]
        else:  # distribution
            other_log[rows, weeks] += np.log1p(share * lever.change)[:, None]

    baseline = base.baseline
    promoted = baseline * np.exp(promo_log)
    donor = promo_log <= 0
    take = None
    if scenario.cannibalisation > 0:
        take = _cannibalised_share(
            base, promoted, promoted - baseline, donor, scenario.cannibalisation
        )
    revised = promoted * np.exp(other_log)
    if take is not None:
        revised = np.where(donor, revised * (1 - take), revised)
    factor = np.divide(revised, baseline, out=np.ones_like(revised), where=baseline > 0)
    discount = np.minimum(discount, 0.95)
    regular = base.regular_price[:, None]
    price_factor = np.exp(price_log)
    price = regular * price_factor * (1 - discount)
    revenue_base = baseline * regular
    revenue = revised * price
    # Cost: materials per unit, plus batch setups at the baseline's cadence. More volume at the
    # same cadence means bigger batches, so the setups are spread over more units (the unit
    # cost falls): a promotion can pay for itself through bigger batches.
    variable = base.variable_cost[:, None]
    setups = base.setup_spend[:, None]
    margin_base = revenue_base - baseline * variable - setups
    promotion_margin = 0.0
    if any(lever.kind == "promotion" for lever in scenario.levers):
        # The promotions alone (no price, distribution or campaign change): for the ROI.
        alone = promoted if take is None else np.where(donor, promoted * (1 - take), promoted)
        promotion_margin = float(
            (alone * (regular * (1 - discount) - variable) - setups).sum() - margin_base.sum()
        )
    return ScenarioResult(
        base=base,
        revised=revised,
        lower_80=base.lower_80 * factor,
        upper_80=base.upper_80 * factor,
        price=price,
        revenue_base=revenue_base,
        revenue=revenue,
        margin_base=margin_base,
        margin=revenue - revised * variable - setups,
        discount_cost=revised * regular * price_factor * discount,
        hours_base=base.baseline_hours,
        hours=base.line_hours(revised),
        available_hours=capacity_with_changes(base, scenario.capacity),
        warnings=scenario_warnings(base, scenario),
        promotion_margin_change=promotion_margin,
    )


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
    base: PlanBase, promoted: np.ndarray, gain: np.ndarray, donor: np.ndarray, rate: float
) -> np.ndarray | None:
    """Per SKU and week, the share of volume a non-promoted SKU loses to its family's
    promotions: ``rate`` of the promoted SKUs' extra volume, spread over the family's other
    SKUs in proportion to what they sell, never more than they sell."""
    extra = np.where(donor, 0.0, np.maximum(gain, 0.0))
    if not extra.any():
        return None
    take = base.family_sum(rate * extra)
    pool = base.family_sum(np.where(donor, promoted, 0.0))
    fraction = np.divide(np.minimum(take, pool), pool, out=np.zeros_like(pool), where=pool > 0)
    return fraction[base.family_index]


def scenario_warnings(base: PlanBase, scenario: Scenario) -> list[str]:
    """Levers beyond what the history has seen, or resting on effects too uncertain to trust."""
    notes = []
    for lever in scenario.levers:
        skus = base.scope_mask(lever.scope, lever.target)
        count = int(skus.sum())
        if lever.kind == "promotion" and lever.discount > 0:
            never = skus & (base.max_discount_seen <= 0)
            beyond = skus & ~never & (lever.discount > base.max_discount_seen + 1e-9)
            if never.any():
                notes.append(
                    f"{lever.describe()}: {int(never.sum())} of {count} SKUs were never "
                    "promoted; their response is their family's."
                )
            if beyond.any():
                deepest = float(base.max_discount_seen[beyond].max())
                notes.append(
                    f"{lever.describe()}: deeper than any discount {int(beyond.sum())} of "
                    f"{count} SKUs had in their history (deepest {deepest:.0%}); the response "
                    "is extrapolated."
                )
        if lever.kind in ("promotion", "price"):
            change = lever.change if lever.kind == "price" else -lever.discount
            error = base.errors["price_elasticity"][skus]
            shaky = np.isnan(error) | (error > UNCERTAIN_ELASTICITY)
            if shaky.any() and change:
                notes.append(
                    f"{lever.describe()}: the price response of {int(shaky.sum())} of {count} "
                    "SKUs is uncertain (standard error above "
                    f"{UNCERTAIN_ELASTICITY}); treat the volume change as a rough guide."
                )
        if lever.kind == "price":
            seen = base.price_change_seen[skus]
            beyond = int((abs(lever.change) > seen + 1e-9).sum())
            if beyond:
                notes.append(
                    f"{lever.describe()}: a bigger price move than {beyond} of {count} SKUs saw "
                    f"in their history (largest {seen.max():.0%}); the elasticity is "
                    "extrapolated."
                )
    for override in scenario.overrides:
        notes.append(f"Effect override: {override.describe()} (instead of the estimate).")
    return notes


def baseline_only(name: str = "Baseline") -> Scenario:
    """A scenario without levers: revised equals the baseline."""
    return Scenario(name=name)


def with_lever(scenario: Scenario, lever: Lever) -> Scenario:
    """A copy of ``scenario`` with one more lever."""
    return replace(scenario, levers=[*scenario.levers, lever.validated()])
