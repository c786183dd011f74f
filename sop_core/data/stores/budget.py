"""The budget and the actual sales it is compared with: the reads of the budget comparisons
(``sop_core.meeting.budget``).

Unit cost here is the plan's (``plan_base``): variable cost plus the setup cost spread over
the standard batch, so a margin from the budget or from actual sales is like for like with the
plan's.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from sop_core.data.stores.sales import CHANNEL_FILTER, FAMILY_FILTER, Scope

UNIT_COST = (
    "(p.unit_variable_cost + coalesce(p.setup_cost_per_batch / "
    "nullif(p.standard_batch_size, 0), 0))"
)


def budget_rows(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every budget row with the average unit cost of its SKUs: ``month, sku, family, units,
    revenue, unit_cost``. A SKU row's family is the SKU's; a total row has neither. The unit
    cost of a family or total row is its SKUs' average, weighted by their units of the last
    52 weeks of history (a plain average when they sold none)."""
    return con.execute(
        f"""
        WITH last AS (SELECT max(week) AS week FROM sales_history),
        sold AS (
            SELECT sku, sum(units) AS units FROM sales_history
            WHERE week > (SELECT week FROM last) - INTERVAL 364 DAY GROUP BY sku
        ),
        costs AS (
            SELECT p.sku, p.family, {UNIT_COST} AS unit_cost, coalesce(s.units, 0) AS units
            FROM products p LEFT JOIN sold s USING (sku)
        ),
        family_cost AS (
            SELECT family, coalesce(sum(unit_cost * units) / nullif(sum(units), 0),
                                    avg(unit_cost)) AS unit_cost
            FROM costs GROUP BY family
        ),
        total_cost AS (
            SELECT coalesce(sum(unit_cost * units) / nullif(sum(units), 0), avg(unit_cost))
                   AS unit_cost
            FROM costs
        )
        SELECT b.month, b.sku, coalesce(c.family, b.family) AS family, b.units, b.revenue,
               coalesce(c.unit_cost, f.unit_cost, (SELECT unit_cost FROM total_cost), 0)
                   AS unit_cost
        FROM budget b
        LEFT JOIN costs c ON c.sku = b.sku
        LEFT JOIN family_cost f ON b.sku IS NULL AND f.family = b.family
        ORDER BY b.month, b.family NULLS FIRST, b.sku NULLS FIRST
        """
    ).df()


def weekly_actuals(
    con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date, scope: Scope
) -> pd.DataFrame:
    """Actual sales by SKU and week from ``first`` to ``last`` in ``scope``: ``sku, family,
    week, units, revenue, margin`` (revenue at the net price paid; margin less the unit cost)."""
    return con.execute(
        f"""
        SELECT s.sku, p.family, s.week, sum(s.units) AS units,
               sum(s.units * coalesce(s.net_price, s.list_price, p.list_price)) AS revenue,
               sum(s.units * (coalesce(s.net_price, s.list_price, p.list_price) - {UNIT_COST}))
                   AS margin
        FROM sales_history s JOIN products p USING (sku)
        WHERE s.week BETWEEN $first AND $last AND {FAMILY_FILTER} AND {CHANNEL_FILTER}
        GROUP BY ALL ORDER BY s.sku, s.week
        """,
        {**scope.parameters(), "first": first, "last": last},
    ).df()
