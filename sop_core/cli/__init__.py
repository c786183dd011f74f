"""The command line: ``python -m sop_core COMMAND ...``.

How a planner builds or inspects a database from a scheduler, and how tests and benchmarks
drive the engine. Errors a user can cause print one line on stderr and exit non-zero; command
names, flags, output columns and JSON keys are a contract: add, never rename.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import duckdb

from sop_core.data import db, schema
from sop_core.data.errors import InputError, SopError
from sop_core.data.sample import SampleConfig, build_empty_database, build_sample_database
from sop_core.data.stores import forecast_runs, master
from sop_core.forecast.engine import ForecastSettings
from sop_core.forecast.runs import (
    RunSummary,
    backfill_runs,
    backtest_report,
    driver_report,
    forecast_frame,
    latest_run,
    refresh_forecast,
)

EXIT_USAGE = 2
EXIT_FAILURE = 1


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) with exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _jobs(text: str) -> int:
    value = _positive_int(text)
    cores = os.cpu_count() or 1
    if not 1 <= value <= 4 * cores:
        raise argparse.ArgumentTypeError(f"expected 1 to {4 * cores} worker processes, got {value}")
    return value


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _print_wait(message: str, waited: float) -> None:
    # One line per second at most, so a long wait does not flood a scheduler's log.
    if int(waited) != getattr(_print_wait, "last", -1):
        _print_wait.last = int(waited)  # type: ignore[attr-defined]
        print(f"waiting ({waited:.0f} s): {message}", file=sys.stderr, flush=True)


def command_init(args: argparse.Namespace) -> int:
    if args.empty:
        build_empty_database(
            args.db,
            force=args.force,
            company_name=args.company,
            currency=args.currency,
            on_wait=_print_wait,
        )
        print(
            f"Created {args.db} with the schema (version {schema.SCHEMA_VERSION}) and no data. "
            f"Import your files with: python -m sop_core import --db {args.db} --table "
            "sales_history FILE"
        )
        return 0
    config = SampleConfig(
        skus=args.skus, weeks=args.weeks, seed=args.seed, as_of=args.as_of, lines=args.lines
    )
    started = time.perf_counter()
    last = [-1.0]

    def progress(fraction: float, message: str) -> None:
        if not args.quiet and fraction - last[0] >= 0.1:
            last[0] = fraction
            print(f"{fraction:4.0%}  {message}", file=sys.stderr, flush=True)

    counts = build_sample_database(
        args.db, config, force=args.force, progress=progress, on_wait=_print_wait
    )
    seconds = time.perf_counter() - started
    print(
        f"Built {args.db}: {counts['products']} SKUs, {counts['production_lines']} lines, "
        f"{counts['sales_history']:,} weekly sales rows in {seconds:.1f} s."
    )
    return 0


def command_import(args: argparse.Namespace) -> int:
    from sop_core.data.importer import import_file, parse_mapping

    if not args.file.is_file():
        raise InputError(f"There is no file at {args.file}.")
    report = import_file(
        args.db,
        args.table,
        args.file,
        mapping=parse_mapping(args.map),
        dry_run=args.dry_run,
        author=args.author or os.environ.get("USER") or "cli",
        on_wait=_print_wait,
    )
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "written": report.written,
                    "table": report.table,
                    "file": report.file_name,
                    "sha256": report.sha256,
                    "rows_in_file": report.rows_in_file,
                    "rows_added": report.rows_added,
                    "rows_replaced": report.rows_replaced,
                    "products_created": report.products_created,
                    "columns": report.columns,
                    "issues": [
                        {"severity": i.severity, "message": i.text(), "lines": i.lines}
                        for i in report.issues
                    ],
                }
            )
        )
    else:
        for issue in report.issues:
            if issue.severity != "error":
                print(f"{issue.severity}: {issue.text()}")
    if not report.ok:
        print(f"error: {report.summary()}", file=sys.stderr)
        for issue in report.errors[:20]:
            print(f"  {issue.text()}", file=sys.stderr)
        return EXIT_FAILURE
    if not args.json:
        print(report.summary() + (" (dry run: nothing written)" if args.dry_run else ""))
    return 0


def _issues_json(issues) -> list[dict]:
    return [{"severity": i.severity, "message": i.text(), "lines": i.lines} for i in issues]


def _print_plan_errors(report) -> None:
    print(f"error: {report.summary()}", file=sys.stderr)
    for issue in report.report.errors[:20]:
        print(f"  {issue.text()}", file=sys.stderr)


def command_import_plan(args: argparse.Namespace) -> int:
    from sop_core.data.importer import parse_mapping
    from sop_core.scenario.levers import checked_cannibalisation
    from sop_core.scenario.plan_files import read_plan
    from sop_core.scenario.store import create_scenario, load_scenario, save_scenario

    if args.cannibalisation is not None:
        checked_cannibalisation(args.cannibalisation)
    plan = read_plan(args.db, args.file, mapping=parse_mapping(args.map))
    result = {
        "ok": plan.ok,
        "written": False,
        "scenario": args.scenario,
        "file": plan.report.file_name,
        "rows_in_file": plan.report.rows_in_file,
        "rows_used": plan.rows_used,
        "scope": plan.scope,
        "levers": len(plan.levers),
        "columns": plan.report.columns,
        "issues": _issues_json(plan.issues),
    }
    if plan.ok and not args.dry_run:
        user = args.author or os.environ.get("USER") or "cli"
        scenario = plan.scenario(args.scenario, args.cannibalisation)
        with db.connect(args.db, on_wait=_print_wait) as con:
            run = latest_run(con)
            exists = con.execute(
                "SELECT 1 FROM scenarios WHERE name = ?", [args.scenario]
            ).fetchone()
            stored = load_scenario(con, args.scenario) if exists else None
        if stored is None:
            create_scenario(args.db, scenario, user, run)
        elif not args.replace:
            raise InputError(
                f"A scenario called {args.scenario!r} exists; give --replace to replace its "
                "levers with the plan's (its effect overrides and capacity changes stay)."
            )
        else:
            scenario.overrides = stored.scenario.overrides
            scenario.capacity = stored.scenario.capacity
            if args.cannibalisation is None:
                scenario.cannibalisation = stored.scenario.cannibalisation
            save_scenario(args.db, stored, scenario, user, run)
        result["written"] = True
    if args.json:
        print(json.dumps(result))
    else:
        for issue in plan.issues:
            if issue.severity != "error":
                print(f"{issue.severity}: {issue.text()}")
    if not plan.ok:
        _print_plan_errors(plan)
        return EXIT_FAILURE
    if not args.json:
        done = (
            "dry run: nothing written" if args.dry_run else f"saved as scenario {args.scenario!r}"
        )
        print(f"{plan.summary()} ({done})")
    return 0


def command_targets(args: argparse.Namespace) -> int:
    from sop_core.data.importer import parse_mapping
    from sop_core.scenario.targets import PlanFileError, compute_targets, write_targets

    if args.plan is not None and not args.plan.is_file():
        raise InputError(f"There is no plan file at {args.plan}.")
    try:
        targets = compute_targets(
            args.db,
            scenario=args.scenario,
            plan=args.plan,
            plan_of_record=args.plan_of_record,
            mapping=parse_mapping(args.map),
            horizon=args.horizon,
            cannibalisation=args.cannibalisation,
        )
    except PlanFileError as error:
        _print_plan_errors(error.report)
        return EXIT_FAILURE
    rows = write_targets(targets.frame, args.out, args.format)
    for note in targets.notes:
        print(f"warning: {note}", file=sys.stderr)
    frame = targets.frame
    if args.json:
        print(
            json.dumps(
                {
                    "out": str(args.out),
                    "rows": rows,
                    "skus": int(frame["sku"].nunique()),
                    "weeks": int(frame["week"].nunique()),
                    "source": targets.source,
                    "run_id": targets.run_id,
                    "baseline": round(float(frame["baseline"].sum()), 2),
                    "revised": round(float(frame["revised"].sum()), 2),
                    "notes": targets.notes,
                }
            )
        )
        return 0
    change = frame["revised"].sum() - frame["baseline"].sum()
    print(
        f"Wrote {rows:,} targets ({frame['sku'].nunique():,} SKUs x "
        f"{frame['week'].nunique()} weeks) of the {targets.source} to {args.out}: revised "
        f"{frame['revised'].sum():,.0f} units, {change:+,.0f} against the baseline."
    )
    return 0


def command_holdout(args: argparse.Namespace) -> int:
    import tempfile

    from sop_core.scenario.holdout import plan_holdout

    with tempfile.TemporaryDirectory(prefix="sop-holdout-") as folder:
        figures = plan_holdout(
            args.db,
            folder,
            args.weeks,
            cannibalisation=args.cannibalisation,
            jobs=args.jobs,
            progress=ProgressBar(args.quiet),
        )
    figures.pop("plan_file")
    if args.json:
        print(json.dumps(figures))
        return 0
    print(
        f"Held out {args.weeks} weeks after {figures['history_end']}: {figures['plan_rows']:,} "
        f"plan rows ({figures['levers']:,} levers) over {figures['skus']} SKUs."
    )
    for name in ("promoted", "unpromoted"):
        print(
            f"{name.capitalize():>11} SKU-weeks ({figures[f'{name}_sku_weeks']:,}): WAPE "
            f"baseline {figures[f'wape_{name}_baseline']:.1%}, with the plan "
            f"{figures[f'wape_{name}_revised']:.1%} ({-figures[f'{name}_reduction']:+.0%})."
        )
    return 0


def command_export(args: argparse.Namespace) -> int:
    from sop_core.data.export import export_table

    if args.table == "all":
        if not args.out.is_dir():
            raise InputError(f"With --table all, --out must be an existing folder ({args.out}).")
        with db.connect(args.db, on_wait=_print_wait) as con:
            tables = list(schema.table_columns(con))
        suffix = f".{args.format or 'csv'}"
        for table in tables:
            rows = export_table(args.db, table, args.out / f"{table}{suffix}", args.format)
            print(f"{table}: {rows:,} rows")
        return 0
    rows = export_table(args.db, args.table, args.out, args.format)
    print(f"Wrote {rows:,} rows of {args.table} to {args.out}.")
    return 0


def command_pack(args: argparse.Namespace) -> int:
    from sop_core.meeting.pack import build_pack

    started = time.perf_counter()
    files = build_pack(
        args.db, args.out, args.scenario, weeks=args.weeks, progress=ProgressBar(args.quiet)
    )
    for kind, path in files.items():
        print(f"{kind}: {path}")
    if "pdf" not in files:
        print("pdf: not made (Chromium is not installed); the HTML report opens in any browser")
    print(f"Meeting pack written in {time.perf_counter() - started:.1f} s.")
    return 0


def command_info(args: argparse.Namespace) -> int:
    with db.connect(args.db, on_wait=_print_wait) as con:
        counts = master.table_row_counts(con)
        version = schema.current_version(con)
        history = (
            con.execute("SELECT min(week), max(week) FROM sales_history").fetchone()
            if "sales_history" in set(counts["table"])
            else (None, None)
        )
    tables = dict(zip(counts["table"], (int(n) for n in counts["rows"]), strict=True))
    if not tables:
        raise SopError(f"{args.db} is a DuckDB file without any tables; is it the right file?")
    if args.json:
        print(
            json.dumps(
                {
                    "tables": tables,
                    "schema_version": version,
                    "history_first_week": str(history[0]) if history[0] else None,
                    "history_last_week": str(history[1]) if history[1] else None,
                }
            )
        )
        return 0
    width = max(len(t) for t in tables)
    print(f"{args.db}  (schema version {version})")
    if history[0]:
        print(f"history: {history[0]} to {history[1]}")
    for table, rows in tables.items():
        print(f"  {table:<{width}}  {rows:>12,}")
    return 0


def command_dictionary(args: argparse.Namespace) -> int:
    text = schema.dictionary_markdown()
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"Wrote {args.out}")
    return 0


class ProgressBar:
    """A progress bar on stderr: redrawn in place on a terminal, a line per 10% in a log."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.terminal = sys.stderr.isatty()
        self.last = -1.0

    def __call__(self, fraction: float, message: str) -> None:
        if self.quiet:
            return
        if self.terminal:
            filled = int(30 * fraction)
            sys.stderr.write(
                f"\r[{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%} {message:<40}"
            )
            if fraction >= 1.0:
                sys.stderr.write("\n")
            sys.stderr.flush()
        elif fraction - self.last >= 0.1 or (fraction >= 1.0 and self.last < 1.0):
            self.last = fraction
            print(f"{fraction:4.0%}  {message}", file=sys.stderr, flush=True)


