"""The catalogue: products with their family, brand, prices, costs, batch sizes and the line
that makes them (the lines themselves are in ``production``)."""

from __future__ import annotations

import duckdb
import pandas as pd


def product_groups(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every product's ``family`` and ``brand``, indexed by ``sku``."""
    return con.execute("SELECT sku, family, brand FROM products").df().set_index("sku")


def planning_facts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """What planning needs of each product, indexed by ``sku``: ``name, family, brand,
    list_price, unit_variable_cost, setup_cost_per_batch, standard_batch_size, default_line,
    units_per_hour`` and its default line's ``oee``."""
    return (
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
    )


def product_labels(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every product's ``name``, ``family`` and ``brand``, indexed by ``sku``."""
    return con.execute("SELECT sku, name, family, brand FROM products").df().set_index("sku")
