"""What every command group shares: exit codes, the one-line-error parser, argument types,
the lock-wait notice and the progress bar on stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TextIO

from tqdm import tqdm

from sop_core.data.fiscal import BUCKETS, DEFAULT_BUCKET, MONTH_NAMES

EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(BaseException):
    """SIGTERM arrived (a scheduler's timeout, ``kill``, a container stopping).

    A ``BaseException``, like ``KeyboardInterrupt``: it unwinds through every ``except
    Exception``, so open transactions roll back and the forecast's worker pool is stopped.
    """


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises ``Terminated`` in the main thread (Python's default
    is to die on the spot, leaving the forecast workers running); the handler before is put
    back afterwards (``main`` also runs inside tests and other programs)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


Progress = Callable[[float, str], None]
"""Called as ``progress(fraction_done, what_is_happening)``, as the engine reports."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) with exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (no ``high``: no upper
    bound), refused with a message that states that range."""
    bounds = f">= {low}" if high is None else f"from {low} to {high}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number {bounds}, got {text!r}"
            ) from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected a whole number {bounds}, got {value}")
        return value

    parse.__name__ = f"whole number {bounds}"
    return parse


def worker_count(text: str) -> int:
    """A number of worker processes, 1 to four per core (argparse type)."""
    cores = os.cpu_count() or 1
    return whole_number(1, 4 * cores)(text)


WEEKS_AHEAD = whole_number(1, 104)
"""A horizon in weeks: what the forecast and the production plan accept."""


def month_number(text: str) -> int:
    """A month as 1-12 or its English name or abbreviation (argparse type)."""
    names = [name.lower() for name in MONTH_NAMES]
    key = text.strip().lower()
    if key.isdigit() and 1 <= int(key) <= 12:
        return int(key)
    if key[:3] in names and len(key) >= 3:
        return names.index(key[:3]) + 1
    raise argparse.ArgumentTypeError(
        f"expected a month, 1 to 12 or a name such as Jul, got {text!r}"
    )


def add_bucket_option(command: argparse.ArgumentParser) -> None:
    """``--bucket week|month|quarter``: the figures by week, or summed per fiscal month or
    quarter of the company's fiscal calendar."""
    command.add_argument(
        "--bucket",
        choices=list(BUCKETS),
        default=DEFAULT_BUCKET,
        help="figures by week, or per fiscal month or quarter (week)",
    )


def iso_date(text: str) -> dt.date:
    """A date as YYYY-MM-DD (argparse type)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def add_engine_options(command: argparse.ArgumentParser) -> None:
    """``--db``, ``--jobs`` and ``--quiet``: the options of every command that may refit."""
    command.add_argument("--db", required=True, type=Path, help="database file")
    command.add_argument(
        "--jobs",
        type=worker_count,
        default=None,
        help="worker processes (default: one per core)",
    )
    command.add_argument("--quiet", action="store_true", help="no progress on stderr")


def author(args: argparse.Namespace) -> str:
    """Who the command acts as (``sop_core.data.access`` checks it before every write):
    ``--as``, else ``--author`` (kept from before), else the operating system's user name."""
    return (
        getattr(args, "as_", None)
        or getattr(args, "author", None)
        or getattr(args, "by", None)
        or _login_name()
    )


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name (a container without a passwd entry)
        return os.environ.get("USER") or "cli"


def add_as_option(command: argparse.ArgumentParser) -> None:
    """``--as EMAIL``: who a writing command acts as."""
    command.add_argument(
        "--as",
        dest="as_",
        metavar="EMAIL",
        default=None,
        help="who makes the change, checked against the users' roles (default: your user "
        "name on this computer)",
    )


def add_week_range(command: argparse.ArgumentParser) -> None:
    """``--from DATE`` (required) and ``--to DATE`` (default: the first week), as
    ``first_week`` and ``last_week``: the weeks an override or a capacity change covers."""
    command.add_argument(
        "--from",
        dest="first_week",
        required=True,
        type=iso_date,
        metavar="DATE",
        help="first week (any day of it, YYYY-MM-DD)",
    )
    command.add_argument(
        "--to",
        dest="last_week",
        default=None,
        type=iso_date,
        metavar="DATE",
        help="last week (default: the first week)",
    )


