"""The one way to reach the database file: open, do one unit of work, close.

DuckDB lets one process hold a file for writing, and while it does no other process can open it
at all. The dashboard and a scheduled ``forecast`` or ``import`` must share the file, so no
process keeps it open between units of work. Opening retries with backoff while another process
holds the lock, tells the caller what it is waiting for, and gives up with a clear message.

A DuckDB connection is not thread-safe: every unit of work opens its own connection, so
Streamlit's session threads never share one.

A process killed inside a big write (an import stopped half-way) leaves the blocks it wrote past
the end of the file: DuckDB never truncates them, so the file stays bigger than its data.
``wasted_bytes`` measures that tail and ``reclaim_space`` gives it back by rewriting the
database; ``transaction`` and a finished import do so by themselves when the waste is large.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from sop_core.data import schema, settings
from sop_core.data.errors import (
    ConflictError,
    DatabaseBusyError,
    DatabaseMissingError,
    ForeignDatabaseError,
    SopError,
)

WaitCallback = Callable[[str, float], None]
"""Called as ``on_wait(message, seconds_waited)`` while another process holds the file."""

# Only a lock held by another process counts as "busy"; other lock failures (a file system
# without locking, say) are real errors and must not be waited on.
_LOCK_PATTERN = re.compile(r"Conflicting lock is held", re.IGNORECASE)
_PID_PATTERN = re.compile(r"\(PID (\d+)\)")


def is_lock_error(error: BaseException) -> bool:
    """True when ``error`` says another process holds the database file."""
    return isinstance(error, duckdb.Error) and bool(_LOCK_PATTERN.search(str(error)))


def busy_message(path: Path | str, error: BaseException | None = None) -> str:
    """A planner-readable sentence about who holds the file."""
    holder = "another program"
    if error is not None and (match := _PID_PATTERN.search(str(error))):
        holder = f"another program (process {match.group(1)})"
    return (
        f"The database {Path(path).name} is in use by {holder}, probably a scheduled forecast "
        "refresh or a data import."
    )


def _open(path: Path, timeout: float, on_wait: WaitCallback | None) -> duckdb.DuckDBPyConnection:
    started = time.monotonic()
    delay = 0.02
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.Error as error:
            if not is_lock_error(error):
                raise
            waited = time.monotonic() - started
            if waited >= timeout:
                raise DatabaseBusyError(
                    f"{busy_message(path, error)} Waited {waited:.0f} s; try again when it "
                    "has finished."
                ) from None
            if on_wait is not None:
                on_wait(f"{busy_message(path, error)} Waiting for it to finish...", waited)
            time.sleep(min(delay, max(0.0, timeout - waited)))
            delay = min(delay * 1.6, 0.5)


@contextmanager
def connect(
    path: Path | str,
    *,
    create: bool = False,
    timeout: float | None = None,
    on_wait: WaitCallback | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the database for one unit of work and close it afterwards.

    Parameters
    ----------
    path
        The DuckDB file.
    create
        Create the file when it does not exist; otherwise a missing file raises
        ``DatabaseMissingError`` (DuckDB would silently create an empty one).
    timeout
        Seconds to keep retrying while another process holds the file; defaults to the
        ``SOP_LOCK_TIMEOUT`` setting.
    on_wait
        Told what we are waiting for, on every retry.
    """
    con = open_connection(path, create=create, timeout=timeout, on_wait=on_wait)
    try:
        yield con
    finally:
        con.close()


def open_connection(
    path: Path | str,
    *,
    create: bool = False,
    timeout: float | None = None,
    on_wait: WaitCallback | None = None,
    ours_only: bool = True,
) -> duckdb.DuckDBPyConnection:
    """Open the database (same rules as ``connect``); the caller must close it soon.

    ``ours_only=False`` opens another program's database too: only to hold its lock while
    ``init --force`` replaces it, as asked.
    """
    path = Path(path)
    existed = path.exists()
    if not create and not existed:
        raise DatabaseMissingError(f"There is no database at {path}.")
    wait = settings.lock_timeout() if timeout is None else timeout
    con = _open(path, wait, on_wait)
    try:
        # Checked before anything is written: another program's database (or an empty one
        # we did not create) is refused as it is, never migrated into ours.
        new = not existed and schema.is_empty(con)
        if ours_only and not new and not schema.is_ours(con):
            raise ForeignDatabaseError(foreign_message(path))
    except BaseException:
        con.close()
        raise
    return con


