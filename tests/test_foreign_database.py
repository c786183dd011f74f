"""A DuckDB file that is not ours is refused by every command and the app, and left as it was:
no table of ours is written into it, no migration runs on it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from sop_core.data import db
from sop_core.data.errors import ForeignDatabaseError
from tests.helpers import run_cli


def foreign_database(folder: Path) -> Path:
    """Another program's DuckDB file: one table of its own, and a ``schema_version`` table of
    its own too (a common name), which must not pass for ours."""
    path = folder / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE invoices (invoice_id INTEGER PRIMARY KEY, amount DOUBLE)")
    con.execute("INSERT INTO invoices VALUES (1, 9.5), (2, 12.0)")
    con.execute("CREATE TABLE schema_version (version INTEGER)")
    con.execute("INSERT INTO schema_version VALUES (7)")
    con.close()
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tables(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return sorted(row[0] for row in con.execute("SHOW TABLES").fetchall())
    finally:
        con.close()


@pytest.fixture()
def sales_file(tmp_path: Path) -> Path:
    path = tmp_path / "sales.csv"
    path.write_text("week,sku,channel,units\n2026-11-23,SKU-001,retail,5\n")
    return path


COMMANDS = {
    "forecast": ["forecast", "--force", "--quiet"],
    "import": ["import", "--table", "sales_history", "{sales}"],
    "info": ["info"],
    "export": ["export", "--table", "products", "--out", "{out}/products.csv"],
    "plan": ["plan", "--quiet"],
    "targets": ["targets", "--out", "{out}/targets.csv"],
    "pack": ["pack", "--out", "{out}", "--quiet"],
    "accuracy": ["accuracy"],
    "backtest": ["backtest", "--quiet"],
    "drivers": ["drivers"],
    "holdout": ["holdout"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_refuses_a_foreign_database(
    command: str, tmp_path: Path, sales_file: Path
) -> None:
    path = foreign_database(tmp_path)
    before, names = digest(path), tables(path)
    out = tmp_path / "out"
    out.mkdir()
    first, *rest = COMMANDS[command]
    rest = [a.format(sales=sales_file, out=out) for a in rest]
    result = run_cli(first, "--db", str(path), *rest)
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"error: other.duckdb is not an S&OP dashboard database; create one with "
        f"`python -m sop_core init --db {path}`."
    ], result.stderr
    assert digest(path) == before
    assert tables(path) == names == ["invoices", "schema_version"]
    assert not list(out.iterdir())
    assert not Path(f"{path}.wal").exists()


def test_the_schema_is_not_migrated_into_a_foreign_database(tmp_path: Path) -> None:
    path = foreign_database(tmp_path)
    before = digest(path)
    with pytest.raises(ForeignDatabaseError, match="not an S&OP dashboard database"):
        db.ensure_schema(path)
    with pytest.raises(ForeignDatabaseError), db.connect(path):
        pass
    assert digest(path) == before
    assert tables(path) == ["invoices", "schema_version"]


def test_an_empty_file_we_did_not_create_is_refused_and_a_new_one_is_made(tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(ForeignDatabaseError):
        db.ensure_schema(empty)
    assert tables(empty) == []
    new = tmp_path / "new.duckdb"
    assert db.ensure_schema(new)  # migrations applied to the file it created
    assert "schema_version" in tables(new)


def test_our_own_database_still_opens_and_migrates(sample_db: Path) -> None:
    assert db.ensure_schema(sample_db) == []
    with db.connect(sample_db) as con:
        assert con.execute("SELECT count(*) FROM products").fetchone()[0] > 0


def test_the_app_refuses_a_foreign_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    path = foreign_database(tmp_path)
    before = digest(path)
    monkeypatch.setenv("SOP_DB", str(path))
    root = Path(__file__).resolve().parent.parent
    app = AppTest.from_file(str(root / "app.py"), default_timeout=60).run()
    messages = [e.value for e in app.error]
    # The page shows the message as text (Markdown-escaped): compare without the escapes.
    assert any("not an S&OP dashboard database" in m.replace("\\", "") for m in messages), messages
    assert not app.exception
    assert digest(path) == before


def test_init_force_replaces_a_foreign_database_as_asked(tmp_path: Path) -> None:
    path = foreign_database(tmp_path)
    refused = run_cli("init", "--db", str(path), "--empty")
    assert refused.returncode == 1 and "already exists" in refused.stderr
    result = run_cli("init", "--db", str(path), "--empty", "--force")
    assert result.returncode == 0, result.stderr
    assert "invoices" not in tables(path) and "products" in tables(path)
