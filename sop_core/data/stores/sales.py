"""Sales history, promotions and prices: the reads the demand and promotion pages show.

A ``Scope`` carries the global filters; every value that comes from a user is a bound
parameter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from sop_core.data import schema


@dataclass(frozen=True)
class Scope:
    """The global filters: empty tuples mean everything."""

    families: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()

    def parameters(self) -> dict[str, Any]:
        return {"families": list(self.families), "channels": list(self.channels)}


ALL = Scope()  # no filter: the whole company


def last_history_week(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The last week of sales history (None when there is none)."""
    return con.execute("SELECT max(week) FROM sales_history").fetchone()[0]


def sales_rows(con: duckdb.DuckDBPyConnection, history_end: dt.date | None = None) -> pd.DataFrame:
    """Every sales row up to ``history_end`` (all without it), by SKU, week and channel:
    ``week, sku, channel, units, net_price, list_price, discount_depth, feature, display``."""
    return con.execute(
        """
        SELECT s.week, s.sku, s.channel, s.units, s.net_price, s.list_price,
               s.discount_depth, s.feature, s.display
        FROM sales_history s
        WHERE ?::DATE IS NULL OR s.week <= ?::DATE
        ORDER BY s.sku, s.week, s.channel
        """,
        [history_end, history_end],
    ).df()


