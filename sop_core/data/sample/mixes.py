"""The sample's mixes: the same company with a different kind of demand, to test the forecast
on more than one kind of data (``init --mix``).

A mix is a handful of generator parameters, all here. ``standard`` holds the numbers the
generator always used, so it gives the same company as before mixes existed, draw for draw;
every other mix changes only the parameters it names.
"""

from __future__ import annotations

from dataclasses import dataclass

from sop_core.data.errors import InputError


@dataclass(frozen=True)
class Mix:
    """The generator parameters a mix sets.

    ``new_share`` and ``intermittent_share`` are the shares of SKUs that are new launches and
    intermittent sellers. A new launch has more than low and at most high ``launch_weeks`` of
    sales history. An intermittent SKU sells ``intermittent_units`` (low, high) a week on
    average, in the weeks it sells at all; each channel's weekly chance of selling is
    ``intermittent_chance`` (low, high). ``promo_rate`` multiplies each channel's promotion
    start rate; after a promotion a SKU and channel rest at least low and fewer than high
    ``promo_rest`` weeks; ``two_week_share`` of the promotions run two weeks.
    ``depth_weights`` weigh the discount depths 10, 15, 20, 25, 30 and 40%; ``feature_rate``
    and ``display_rate`` are the chances, by channel (retail, e-commerce, pharmacy), that a
    promotion is featured or displayed. ``price_move_rate`` is the weekly chance that a
    channel's regular price moves to a new level.
    """

    name: str
    description: str
    new_share: float = 0.075
    launch_weeks: tuple[int, int] = (12, 40)
    intermittent_share: float = 0.075
    intermittent_units: tuple[float, float] = (8, 30)
    intermittent_chance: tuple[float, float] = (0.15, 0.4)
    promo_rate: float = 1.0
    promo_rest: tuple[int, int] = (3, 9)
    two_week_share: float = 0.3
    depth_weights: tuple[float, ...] = (0.15, 0.2, 0.25, 0.2, 0.15, 0.05)
    feature_rate: tuple[float, float, float] = (0.6, 0.5, 0.3)
    display_rate: tuple[float, float, float] = (0.5, 0.0, 0.45)
    price_move_rate: float = 1 / 12


MIXES: dict[str, Mix] = {
    mix.name: mix
    for mix in (
        Mix("standard", "the sample company as always: a few launches and intermittent SKUs"),
        Mix(
            "promotion-heavy",
            "supermarket-like: most SKUs promoted often, deeper discounts, feature and "
            "display common, more price moves",
            promo_rate=3.5,
            promo_rest=(2, 5),
            two_week_share=0.45,
            depth_weights=(0.05, 0.1, 0.2, 0.25, 0.25, 0.15),
            feature_rate=(0.85, 0.75, 0.6),
            display_rate=(0.8, 0.0, 0.7),
            price_move_rate=1 / 4,
        ),
        Mix(
            "intermittent",
            "about 40% of SKUs sell little and in few weeks (lumpy, intermittent demand)",
            intermittent_share=0.4,
            intermittent_units=(3, 20),
            intermittent_chance=(0.05, 0.3),
        ),
        Mix(
            "short-history",
            "about 40% of SKUs launched during the history, with 30 to 80 weeks of sales",
            new_share=0.4,
            launch_weeks=(30, 80),
        ),
        Mix(
            "plain",
            "plain weekly sales: seasons and holiday peaks, no promotions, no price moves",
            promo_rate=0.0,
            price_move_rate=0.0,
        ),
    )
}
"""Every mix by name; ``standard`` first."""


def mix_named(name: str) -> Mix:
    """The mix called ``name``, or ``InputError`` naming the mixes there are."""
    try:
        return MIXES[name]
    except KeyError:
        raise InputError(f"--mix must be one of {', '.join(MIXES)} (got {name!r}).") from None