def _current_run(args: argparse.Namespace) -> RunSummary:
    """Refresh the forecast (reusing the stored run when nothing changed). ``backtest`` and
    ``drivers`` keep the horizon of the latest run, so they never refit just for that."""
    horizon = getattr(args, "horizon_weeks", None)
    if horizon is None:
        latest = None
        if Path(args.db).exists():
            with db.connect(args.db, on_wait=_print_wait) as con:
                if "forecast_runs" in schema.table_columns(con):
                    latest = forecast_runs.latest_forecast_run(con)
        horizon = latest["horizon"] if latest else 26
    settings = ForecastSettings(horizon=horizon)
    return refresh_forecast(
        args.db,
        settings,
        jobs=args.jobs,
        progress=ProgressBar(args.quiet),
        on_wait=_print_wait,
        reuse=not getattr(args, "force", False),
        history_end=getattr(args, "history_end", None),
    )


def command_forecast(args: argparse.Namespace) -> int:
    args.horizon_weeks = args.horizon
    if args.backfill:
        past = backfill_runs(
            args.db,
            args.backfill,
            args.backfill_step,
            ForecastSettings(horizon=args.horizon),
            jobs=args.jobs,
            progress=ProgressBar(args.quiet),
            on_wait=_print_wait,
        )
        if not args.json:
            print(
                f"Past runs {', '.join(str(p.run_id) for p in past)} as of "
                f"{past[0].history_end} to {past[-1].history_end}."
            )
    summary = _current_run(args)
    if args.out:
        with db.connect(args.db, on_wait=_print_wait) as con:
            frame = forecast_frame(con, summary.run_id)
        frame.to_csv(args.out, index=False, date_format="%Y-%m-%d")
    if args.json:
        print(json.dumps({**summary.__dict__, "out": str(args.out) if args.out else None}))
        return 0
    how = (
        "reused, data and parameters unchanged"
        if summary.reused
        else (f"{summary.skus_refit} of {summary.skus} SKUs fitted")
    )
    models = ", ".join(f"{model} {count}" for model, count in summary.models.items())
    print(
        f"Forecast run {summary.run_id} ({how}) in {summary.seconds:.1f} s; history to "
        f"{summary.history_end}. Models: {models}."
    )
    if args.out:
        print(f"Wrote {args.out}")
    return 0