def print_notes(issues: Iterable[Any]) -> None:
    """An import report's warnings and notes on stdout, one a line (its errors go to stderr
    where the command ends)."""
    for issue in issues:
        if issue.severity != "error":
            print(f"{issue.severity}: {issue.text()}")


def issues_json(issues: Iterable[Any]) -> list[dict]:
    """An import report's issues as the JSON the ``--json`` flags print."""
    return [{"severity": i.severity, "message": i.text(), "lines": i.lines} for i in issues]


def print_wait(message: str, waited: float) -> None:
    """Tell stderr that the database is busy (``on_wait`` of every connection)."""
    # One line per second at most, so a long wait does not flood a scheduler's log.
    if int(waited) != getattr(print_wait, "last", -1):
        print_wait.last = int(waited)  # type: ignore[attr-defined]
        # tqdm.write lifts a progress bar drawn on the terminal off the line and redraws it
        # below, so the notice does not land in the middle of the bar.
        tqdm.write(f"waiting ({waited:.0f} s): {message}", file=sys.stderr)
        sys.stderr.flush()


# ---- progress ----------------------------------------------------------------------------------

# On a terminal: a bar redrawn in place, with the time so far and the time left.
TERMINAL_FORMAT = "{percentage:3.0f}%|{bar:30}| {desc} [{elapsed}<{remaining}]"
# In a log (cron, CI, a pipe): the lines the CLI always wrote, e.g. " 40%  Planning promotions".
LOG_FORMAT = "{percentage:3.0f}%  {desc}"
LOG_STEP = 0.1
"""A log gets a line each time the work has moved on by this fraction, and the last one."""


class _Bar(tqdm):
    # tqdm's monitor thread only matters for bars fed from loops; ours are fed by callbacks.
    monitor_interval = 0


class _LogLines:
    """A stream for tqdm in a log: every redraw becomes one plain line (tqdm's carriage
    returns and padding dropped), and a redraw that repeats the line before is left out."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.encoding = getattr(stream, "encoding", None) or "utf-8"
        self.last: str | None = None

    def write(self, text: str) -> None:
        line = text.strip("\r\n").rstrip()
        if line and line != self.last:
            self.last = line
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()


class ProgressBar:
    """The ``progress`` callback the engine reports to, drawn on stderr with tqdm.

    On a terminal the bar is redrawn in place (at most ten times a second); in a log a line
    is written each time the work has moved on by a tenth, plus the last. A report of 100%
    ends the bar, so a later report starts a new one (a backfill reports each run's end).
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty()
        self.bar: tqdm | None = None

    def __call__(self, fraction: float, message: str) -> None:
        if self.bar is None:
            self.bar = self._open(fraction, message)
        else:
            self.bar.set_description_str(message, refresh=False)
            self.bar.update(fraction - self.bar.n)
        if fraction >= 1.0:
            self.close()

    def _open(self, fraction: float, message: str) -> tqdm:
        # Created at the first report (not before), so a command that fails before any work
        # draws no empty bar; tqdm draws the first report at once.
        if self.terminal:
            return _Bar(
                total=1.0,
                initial=fraction,
                desc=message,
                file=self.stream,
                bar_format=TERMINAL_FORMAT,
                # Trimmed to the terminal's width so the line can be redrawn in place; a
                # terminal that reports no width (a bare pty) gets 80 columns.
                ncols=shutil.get_terminal_size().columns,
                leave=True,
            )
        return _Bar(
            total=1.0,
            initial=fraction,
            desc=message,
            file=_LogLines(self.stream),
            bar_format=LOG_FORMAT,
            mininterval=0,
            miniters=LOG_STEP,
            leave=True,
        )

    def close(self) -> None:
        """Draw the last state and end the line (also after an error, so the error message
        starts on a line of its own)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _silent(fraction: float, message: str) -> None:
    """The progress callback of ``--quiet``."""


@contextmanager
def progress_bar(quiet: bool = False) -> Iterator[Progress]:
    """A progress callback for the engine: tqdm on stderr, or nothing with ``--quiet``."""
    if quiet:
        yield _silent
        return
    bar = ProgressBar()
    try:
        yield bar
    finally:
        bar.close()
