from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from sop_core.data import schema
from sop_core.data.errors import SchemaError

ROOT = Path(__file__).resolve().parent.parent


def test_migrate_creates_every_table_and_records_the_version():
    con = duckdb.connect(":memory:")
    assert schema.migrate(con) == [m.version for m in schema.MIGRATIONS]
    assert schema.current_version(con) == schema.SCHEMA_VERSION
    tables = schema.table_columns(con)
    for required in (
        "products",
        "channels",
        "sales_history",
        "production_lines",
        "capacity_calendar",
        "production_actuals",
        "inventory",
        "promotions",
        "price_changes",
        "sample_truth",
        "schema_version",
    ):
        assert required in tables
    assert {
        "sku",
        "name",
        "family",
        "brand",
        "list_price",
        "unit_variable_cost",
        "setup_cost_per_batch",
        "standard_batch_size",
        "default_line",
        "units_per_hour",
    } <= set(tables["products"])
    assert {
        "week",
        "sku",
        "channel",
        "units",
        "net_price",
        "list_price",
        "discount_depth",
        "feature",
        "display",
    } <= set(tables["sales_history"])


def test_migrate_is_idempotent():
    con = duckdb.connect(":memory:")
    schema.migrate(con)
    assert schema.migrate(con) == []
    assert con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == len(
        schema.MIGRATIONS
    )


def test_a_failing_migration_leaves_the_database_as_it_was(monkeypatch):
    con = duckdb.connect(":memory:")
    schema.migrate(con)
    broken = schema.Migration(
        schema.SCHEMA_VERSION + 1,
        "broken",
        "CREATE TABLE half_done (x INTEGER); SELECT * FROM no_such_table;",
    )
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, broken))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", broken.version)
    with pytest.raises(duckdb.Error):
        schema.migrate(con)
    assert schema.current_version(con) == broken.version - 1
    assert "half_done" not in schema.table_columns(con)


def test_a_newer_database_is_refused_with_a_clear_message():
    con = duckdb.connect(":memory:")
    schema.migrate(con)
    con.execute("INSERT INTO schema_version VALUES (999, 'from the future', now())")
    with pytest.raises(SchemaError, match="newer than this program"):
        schema.migrate(con)


def test_constraints_reject_impossible_values():
    con = duckdb.connect(":memory:")
    schema.migrate(con)
    with pytest.raises(duckdb.ConstraintException):
        con.execute(
            "INSERT INTO sales_history (week, sku, channel, units) "
            "VALUES ('2026-01-05', 'A', 'retail', -5)"
        )
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO production_lines VALUES ('L', 'P', 'n', 40, 1.5, 0)")


def test_every_table_and_column_is_in_the_data_dictionary():
    con = duckdb.connect(":memory:")
    schema.migrate(con)
    live = schema.table_columns(con)
    documented = {table: set(columns) for table, (_, columns) in schema.DATA_DICTIONARY.items()}
    assert set(live) == set(documented)
    for table, columns in live.items():
        assert set(columns) == documented[table], f"{table} columns and dictionary differ"


def test_the_committed_data_dictionary_is_current():
    committed = (ROOT / "docs" / "DATA_DICTIONARY.md").read_text(encoding="utf-8")
    assert committed == schema.dictionary_markdown(), (
        "docs/DATA_DICTIONARY.md is stale: run python -m sop_core dictionary"
    )
