"""The database file gives back the space an interrupted write leaves in it (issue 24, item 8).

A process killed inside a big uncommitted insert leaves the blocks it wrote past the end of the
file; DuckDB never truncates them (reopening and ``CHECKPOINT`` do not help). The next write
transaction rewrites the file when that waste is large; ``db.reclaim_space`` does it on demand.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sop_core.data import db
from sop_core.data.errors import SopError
from sop_core.data.stores import master
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent

# Inserts millions of rows in one transaction, says so, and waits to be killed before COMMIT.
KILLED_WRITER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from sop_core.data import db
with db.transaction(sys.argv[2]) as con:
    con.execute("CREATE TABLE interrupted_import AS SELECT range AS id, random() AS x, "
                "md5(range::VARCHAR) AS label FROM range(3000000)")
    print("inserted", flush=True)
    time.sleep(120)
"""


def _row_counts(path: Path) -> dict[str, int]:
    with db.connect(path) as con:
        counts = master.table_row_counts(con)
    return dict(zip(counts["table"], (int(n) for n in counts["rows"]), strict=True))


def _kill_inside_a_big_insert(path: Path) -> None:
    """Run the writer until it says its rows are in, then SIGKILL it. A writer that ends
    before saying so (on a loaded machine: out of memory, or a lock it waited on too long) is
    started once more; its error output is in the failure message if it ends so twice."""
    errors = []
    for _attempt in range(2):
        writer = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, str(ROOT), str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            said = []
            for line in writer.stdout:  # blocks until the rows are in, not committed
                if line.strip() == "inserted":
                    os.kill(writer.pid, signal.SIGKILL)
                    writer.wait()  # a killed process ends; on a loaded machine it may take a while
                    return
                said.append(line)  # anything else it prints (a wait for the lock) is not it
            writer.wait()  # its output ended: it is ending
            errors.append(f"exit {writer.returncode}: {said!r} {writer.stderr.read()[-2000:]}")
        finally:
            if writer.poll() is None:
                writer.kill()
                writer.wait(timeout=30)
            writer.stdout.close()
            writer.stderr.close()
    raise AssertionError("the writer ended before its rows were in:\n" + "\n".join(errors))


@pytest.fixture
def grown_db(sample_db: Path) -> tuple[Path, int, dict[str, int]]:
    """The sample database after a writer was killed inside a big insert; its size and row
    counts from before."""
    size = sample_db.stat().st_size
    counts = _row_counts(sample_db)
    _kill_inside_a_big_insert(sample_db)
    grown = sample_db.stat().st_size
    print(f"before {size / 1e6:.1f} MB, after the killed insert {grown / 1e6:.1f} MB")
    assert grown > size + db.RECLAIM_MIN_BYTES, (size, grown)
    assert db.wasted_bytes(sample_db) > db.RECLAIM_MIN_BYTES
    return sample_db, size, counts


def _assert_back_to_size(path: Path, size: int, counts: dict[str, int]) -> None:
    print(f"after the reclaim {path.stat().st_size / 1e6:.1f} MB")
    assert path.stat().st_size <= size * 1.1, (size, path.stat().st_size)
    assert _row_counts(path) == counts
    assert "interrupted_import" not in counts
    assert db.wasted_bytes(path) < 1_000_000
    assert not list(path.parent.glob(f".{path.name}.tmp-*"))


@pytest.mark.slow
def test_the_next_write_transaction_gives_the_space_back(grown_db):
    path, size, counts = grown_db
    with db.transaction(path) as con:
        assert con.execute("SELECT count(*) FROM products").fetchone()[0] == counts["products"]
    _assert_back_to_size(path, size, counts)
    # the rewritten file is still ours and writable
    with db.transaction(path) as con:
        con.execute("CHECKPOINT")


@pytest.mark.slow
def test_info_reports_the_waste_and_reclaim_gives_it_back(grown_db):
    path, size, counts = grown_db
    info = json.loads(run_cli("info", "--db", str(path), "--json").stdout)
    assert info["wasted_mb"] > db.RECLAIM_MIN_BYTES / 1e6
    assert set(info) >= {"tables", "schema_version", "history_first_week", "history_last_week"}
    info = json.loads(run_cli("info", "--db", str(path), "--json", "--reclaim").stdout)
    assert info["wasted_mb"] < 1
    _assert_back_to_size(path, size, counts)


def test_a_small_waste_is_left_alone_by_transactions(sample_db: Path):
    # below the thresholds a transaction does not pay for a rewrite
    with open(sample_db, "ab") as file:
        file.write(b"\0" * 1_000_000)
    size = sample_db.stat().st_size
    with db.transaction(sample_db):
        pass
    assert sample_db.stat().st_size == size
    assert db.reclaim_space(sample_db) >= 1_000_000


def test_a_failed_reclaim_leaves_the_database_and_no_copy(sample_db: Path, monkeypatch):
    with open(sample_db, "ab") as file:
        file.write(b"\0" * 1_000_000)
    size = sample_db.stat().st_size
    counts = _row_counts(sample_db)
    # a copy that cannot be written (its folder is missing: like a full disk, it fails mid-way)
    monkeypatch.setattr(
        db, "temporary_name", lambda path: Path(path).parent / "missing" / "copy.duckdb"
    )
    with pytest.raises(SopError, match="the database is unchanged"):
        db.reclaim_space(sample_db)
    assert _row_counts(sample_db) == counts
    assert sample_db.stat().st_size == size
    assert sorted(p.name for p in sample_db.parent.iterdir()) == ["sop.duckdb"]
