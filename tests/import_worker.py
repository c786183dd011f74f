"""One sales import in its own process, for the killed-import tests in
``tests/test_import_robustness.py``.

    python tests/import_worker.py DB FILE [--pause-at STAGE]

Prints one line per event, flushed, so the test can kill the process at a known moment:
``progress SECONDS FRACTION MESSAGE`` for the importer's own progress, ``sql SECONDS STAGE``
around the statements of the write, and ``paused STAGE`` (then sleeps for a minute) when
``--pause-at`` names the stage reached. ``done SECONDS JSON`` ends a complete run.

Stages: ``deleted`` (rows with the same key deleted, nothing inserted yet), ``inserted`` (all
rows inserted, not committed), ``committed`` (COMMIT returned; the connection, and so the
checkpoint, not yet closed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sop_core.data import (
    db,
    importer,
)

STARTED = time.monotonic()


def say(*words: object) -> None:
    print(*words, flush=True)


def elapsed() -> str:
    return f"{time.monotonic() - STARTED:.3f}"


class WatchedConnection:
    """A real DuckDB connection that reports (and can pause at) the statements of the write."""

    def __init__(self, con, pause_at: str | None) -> None:
        self._con = con
        self._pause_at = pause_at

    def __getattr__(self, name: str):
        return getattr(self._con, name)

    def _reached(self, stage: str) -> None:
        say("sql", elapsed(), stage)
        if stage == self._pause_at:
            say("paused", stage)
            time.sleep(60)

    def execute(self, sql: str, *args, **kwargs):
        result = self._con.execute(sql, *args, **kwargs)
        if sql.startswith("DELETE FROM sales_history"):
            self._reached("deleted")
        elif sql.startswith("INSERT INTO sales_history"):
            self._reached("inserted")
        elif sql == "COMMIT":
            self._reached("committed")
        return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("file", type=Path)
    parser.add_argument("--pause-at", choices=("deleted", "inserted", "committed"))
    args = parser.parse_args()

    real_connect = db.connect

    class connect:  # the importer opens the database once, with ``with db.connect(...)``
        def __init__(self, *a, **k) -> None:
            self._context = real_connect(*a, **k)

        def __enter__(self):
            return WatchedConnection(self._context.__enter__(), args.pause_at)

        def __exit__(self, *exc):
            return self._context.__exit__(*exc)

    db.connect = connect  # type: ignore[assignment]
    report = importer.import_file(
        args.db,
        "sales_history",
        args.file,
        author="worker",
        progress=lambda fraction, message: say("progress", elapsed(), fraction, message),
    )
    summary = {
        "ok": report.ok,
        "written": report.written,
        "rows_added": report.rows_added,
        "rows_replaced": report.rows_replaced,
        "products_created": report.products_created,
        "issues": [i.text() for i in report.issues],
    }
    say("done", elapsed(), json.dumps(summary))


if __name__ == "__main__":
    main()