def foreign_message(path: Path | str) -> str:
    """The one line for a DuckDB file that is not one of ours."""
    return (
        f"{Path(path).name} is not an S&OP dashboard database; create one with "
        f"`python -m sop_core init --db {path}`."
    )


@contextmanager
def transaction(
    path: Path | str,
    *,
    create: bool = False,
    timeout: float | None = None,
    on_wait: WaitCallback | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the database and run the block in one transaction: all of it lands, or none.

    A file left much bigger than its data by an interrupted write is first rewritten to its
    size (``reclaim_space``): the write lock is ours anyway."""
    con = open_connection(path, create=create, timeout=timeout, on_wait=on_wait)
    try:
        con = _reclaimed_if_wasteful(con, Path(path), timeout, on_wait)
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
            con.execute("COMMIT")
        except duckdb.TransactionException as error:
            _rollback(con)
            if "conflict" in str(error).lower():
                raise ConflictError(
                    "Someone else changed the same records at the same moment; nothing of "
                    "yours was written. Reload and try again."
                ) from error
            raise
        except BaseException:
            _rollback(con)
            raise
    finally:
        con.close()


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    # A failed commit has already ended the transaction.
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def query_frame(
    path: Path | str,
    sql: str,
    parameters: Sequence[Any] | dict[str, Any] | None = None,
    *,
    timeout: float | None = None,
    on_wait: WaitCallback | None = None,
) -> pd.DataFrame:
    """Run one parameterised query in its own unit of work and return the rows as a frame."""
    with connect(path, timeout=timeout, on_wait=on_wait) as con:
        return con.execute(sql, parameters or []).df()


def ensure_schema(
    path: Path | str, *, timeout: float | None = None, on_wait: WaitCallback | None = None
) -> list[int]:
    """Create or upgrade the schema of ``path`` (creating the file); return versions applied."""
    with connect(path, create=True, timeout=timeout, on_wait=on_wait) as con:
        return schema.migrate(con)


def data_version(path: Path | str) -> tuple[int, int]:
    """A token that changes whenever the file changes: use it in cache keys."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return (0, 0)
    wal = Path(f"{path}.wal")
    wal_stamp = wal.stat().st_mtime_ns if wal.exists() else 0
    return (max(stat.st_mtime_ns, wal_stamp), stat.st_size)


def wait_until_free(
    path: Path | str, *, timeout: float | None = None, on_wait: WaitCallback | None = None
) -> None:
    """Block until no other process holds ``path`` (or raise ``DatabaseBusyError``)."""
    with connect(path, timeout=timeout, on_wait=on_wait):
        pass


def insert_row(
    con: duckdb.DuckDBPyConnection, table: str, row: dict[str, Any], returning: str
) -> Any:
    """Insert one row (column -> value, values bound) into ``table`` and return its
    ``returning`` column (a generated id). Table and column names come from code."""
    columns = ", ".join(f'"{c}"' for c in row)
    marks = ", ".join("?" for _ in row)
    return con.execute(
        f'INSERT INTO "{table}" ({columns}) VALUES ({marks}) RETURNING "{returning}"',
        list(row.values()),
    ).fetchall()[0][0]


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Insert a frame's rows into ``table``, columns matched by name (an empty frame is a
    no-op). The table name comes from code, never from a user."""
    if frame.empty:
        return
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    con.register("incoming_frame", frame)
    try:
        con.execute(f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM incoming_frame')
    finally:
        # After a failed insert the transaction is aborted and unregistering fails too: the
        # insert's own error is the one to report.
        with contextlib.suppress(duckdb.Error):
            con.unregister("incoming_frame")


# --- space left behind by interrupted writes ----------------------------------------------------

# Rewrite automatically only when the waste is both above 8 MB and above half the data: a
# rewrite reads and writes the whole database while holding the write lock (seconds for a big
# one), so a small absolute gain is never worth that pause, and on a big database a waste that
# is small next to its data (ordinary slack) is not worth it either. An interrupted import of a
# few hundred thousand rows, the case seen growing a 9 MB file to 24 MB, passes both.
RECLAIM_MIN_BYTES = 8 * 1024 * 1024
RECLAIM_MIN_SHARE = 0.5


def temporary_name(path: Path | str) -> Path:
    """A hidden file next to ``path``, named after this process, for a database written
    before it is moved into place. ``sample.remove_leftover_temporaries`` removes the ones a
    killed process leaves (it reads the process id back from this pattern)."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{time.monotonic_ns()}")


