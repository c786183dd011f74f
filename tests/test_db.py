from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest

from sop_core.data import db
from sop_core.data.errors import DatabaseBusyError, DatabaseMissingError
from tests.helpers import hold_lock, release


def test_a_missing_database_is_not_silently_created(tmp_path: Path):
    with (
        pytest.raises(DatabaseMissingError, match="no database"),
        db.connect(tmp_path / "absent.duckdb"),
    ):
        pass
    assert not (tmp_path / "absent.duckdb").exists()


@pytest.mark.slow
def test_waits_for_another_process_then_proceeds(sample_db: Path):
    holder = hold_lock(sample_db, None)
    waits = []

    def waiting(message: str, seconds: float) -> None:
        waits.append(message)
        release(holder)  # told it waits: now let it in

    with db.connect(sample_db, timeout=60, on_wait=waiting) as con:
        assert con.execute("SELECT count(*) FROM products").fetchone()[0] == 40
    holder.wait(timeout=60)
    assert waits, "the caller was never told it was waiting"
    assert "in use by another program (process" in waits[0]


def test_gives_up_with_a_clear_message(sample_db: Path):
    holder = hold_lock(sample_db, 5)
    try:
        with (
            pytest.raises(DatabaseBusyError, match="probably a scheduled forecast"),
            db.connect(sample_db, timeout=0.3),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_no_connection_is_kept_open_between_units_of_work(sample_db: Path):
    db.query_frame(sample_db, "SELECT count(*) FROM products")
    # Another process can take the file for writing at once.
    holder = hold_lock(sample_db, 0.1)
    holder.wait(timeout=10)
    assert holder.returncode == 0


def test_transaction_is_all_or_nothing(sample_db: Path):
    with pytest.raises(duckdb.ConstraintException), db.transaction(sample_db) as con:
        con.execute("INSERT INTO channels VALUES ('wholesale', 'Wholesale', NULL)")
        con.execute("INSERT INTO channels VALUES ('retail', 'Duplicate', NULL)")
    channels = db.query_frame(sample_db, "SELECT channel FROM channels")["channel"]
    assert "wholesale" not in set(channels)


def test_parameters_keep_sql_in_names_as_data(sample_db: Path):
    nasty = "x'); DROP TABLE products; --"
    with db.transaction(sample_db) as con:
        con.execute("INSERT INTO channels VALUES (?, ?, NULL)", [nasty, nasty])
    frame = db.query_frame(sample_db, "SELECT name FROM channels WHERE channel = ?", [nasty])
    assert frame["name"].tolist() == [nasty]
    assert db.query_frame(sample_db, "SELECT count(*) AS n FROM products")["n"][0] == 40


def test_many_threads_read_at_once(sample_db: Path):
    errors, totals = [], []

    def work():
        try:
            for _ in range(10):
                frame = db.query_frame(sample_db, "SELECT sum(units) AS u FROM sales_history")
                totals.append(float(frame["u"][0]))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(totals) == 80 and len(set(totals)) == 1


def test_data_version_changes_on_write_not_on_read(sample_db: Path):
    before = db.data_version(sample_db)
    db.query_frame(sample_db, "SELECT count(*) FROM products")
    assert db.data_version(sample_db) == before
    with db.transaction(sample_db) as con:
        con.execute("UPDATE products SET list_price = list_price + 1 WHERE sku = 'SKN-0001'")
    assert db.data_version(sample_db) != before
