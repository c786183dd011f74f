"""The sample's weekly demand by SKU and channel: base volume, trend, seasonality, a new
launch's ramp-up, the channel mix (e-commerce gaining share), the price and promotion
effects and noise (the equation is in the ``sample_truth`` table's description); and the
``sales_history`` table, which is this demand over the history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sop_core.data.sample.catalogue import CHANNELS, Catalogue
from sop_core.data.sample.config import Weeks
from sop_core.data.sample.prices import CHANNEL_PRICE_FACTOR, Prices
from sop_core.data.sample.promotions import Promotions
from sop_core.data.sample.seasonality import seasonal_profile


@dataclass
class Demand:
    units: np.ndarray  # (SKU, channel, week), whole units
    net_price: np.ndarray  # (SKU, channel, week): the regular net price less any discount


def simulate_demand(
    rng: np.random.Generator,
    catalogue: Catalogue,
    weeks: Weeks,
    prices: Prices,
    promotions: Promotions,
) -> Demand:
    """Draw each SKU's weekly units by channel from its true drivers."""
    c = catalogue
    n_weeks, n_hist = weeks.count, weeks.history
    t_years = (np.arange(n_weeks) - (n_hist - 1)) / 52.18
    season = seasonal_profile(c, weeks)
    growth = np.exp(np.log1p(c.trend)[:, None] * (t_years[None, :] + (n_hist - 1) / 52.18))
    ramp = np.clip(
        1 - np.exp(-(np.arange(n_weeks)[None, :] - c.launch_index[:, None] + 1) / 6), 0, 1
    )
    ramp = np.where(c.is_new[:, None], ramp, 1.0) * c.on_sale

    mix = c.per_family("channel_mix")
    mix = mix * np.exp(rng.normal(0, 0.15, mix.shape))
    shift = np.clip(0.03 * (t_years + 2), 0, None)  # e-commerce gains share over time
    channel_share = mix[:, :, None] * np.ones(n_weeks)[None, None, :]
    channel_share[:, 1, :] *= 1 + shift[None, :] * 3
    channel_share /= channel_share.sum(axis=1, keepdims=True)

    reference_price = (c.start_price[:, None] * CHANNEL_PRICE_FACTOR[None, :])[:, :, None]
    net_price = prices.regular_net * (1 - promotions.depth)
    price_effect = (net_price / reference_price) ** c.elasticity[:, None, None]
    promo_effect = (
        np.exp(c.depth_coefficient[:, None, None] * promotions.depth)
        * (1 + c.feature_uplift[:, None, None] * promotions.feature)
        * (1 + c.display_uplift[:, None, None] * promotions.display)
        * (1 - c.post_promo_dip[:, None, None] * promotions.dip)
    )
    mean = (
        c.base_units[:, None, None]
        * channel_share
        * (growth * season * ramp)[:, None, :]
        * price_effect
        * promo_effect
    )
    sigma = np.sqrt(np.log1p(c.noise_cv**2))[:, None, None]
    noise = np.exp(rng.normal(-(sigma**2) / 2, sigma, mean.shape))
    # Intermittent SKUs sell in few weeks, as much in those as they would have spread out.
    occurs = rng.random(mean.shape) < c.demand_probability[:, None, None]
    units = rng.poisson(mean * noise * occurs / c.demand_probability[:, None, None]).astype(float)
    units *= c.on_sale[:, None, :]
    return Demand(units, net_price)


def sales_frame(
    catalogue: Catalogue,
    weeks: Weeks,
    prices: Prices,
    promotions: Promotions,
    demand: Demand,
) -> pd.DataFrame:
    """The ``sales_history`` table: units and prices by SKU, channel and history week, for
    the weeks each SKU was on sale."""
    n_hist = weeks.history
    hist = slice(0, n_hist)
    channel_codes = [c[0] for c in CHANNELS]
    s_grid, c_grid, w_grid = np.meshgrid(
        np.arange(catalogue.count), np.arange(len(CHANNELS)), np.arange(n_hist), indexing="ij"
    )
    keep = catalogue.on_sale[s_grid, w_grid].ravel()
    return pd.DataFrame(
        {
            "week": weeks.history_weeks[w_grid.ravel()],
            "sku": catalogue.sku_array[s_grid.ravel()],
            "channel": np.array(channel_codes, dtype=object)[c_grid.ravel()],
            "units": demand.units[:, :, hist].ravel(),
            "net_price": np.round(demand.net_price[:, :, hist].ravel(), 2),
            "list_price": prices.list_price[s_grid.ravel(), w_grid.ravel()],
            "discount_depth": promotions.depth[:, :, hist].ravel(),
            "feature": promotions.feature[:, :, hist].ravel(),
            "display": promotions.display[:, :, hist].ravel(),
        }
    )[keep].reset_index(drop=True)
