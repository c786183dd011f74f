"""The command line: ``python -m sop_core COMMAND ...``.

How a planner builds or inspects a database from a scheduler, and how tests and benchmarks
drive the engine. One module per meeting step holds its commands and adds their subparsers
(``data``, ``forecast``, ``demand``, ``scenario``, ``supply``, ``meeting``, ``jobs``,
``access``); ``common`` holds what they share. This module assembles the parser and turns the
errors a user can cause into one line on stderr and a non-zero exit. Command names, flags,
output columns and JSON keys are a contract: add, never rename.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import duckdb

from sop_core.cli import access, data, demand, forecast, jobs, meeting, scenario, supply
from sop_core.cli.common import (
    EXIT_FAILURE,
    EXIT_TERMINATED,
    EXIT_USAGE,
    Parser,
    Terminated,
    stop_on_sigterm,
)
from sop_core.data.errors import SopError

__all__ = ["EXIT_FAILURE", "EXIT_USAGE", "build_parser", "main"]

# The order of ``--help``: a planner's path from a database to the meeting, not the order of
# the modules. A new command goes into its group's PARSERS and here.
COMMAND_ORDER = (
    "init",
    "import",
    "import-plan",
    "scenario",
    "targets",
    "holdout",
    "pack",
    "export",
    "info",
    "forecast",
    "backtest",
    "evaluate",
    "accuracy",
    "drivers",
    "overrides",
    "capacity",
    "plan",
    "approve",
    "plans",
    "decisions",
    "jobs",
    "users",
    "audit",
    "dictionary",
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command, each group adding its own subparsers."""
    parser = Parser(
        prog="python -m sop_core",
        description="S&OP dashboard engine: build, inspect and refresh the planning database.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    groups = (data, forecast, demand, scenario, supply, meeting, jobs, access)
    adders = {name: add for group in groups for name, add in group.PARSERS.items()}
    if set(adders) != set(COMMAND_ORDER):
        raise RuntimeError(f"COMMAND_ORDER and the groups' commands differ: {sorted(adders)}")
    for name in COMMAND_ORDER:
        adders[name](commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with stop_on_sigterm():
            return args.handler(args)
    except SopError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except duckdb.Error as error:
        # A file that is not a DuckDB database, a corrupt one, a full disk: say so in one line.
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        print(f"error: the database could not be used: {first_line}", file=sys.stderr)
        return EXIT_FAILURE
    except (OSError, ValueError, OverflowError) as error:
        # A folder that does not exist, a full disk, a value out of range: one line.
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("error: stopped (SIGTERM); the step in progress was not saved", file=sys.stderr)
        return EXIT_TERMINATED