def command_backtest(args: argparse.Namespace) -> int:
    summary = _current_run(args)
    with db.connect(args.db, on_wait=_print_wait) as con:
        report = backtest_report(con, summary.run_id, args.horizon)
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"Backtest of forecast run {summary.run_id}, {args.horizon}-week horizon "
        f"(rolling origins; the same SKUs for every model):"
    )
    print(f"  {'model':<16}{'WAPE':>8}{'bias':>9}{'MASE':>8}{'SKUs':>7}")
    for model, metrics in sorted(report["overall"].items(), key=lambda kv: kv[1]["wape"]):
        print(
            f"  {model:<16}{metrics['wape']:>8.1%}{metrics['bias']:>+9.1%}"
            f"{metrics['mase']:>8.2f}{metrics['skus']:>7}"
        )
    return 0


def command_accuracy(args: argparse.Namespace) -> int:
    from sop_core.demand import accuracy

    with db.connect(args.db, on_wait=_print_wait) as con:
        frame = accuracy.with_consensus(con, accuracy.lag_frame(con))
        history = accuracy.history_frame(con)
    if frame.empty:
        raise InputError(
            "No stored forecast has reached a closed week yet. Make past runs with "
            "`python -m sop_core forecast --db PATH --backfill 8`."
        )
    if args.level != "total" and args.value not in set(history[args.level]):
        raise InputError(f"There is no {args.level} called {args.value!r} in the sales history.")
    by_lag = accuracy.accuracy_by_lag(frame, history, args.level, args.value)
    steps = accuracy.value_added(frame, history, args.level, args.value, args.lag)
    exceptions = accuracy.accuracy_by_sku(frame, history, args.lag, args.level, args.value)
    report = {
        "scope": {"level": args.level, "value": args.value, "lag": args.lag},
        "origins": int(frame["origin"].nunique()),
        "by_lag": _records(by_lag),
        "value_added": _records(steps),
        "exceptions": _records(exceptions.head(args.top)),
    }
    if args.json:
        print(json.dumps(report))
        return 0
    scope = args.level if args.value is None else f"{args.level} {args.value}"
    print(f"Accuracy of {scope} from {report['origins']} stored runs, on closed weeks:")
    print(f"  {'lag':>4}{'WAPE':>8}{'bias':>9}{'MASE':>7}{'naive WAPE':>12}{'weeks':>7}")
    for row in by_lag.itertuples():
        print(
            f"  {row.lag:>4}{row.wape:>8.1%}{row.bias:>+9.1%}{row.mase:>7.2f}"
            f"{row.naive_wape:>12.1%}{row.weeks:>7}"
        )
    lag = "every lag" if args.lag is None else f"lag {args.lag}"
    print(
        f"Forecast value added ({lag}): "
        + ", ".join(f"{row.step} {row.wape:.1%}" for row in steps.itertuples())
    )
    print(f"Exceptions ({lag}), by absolute error x price:")
    for row in exceptions.head(args.top).itertuples():
        print(f"  {row.sku:<12}{row.model:<14}WAPE {row.wape:>6.1%}  impact {row.impact:>12,.0f}")
    return 0