def _sizes(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[int, int]:
    """(wasted bytes, bytes the database uses) of the open database at ``path``: the file's
    size minus its blocks (``total_blocks`` x ``block_size``), the WAL not counted."""
    block_size, total_blocks = con.execute(
        "SELECT block_size, total_blocks FROM pragma_database_size() "
        "WHERE database_name = current_database()"
    ).fetchone()
    used = int(block_size) * int(total_blocks)
    return max(0, os.stat(path).st_size - used), used


def _worth_reclaiming(wasted: int, used: int) -> bool:
    return wasted > RECLAIM_MIN_BYTES and wasted > RECLAIM_MIN_SHARE * used


def wasted_bytes(
    path: Path | str, *, timeout: float | None = None, on_wait: WaitCallback | None = None
) -> int:
    """Bytes of ``path`` holding no data (left by a write that never committed)."""
    with connect(path, timeout=timeout, on_wait=on_wait) as con:
        return _sizes(con, Path(path))[0]


def wasted_bytes_open(con: duckdb.DuckDBPyConnection, path: Path | str) -> int:
    """``wasted_bytes`` for a database the caller already has open as ``con``."""
    return _sizes(con, Path(path))[0]


def reclaim_space(
    path: Path | str, *, timeout: float | None = None, on_wait: WaitCallback | None = None
) -> int:
    """Rewrite ``path`` without its wasted space, at any size; return the bytes given back.

    The database is copied (``COPY FROM DATABASE``) into a hidden file next to it and moved
    over it (``os.replace``) while its write lock is held. Any failure (a full disk, say)
    leaves the original as it was and no copy behind, and raises a ``SopError``."""
    path = Path(path)
    with connect(path, timeout=timeout, on_wait=on_wait) as con:
        before = os.stat(path).st_size
        _rewrite(con, path)
    return max(0, before - os.stat(path).st_size)


def reclaim_if_wasteful(
    path: Path | str, *, timeout: float | None = None, on_wait: WaitCallback | None = None
) -> int:
    """``reclaim_space`` when the waste passes the thresholds above; return the bytes given
    back (0 when not worth it or when it could not be done: nothing is lost either way)."""
    path = Path(path)
    try:
        con = open_connection(path, timeout=timeout, on_wait=on_wait)
    except (SopError, duckdb.Error, OSError):
        return 0
    try:
        before = os.stat(path).st_size
        con = _reclaimed_if_wasteful(con, path, timeout, on_wait, reopen=False)
    finally:
        con.close()
    return max(0, before - os.stat(path).st_size)


def _reclaimed_if_wasteful(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    timeout: float | None,
    on_wait: WaitCallback | None,
    *,
    reopen: bool = True,
) -> duckdb.DuckDBPyConnection:
    """``con`` itself, or after a rewrite of its file a connection to the new file."""
    try:
        if not _worth_reclaiming(*_sizes(con, path)):
            return con
        _rewrite(con, path)
    except (SopError, duckdb.Error, OSError):
        return con  # the original is untouched: go on with it, bigger than it needs to be
    if not reopen:
        return con
    con.close()
    return open_connection(path, timeout=timeout, on_wait=on_wait)


def _rewrite(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Copy the database ``con`` holds (and locks) into a new file and move it over ``path``."""
    temporary = temporary_name(path)
    try:
        con.execute("CHECKPOINT")
        source = con.execute("SELECT current_database()").fetchone()[0]
        con.execute("ATTACH ? AS sop_reclaimed", [str(temporary)])
        try:
            quoted = '"' + source.replace('"', '""') + '"'
            con.execute(f"COPY FROM DATABASE {quoted} TO sop_reclaimed")
        finally:
            with contextlib.suppress(duckdb.Error):
                con.execute("DETACH sop_reclaimed")
        shutil.copymode(path, temporary)
        # The old file's lock is still ours: nobody is inside it (or its WAL) while it is
        # replaced; the CHECKPOINT above left nothing in the WAL.
        Path(f"{path}.wal").unlink(missing_ok=True)
        os.replace(temporary, path)
    except (duckdb.Error, OSError) as error:
        raise SopError(
            f"Could not give back the unused space of {path.name} ({_first_line(error)}); "
            "the database is unchanged."
        ) from error
    finally:
        temporary.unlink(missing_ok=True)
        Path(f"{temporary}.wal").unlink(missing_ok=True)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
