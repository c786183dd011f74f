"""Read-side queries the pages show: history totals, promotions, lines and stock.

Every function takes an open connection and returns a DataFrame or a plain value; every value
that comes from a user is a bound parameter. A ``Scope`` carries the global filters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from sop_core import consensus, schema


@dataclass(frozen=True)
class Scope:
    """The global filters: empty tuples mean everything."""

    families: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()

    def parameters(self) -> dict[str, Any]:
        return {"families": list(self.families), "channels": list(self.channels)}


# Filters on products aliased ``p`` and on a table aliased ``s`` that has a channel column.
_FAMILY_FILTER = "(len($families::VARCHAR[]) = 0 OR list_contains($families::VARCHAR[], p.family))"
_CHANNEL_FILTER = (
    "(len($channels::VARCHAR[]) = 0 OR list_contains($channels::VARCHAR[], s.channel))"
)


def table_row_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rows per table, in data dictionary order (tables not in it follow)."""
    live = schema.table_columns(con)
    order = [t for t in schema.DATA_DICTIONARY if t in live] + sorted(
        t for t in live if t not in schema.DATA_DICTIONARY
    )
    counts = [con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in order]
    return pd.DataFrame({"table": order, "rows": counts})


def company_facts(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Company settings plus the history's range and size."""
    facts: dict[str, Any] = dict(con.execute("SELECT key, value FROM company_settings").fetchall())
    first, last, weeks = con.execute(
        "SELECT min(week), max(week), count(DISTINCT week) FROM sales_history"
    ).fetchone()
    facts.update(
        history_first_week=first,
        history_last_week=last,
        history_weeks=weeks,
        skus=con.execute("SELECT count(*) FROM products").fetchone()[0],
        families=[
            r[0]
            for r in con.execute("SELECT DISTINCT family FROM products ORDER BY family").fetchall()
        ],
        channels=[
            r[0] for r in con.execute("SELECT channel FROM channels ORDER BY channel").fetchall()
        ],
        lines=con.execute("SELECT count(*) FROM production_lines").fetchone()[0],
        schema_version=schema.current_version(con),
    )
    facts.setdefault("company_name", "Your company")
    facts.setdefault("currency", "EUR")
    return facts


def weekly_sales_by_family(con: duckdb.DuckDBPyConnection, scope: Scope) -> pd.DataFrame:
    """Weekly units and revenue by family: ``week, family, units, revenue, promoted_units``."""
    return con.execute(
        f"""
        SELECT s.week, p.family,
               sum(s.units) AS units,
               sum(s.units * coalesce(s.net_price, s.list_price, p.list_price)) AS revenue,
               sum(CASE WHEN s.discount_depth > 0 THEN s.units ELSE 0 END) AS promoted_units
        FROM sales_history s JOIN products p USING (sku)
        WHERE {_FAMILY_FILTER} AND {_CHANNEL_FILTER}
        GROUP BY ALL ORDER BY s.week, p.family
        """,
        scope.parameters(),
    ).df()


def period_totals(
    con: duckdb.DuckDBPyConnection, scope: Scope, last_week: dt.date, weeks: int
) -> pd.DataFrame:
    """Units, revenue and promoted share for the ``weeks`` ending ``last_week`` and the same
    weeks a year (52 weeks) earlier. Columns: ``period`` (``current``/``last_year``), ``units``,
    ``revenue``, ``promoted_share``."""
    return con.execute(
        f"""
        WITH periods AS (
            SELECT 'current' AS period, $last_week::DATE - 7 * ($weeks - 1) AS first,
                   $last_week::DATE AS last
            UNION ALL
            SELECT 'last_year', $last_week::DATE - 7 * ($weeks - 1) - 364,
                   $last_week::DATE - 364
        )
        SELECT periods.period,
               coalesce(sum(s.units), 0) AS units,
               coalesce(sum(s.units * coalesce(s.net_price, s.list_price, p.list_price)), 0)
                   AS revenue,
               coalesce(sum(CASE WHEN s.discount_depth > 0 THEN s.units END)
                        / nullif(sum(s.units), 0), 0) AS promoted_share
        FROM periods
        LEFT JOIN (
            sales_history s JOIN products p ON p.sku = s.sku
                AND {_FAMILY_FILTER} AND {_CHANNEL_FILTER}
        ) ON s.week BETWEEN periods.first AND periods.last
        GROUP BY periods.period ORDER BY periods.period
        """,
        {**scope.parameters(), "last_week": last_week, "weeks": weeks},
    ).df()


def totals_by_family_channel(
    con: duckdb.DuckDBPyConnection, scope: Scope, last_week: dt.date, weeks: int = 52
) -> pd.DataFrame:
    """Units and revenue by family and channel over the last ``weeks`` with the change vs the
    same weeks a year earlier (``units_vs_last_year`` as a fraction)."""
    return (
        con.execute(
            f"""
        SELECT p.family, s.channel,
               sum(CASE WHEN s.week > $last_week::DATE - 7 * $weeks THEN s.units END) AS units,
               sum(CASE WHEN s.week > $last_week::DATE - 7 * $weeks
                        THEN s.units * coalesce(s.net_price, s.list_price, p.list_price) END)
                   AS revenue,
               sum(CASE WHEN s.week > $last_week::DATE - 7 * $weeks - 364
                         AND s.week <= $last_week::DATE - 364 THEN s.units END)
                   AS units_last_year
        FROM sales_history s JOIN products p USING (sku)
        WHERE {_FAMILY_FILTER} AND {_CHANNEL_FILTER}
        GROUP BY ALL ORDER BY p.family, s.channel
        """,
            {**scope.parameters(), "last_week": last_week, "weeks": weeks},
        )
        .df()
        .assign(
            units_vs_last_year=lambda f: (
                f["units"] / f["units_last_year"].where(f["units_last_year"] > 0) - 1
            )
        )
    )


def promotion_lift_by_depth(con: duckdb.DuckDBPyConnection, scope: Scope) -> pd.DataFrame:
    """Observed sales lift of promoted weeks by discount depth band.

    The lift compares a promoted week with the same SKU and channel's median unpromoted week of
    that quarter: a raw, descriptive figure (season and price are not separated out).
    Columns: ``depth_band`` (e.g. ``20%``), ``events`` (promoted weeks), ``median_lift``.
    """
    return con.execute(
        f"""
        WITH scoped AS (
            SELECT s.*, date_trunc('quarter', s.week) AS quarter
            FROM sales_history s JOIN products p USING (sku)
            WHERE {_FAMILY_FILTER} AND {_CHANNEL_FILTER}
        ),
        baseline AS (
            SELECT sku, channel, quarter, median(units) AS base_units
            FROM scoped WHERE discount_depth = 0 GROUP BY ALL
        )
        SELECT (round(discount_depth * 20) * 5)::INTEGER AS depth_percent,
               count(*) AS promoted_weeks,
               median(units / base_units) - 1 AS median_lift
        FROM scoped JOIN baseline USING (sku, channel, quarter)
        WHERE discount_depth > 0 AND base_units > 0
        GROUP BY ALL ORDER BY depth_percent
        """,
        scope.parameters(),
    ).df()


def promotions_between(
    con: duckdb.DuckDBPyConnection, scope: Scope, first_week: dt.date, last_week: dt.date
) -> pd.DataFrame:
    """Promotion events overlapping the week range, with product and family."""
    return con.execute(
        f"""
        SELECT s.promotion_id, s.name, s.sku, p.name AS product, p.family, s.channel,
               s.start_week, s.end_week, s.discount_depth, s.feature, s.display, s.status
        FROM promotions s JOIN products p USING (sku)
        WHERE s.end_week >= $first AND s.start_week <= $last
          AND {_FAMILY_FILTER}
          AND (s.channel IS NULL OR {_CHANNEL_FILTER})
        ORDER BY s.start_week, p.family, s.sku
        """,
        {**scope.parameters(), "first": first_week, "last": last_week},
    ).df()


def price_changes_after(
    con: duckdb.DuckDBPyConnection, scope: Scope, after_week: dt.date
) -> pd.DataFrame:
    """List price changes effective after ``after_week`` (announced ones)."""
    return con.execute(
        f"""
        SELECT c.sku, p.name AS product, p.family, c.effective_week, c.previous_list_price,
               c.list_price, c.list_price / nullif(c.previous_list_price, 0) - 1 AS change,
               c.reason
        FROM price_changes c JOIN products p USING (sku)
        WHERE c.effective_week > $after AND {_FAMILY_FILTER}
        ORDER BY c.effective_week, p.family, c.sku
        """,
        {"families": list(scope.families), "after": after_week},
    ).df()


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
    con: duckdb.DuckDBPyConnection, first_week: dt.date, weeks: int = 13, scope: Scope = Scope()
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
        HAVING len($families::VARCHAR[]) = 0 OR bool_or({_FAMILY_FILTER})
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
    con: duckdb.DuckDBPyConnection, last_week: dt.date, weeks: int = 52, scope: Scope = Scope()
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
        WHERE s.week BETWEEN $first AND $last AND p.units_per_hour > 0 AND {_FAMILY_FILTER}
        GROUP BY ALL
        """,
        {"first": first_week, "last": last_week, "families": list(scope.families)},
    ).df()
    hours = available_hours(con, first_week, weeks)
    lines = con.execute(
        f"""
        SELECT l.line, l.name AS line_name FROM production_lines l
        WHERE len($families::VARCHAR[]) = 0 OR l.line IN (
            SELECT p.default_line FROM products p WHERE {_FAMILY_FILTER})
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
    con: duckdb.DuckDBPyConnection, last_week: dt.date, weeks: int = 52, scope: Scope = Scope()
) -> pd.DataFrame:
    """Line hours actually used (production actuals) against available hours, per line over
    the ``weeks`` ending ``last_week``: ``line, hours_used, available_hours, utilisation``.
    With a family filter, only that family's production counts."""
    first_week = last_week - dt.timedelta(days=7 * (weeks - 1))
    used = con.execute(
        f"""
        SELECT a.line, sum(a.hours_used) AS hours_used
        FROM production_actuals a JOIN products p USING (sku)
        WHERE a.week BETWEEN $first AND $last AND {_FAMILY_FILTER}
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


def busiest(utilisation: pd.DataFrame) -> pd.Series | None:
    """The line-week with the highest utilisation in a ``line_utilisation_history`` frame
    (None when no week has hours)."""
    known = utilisation["utilisation"].dropna()
    return utilisation.loc[known.idxmax()] if len(known) else None


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
        WHERE {_FAMILY_FILTER}
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
            WHERE a.week > $last::DATE - 7 * $weeks AND a.week <= $last AND {_FAMILY_FILTER}
            GROUP BY ALL
        ),
        sold AS (
            SELECT p.family, sum(s.units) AS units_sold
            FROM sales_history s JOIN products p USING (sku)
            WHERE s.week > $last::DATE - 7 * $weeks AND s.week <= $last AND {_FAMILY_FILTER}
            GROUP BY ALL
        )
        SELECT family, coalesce(units_produced, 0) AS units_produced,
               coalesce(units_sold, 0) AS units_sold, coalesce(hours_used, 0) AS hours_used
        FROM sold FULL JOIN made USING (family) ORDER BY family
        """,
        {"families": list(scope.families), "last": last_week, "weeks": weeks},
    ).df()


