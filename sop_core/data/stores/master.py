"""What the database holds: rows per table and the company's facts (catalogue, channels,
history range).
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from sop_core.data import schema
from sop_core.data.fiscal import FiscalCalendar


def table_row_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rows per table, in data dictionary order (tables not in it follow)."""
    live = schema.table_columns(con)
    order = [t for t in schema.DATA_DICTIONARY if t in live] + sorted(
        t for t in live if t not in schema.DATA_DICTIONARY
    )
    counts = [con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in order]
    return pd.DataFrame({"table": order, "rows": counts})


def company_settings(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The company's settings (``company_name`` and ``currency`` always there)."""
    settings: dict[str, Any] = dict(
        con.execute("SELECT key, value FROM company_settings").fetchall()
    )
    settings.setdefault("company_name", "Your company")
    settings.setdefault("currency", "EUR")
    return settings


def fiscal_calendar(con: duckdb.DuckDBPyConnection) -> FiscalCalendar:
    """The company's fiscal calendar (calendar months from January until one is set)."""
    return FiscalCalendar.from_settings(company_settings(con))


def set_fiscal_calendar(con: duckdb.DuckDBPyConnection, calendar: FiscalCalendar) -> None:
    """Keep ``calendar`` as the company's fiscal calendar (in the caller's transaction)."""
    con.executemany(
        "INSERT OR REPLACE INTO company_settings (key, value) VALUES (?, ?)",
        list(calendar.settings().items()),
    )


def set_company_setting(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    """Keep one company setting (in the caller's transaction)."""
    con.execute("INSERT OR REPLACE INTO company_settings (key, value) VALUES (?, ?)", [key, value])


def company_facts(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Company settings plus the history's range and size."""
    facts = company_settings(con)
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
    return facts
