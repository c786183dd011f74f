"""The weekly demand history as arrays: one row per SKU, one column per week.

The forecast works per SKU over all channels. Promotion and price drivers are recorded per
channel; they are combined with each SKU's channel weights (its share of units over the
history), so a promotion in a channel that sells little counts for little. Weeks inside a SKU's
life without a row are weeks without sales.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from dataclasses import dataclass, replace

import duckdb
import numpy as np
import pandas as pd

from sop_core.data.stores import products as product_store
from sop_core.data.stores import sales

# Driver regressors, in the order the model receives them.
DRIVERS = ("discount_depth", "feature", "display", "log_price_ratio", "post_promotion")


@dataclass
class Panel:
    """Weekly history of every SKU on one week grid.

    ``units`` is ``(SKUs, weeks)`` with NaN before a SKU's first week; ``drivers`` is
    ``(SKUs, weeks, len(DRIVERS))``, NaN where unknown; ``channel_units`` is
    ``(SKUs, channels, weeks)``.
    """

    skus: np.ndarray
    families: np.ndarray
    brands: np.ndarray
    weeks: np.ndarray  # datetime64[D]
    channels: np.ndarray
    units: np.ndarray
    channel_units: np.ndarray
    drivers: np.ndarray
    first_index: np.ndarray
    # Channel-weighted log(1 - discount depth): how a discount moves the net price, used to set
    # the price ratio in weeks where a discount is planned.
    discount_log_ratio: np.ndarray
    has_prices: bool
    has_promotions: bool
    # Per SKU: does its own history hold any price at all? (A SKU never promoted is told by
    # the data; a SKU without prices is not.)
    sku_has_prices: np.ndarray | None = None
    # Each SKU's share of units by channel over its history (``(SKUs, channels)``).
    channel_weights: np.ndarray | None = None
    # Promotions known for the weeks after the history (``(SKUs, horizon, len(DRIVERS))``,
    # channel-weighted like the history's drivers; the price column is unused) and the
    # channel-weighted log(1 - depth) they move the net price by (``(SKUs, horizon)``).
    planned: np.ndarray | None = None
    planned_discount_log_ratio: np.ndarray | None = None

    @property
    def history_end(self) -> np.datetime64:
        return self.weeks[-1]

    def series(self, row: int, end: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Weeks and units of one SKU from its first week up to (not including) ``end``."""
        stop = len(self.weeks) if end is None else end
        start = self.first_index[row]
        return self.weeks[start:stop], self.units[row, start:stop]

    def fingerprints(self, salt: str) -> list[str]:
        """A hash per SKU of everything its forecast depends on, plus ``salt`` (parameters)."""
        result = []
        for row, sku in enumerate(self.skus):
            digest = hashlib.sha256(salt.encode())
            digest.update(f"{sku}|{self.families[row]}|{self.brands[row]}".encode())
            digest.update(self.weeks[self.first_index[row] :].tobytes())
            digest.update(np.nan_to_num(self.units[row], nan=-1.0).tobytes())
            digest.update(np.nan_to_num(self.drivers[row], nan=-9.0).tobytes())
            if self.planned is not None:
                digest.update(self.planned[row].tobytes())
            result.append(digest.hexdigest()[:32])
        return result


def load_panel(
    con: duckdb.DuckDBPyConnection,
    history_end: dt.date | None = None,
    horizon: int | None = None,
    rows: pd.DataFrame | None = None,
) -> Panel:
    """Read ``sales_history`` and ``products`` into a ``Panel``.

    ``history_end`` cuts the history after that week (a forecast as it would have been made
    then). With ``horizon``, the promotions of the ``promotions`` table in the ``horizon``
    weeks after the history are attached as known future drivers: promotions are planned
    ahead, so a forecast knows the ones already in the calendar. ``rows``: the sales rows
    read elsewhere (a Parquet dataset, ``sop_core.data.history_files``) instead of the table.
    """
    if rows is None:
        rows = sales.sales_rows(con, history_end)
    products = product_store.product_groups(con)
    panel = panel_from_frame(rows, products)
    if history_end is not None and panel.history_end < np.datetime64(history_end, "D") - 6:
        raise ValueError(
            f"The history ends on {panel.history_end}, before the week of {history_end}."
        )
    if horizon and panel.has_promotions:
        end = panel.history_end.astype(dt.date)
        promotions = sales.promotions_overlapping(con, end, end + dt.timedelta(weeks=horizon))
        panel = with_planned_promotions(panel, promotions, horizon)
    return panel


