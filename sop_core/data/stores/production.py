"""Lines, their hours, what they produced and the stock it left: the supply reads."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from sop_core.data.stores.sales import ALL, FAMILY_FILTER, Scope


def available_hours(
    con: duckdb.DuckDBPyConnection, first_week: dt.date, weeks: int
) -> pd.DataFrame:
    """Available hours per line and week: standard hours plus the capacity calendar.

    Columns: ``line, week, standard_hours, calendar_hours, available_hours``.
    """
    return con.execute(
        """
        WITH weeks AS (
            SELECT unnest(generate_series($first::DATE, $first::DATE + 7 * ($weeks - 1),
                                          INTERVAL 7 DAY))::DATE AS week
        ),
        calendar AS (
            SELECT line, week, sum(hours_delta) AS calendar_hours
            FROM capacity_calendar GROUP BY ALL
        )
        SELECT l.line, w.week, l.standard_hours_per_week AS standard_hours,
               coalesce(c.calendar_hours, 0) AS calendar_hours,
               greatest(l.standard_hours_per_week + coalesce(c.calendar_hours, 0), 0)
                   AS available_hours
        FROM production_lines l CROSS JOIN weeks w
        LEFT JOIN calendar c ON c.line = l.line AND c.week = w.week
        ORDER BY l.line, w.week
        """,
        {"first": first_week, "weeks": weeks},
    ).df()


def line_overview(
    con: duckdb.DuckDBPyConnection, first_week: dt.date, weeks: int = 13, scope: Scope = ALL
) -> pd.DataFrame:
    """One row per line: plant, name, hours, OEE, SKUs it makes, and the available hours over
    the ``weeks`` starting ``first_week`` (standard plus calendar exceptions). With a family
    filter: only the lines that make that family."""
    lines = con.execute(
        f"""
        SELECT l.line, l.plant, l.name, l.standard_hours_per_week, l.oee, l.changeover_hours,
               count(p.sku) AS skus
        FROM production_lines l LEFT JOIN products p ON p.default_line = l.line
        GROUP BY ALL
        HAVING len($families::VARCHAR[]) = 0 OR bool_or({FAMILY_FILTER})
        ORDER BY l.plant, l.line
        """,
        {"families": list(scope.families)},
    ).df()
    hours = available_hours(con, first_week, weeks)
    totals = hours.groupby("line", as_index=False).agg(
        available_hours=("available_hours", "sum"), standard_hours=("standard_hours", "sum")
    )
    return (
        lines.merge(totals, on="line", how="left")
        .rename(columns={"available_hours": f"available_hours_next_{weeks}_weeks"})
        .drop(columns="standard_hours")
    )


def line_utilisation_history(
    con: duckdb.DuckDBPyConnection, last_week: dt.date, weeks: int = 52, scope: Scope = ALL
) -> pd.DataFrame:
    """Hours each line would have needed to make what was sold, against its available hours.

    Needed hours = units sold / units per hour / OEE on the SKU's default line; changeovers
    are not counted here. With a family filter, only that family's SKUs load the lines and
    only the lines that make them are listed (the channel filter does not apply: lines make
    for every channel). Columns: ``line, line_name, week, needed_hours, available_hours,
    utilisation``.
    """
    first_week = last_week - dt.timedelta(days=7 * (weeks - 1))
    needed = con.execute(
        f"""
        SELECT p.default_line AS line, s.week,
               sum(s.units / p.units_per_hour / l.oee) AS needed_hours
        FROM sales_history s
        JOIN products p USING (sku)
        JOIN production_lines l ON l.line = p.default_line
        WHERE s.week BETWEEN $first AND $last AND p.units_per_hour > 0 AND {FAMILY_FILTER}
        GROUP BY ALL
        """,
        {"first": first_week, "last": last_week, "families": list(scope.families)},
    ).df()
    hours = available_hours(con, first_week, weeks)
    lines = con.execute(
        f"""
        SELECT l.line, l.name AS line_name FROM production_lines l
        WHERE len($families::VARCHAR[]) = 0 OR l.line IN (
            SELECT p.default_line FROM products p WHERE {FAMILY_FILTER})
        """,
        {"families": list(scope.families)},
    ).df()
    hours = hours.merge(lines, on="line")
    merged = hours.merge(needed, on=["line", "week"], how="left").fillna({"needed_hours": 0.0})
    merged["utilisation"] = merged["needed_hours"] / merged["available_hours"].where(
        merged["available_hours"] > 0
    )
    return merged[["line", "line_name", "week", "needed_hours", "available_hours", "utilisation"]]


def hours_used(
    con: duckdb.DuckDBPyConnection, last_week: dt.date, weeks: int = 52, scope: Scope = ALL
) -> pd.DataFrame:
    """Line hours actually used (production actuals) against available hours, per line over
    the ``weeks`` ending ``last_week``: ``line, hours_used, available_hours, utilisation``.
    With a family filter, only that family's production counts."""
    first_week = last_week - dt.timedelta(days=7 * (weeks - 1))
    used = con.execute(
        f"""
        SELECT a.line, sum(a.hours_used) AS hours_used
        FROM production_actuals a JOIN products p USING (sku)
        WHERE a.week BETWEEN $first AND $last AND {FAMILY_FILTER}
        GROUP BY ALL
        """,
        {"first": first_week, "last": last_week, "families": list(scope.families)},
    ).df()
    hours = (
        available_hours(con, first_week, weeks)
        .groupby("line", as_index=False)["available_hours"]
        .sum()
    )
    merged = hours.merge(used, on="line", how="inner" if scope.families else "left")
    merged["hours_used"] = merged["hours_used"].fillna(0.0)
    merged["utilisation"] = merged["hours_used"] / merged["available_hours"].where(
        merged["available_hours"] > 0
    )
    return merged


