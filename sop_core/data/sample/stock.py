"""The sample's production and stock over the history: a reorder-point policy on finite
lines (overtime up to 15%), with shortfalls backordered; the ``production_actuals`` and
``inventory`` tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sop_core.data.sample.catalogue import Catalogue
from sop_core.data.sample.config import Weeks
from sop_core.data.sample.lines import Lines


@dataclass
class Stock:
    """By SKU and history week: units produced, batches run and units on hand."""

    produced: np.ndarray
    batches: np.ndarray
    on_hand: np.ndarray


def simulate_stock(
    lines: Lines, available: np.ndarray, weeks: Weeks, sku_units: np.ndarray
) -> Stock:
    """Run the history week by week: batches when stock would fall below safety, within the
    line's hours (``available``, line x week) plus 15% overtime."""
    # Sales are the demand history; when stock runs out the shortfall is backordered and ships
    # from later production, so stock on hand + backorders always balances with the flows.
    n_hist = weeks.history
    line_of, batch_size = lines.line_of, lines.batch_size
    n_skus = len(line_of)
    demand = sku_units[:, :n_hist]
    average = lines.recent_units
    safety = 1.5 * average
    inventory_level = 4.0 * average
    produced = np.zeros((n_skus, n_hist))
    batches = np.zeros((n_skus, n_hist), dtype=int)
    on_hand = np.zeros((n_skus, n_hist))
    batch_hours = (
        batch_size / (lines.units_per_hour * lines.oee[line_of]) + lines.changeover_hours[line_of]
    )
    for w in range(n_hist):
        upcoming = demand[:, w] + (demand[:, w + 1] if w + 1 < n_hist else demand[:, w])
        short = np.maximum(upcoming + safety - inventory_level, 0.0)
        need = np.ceil(short / batch_size)
        # Lines run up to 15% overtime; the SKUs with the least cover get the hours first.
        order = np.lexsort((inventory_level / average, line_of))
        hours = need[order] * batch_hours[order]
        cumulative = np.cumsum(hours)
        group_start = np.searchsorted(line_of[order], line_of[order])
        before = cumulative - hours - (cumulative - hours)[group_start]
        room = np.clip(available[line_of[order], w] * 1.15 - before, 0.0, None)
        need[order] = np.minimum(need[order], np.floor(room / batch_hours[order]))
        batches[:, w] = need
        produced[:, w] = need * batch_size
        inventory_level = inventory_level + produced[:, w] - demand[:, w]
        on_hand[:, w] = np.maximum(inventory_level, 0.0)
    return Stock(produced, batches, on_hand)


def production_frame(stock: Stock, lines: Lines, weeks: Weeks, skus: np.ndarray) -> pd.DataFrame:
    """The ``production_actuals`` table: what each line made, by week and SKU."""
    line_of, oee, changeover_hours = lines.line_of, lines.oee, lines.changeover_hours
    prod_s, prod_w = np.nonzero(stock.batches)
    run_hours = stock.produced[prod_s, prod_w] / (
        lines.units_per_hour[prod_s] * oee[line_of[prod_s]]
    )
    return pd.DataFrame(
        {
            "week": weeks.history_weeks[prod_w],
            "line": np.array(lines.codes, dtype=object)[line_of[prod_s]],
            "sku": skus[prod_s],
            "units_produced": stock.produced[prod_s, prod_w],
            "batches": stock.batches[prod_s, prod_w],
            "hours_used": np.round(
                run_hours + stock.batches[prod_s, prod_w] * changeover_hours[line_of[prod_s]], 2
            ),
        }
    )


def inventory_frame(stock: Stock, catalogue: Catalogue, weeks: Weeks) -> pd.DataFrame:
    """The ``inventory`` table: units on hand at the end of each week a SKU was on sale."""
    inv_s, inv_w = np.nonzero(catalogue.on_sale[:, : weeks.history])
    return pd.DataFrame(
        {
            "week": weeks.history_weeks[inv_w],
            "sku": catalogue.sku_array[inv_s],
            "units_on_hand": stock.on_hand[inv_s, inv_w],
        }
    )
