"""Saved scenarios: their names, levers (as JSON) and versions; the promotion and price plan
files checked on their way into a scenario; the targets file a scenario writes.

Saves, renames and deletes name the version they started from (optimistic concurrency): they
land only if the stored version is still that one, and say so by returning False otherwise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from sop_core.data.importer import SHOWN_LINES


def scenario_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Saved scenario names, alphabetical."""
    return [r[0] for r in con.execute("SELECT name FROM scenarios ORDER BY name").fetchall()]


@dataclass(frozen=True)
class ScenarioRow:
    """A saved scenario as stored: its levers are the JSON ``definition``."""

    scenario_id: int
    name: str
    owner: str
    status: str
    based_on_run: int | None
    definition: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    updated_by: str


@dataclass(frozen=True)
class ScenarioStamp:
    """Who last changed a scenario, when, and the version and name that left it at."""

    version: int
    name: str
    updated_by: str
    updated_at: dt.datetime


def saved_scenarios(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every saved scenario (without its definition), newest change first."""
    return con.execute(
        "SELECT scenario_id, name, owner, status, based_on_run, version, created_at, "
        "updated_at, updated_by FROM scenarios ORDER BY updated_at DESC, name"
    ).df()


def scenario_row(con: duckdb.DuckDBPyConnection, name: str) -> ScenarioRow | None:
    """The scenario called ``name`` (None when there is none)."""
    row = con.execute(
        "SELECT scenario_id, name, owner, status, based_on_run, definition, version, "
        "created_at, updated_at, updated_by FROM scenarios WHERE name = ?",
        [name],
    ).fetchone()
    return None if row is None else ScenarioRow(*row)


def scenario_stamp(con: duckdb.DuckDBPyConnection, scenario_id: int) -> ScenarioStamp | None:
    """The last change of scenario ``scenario_id`` (None when it was deleted)."""
    row = con.execute(
        "SELECT version, name, updated_by, updated_at FROM scenarios WHERE scenario_id = ?",
        [scenario_id],
    ).fetchone()
    return None if row is None else ScenarioStamp(*row)


def scenario_name_taken(
    con: duckdb.DuckDBPyConnection, name: str, other_than: int | None = None
) -> bool:
    """Whether a scenario (other than scenario ``other_than``) is called ``name``."""
    if other_than is None:
        row = con.execute("SELECT 1 FROM scenarios WHERE name = ?", [name]).fetchone()
    else:
        row = con.execute(
            "SELECT 1 FROM scenarios WHERE name = ? AND scenario_id <> ?", [name, other_than]
        ).fetchone()
    return row is not None


def insert_scenario(
    con: duckdb.DuckDBPyConnection,
    name: str,
    owner: str,
    status: str,
    based_on_run: int | None,
    definition: str,
) -> None:
    """Add a scenario at version 1 (a name in use raises ``duckdb.ConstraintException``)."""
    con.execute(
        "INSERT INTO scenarios (name, owner, status, based_on_run, definition, "
        "updated_by) VALUES (?, ?, ?, ?, ?, ?)",
        [name, owner, status, based_on_run, definition, owner],
    )


def update_scenario(
    con: duckdb.DuckDBPyConnection,
    scenario_id: int,
    expected_version: int,
    definition: str,
    status: str,
    based_on_run: int | None,
    user: str,
) -> bool:
    """Save a scenario's definition, status and run as its next version, if it is still at
    ``expected_version``; False (and nothing written) when it is not."""
    updated = con.execute(
        "UPDATE scenarios SET definition = ?, status = ?, based_on_run = ?, "
        "version = version + 1, updated_at = current_timestamp, updated_by = ? "
        "WHERE scenario_id = ? AND version = ? RETURNING version",
        [definition, status, based_on_run, user, scenario_id, expected_version],
    ).fetchall()
    return bool(updated)


def rename_scenario_row(
    con: duckdb.DuckDBPyConnection,
    scenario_id: int,
    expected_version: int,
    new_name: str,
    user: str,
) -> bool:
    """Rename a scenario as its next version, if it is still at ``expected_version``; False
    when it is not (a name in use raises ``duckdb.ConstraintException``)."""
    updated = con.execute(
        "UPDATE scenarios SET name = ?, version = version + 1, "
        "updated_at = current_timestamp, updated_by = ? "
        "WHERE scenario_id = ? AND version = ? RETURNING version",
        [new_name, user, scenario_id, expected_version],
    ).fetchall()
    return bool(updated)


def delete_scenario_row(
    con: duckdb.DuckDBPyConnection, scenario_id: int, expected_version: int
) -> bool:
    """Delete a scenario, if it is still at ``expected_version``; False when it is not."""
    deleted = con.execute(
        "DELETE FROM scenarios WHERE scenario_id = ? AND version = ? RETURNING scenario_id",
        [scenario_id, expected_version],
    ).fetchall()
    return bool(deleted)


def mark_scenario_approved(con: duckdb.DuckDBPyConnection, scenario_id: int, user: str) -> None:
    """Set a scenario's status to approved, as its next version."""
    con.execute(
        "UPDATE scenarios SET status = 'approved', version = version + 1, "
        "updated_at = current_timestamp, updated_by = ? WHERE scenario_id = ?",
        [user, scenario_id],
    )


# --- Plan files ---------------------------------------------------------------------------
# A promotion and price plan is read by the importer into the temporary table ``_typed`` (one
# row per file line, ``_line`` its number). ``scope_plan_rows`` gives each row its scope
# (``_scope``: its most specific non-empty column, ``sku``, ``family``, ``brand``, ``channel``,
# or ``all`` when none) and that column's value (``_target``). These checks and reads run on it
# and on the table ``_priced`` that ``price_plan_rows`` makes from it. ``scope`` arguments are
# chosen from a fixed list.

Found = tuple[int, list[int]]
"""How many rows a check found, and the first lines among them."""

_SCOPES = ("all", "sku", "family", "brand", "channel")
_KNOWN = {
    "sku": "SELECT sku FROM products",
    "family": "SELECT DISTINCT family FROM products",
    "brand": "SELECT DISTINCT brand FROM products",
    "channel": "SELECT channel FROM channels",
}
# A price change: a net price without a discount (with one, the price is the promotion's).
_PRICE_CHANGE = "price IS NOT NULL AND discount IS NULL"
# A row that says what the promotion of its SKU-weeks is (a discount, even 0, or support).
_PROMOTION = "(discount IS NOT NULL OR feature > 0 OR display > 0)"


def _scope_column(scope: str) -> str:
    if scope not in _SCOPES:
        raise ValueError(f"unknown plan scope {scope!r}")
    return scope


def _found(con: duckdb.DuckDBPyConnection, table: str, where: str) -> Found:
    count, lines = con.execute(
        f"SELECT count(*), list(_line ORDER BY _line)[1:{SHOWN_LINES}] FROM {table} WHERE {where}"
    ).fetchone()
    return int(count), [int(x) for x in lines or []]


def scope_plan_rows(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Give each row of ``_typed`` its ``_scope`` and ``_target``; the rows per scope."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _typed AS
        SELECT *,
               CASE WHEN sku IS NOT NULL THEN 'sku' WHEN family IS NOT NULL THEN 'family'
                    WHEN brand IS NOT NULL THEN 'brand' WHEN channel IS NOT NULL THEN 'channel'
                    ELSE 'all' END AS _scope,
               coalesce(sku, family, brand, channel) AS _target
        FROM _typed
        """
    )
    return dict(con.execute("SELECT _scope, count(*) FROM _typed GROUP BY _scope").fetchall())


def plan_rows_in_two_scopes(con: duckdb.DuckDBPyConnection) -> Found:
    """Plan rows with a channel and a SKU, family or brand (no lever is one SKU in one
    channel)."""
    return _found(
        con,
        "_typed",
        "channel IS NOT NULL AND (sku IS NOT NULL OR family IS NOT NULL OR brand IS NOT NULL)",
    )


def plan_rows_with_unused_column(con: duckdb.DuckDBPyConnection, scope: str, column: str) -> Found:
    """Plan rows of ``scope`` that also fill ``column`` (a less specific one, not used)."""
    return _found(
        con, "_typed", f"_scope = '{_scope_column(scope)}' AND {_scope_column(column)} IS NOT NULL"
    )


def plan_rows_unknown_scope(con: duckdb.DuckDBPyConnection, scope: str) -> Found:
    """Plan rows for a SKU, family, brand or channel the database does not know."""
    column = _scope_column(scope)
    return _found(con, "_typed", f"_scope = '{column}' AND {column} NOT IN ({_KNOWN[column]})")


def plan_rows_repeated(con: duckdb.DuckDBPyConnection, scope: str) -> Found:
    """Plan rows of ``scope`` whose week (and SKU, family, brand or channel) another row has
    too."""
    return _found(
        con,
        "_typed",
        f"_line IN (SELECT _line FROM (SELECT _line, count(*) OVER (PARTITION BY week, "
        f"_target) AS n FROM _typed WHERE _scope = '{_scope_column(scope)}') WHERE n > 1)",
    )


def plan_rows_with_price(con: duckdb.DuckDBPyConnection) -> Found:
    """Plan rows that give a net price without a SKU."""
    return _found(con, "_typed", "price IS NOT NULL AND _scope <> 'sku'")


def plan_rows_until_without_price_change(con: duckdb.DuckDBPyConnection) -> Found:
    """Plan rows with an ``until`` week that are no price change."""
    return _found(con, "_typed", f"until IS NOT NULL AND NOT ({_PRICE_CHANGE})")


def plan_rows_until_before_week(con: duckdb.DuckDBPyConnection) -> Found:
    """Plan rows whose ``until`` week comes before their week."""
    return _found(con, "_typed", "until IS NOT NULL AND until < week")


def price_plan_rows(con: duckdb.DuckDBPyConnection) -> None:
    """Make ``_priced``: the plan rows with ``list_then``, the SKU's list price in the row's
    week (price changes included; NULL on rows that are not for a SKU)."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _priced AS
        SELECT t.*, CASE WHEN t._scope = 'sku' THEN coalesce(c.list_price, p.list_price)
                    END AS list_then
        FROM _typed t
        LEFT JOIN products p ON p.sku = t.sku
        ASOF LEFT JOIN price_changes c ON c.sku = t.sku AND t.week >= c.effective_week
        """
    )


def _disagrees(tolerance: float) -> str:
    expected = "list_then * (1 - discount)"
    return (
        f"price IS NOT NULL AND discount IS NOT NULL AND abs(price - {expected}) > "
        f"greatest(0.01, {float(tolerance)!r} * {expected})"
    )


def first_price_disagreement(
    con: duckdb.DuckDBPyConnection, tolerance: float
) -> tuple[int, float, float, float] | None:
    """The first priced row whose net price is off the list price less the discount by more
    than a cent and ``tolerance`` of it: ``(line, price, list_then, discount)``."""
    return con.execute(
        f"SELECT _line, price, list_then, discount FROM _priced WHERE {_disagrees(tolerance)} "
        "ORDER BY _line LIMIT 1"
    ).fetchone()


def price_disagreements(con: duckdb.DuckDBPyConnection, tolerance: float) -> Found:
    """Priced rows whose net price is off the list price less the discount (as
    ``first_price_disagreement``)."""
    return _found(con, "_priced", _disagrees(tolerance))


def implausible_price_changes(con: duckdb.DuckDBPyConnection) -> Found:
    """Priced rows with a net price and no discount (a price change) below a tenth or above
    four times the week's list price, or without a list price."""
    return _found(
        con,
        "_priced",
        f"{_PRICE_CHANGE} AND "
        "(coalesce(list_then, 0) <= 0 OR price > 4 * list_then OR price < 0.1 * list_then)",
    )


def plan_promotions(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The rows that say what their SKU-weeks' promotion is (a discount, even 0, or
    support): ``line, week, scope, target, discount, share, feature, display``."""
    return con.execute(
        f"""
        SELECT _line AS line, week, _scope AS scope, _target AS target,
               coalesce(discount, 0) AS discount, share, feature, display
        FROM _priced WHERE {_PROMOTION}
        ORDER BY _line
        """
    ).df()


def plan_price_spans(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The plan's price changes (a net price without a discount, SKU rows), each from its
    week until the week before the SKU's next one, or its ``until`` week, whichever is first
    (none: open, ``end_week`` NULL). A span is cut where the SKU's list price changes inside
    it, so the net price holds: ``line, target, week, end_week, change`` (the change against
    each part's list price)."""
    return con.execute(
        f"""
        WITH rows AS (
            SELECT _line, sku, week, until, price,
                   lead(week) OVER (PARTITION BY sku ORDER BY week) AS next_week
            FROM _priced WHERE _scope = 'sku' AND {_PRICE_CHANGE}
        ), spans AS (
            SELECT *, CASE WHEN next_week IS NULL THEN until
                           WHEN until IS NULL THEN next_week - 7
                           ELSE least(until, next_week - 7) END AS last_week
            FROM rows
        ), starts AS (
            SELECT _line, sku, week AS start, last_week, price FROM spans
            UNION ALL
            SELECT s._line, s.sku, c.effective_week, s.last_week, s.price
            FROM spans s JOIN price_changes c ON c.sku = s.sku AND c.effective_week > s.week
                 AND (s.last_week IS NULL OR c.effective_week <= s.last_week)
        ), parts AS (
            SELECT *, lead(start) OVER (PARTITION BY _line ORDER BY start) AS next_start
            FROM starts
        )
        SELECT s._line AS line, s.sku AS target, s.start AS week,
               CASE WHEN s.next_start IS NULL THEN s.last_week ELSE s.next_start - 7 END
                   AS end_week,
               s.price / coalesce(c.list_price, p.list_price) - 1 AS change
        FROM parts s JOIN products p ON p.sku = s.sku
        ASOF LEFT JOIN price_changes c ON c.sku = s.sku AND s.start >= c.effective_week
        ORDER BY s.sku, s.start
        """
    ).df()


def plan_rows_on_calendar_promotions(con: duckdb.DuckDBPyConnection) -> Found:
    """Priced rows with a promotion or support on a week the promotions calendar already
    holds for their SKUs (and channel, for a row by channel)."""
    return _found(
        con,
        "_priced t",
        """(coalesce(discount, 0) > 0 OR feature > 0 OR display > 0) AND EXISTS (
            SELECT 1 FROM promotions c JOIN products p USING (sku)
            WHERE CASE t._scope WHEN 'sku' THEN p.sku = t.sku
                                WHEN 'family' THEN p.family = t.family
                                WHEN 'brand' THEN p.brand = t.brand ELSE TRUE END
              AND (t._scope <> 'channel' OR c.channel IS NULL OR c.channel = t.channel)
              AND t.week BETWEEN c.start_week AND c.end_week)""",
    )