def capacity_exceptions_after(
    con: duckdb.DuckDBPyConnection, after_week: dt.date, weeks: int = 26
) -> pd.DataFrame:
    """Capacity calendar exceptions in the ``weeks`` after ``after_week``."""
    return con.execute(
        """
        SELECT c.week, c.line, l.name AS line_name, c.hours_delta, c.reason
        FROM capacity_calendar c JOIN production_lines l USING (line)
        WHERE c.week > $after AND c.week <= $after::DATE + 7 * $weeks
        ORDER BY c.week, c.line
        """,
        {"after": after_week, "weeks": weeks},
    ).df()


def inventory_cover(
    con: duckdb.DuckDBPyConnection, scope: Scope, demand_weeks: int = 13
) -> pd.DataFrame:
    """Latest units on hand per SKU and the weeks of cover they give at the average weekly
    sales of the last ``demand_weeks`` (the channel filter does not apply to stock)."""
    return con.execute(
        f"""
        WITH latest AS (SELECT max(week) AS week FROM inventory),
        stock AS (
            SELECT i.sku, i.units_on_hand FROM inventory i, latest WHERE i.week = latest.week
        ),
        last_sales AS (SELECT max(week) AS week FROM sales_history),
        demand AS (
            SELECT s.sku, sum(s.units) / $weeks AS average_weekly_units
            FROM sales_history s, last_sales
            WHERE s.week > last_sales.week - 7 * $weeks
            GROUP BY ALL
        )
        SELECT p.sku, p.name AS product, p.family, coalesce(stock.units_on_hand, 0)
                   AS units_on_hand,
               coalesce(demand.average_weekly_units, 0) AS average_weekly_units,
               coalesce(stock.units_on_hand, 0) / nullif(demand.average_weekly_units, 0)
                   AS weeks_of_cover,
               coalesce(stock.units_on_hand, 0) * p.unit_variable_cost AS stock_value
        FROM products p
        LEFT JOIN stock USING (sku) LEFT JOIN demand USING (sku)
        WHERE {FAMILY_FILTER}
        ORDER BY weeks_of_cover NULLS LAST
        """,
        {"families": list(scope.families), "weeks": demand_weeks},
    ).df()


def production_vs_sales(
    con: duckdb.DuckDBPyConnection, scope: Scope, last_week: dt.date, weeks: int = 13
) -> pd.DataFrame:
    """Units produced and sold by family over the last ``weeks`` (all channels)."""
    return con.execute(
        f"""
        WITH made AS (
            SELECT p.family, sum(a.units_produced) AS units_produced,
                   sum(a.hours_used) AS hours_used
            FROM production_actuals a JOIN products p USING (sku)
            WHERE a.week > $last::DATE - 7 * $weeks AND a.week <= $last AND {FAMILY_FILTER}
            GROUP BY ALL
        ),
        sold AS (
            SELECT p.family, sum(s.units) AS units_sold
            FROM sales_history s JOIN products p USING (sku)
            WHERE s.week > $last::DATE - 7 * $weeks AND s.week <= $last AND {FAMILY_FILTER}
            GROUP BY ALL
        )
        SELECT family, coalesce(units_produced, 0) AS units_produced,
               coalesce(units_sold, 0) AS units_sold, coalesce(hours_used, 0) AS hours_used
        FROM sold FULL JOIN made USING (family) ORDER BY family
        """,
        {"families": list(scope.families), "last": last_week, "weeks": weeks},
    ).df()


def line_names(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every production line's ``line`` code and ``name``, by code."""
    return con.execute("SELECT line, name FROM production_lines ORDER BY line").df()


def line_oee(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Each line's OEE (overall equipment effectiveness), by line."""
    return dict(con.execute("SELECT line, oee FROM production_lines").fetchall())


def standard_hours_by_line(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Each line's standard hours per week, by line."""
    return dict(
        con.execute("SELECT line, standard_hours_per_week FROM production_lines").fetchall()
    )


def product_routings(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, float]]:
    """The lines each SKU can run on and its speed there, ``(sku, line, units_per_hour)``, by
    SKU and then its order of preference."""
    return con.execute(
        "SELECT sku, line, units_per_hour FROM product_lines ORDER BY sku, preference"
    ).fetchall()


def stock_on_hand(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Units on hand per SKU in the latest inventory week (SKUs without a count are left out)."""
    return dict(
        con.execute(
            "SELECT sku, units_on_hand FROM inventory "
            "WHERE week = (SELECT max(week) FROM inventory)"
        ).fetchall()
    )
