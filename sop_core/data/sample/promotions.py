"""The sample's promotions: events started by each channel's habits (more of them in the
Black Friday week), their discount depth, feature and display support, and the dip in the
week after; the ``promotions`` calendar, past and planned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sop_core.data.sample.catalogue import CHANNELS, Catalogue
from sop_core.data.sample.config import Weeks
from sop_core.data.sample.mixes import MIXES, Mix
from sop_core.data.sample.seasonality import black_friday_weeks

# Events started per week by channel (retail, e-commerce, pharmacy), before the mix's
# multiplier; the depth choices and the support shares promotions draw from. How often a
# promotion is featured or displayed, and how deep it goes, are the mix's (``mixes.Mix``).
PROMO_START_RATE = np.array([0.07, 0.06, 0.035])
PROMO_DEPTHS = np.array([0.10, 0.15, 0.20, 0.25, 0.30, 0.40])
SUPPORT_SHARES = np.array([0.5, 0.75, 1.0])


@dataclass
class Promotions:
    """What promotions do each week, (SKU, channel, week) arrays, and the events themselves."""

    depth: np.ndarray  # discount off the regular price, 0 without a promotion
    feature: np.ndarray  # share of stores featuring it
    display: np.ndarray  # share of stores displaying it
    dip: np.ndarray  # strength of the post-promotion dip
    events: list[tuple[np.ndarray, ...]]  # per start week: start, SKU, channel, duration, ...


def plan_promotions(
    rng: np.random.Generator, catalogue: Catalogue, weeks: Weeks, mix: Mix = MIXES["standard"]
) -> Promotions:
    """Draw the promotion events week by week, as often, deep and supported as the mix
    says; a SKU and channel rests a few weeks between two, and intermittent SKUs are never
    promoted."""
    n_skus, n_channels, n_weeks = catalogue.count, len(CHANNELS), weeks.count
    on_sale = catalogue.on_sale
    depth = np.zeros((n_skus, n_channels, n_weeks))
    feature = np.zeros_like(depth)
    display = np.zeros_like(depth)
    dip = np.zeros_like(depth)
    events = []
    cooldown = rng.integers(0, 6, (n_skus, n_channels))
    promotable = ~catalogue.is_intermittent
    black_friday = black_friday_weeks(weeks)
    start_rate = PROMO_START_RATE * mix.promo_rate
    depth_weights = np.array(mix.depth_weights)
    feature_rate, display_rate = np.array(mix.feature_rate), np.array(mix.display_rate)
    rest_low, rest_high = mix.promo_rest
    for w in range(n_weeks):
        rate = start_rate * (4.0 if black_friday[w] else 1.0)
        start = (
            (rng.random((n_skus, n_channels)) < rate[None, :])
            & (cooldown <= 0)
            & on_sale[:, w, None]
            & promotable[:, None]
        )
        cooldown -= 1
        if not start.any():
            continue
        s_idx, c_idx = np.nonzero(start)
        duration = np.where(rng.random(len(s_idx)) < mix.two_week_share, 2, 1)
        ev_depth = rng.choice(PROMO_DEPTHS, size=len(s_idx), p=depth_weights)
        ev_feature = np.where(
            rng.random(len(s_idx)) < feature_rate[c_idx],
            rng.choice(SUPPORT_SHARES, len(s_idx)),
            0.0,
        )
        ev_display = np.where(
            rng.random(len(s_idx)) < display_rate[c_idx],
            rng.choice(SUPPORT_SHARES, len(s_idx)),
            0.0,
        )
        for d in range(2):
            take = duration > d
            if w + d < n_weeks:
                depth[s_idx[take], c_idx[take], w + d] = ev_depth[take]
                feature[s_idx[take], c_idx[take], w + d] = ev_feature[take]
                display[s_idx[take], c_idx[take], w + d] = ev_display[take]
        after = w + duration
        inside = after < n_weeks
        dip[s_idx[inside], c_idx[inside], after[inside]] = np.minimum(1.0, ev_depth[inside] / 0.25)
        cooldown[s_idx, c_idx] = duration + rng.integers(rest_low, rest_high, len(s_idx))
        events.append(
            (np.full(len(s_idx), w), s_idx, c_idx, duration, ev_depth, ev_feature, ev_display)
        )
    # A week with a promotion of its own has no dip from the one before.
    dip = np.where(depth > 0, 0.0, dip)
    return Promotions(depth, feature, display, dip, events)


def promotion_frame(
    events: list[tuple[np.ndarray, ...]],
    weeks: pd.DatetimeIndex,
    n_hist: int,
    skus: np.ndarray,
    channel_codes: list[str],
) -> pd.DataFrame:
    """The ``promotions`` table: one row per event and channel, past or planned."""
    columns = [
        "promotion_id",
        "name",
        "sku",
        "channel",
        "start_week",
        "end_week",
        "discount_depth",
        "feature",
        "display",
        "status",
    ]
    if not events:
        return pd.DataFrame(columns=columns)
    start, sku, channel, duration, depth, feature, display = (
        np.concatenate(part) for part in zip(*events, strict=True)
    )
    end = np.minimum(start + duration - 1, len(weeks) - 1)
    frame = pd.DataFrame(
        {
            "sku": skus[sku],
            "channel": np.array(channel_codes, dtype=object)[channel],
            "start_week": weeks[start],
            "end_week": weeks[end],
            "discount_depth": depth,
            "feature": feature,
            "display": display,
            "status": np.where(end < n_hist, "past", "planned"),
        }
    ).sort_values(["start_week", "sku", "channel"], ignore_index=True)
    frame.insert(0, "promotion_id", [f"P{i + 1:06d}" for i in range(len(frame))])
    percent = (frame["discount_depth"] * 100).round().astype(int).astype(str)
    frame.insert(
        1,
        "name",
        percent + "% off, " + frame["channel"] + " " + frame["start_week"].dt.strftime("%d %b %Y"),
    )
    return frame[columns]
