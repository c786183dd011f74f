"""What a scenario is: its levers (promotion, price, campaign, distribution), its
overrides of the estimated driver effects and its capacity changes, each checked
(``validated``) and described in a planner's words, and the scenario as JSON (how the
scenario store keeps it). The maths they drive is ``sop_core.scenario.levers``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field

from sop_core.data.errors import InputError

LEVER_KINDS = ("promotion", "price", "campaign", "distribution")
SCOPES = ("all", "family", "brand", "channel", "sku")
# What a planner may override, in the units the Promotions page shows: the elasticity itself,
# and uplifts as fractions (0.3 = +30%).
OVERRIDABLE = {
    "price_elasticity": "Price elasticity",
    "promo_uplift_per_10pct": "Uplift per 10% discount",
    "feature_uplift": "Feature uplift (full support)",
    "display_uplift": "Display uplift (full support)",
}


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
    # The share of the SKUs' distribution (stores, customers) the discount runs in: 20% off in
    # stores selling 40% of the volume is ``discount=0.2, share=0.4``.
    share: float = 1.0

    def validated(self) -> Lever:
        if self.kind not in LEVER_KINDS:
            raise InputError(f"Unknown lever {self.kind!r}; use one of {', '.join(LEVER_KINDS)}.")
        if self.scope not in SCOPES:
            raise InputError(f"Unknown scope {self.scope!r}; use one of {', '.join(SCOPES)}.")
        if self.scope != "all" and not self.target:
            raise InputError(f"Say which {self.scope} the {self.kind} applies to.")
        if not 0 <= self.discount <= 0.9:
            raise InputError(f"A discount must be between 0% and 90% (got {self.discount:.0%}).")
        if not 0 < self.share <= 1:
            raise InputError(
                f"The share of distribution on promotion must be above 0% and at most 100% "
                f"(got {self.share:.0%})."
            )
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
        where = "the total" if self.scope == "all" else f"{self.scope} {self.target}"
        when = _weeks_text(self.start_week, self.end_week)
        if self.kind == "promotion":
            extras = [f"feature {self.feature:.0%}"] if self.feature else []
            extras += [f"display {self.display:.0%}"] if self.display else []
            what = f"{self.discount:.0%} off"
            if self.share < 1:
                what += f" in {self.share:.0%} of distribution"
            what += f" ({', '.join(extras)})" if extras else ""
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
            raise InputError("An effect override's scope is the total, a family, a brand or a SKU.")
        if self.driver == "price_elasticity" and not -10 <= self.value <= 2:
            raise InputError(f"A price elasticity of {self.value} is not plausible (-10 to 2).")
        if self.driver != "price_elasticity" and not -0.9 <= self.value <= 5:
            raise InputError(f"An uplift of {self.value:+.0%} is not plausible (-90% to +500%).")
        return self

    def describe(self) -> str:
        where = "the total" if self.scope == "all" else f"{self.scope} {self.target}"
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


def checked_cannibalisation(rate: float) -> float:
    """``rate`` if it is a share of the promoted gain a family can give up (0 to 1)."""
    if not 0 <= rate <= 1:
        raise InputError(
            f"Cannibalisation is the share of a promotion's extra volume taken from the rest "
            f"of its family, between 0 and 1 (got {rate:g})."
        )
    return float(rate)


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
