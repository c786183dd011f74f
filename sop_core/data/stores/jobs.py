"""Jobs: long work recorded in the database (kind, parameters, who started it, state,
progress, start and end, error), so it outlives the tab and the process that started it.

A job is ``active`` while queued or running: its ``active_key`` (kind and parameters) is then
set, and unique, so the same job cannot be started twice; it is cleared when the job ends.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

ACTIVE = ("queued", "running")
_COLUMNS = (
    "job_id, kind, parameters, started_by, state, progress, message, started_at, "
    "finished_at, error, result, pid, process_token, attempts"
)


@dataclass(frozen=True)
class Job:
    """One row of ``jobs``."""

    job_id: int
    kind: str
    parameters: str
    started_by: str
    state: str
    progress: float
    message: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    error: str | None
    result: str | None
    pid: int | None
    process_token: str | None
    attempts: int

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


def _jobs(rows: list[tuple]) -> list[Job]:
    return [Job(*row) for row in rows]


def insert_job(
    con: duckdb.DuckDBPyConnection, kind: str, parameters: str, started_by: str, key: str
) -> int:
    """Record a queued job; raises ``duckdb.ConstraintException`` when the same one (``key``)
    is already queued or running."""
    (job_id,) = con.execute(
        "INSERT INTO jobs (kind, parameters, started_by, state, active_key) "
        "VALUES (?, ?, ?, 'queued', ?) RETURNING job_id",
        [kind, parameters, started_by, key],
    ).fetchone()
    return int(job_id)


def active_job(con: duckdb.DuckDBPyConnection, key: str) -> Job | None:
    """The queued or running job with this kind and parameters, if any."""
    rows = con.execute(f"SELECT {_COLUMNS} FROM jobs WHERE active_key = ?", [key]).fetchall()
    return _jobs(rows)[0] if rows else None


def job(con: duckdb.DuckDBPyConnection, job_id: int) -> Job | None:
    """Job ``job_id`` (None when there is no such job)."""
    rows = con.execute(f"SELECT {_COLUMNS} FROM jobs WHERE job_id = ?", [job_id]).fetchall()
    return _jobs(rows)[0] if rows else None


def list_jobs(
    con: duckdb.DuckDBPyConnection, *, active_only: bool = False, limit: int = 100
) -> list[Job]:
    """The newest jobs first (only queued and running ones with ``active_only``)."""
    where = "WHERE state IN ('queued', 'running') " if active_only else ""
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM jobs {where}ORDER BY job_id DESC LIMIT ?", [limit]
    ).fetchall()
    return _jobs(rows)


def latest_done(con: duckdb.DuckDBPyConnection, kind: str, parameters: str) -> Job | None:
    """The newest job of ``kind`` with exactly these ``parameters`` (their canonical JSON)
    that ended done, if any: what it made is the latest of its kind."""
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM jobs WHERE kind = ? AND parameters = ? AND state = 'done' "
        "ORDER BY job_id DESC LIMIT 1",
        [kind, parameters],
    ).fetchall()
    return _jobs(rows)[0] if rows else None


def set_process(
    con: duckdb.DuckDBPyConnection, job_id: int, pid: int | None, token: str | None
) -> None:
    """Record the process that will run (or now runs) an active job."""
    con.execute(
        "UPDATE jobs SET pid = ?, process_token = ? WHERE job_id = ? AND active_key IS NOT NULL",
        [pid, token, job_id],
    )


def take_up(con: duckdb.DuckDBPyConnection, job_id: int, pid: int, token: str | None) -> None:
    """Count one more attempt at an active job, launched (and answered for until its worker
    runs) by process ``pid``."""
    con.execute(
        "UPDATE jobs SET pid = ?, process_token = ?, attempts = attempts + 1 "
        "WHERE job_id = ? AND active_key IS NOT NULL",
        [pid, token, job_id],
    )


def claim(con: duckdb.DuckDBPyConnection, job_id: int, pid: int, token: str) -> bool:
    """Mark an active job running in process ``pid``; False when it is no longer active."""
    done = con.execute(
        "UPDATE jobs SET state = 'running', pid = ?, process_token = ?, error = NULL "
        "WHERE job_id = ? AND active_key IS NOT NULL RETURNING job_id",
        [pid, token, job_id],
    ).fetchall()
    return bool(done)


def finish(
    con: duckdb.DuckDBPyConnection,
    job_id: int,
    state: str,
    *,
    message: str | None = None,
    error: str | None = None,
    result: str | None = None,
    progress: float | None = None,
) -> None:
    """End a job as ``done`` or ``failed``: its key is freed, so it can be started again."""
    con.execute(
        "UPDATE jobs SET state = ?, active_key = NULL, finished_at = current_timestamp, "
        "message = coalesce(?, message), error = ?, result = ?, "
        "progress = coalesce(?, progress) WHERE job_id = ?",
        [
            state,
            message,
            error,
            result,
            None if progress is None else min(max(progress, 0.0), 1.0),
            job_id,
        ],
    )