def latest_forecast_run(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The current forecast run (the newest on the latest history; past runs made for
    accuracy are older): ``run_id``, ``created_at``, ``history_end``, ``horizon``, ``skus``
    (None when there is none yet)."""
    row = con.execute(
        "SELECT run_id, created_at, history_end, horizon, skus FROM forecast_runs "
        "ORDER BY history_end DESC, run_id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    return dict(zip(("run_id", "created_at", "history_end", "horizon", "skus"), row, strict=True))


def scenario_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Saved scenario names, alphabetical."""
    return [r[0] for r in con.execute("SELECT name FROM scenarios ORDER BY name").fetchall()]


def driver_table(con: duckdb.DuckDBPyConnection, run_id: int) -> pd.DataFrame:
    """The forecast run's driver effects per SKU, as the ``drivers`` command reports them."""
    from sop_core.forecast.runs import driver_report

    return pd.DataFrame(driver_report(con, run_id))


def stored_scenario(con: duckdb.DuckDBPyConnection, name: str) -> Any:
    """A saved scenario with its version (never cached: a save must name the latest)."""
    from sop_core.scenario_store import load_scenario

    return load_scenario(con, name)


def consensus_overrides(con: duckdb.DuckDBPyConnection, in_force: bool = False) -> pd.DataFrame:
    """The consensus overrides, newest first (``in_force``: only those neither undone nor
    expired)."""
    frame = consensus.override_history(con)
    return frame[frame["status"] == "in force"] if in_force else frame


def import_log(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every import that landed, newest first."""
    return con.execute(
        "SELECT import_id, imported_at, author, table_name, file_name, rows_in_file, "
        "rows_added, rows_replaced, products_created, left(file_sha256, 12) AS sha256 "
        "FROM import_log ORDER BY import_id DESC"
    ).df()


def plans_of_record(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every approved plan of record, newest first."""
    return con.execute(
        "SELECT plan_version, approved_at, approved_by, scenario, run_id, history_end, weeks, "
        "volume, revenue, margin, unmet_units, overtime_hours, max_utilisation, note "
        "FROM plans_of_record ORDER BY plan_version DESC"
    ).df()


def decision_log(con: duckdb.DuckDBPyConnection, today: dt.date) -> pd.DataFrame:
    """The decisions and assumptions log (see ``sop_core.decisions.decision_log``)."""
    from sop_core.decisions import decision_log as log

    return log(con, today)


def plan_of_record_totals(
    con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date
) -> dict[str, Any] | None:
    """The latest plan of record's volume, revenue and margin over the weeks ``first`` to
    ``last`` it covers (``first_week``, ``last_week``, ``weeks``), None when nothing is
    approved yet."""
    row = con.execute(
        """
        WITH latest AS (SELECT max(plan_version) AS v FROM plans_of_record)
        SELECT p.plan_version, p.scenario, p.approved_at, sum(t.target), sum(t.revenue),
               sum(t.margin), min(t.week), max(t.week), count(DISTINCT t.week)
        FROM plans_of_record p JOIN latest ON p.plan_version = latest.v
        LEFT JOIN plan_of_record_targets t
            ON t.plan_version = p.plan_version AND t.week BETWEEN ? AND ?
        GROUP BY ALL
        """,
        [first, last],
    ).fetchone()
    if row is None:
        return None
    keys = (
        "plan_version",
        "scenario",
        "approved_at",
        "volume",
        "revenue",
        "margin",
        "first_week",
        "last_week",
        "weeks",
    )
    return dict(zip(keys, row, strict=True))
