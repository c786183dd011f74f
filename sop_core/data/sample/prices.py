"""The sample's prices: list prices that step up each January (next year's increase
announced for about half the SKUs), each channel's trade terms, and the retailers' drift
around them; the ``price_changes`` table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sop_core.data.sample.catalogue import CHANNELS, Catalogue
from sop_core.data.sample.config import Weeks
from sop_core.data.sample.mixes import MIXES, Mix

# Regular net price vs list price by channel (trade terms): retail, e-commerce, pharmacy.
CHANNEL_PRICE_FACTOR = np.array([1.00, 0.95, 0.98])


@dataclass
class Prices:
    list_price: np.ndarray  # (SKU, week)
    regular_net: np.ndarray  # (SKU, channel, week): what shoppers pay without a promotion


def set_prices(
    rng: np.random.Generator, catalogue: Catalogue, weeks: Weeks, mix: Mix = MIXES["standard"]
) -> Prices:
    """Draw the yearly list price increases and each channel's weekly price drift (moving
    to a new level as often as the mix says)."""
    n_skus, n_channels, n_weeks = catalogue.count, len(CHANNELS), weeks.count
    years = weeks.years
    year_step = years - years[0]
    increases = rng.uniform(0.02, 0.055, (n_skus, year_step.max() + 1))
    increases[:, 0] = 0.0
    price_factor = np.cumprod(1 + increases, axis=1)  # by year
    # The increase lands in the first week of each year; the future year is announced for
    # about half the SKUs only.
    future_year = years[weeks.history :].max() if weeks.count > weeks.history else None
    announced = rng.random(n_skus) < 0.5
    if future_year is not None and future_year > years[weeks.history - 1]:
        step = future_year - years[0]
        price_factor[~announced, step:] = price_factor[~announced, step - 1 : step]
    list_price = np.round(catalogue.start_price[:, None] * price_factor[:, year_step], 2)

    drift = np.zeros((n_skus, n_channels, n_weeks))
    level = rng.normal(0, 0.03, (n_skus, n_channels))
    for w in range(n_weeks):
        change = rng.random((n_skus, n_channels)) < mix.price_move_rate
        level = np.where(change, np.clip(rng.normal(0, 0.035, level.shape), -0.08, 0.06), level)
        drift[:, :, w] = level
    regular_net = list_price[:, None, :] * CHANNEL_PRICE_FACTOR[None, :, None] * (1 + drift)
    return Prices(list_price, regular_net)


def price_change_frame(
    list_price: np.ndarray, weeks: pd.DatetimeIndex, skus: np.ndarray, on_sale: np.ndarray
) -> pd.DataFrame:
    """The ``price_changes`` table: every list price step of a SKU on sale."""
    changed = np.nonzero(np.diff(list_price, axis=1) != 0)
    s_idx, w_idx = changed[0], changed[1] + 1
    keep = on_sale[s_idx, w_idx]
    s_idx, w_idx = s_idx[keep], w_idx[keep]
    return pd.DataFrame(
        {
            "sku": skus[s_idx],
            "effective_week": weeks[w_idx],
            "previous_list_price": list_price[s_idx, w_idx - 1],
            "list_price": list_price[s_idx, w_idx],
            "reason": "Annual price increase",
        }
    ).sort_values(["effective_week", "sku"], ignore_index=True)