def with_planned_promotions(panel: Panel, promotions: pd.DataFrame, horizon: int) -> Panel:
    """``panel`` with the promotions in the ``horizon`` weeks after its history as known future
    drivers. ``promotions`` has ``sku, channel`` (empty: every channel), ``start_week``,
    ``end_week``, ``discount_depth``, ``feature`` and ``display``."""
    n, c = len(panel.skus), len(panel.channels)
    depth, feature, display = (np.zeros((n, c, horizon + 1)) for _ in range(3))
    # Index 0 is the last week of the history (for the dip after a promotion ending then).
    first = panel.history_end
    sku_row = {sku: i for i, sku in enumerate(panel.skus)}
    channel_col = {ch: i for i, ch in enumerate(panel.channels)}
    for promo in promotions.itertuples(index=False):
        row = sku_row.get(promo.sku)
        if row is None:
            continue
        if isinstance(promo.channel, str) and promo.channel:
            if promo.channel not in channel_col:
                continue
            cols = [channel_col[promo.channel]]
        else:
            cols = list(range(c))
        start = np.datetime64(pd.Timestamp(promo.start_week).date(), "D")
        end = np.datetime64(pd.Timestamp(promo.end_week).date(), "D")
        lo = max(0, int((start - first) / np.timedelta64(7, "D")))
        hi = min(horizon, int((end - first) / np.timedelta64(7, "D")))
        if hi < lo:
            continue
        for col in cols:
            span = slice(lo, hi + 1)
            depth[row, col, span] = np.maximum(depth[row, col, span], promo.discount_depth)
            feature[row, col, span] = np.maximum(feature[row, col, span], promo.feature)
            display[row, col, span] = np.maximum(display[row, col, span], promo.display)
    weights = panel.channel_weights
    if weights is None:
        weights = np.full((n, c), 1.0 / c)

    def weighted(values: np.ndarray) -> np.ndarray:
        return np.einsum("nc,ncw->nw", weights, values)

    post = np.where(depth[:, :, 1:] == 0, depth[:, :, :-1], 0.0)
    future = depth[:, :, 1:]
    planned = np.zeros((n, horizon, len(DRIVERS)))
    planned[:, :, DRIVERS.index("discount_depth")] = weighted(future)
    planned[:, :, DRIVERS.index("feature")] = weighted(feature[:, :, 1:])
    planned[:, :, DRIVERS.index("display")] = weighted(display[:, :, 1:])
    planned[:, :, DRIVERS.index("post_promotion")] = weighted(post)
    return replace(
        panel,
        planned=planned,
        planned_discount_log_ratio=weighted(np.log1p(-np.minimum(future, 0.99))),
    )