def units_by_sku_channel(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Units sold per week, SKU and channel with the SKU's family and brand:
    ``week, sku, family, brand, channel, units``, by SKU, channel and week."""
    return con.execute(
        "SELECT h.week, h.sku, p.family, p.brand, h.channel, h.units "
        "FROM sales_history h LEFT JOIN products p ON p.sku = h.sku "
        "ORDER BY h.sku, h.channel, h.week"
    ).df()


def history_before(con: duckdb.DuckDBPyConnection, start: dt.date, weeks: int) -> pd.DataFrame:
    """The ``weeks`` weeks of sales before ``start``: ``week, sku, channel, units, revenue``
    (at the net price, else the list price) and ``promoted`` (a discount, feature or display)."""
    return con.execute(
        """
        SELECT s.week, s.sku, s.channel, s.units,
               s.units * coalesce(s.net_price, p.list_price, 0) AS revenue,
               s.discount_depth > 0 OR s.feature > 0 OR s.display > 0 AS promoted
        FROM sales_history s JOIN products p USING (sku)
        WHERE s.week >= ?::DATE - 7 * ? AND s.week < ?::DATE
        """,
        [start, weeks, start],
    ).df()


def promotions_overlapping(
    con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date
) -> pd.DataFrame:
    """Calendar promotions running at some point from ``first`` to ``last``: ``sku, channel,
    start_week, end_week, discount_depth, feature, display``."""
    return con.execute(
        """
        SELECT sku, channel, start_week, end_week, discount_depth, feature, display
        FROM promotions
        WHERE end_week >= ?::DATE AND start_week <= ?::DATE
        """,
        [first, last],
    ).df()


def regular_channel_prices(con: duckdb.DuckDBPyConnection, weeks: int = 13) -> pd.DataFrame:
    """Regular (unpromoted) net price per SKU and channel over the last ``weeks`` weeks of
    history: ``sku, channel, regular_price, max_discount``."""
    return con.execute(
        """
        WITH last AS (SELECT max(week) AS week FROM sales_history)
        SELECT s.sku, s.channel,
               sum(s.units * s.net_price) / nullif(sum(s.units), 0) AS regular_price,
               max(s.discount_depth) AS max_discount
        FROM sales_history s, last
        WHERE s.week > last.week - 7 * ? AND s.discount_depth = 0 AND s.net_price IS NOT NULL
        GROUP BY ALL
        """,
        [weeks],
    ).df()


def price_moves_seen(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per SKU, indexed by ``sku``: the deepest discount sold (``max_discount``) and the widest
    move of the regular price in log terms (``price_move``)."""
    return (
        con.execute(
            """
            SELECT sku, max(discount_depth) AS max_discount,
                   max(ln(net_price / list_price)) FILTER (WHERE discount_depth = 0)
                       - min(ln(net_price / list_price)) FILTER (WHERE discount_depth = 0)
                       AS price_move
            FROM sales_history WHERE net_price > 0 AND list_price > 0 GROUP BY sku
            """
        )
        .df()
        .set_index("sku")
    )


def price_ranges_seen(con: duckdb.DuckDBPyConnection, weeks: int = 13) -> pd.DataFrame:
    """Per SKU, indexed by ``sku``: the range of its unpromoted net prices relative to its
    regular price now, in log terms (``price_low``, ``price_high``: the lowest and highest
    ``ln(net_price / regular price)`` of any channel-week, against that channel's regular
    price over the last ``weeks`` weeks, as the plan base prices a SKU), the deepest discount
    sold (``max_discount``) and the weeks of history the SKU has (``history_weeks``)."""
    return (
        con.execute(
            """
            WITH last AS (SELECT max(week) AS week FROM sales_history),
            regular AS (
                SELECT s.sku, s.channel,
                       sum(s.units * s.net_price) / nullif(sum(s.units), 0) AS price
                FROM sales_history s, last
                WHERE s.week > last.week - 7 * $weeks AND s.discount_depth = 0
                  AND s.net_price > 0
                GROUP BY ALL
            )
            SELECT s.sku,
                   min(ln(s.net_price / r.price))
                       FILTER (WHERE s.discount_depth = 0 AND s.net_price > 0 AND r.price > 0)
                       AS price_low,
                   max(ln(s.net_price / r.price))
                       FILTER (WHERE s.discount_depth = 0 AND s.net_price > 0 AND r.price > 0)
                       AS price_high,
                   max(s.discount_depth) AS max_discount,
                   count(DISTINCT s.week) AS history_weeks
            FROM sales_history s LEFT JOIN regular r USING (sku, channel)
            GROUP BY s.sku
            """,
            {"weeks": weeks},
        )
        .df()
        .set_index("sku")
    )


def promoted_weeks(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per SKU, the weeks it sold at a discount."""
    return dict(
        con.execute(
            "SELECT sku, count(DISTINCT week) FROM sales_history WHERE discount_depth > 0 "
            "GROUP BY sku"
        ).fetchall()
    )


# Filters on products aliased ``p`` and on a table aliased ``s`` that has a channel column.
FAMILY_FILTER = "(len($families::VARCHAR[]) = 0 OR list_contains($families::VARCHAR[], p.family))"


CHANNEL_FILTER = "(len($channels::VARCHAR[]) = 0 OR list_contains($channels::VARCHAR[], s.channel))"


def weekly_sales_by_family(con: duckdb.DuckDBPyConnection, scope: Scope) -> pd.DataFrame:
    """Weekly units and revenue by family: ``week, family, units, revenue, promoted_units``."""
    return con.execute(
        f"""
        SELECT s.week, p.family,
               sum(s.units) AS units,
               sum(s.units * coalesce(s.net_price, s.list_price, p.list_price)) AS revenue,
               sum(CASE WHEN s.discount_depth > 0 THEN s.units ELSE 0 END) AS promoted_units
        FROM sales_history s JOIN products p USING (sku)
        WHERE {FAMILY_FILTER} AND {CHANNEL_FILTER}
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
                AND {FAMILY_FILTER} AND {CHANNEL_FILTER}
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
        WHERE {FAMILY_FILTER} AND {CHANNEL_FILTER}
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
            WHERE {FAMILY_FILTER} AND {CHANNEL_FILTER}
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
          AND {FAMILY_FILTER}
          AND (s.channel IS NULL OR {CHANNEL_FILTER})
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
        WHERE c.effective_week > $after AND {FAMILY_FILTER}
        ORDER BY c.effective_week, p.family, c.sku
        """,
        {"families": list(scope.families), "after": after_week},
    ).df()


def sales_history_span(con: duckdb.DuckDBPyConnection) -> tuple[dt.date | None, dt.date | None]:
    """The first and last week of the sales history; ``(None, None)`` when it is empty or the
    database has no ``sales_history`` table (a file made by another tool)."""
    if "sales_history" not in schema.table_columns(con):
        return None, None
    first, last = con.execute("SELECT min(week), max(week) FROM sales_history").fetchone()
    return first, last


def units_by_sku_week_after(con: duckdb.DuckDBPyConnection, after_week: dt.date) -> pd.DataFrame:
    """Units sold per SKU and week after ``after_week`` (all channels): ``sku, week, units``."""
    return con.execute(
        "SELECT sku, week, sum(units) AS units FROM sales_history WHERE week > ? GROUP BY ALL",
        [after_week],
    ).df()


def promotions_as_plan(
    con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date
) -> pd.DataFrame:
    """The promotions the sales history records from week ``first`` to ``last``, per SKU and
    week as a plan file's rows: ``week, sku, discount, share, feature, display``. The depth
    where the SKU was on promotion, the share of its volume (by channel, over its history, as
    the forecast weighs channels) that was, and the feature and display shares weighted the
    same way; weeks without promotion or support are left out."""
    return con.execute(
        """
        WITH volume AS (
            SELECT sku, channel, sum(units) AS units FROM sales_history GROUP BY sku, channel
        ),
        weights AS (
            SELECT sku, channel, units / nullif(sum(units) OVER (PARTITION BY sku), 0) AS weight
            FROM volume
        ),
        weekly AS (
            SELECT s.week, s.sku,
                   sum(w.weight * s.discount_depth) AS depth,
                   sum(w.weight) FILTER (WHERE s.discount_depth > 0) AS share,
                   sum(w.weight * s.feature) AS feature,
                   sum(w.weight * s.display) AS display
            FROM sales_history s JOIN weights w USING (sku, channel)
            WHERE s.week BETWEEN ? AND ?
            GROUP BY ALL
        )
        SELECT week, sku,
               CASE WHEN depth > 0 THEN round(depth / share, 4) ELSE 0 END AS discount,
               CASE WHEN depth > 0 THEN round(share, 4) ELSE 1 END AS share,
               round(feature, 4) AS feature, round(display, 4) AS display
        FROM weekly
        WHERE depth > 0 OR feature > 0 OR display > 0
        ORDER BY sku, week
        """,
        [first, last],
    ).df()


def delete_promotions_ending_after(con: duckdb.DuckDBPyConnection, cutoff: dt.date) -> None:
    """Delete the calendar's promotions that end after ``cutoff`` (the holdout proof does this
    on its own copy of the database, never on the original)."""
    con.execute("DELETE FROM promotions WHERE end_week > ?", [cutoff])


# The weekly grid of ``seasonal_naive_scales``: weeks are counted from this Monday.
_GRID_START = dt.date(1900, 1, 1)


def _gaps(series: str, keys: list[str]) -> str:
    """SQL of the seasonal gaps ``|y_s - y_{s-season}|`` of every series of the CTE ``series``
    (``keys..., wk, y``; a week without a row counts as 0), for the weeks up to the last
    cut: ``keys..., s, gap``. Only weeks where one side has a row (neither side: a gap of 0).
    Built from our own names, never from a user's values."""
    on = " AND ".join(f"a.{key} = b.{key}" for key in keys)
    chosen = ", ".join(f"coalesce(a.{key}, b.{key}) AS {key}" for key in keys)
    return f"""
        SELECT {chosen}, coalesce(a.wk, b.wk + $season) AS s,
               abs(coalesce(a.y, 0) - coalesce(b.y, 0)) AS gap
        FROM (
            SELECT * FROM {series}
            WHERE wk <= (SELECT max(cut) FROM cuts) AND wk >= (SELECT min(wk) FROM cs) + $season
        ) a
        FULL JOIN (
            SELECT * FROM {series} WHERE wk + $season <= (SELECT max(cut) FROM cuts)
        ) b ON {on} AND a.wk = b.wk + $season
    """


def _scale(gaps: str, last: str) -> str:
    """SQL of a scale: the running sum of gaps ``gaps`` (a column of ``r``) over the weeks it
    covers, from the series' first week plus a season to the cut or the scope's ``last``
    week; NULL where it covers none or the sum is 0."""
    weeks = f"(least(r.cut, {last}) - r.first - $season + 1)"
    return f"CASE WHEN {weeks} > 0 AND {gaps} > 0 THEN {gaps} / {weeks} END"


def seasonal_naive_scales(
    con: duckdb.DuckDBPyConnection, origins: list[dt.date], season: int
) -> pd.DataFrame:
    """The MASE scale of every scope of the sales history at each origin, summed and scaled
    here rather than in pandas (the history is 9 million rows at 20,000 SKUs).

    A scope's weekly series is its units summed per week, from its first week to its last
    (a week inside without a row counts as 0). Its scale at an origin is the mean of
    ``|y_s - y_{s-season}|`` over the weeks ``s`` from its first week plus ``season`` up to
    the origin, or up to its last week when the origin is later; NULL where there is no such
    week or the mean is 0. A SKU's scale within a scope is taken on the SKU's own series (in
    that channel, within a channel), running to the scope's last week and stopped there like
    the scope's. (``sop_core.demand.accuracy._scales`` is the same on a frame.)

    Returns ``level, value, sku, origin, scale, family, brand, in_total, in_family,
    in_brand``, one row per origin and:

    - scope (``sku`` NULL): ``level`` ``total`` (``value`` empty), ``family``, ``brand``,
      ``channel`` or ``sku``, every one the history has; ``scale`` its own. A ``sku`` row
      also has the SKU's ``family`` and ``brand`` and its scale within the whole company, its
      family and its brand (``in_...``);
    - SKU within a channel (``level`` ``channel``, ``sku`` set), where it has a scale.
    """
    return con.execute(
        f"""
        WITH origins AS (
            SELECT o AS origin, (o - $start) // 7 AS cut
            FROM (SELECT DISTINCT unnest($origins::DATE[]) AS o)
            WHERE o >= $start
        ),
        cuts AS (SELECT DISTINCT cut FROM origins),
        sku_ids AS (
            SELECT sku, row_number() OVER () AS id FROM (SELECT DISTINCT sku FROM sales_history)
        ),
        channel_ids AS (
            SELECT channel, row_number() OVER () AS ch
            FROM (SELECT DISTINCT channel FROM sales_history)
        ),
        cs AS MATERIALIZED (
            SELECT i.id, c.ch, (h.week - $start) // 7 AS wk, h.units AS y
            FROM sales_history h JOIN sku_ids i USING (sku) JOIN channel_ids c USING (channel)
        ),
        sk AS MATERIALIZED (SELECT id, wk, sum(y) AS y FROM cs GROUP BY id, wk),
        attributes AS (
            SELECT i.id, i.sku, p.family, p.brand
            FROM sku_ids i LEFT JOIN products p USING (sku)
        ),
        scoped AS (
            SELECT 'total' AS level, '' AS value, wk, sum(y) AS y FROM sk GROUP BY wk
            UNION ALL
            SELECT 'family', a.family, wk, sum(y) FROM sk JOIN attributes a USING (id)
            WHERE a.family IS NOT NULL GROUP BY a.family, wk
            UNION ALL
            SELECT 'brand', a.brand, wk, sum(y) FROM sk JOIN attributes a USING (id)
            WHERE a.brand IS NOT NULL GROUP BY a.brand, wk
            UNION ALL
            SELECT 'channel', c.channel, wk, sum(y) FROM cs JOIN channel_ids c USING (ch)
            GROUP BY c.channel, wk
        ),
        -- Each week's bucket: the first cut at or after it (weeks after every cut: none).
        buckets AS (
            SELECT w.s, min(c.cut) AS cut
            FROM (SELECT unnest(generate_series(
                      (SELECT min(wk) FROM cs), (SELECT max(cut) FROM cuts))) AS s) w
            JOIN cuts c ON c.cut >= w.s
            GROUP BY w.s
        ),
        scoped_bounds AS (
            SELECT level, value, min(wk) AS first, max(wk) AS last FROM scoped GROUP BY ALL
        ),
        sk_bounds AS (
            SELECT b.id, b.first, b.last, (SELECT max(wk) FROM cs) AS total_last,
                   f.last AS family_last, r.last AS brand_last
            FROM (SELECT id, min(wk) AS first, max(wk) AS last FROM sk GROUP BY id) b
            JOIN attributes a USING (id)
            LEFT JOIN scoped_bounds f ON f.level = 'family' AND f.value = a.family
            LEFT JOIN scoped_bounds r ON r.level = 'brand' AND r.value = a.brand
        ),
        cs_bounds AS (
            SELECT b.id, b.ch, b.first, s.last AS channel_last
            FROM (SELECT id, ch, min(wk) AS first FROM cs GROUP BY id, ch) b
            JOIN channel_ids c USING (ch)
            JOIN scoped_bounds s ON s.level = 'channel' AND s.value = c.channel
        ),
        -- Gap sums per bucket, each only up to the last week of the scope it is scaled in.
        scoped_sums AS (
            SELECT g.level, g.value, k.cut, sum(g.gap) AS own
            FROM ({_gaps("scoped", ["level", "value"])}) g
            JOIN scoped_bounds d USING (level, value) JOIN buckets k ON k.s = g.s
            WHERE g.s >= d.first + $season AND g.s <= d.last
            GROUP BY ALL
        ),
        sk_sums AS (
            SELECT g.id, k.cut,
                   sum(g.gap) FILTER (WHERE g.s <= d.last) AS own,
                   sum(g.gap) FILTER (WHERE g.s <= d.total_last) AS in_total,
                   sum(g.gap) FILTER (WHERE g.s <= d.family_last) AS in_family,
                   sum(g.gap) FILTER (WHERE g.s <= d.brand_last) AS in_brand
            FROM ({_gaps("sk", ["id"])}) g
            JOIN sk_bounds d USING (id) JOIN buckets k ON k.s = g.s
            WHERE g.s >= d.first + $season
            GROUP BY ALL
        ),
        cs_sums AS (
            SELECT g.id, g.ch, k.cut, sum(g.gap) AS in_channel
            FROM ({_gaps("cs", ["id", "ch"])}) g
            JOIN cs_bounds d USING (id, ch) JOIN buckets k ON k.s = g.s
            WHERE g.s >= d.first + $season AND g.s <= d.channel_last
            GROUP BY ALL
        ),
        -- Running sums up to each cut.
        scoped_running AS (
            SELECT d.*, c.cut, sum(coalesce(s.own, 0)) OVER w AS own
            FROM scoped_bounds d CROSS JOIN cuts c
            LEFT JOIN scoped_sums s
              ON s.level = d.level AND s.value = d.value AND s.cut = c.cut
            WINDOW w AS (PARTITION BY d.level, d.value ORDER BY c.cut)
        ),
        sk_running AS (
            SELECT d.*, c.cut,
                   sum(coalesce(s.own, 0)) OVER w AS own,
                   sum(coalesce(s.in_total, 0)) OVER w AS in_total,
                   sum(coalesce(s.in_family, 0)) OVER w AS in_family,
                   sum(coalesce(s.in_brand, 0)) OVER w AS in_brand
            FROM sk_bounds d CROSS JOIN cuts c
            LEFT JOIN sk_sums s ON s.id = d.id AND s.cut = c.cut
            WINDOW w AS (PARTITION BY d.id ORDER BY c.cut)
        ),
        cs_running AS (
            SELECT d.*, c.cut, sum(coalesce(s.in_channel, 0)) OVER w AS in_channel
            FROM cs_bounds d CROSS JOIN cuts c
            LEFT JOIN cs_sums s ON s.id = d.id AND s.ch = d.ch AND s.cut = c.cut
            WINDOW w AS (PARTITION BY d.id, d.ch ORDER BY c.cut)
        )
        SELECT r.level, r.value, NULL AS sku, o.origin,
               {_scale("r.own", "r.last")} AS scale,
               NULL AS family, NULL AS brand,
               NULL::DOUBLE AS in_total, NULL::DOUBLE AS in_family, NULL::DOUBLE AS in_brand
        FROM scoped_running r JOIN origins o USING (cut)
        UNION ALL
        SELECT 'sku', a.sku, NULL, o.origin, {_scale("r.own", "r.last")},
               a.family, a.brand,
               {_scale("r.in_total", "r.total_last")},
               {_scale("r.in_family", "r.family_last")},
               {_scale("r.in_brand", "r.brand_last")}
        FROM sk_running r JOIN origins o USING (cut) JOIN attributes a USING (id)
        UNION ALL
        SELECT 'channel', c.channel, a.sku, o.origin,
               {_scale("r.in_channel", "r.channel_last")}, NULL, NULL, NULL, NULL, NULL
        FROM cs_running r JOIN origins o USING (cut) JOIN attributes a USING (id)
        JOIN channel_ids c USING (ch)
        WHERE {_scale("r.in_channel", "r.channel_last")} IS NOT NULL
        """,
        {"origins": list(origins), "season": season, "start": _GRID_START},
    ).df()
