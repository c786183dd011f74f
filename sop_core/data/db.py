"""The one way to reach the database file: open, do one unit of work, close.

DuckDB lets one process hold a file for writing, and while it does no other process can open it
at all. The dashboard and a scheduled ``forecast`` or ``import`` must share the file, so no
process keeps it open between units of work. Opening retries with backoff while another process
holds the lock, tells the caller what it is waiting for, and gives up with a clear message.

A DuckDB connection is not thread-safe: every unit of work opens its own connection, so
Streamlit's session threads never share one.
"""

from __future__ import annotations

import contextlib
import os
import re
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
    """Open the database and run the block in one transaction: all of it lands, or none."""
    with connect(path, create=create, timeout=timeout, on_wait=on_wait) as con:
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