def panel_from_frame(
    rows: pd.DataFrame,
    products: pd.DataFrame,
    *,
    like: PanelShape | None = None,
) -> Panel:
    """Build a ``Panel`` from sales rows (``week, sku, channel, units`` and optional driver
    columns) and products indexed by SKU (``family``, ``brand``).

    ``like``: the rows are some SKUs of a bigger panel of that shape (a Dask worker's batch):
    the same week grid, channels and company-wide flags, so each SKU's arrays come out exactly
    as in the whole panel.
    """
    if rows.empty:
        raise ValueError("There is no sales history to forecast.")
    weeks_all = pd.to_datetime(rows["week"]).values.astype("datetime64[D]")
    if like is None:
        first, last = weeks_all.min(), weeks_all.max()
        weeks = np.arange(first, last + np.timedelta64(1, "D"), np.timedelta64(7, "D"))
        channels = np.array(sorted(rows["channel"].unique()), dtype=object)
    else:
        weeks, channels = like.weeks, like.channels
        first = weeks[0]
    skus = np.array(sorted(rows["sku"].unique()), dtype=object)
    sku_index = pd.Index(skus).get_indexer(rows["sku"])
    channel_index = pd.Index(channels).get_indexer(rows["channel"])
    week_index = ((weeks_all - first) / np.timedelta64(7, "D")).astype(int)
    n, c, w = len(skus), len(channels), len(weeks)

    def grid(column: str, fill: float) -> np.ndarray:
        values = np.full((n, c, w), fill)
        if column in rows:
            values[sku_index, channel_index, week_index] = rows[column].astype(float).to_numpy()
        return values

    channel_units = np.nan_to_num(grid("units", 0.0), nan=0.0)
    present = np.zeros((n, c, w), dtype=bool)
    present[sku_index, channel_index, week_index] = True
    any_row = present.any(axis=1)
    first_index = np.where(any_row.any(axis=1), any_row.argmax(axis=1), w - 1)
    alive = np.arange(w)[None, :] >= first_index[:, None]
    units = np.where(alive, channel_units.sum(axis=1), np.nan)

    # Channel weights: each SKU's share of units by channel over its history.
    totals = channel_units.sum(axis=2)
    weights = totals / np.maximum(totals.sum(axis=1, keepdims=True), 1e-12)
    weights = np.where(totals.sum(axis=1, keepdims=True) > 0, weights, 1.0 / c)

    def weighted(values: np.ndarray) -> np.ndarray:
        return np.einsum("nc,ncw->nw", weights, np.nan_to_num(values, nan=0.0))

    depth = grid("discount_depth", 0.0)
    has_promotions = bool({"discount_depth", "feature", "display"} & set(rows.columns)) and bool(
        np.nan_to_num(depth).any()
        or np.nan_to_num(grid("feature", 0.0)).any()
        or np.nan_to_num(grid("display", 0.0)).any()
    )
    if like is not None:
        has_promotions = like.has_promotions
    net, listed = grid("net_price", np.nan), grid("list_price", np.nan)
    ratio = np.log(net / listed)
    ratio = np.where(np.isfinite(ratio), ratio, np.nan)
    sku_has_prices = np.isfinite(ratio).any(axis=(1, 2))
    has_prices = bool(sku_has_prices.any()) if like is None else like.has_prices
    if has_prices:
        # A channel without a price that week takes the SKU's typical ratio in that channel.
        with warnings.catch_warnings():  # a channel without any price is expected
            warnings.simplefilter("ignore", RuntimeWarning)
            typical = np.nanmedian(ratio, axis=2, keepdims=True)
        ratio = np.where(np.isfinite(ratio), ratio, np.nan_to_num(typical, nan=0.0))
    depth = np.nan_to_num(depth, nan=0.0)
    previous = np.concatenate([np.zeros((n, c, 1)), depth[:, :, :-1]], axis=2)
    post = np.where(depth == 0, previous, 0.0)

    drivers = np.stack(
        [
            weighted(depth),
            weighted(grid("feature", 0.0)),
            weighted(grid("display", 0.0)),
            weighted(ratio) if has_prices else np.full((n, w), np.nan),
            weighted(post),
        ],
        axis=2,
    )
    if not has_promotions:
        drivers[:, :, [0, 1, 2, 4]] = np.nan
    drivers[~alive] = np.nan
    known = products.reindex(index=skus, columns=["family", "brand"])
    return Panel(
        skus=skus,
        families=known["family"].fillna("unassigned").to_numpy(dtype=object),
        brands=known["brand"].fillna("unassigned").to_numpy(dtype=object),
        weeks=weeks,
        channels=channels,
        units=units,
        channel_units=channel_units,
        drivers=drivers,
        first_index=first_index,
        discount_log_ratio=weighted(np.log1p(-np.minimum(depth, 0.99))),
        has_prices=has_prices,
        has_promotions=has_promotions,
        sku_has_prices=sku_has_prices,
        channel_weights=weights,
    )


@dataclass(frozen=True)
class PanelShape:
    """What a panel of some SKUs needs of the whole panel to build them exactly alike: the week
    grid, the channels and whether the company's data holds prices and promotions at all."""

    weeks: np.ndarray
    channels: np.ndarray
    has_prices: bool
    has_promotions: bool

    @classmethod
    def of(cls, panel: Panel) -> PanelShape:
        return cls(panel.weeks, panel.channels, panel.has_prices, panel.has_promotions)


def regular_price(ratio: np.ndarray, depth: np.ndarray, weeks: int) -> float:
    """The SKU's recent regular price ratio: the median of ``ratio`` (log net / list price) over
    the unpromoted weeks among the last ``weeks`` (all of them when every week was promoted).
    The forecast holds the price there for the weeks ahead."""
    recent_ratio, recent_depth = ratio[-weeks:], depth[-weeks:]
    calm = recent_ratio[recent_depth < 1e-9]
    chosen = calm if len(calm) else recent_ratio
    chosen = chosen[np.isfinite(chosen)]
    return float(np.median(chosen)) if len(chosen) else 0.0