def _records(frame) -> list[dict]:
    """Rows as JSON-ready dicts (NaN as null, dates as ISO text)."""
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def command_drivers(args: argparse.Namespace) -> int:
    summary = _current_run(args)
    with db.connect(args.db, on_wait=_print_wait) as con:
        report = driver_report(con, summary.run_id)
    if args.json:
        print(json.dumps(report))
        return 0

    def show(value: float | None, pattern: str) -> str:
        return "unknown" if value is None else format(value, pattern)

    print(
        f"{'sku':<12}{'elasticity':>11}{'95% interval':>18}{'uplift/10%':>12}"
        f"{'feature':>9}{'display':>9}  confidence"
    )
    for row in report:
        interval = (
            ""
            if row["price_elasticity"] is None
            else f"{row['price_elasticity_lower']:.2f} to {row['price_elasticity_upper']:.2f}"
        )
        print(
            f"{row['sku']:<12}{show(row['price_elasticity'], '.2f'):>11}{interval:>18}"
            f"{show(row['promo_uplift_per_10pct_discount'], '+.0%'):>12}"
            f"{show(row['feature_uplift'], '+.0%'):>9}{show(row['display_uplift'], '+.0%'):>9}"
            f"  {row['confidence']}"
        )
    return 0


def command_plan(args: argparse.Namespace) -> int:
    from sop_core.supply.planning import build_plan

    plan, chase, result, plan_id = build_plan(
        args.db,
        args.scenario,
        args.horizon,
        jobs=args.jobs,
        progress=ProgressBar(args.quiet),
        on_wait=_print_wait,
    )
    weeks = plan.demand.shape[1]
    summary = plan.summary(result.available[:, :weeks])
    peer = chase.summary(result.available[:, :weeks])
    if args.json:
        print(
            json.dumps(
                {
                    **summary,
                    "plan_id": plan_id,
                    "scenario": args.scenario,
                    "weeks": weeks,
                    "chase_plan": peer,
                }
            )
        )
        return 0
    print(
        f"Plan {plan_id} for {args.scenario or 'the baseline'}, {weeks} weeks: "
        f"{summary['status']}, total cost {summary['total_cost']:,.0f}, unmet "
        f"{summary['unmet_units']:,.0f} units, overtime {summary['overtime_hours']:,.0f} h, "
        f"peak load {summary['max_utilisation']:.0%}, solved in {summary['seconds']:.2f} s."
    )
    print(
        f"A chase plan on the same data would cost {peer['total_cost']:,.0f} "
        f"({peer['total_cost'] - summary['total_cost']:+,.0f}) with "
        f"{peer['unmet_units']:,.0f} units unmet and {peer['overtime_hours']:,.0f} h overtime."
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m sop_core",
        description="S&OP dashboard engine: build, inspect and refresh the planning database.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    init = commands.add_parser(
        "init",
        help="build a sample company database",
        description="Build a database filled with the seeded sample cosmetics company.",
    )
    init.add_argument("--db", required=True, type=Path, help="database file to create")
    init.add_argument("--skus", type=_positive_int, default=40, help="number of SKUs (40)")
    init.add_argument(
        "--weeks", type=_positive_int, default=160, help="weeks of sales history (160)"
    )
    init.add_argument("--seed", type=_positive_int, default=7, help="random seed (7)")
    init.add_argument(
        "--lines",
        type=_positive_int,
        default=None,
        help="production lines (default: about 6 per 40 SKUs)",
    )
    init.add_argument(
        "--as-of",
        type=_date,
        default=None,
        help="history ends with the last complete week before this date "
        "(YYYY-MM-DD; default today)",
    )
    init.add_argument("--force", action="store_true", help="replace an existing database")
    init.add_argument(
        "--empty",
        action="store_true",
        help="the schema and no data, for your own data (see the import command)",
    )
    init.add_argument("--company", default="My company", help="company name with --empty")
    init.add_argument("--currency", default="EUR", help="currency with --empty (EUR)")
    init.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    init.set_defaults(handler=command_init)

    from sop_core.data.importer import SPECS

    importer = commands.add_parser(
        "import",
        help="import a CSV, Excel or Parquet file into an input table",
        description="Check a file against the table's rules (types, ranges, known SKUs, "
        "duplicate keys, week boundaries) and write it in one transaction: rows with the same "
        "key are replaced, the rest added, and the import is logged. Any error: nothing is "
        "written, the problems go to stderr and the exit code is 1.",
    )
    importer.add_argument("--db", required=True, type=Path, help="database file")
    importer.add_argument("--table", required=True, choices=list(SPECS), help="table to fill")
    importer.add_argument("file", type=Path, help="CSV, Excel (.xlsx) or Parquet file")
    importer.add_argument(
        "--map",
        default=None,
        metavar="TARGET=SOURCE,...",
        help="which file column feeds which table column, e.g. units=qty,sku=item",
    )
    importer.add_argument("--dry-run", action="store_true", help="check only; write nothing")
    importer.add_argument("--author", default=None, help="who imports (default: $USER)")
    importer.add_argument("--json", action="store_true", help="print the report as JSON")
    importer.set_defaults(handler=command_import)

    planfile = commands.add_parser(
        "import-plan",
        help="import marketing's promotion and price plan as a scenario",
        description="Read a promotion and price plan (CSV or Excel: week, one scope column "
        "sku, family, brand or channel (none: everything), discount 0-0.9, optional share of "
        "distribution 0-1, feature and display 0-1, optional net price for SKU rows) through "
        "the importer's checks, and save it as a scenario's levers. A net price that "
        "disagrees with the week's list price less the discount is reported. Any error: "
        "nothing is saved, the problems go to stderr and the exit code is 1.",
    )
    planfile.add_argument("--db", required=True, type=Path, help="database file")
    planfile.add_argument("--scenario", required=True, help="scenario to save the levers in")
    planfile.add_argument("file", type=Path, help="CSV or Excel (.xlsx) plan file")
    planfile.add_argument(
        "--map", default=None, metavar="TARGET=SOURCE,...", help="column mapping, as for import"
    )
    planfile.add_argument(
        "--replace", action="store_true", help="replace the levers of an existing scenario"
    )
    planfile.add_argument(
        "--cannibalisation",
        type=float,
        default=None,
        help="share of a promotion's extra volume taken from its family (default 0.3)",
    )
    planfile.add_argument("--dry-run", action="store_true", help="check only; save nothing")
    planfile.add_argument("--author", default=None, help="who imports (default: $USER)")
    planfile.add_argument("--json", action="store_true", help="print the report as JSON")
    planfile.set_defaults(handler=command_import_plan)

    targets = commands.add_parser(
        "targets",
        help="write revised volume targets by SKU and week (CSV or Excel)",
        description="Write sku, week, baseline, revised, lower_80, upper_80 for the next "
        "--horizon weeks of the current forecast: the baseline (consensus) with the levers of "
        "a saved --scenario or of a --plan file applied through the fitted driver effects "
        "(the Promotions page's maths), or the frozen targets of a --plan-of-record.",
    )
    targets.add_argument("--db", required=True, type=Path, help="database file")
    source = targets.add_mutually_exclusive_group()
    source.add_argument("--scenario", default=None, help="saved scenario")
    source.add_argument("--plan", type=Path, default=None, help="promotion and price plan file")
    source.add_argument(
        "--plan-of-record",
        type=_positive_int,
        nargs="?",
        const=0,
        default=None,
        metavar="VERSION",
        help="an approved plan of record (no version: the latest)",
    )
    targets.add_argument(
        "--horizon",
        type=_positive_int,
        default=None,
        help="weeks (26; a plan of record: all its frozen weeks)",
    )
    targets.add_argument("--out", required=True, type=Path, help="file to write (.csv, .xlsx)")
    targets.add_argument("--format", choices=["csv", "xlsx"], default=None)
    targets.add_argument(
        "--map", default=None, metavar="TARGET=SOURCE,...", help="plan file column mapping"
    )
    targets.add_argument(
        "--cannibalisation",
        type=float,
        default=None,
        help="share of a promotion's extra volume taken from its family (default: the "
        "scenario's, 0.3 for a plan file)",
    )
    targets.add_argument("--json", action="store_true", help="print a summary as JSON")
    targets.set_defaults(handler=command_targets)

    holdout = commands.add_parser(
        "holdout",
        help="measure how much a promotion plan improves the targets, on your history",
        description="Hold out the last --weeks weeks, forecast from the history before them "
        "with a promotion calendar that does not know them, give the engine the promotions "
        "that really ran as a plan file, and report the WAPE of the baseline and of the "
        "revised targets on promoted and unpromoted SKU-weeks. Works on a copy; the "
        "database is only read.",
    )
    holdout.add_argument("--db", required=True, type=Path, help="database file")
    holdout.add_argument("--weeks", type=_positive_int, default=26, help="weeks held out (26)")
    holdout.add_argument(
        "--cannibalisation",
        type=float,
        default=None,
        help="share of a promotion's extra volume taken from its family (default 0.3)",
    )
    holdout.add_argument("--jobs", type=_jobs, default=None, help="worker processes")
    holdout.add_argument("--json", action="store_true", help="print the figures as JSON")
    holdout.add_argument("--quiet", action="store_true", help="no progress on stderr")
    holdout.set_defaults(handler=command_holdout)

    pack = commands.add_parser(
        "pack",
        help="write the meeting pack (Excel workbook, HTML report, PDF)",
        description="Write the meeting pack: the latest plan of record as frozen (with "
        "--scenario: that scenario planned on today's forecast; with nothing approved: the "
        "baseline): an Excel workbook with the targets by SKU x week, "
        "production and capacity by line x week and the decisions; a self-contained HTML "
        "report with the interactive charts; and a PDF of it where Chromium is installed.",
    )
    pack.add_argument("--db", required=True, type=Path, help="database file")
    pack.add_argument("--out", required=True, type=Path, help="folder to write into")
    pack.add_argument("--scenario", default=None, help="saved scenario (default: see above)")
    pack.add_argument("--weeks", type=_positive_int, default=26, help="weeks covered (26)")
    pack.add_argument("--quiet", action="store_true", help="no progress on stderr")
    pack.set_defaults(handler=command_pack)

    exporter = commands.add_parser(
        "export",
        help="export a table to CSV, Parquet or Excel",
        description="Write a table (or all of them into a folder) to CSV, Parquet or Excel. "
        "Text a spreadsheet would run as a formula is escaped in CSV and Excel.",
    )
    exporter.add_argument("--db", required=True, type=Path, help="database file")
    exporter.add_argument("--table", required=True, help="table name, or all")
    exporter.add_argument("--out", required=True, type=Path, help="output file (folder for all)")
    exporter.add_argument(
        "--format", choices=("csv", "parquet", "xlsx"), default=None, help="(from --out)"
    )
    exporter.set_defaults(handler=command_export)

    info = commands.add_parser(
        "info",
        help="row counts of every table",
        description="Print each table's row count, the schema version and the history range.",
    )
    info.add_argument("--db", required=True, type=Path, help="database file")
    info.add_argument(
        "--json", action="store_true", help='print {"tables": {"name": rows, ...}, ...} as JSON'
    )
    info.set_defaults(handler=command_info)

    def engine_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--db", required=True, type=Path, help="database file")
        command.add_argument(
            "--jobs",
            type=_jobs,
            default=None,
            help="worker processes (default: one per core)",
        )
        command.add_argument("--quiet", action="store_true", help="no progress on stderr")

    forecast = commands.add_parser(
        "forecast",
        help="refresh the demand forecast (or reuse an unchanged one)",
        description="Forecast every SKU (Prophet with promotion and price drivers, Theta and "
        "their ensemble, chosen by backtest; special methods for new, intermittent and flat "
        "items) and store the run. Same data and parameters: the stored run is reused.",
    )
    engine_options(forecast)
    forecast.add_argument(
        "--horizon", type=_positive_int, default=26, help="weeks to forecast (26)"
    )
    forecast.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write sku, week, forecast, lower_80, upper_80, lower_95, "
        "upper_95, model to this CSV file",
    )
    forecast.add_argument(
        "--force", action="store_true", help="refit every SKU even when nothing changed"
    )
    forecast.add_argument(
        "--history-end",
        type=_date,
        default=None,
        metavar="DATE",
        help="forecast as of the week of DATE (YYYY-MM-DD), leaving out the later history",
    )
    forecast.add_argument(
        "--backfill",
        type=_positive_int,
        default=0,
        metavar="N",
        help="first make N past runs, as of every --backfill-step weeks before the end of the "
        "history, so accuracy by forecast lag has something to measure (0)",
    )
    forecast.add_argument(
        "--backfill-step", type=_positive_int, default=2, metavar="WEEKS", help="(2)"
    )
    forecast.add_argument("--json", action="store_true", help="print the run summary as JSON")
    forecast.set_defaults(handler=command_forecast)

    backtest = commands.add_parser(
        "backtest",
        help="forecast accuracy by model (WAPE, bias, MASE)",
        description="Rolling-origin backtest of the current forecast run, per model and per "
        "SKU, against seasonal naive. Refreshes the forecast first if the data changed.",
    )
    engine_options(backtest)
    backtest.add_argument(
        "--horizon", type=_positive_int, default=13, help="backtest horizon in weeks: 13 or 26 (13)"
    )
    backtest.add_argument(
        "--json",
        action="store_true",
        help='print {"overall": {model: {wape, bias, mase}}, "per_sku": [...]}',
    )
    backtest.set_defaults(handler=command_backtest)

    scored = commands.add_parser(
        "accuracy",
        help="accuracy by forecast lag from the stored runs",
        description="What past forecast runs said against what was then sold, on closed weeks: "
        "WAPE, bias and MASE by lag against seasonal naive, forecast value added (naive, "
        "statistical, consensus) and the exceptions ranked by business impact. Reads stored "
        "runs only (make past ones with forecast --backfill).",
    )
    scored.add_argument("--db", required=True, type=Path, help="database file")
    scored.add_argument(
        "--level",
        choices=("total", "family", "brand", "channel", "sku"),
        default="total",
        help="scope (total)",
    )
    scored.add_argument("--value", default=None, help="the family, brand, channel or SKU")
    scored.add_argument(
        "--lag", type=_positive_int, default=None, help="lag for value added and exceptions (all)"
    )
    scored.add_argument("--top", type=_positive_int, default=10, help="exceptions listed (10)")
    scored.add_argument(
        "--json",
        action="store_true",
        help='print {"scope", "origins", "by_lag": [...], "value_added": [...], '
        '"exceptions": [...]}',
    )
    scored.set_defaults(handler=command_accuracy)

    drivers = commands.add_parser(
        "drivers",
        help="price elasticity and promotion uplift per SKU",
        description="Per SKU: price elasticity with its 95% interval, promotion uplift per 10% "
        "discount, feature and display uplift, and how sure we are. Unknown where the data "
        "cannot tell (no prices, no promotions).",
    )
    engine_options(drivers)
    drivers.add_argument("--json", action="store_true", help="print a list of one object per SKU")
    drivers.set_defaults(handler=command_drivers)

    plan = commands.add_parser(
        "plan",
        help="capacity-constrained production plan",
        description="Plan production by SKU, line and week for a scenario's volume targets "
        "(a linear program: meet demand, respect line hours, overtime up to a limit, build "
        "stock ahead of peaks) and store it.",
    )
    engine_options(plan)
    plan.add_argument(
        "--scenario", default=None, help="saved scenario to plan (default: the baseline forecast)"
    )
    plan.add_argument("--horizon", type=_positive_int, default=26, help="weeks to plan (26)")
    plan.add_argument(
        "--json",
        action="store_true",
        help='print {"status", "total_cost", "unmet_units", "overtime_hours", '
        '"max_utilisation", "seconds", ...}',
    )
    plan.set_defaults(handler=command_plan)

    dictionary = commands.add_parser(
        "dictionary",
        help="write the data dictionary",
        description="Write the data dictionary (Markdown) generated from the schema.",
    )
    dictionary.add_argument(
        "--out",
        default="docs/DATA_DICTIONARY.md",
        help="output file, or - for stdout (docs/DATA_DICTIONARY.md)",
    )
    dictionary.set_defaults(handler=command_dictionary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
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
