"""The data commands: ``init`` (a sample company or an empty database), ``import``,
``export``, ``info`` and ``dictionary``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sop_core.cli.common import (
    EXIT_FAILURE,
    add_as_option,
    add_bucket_option,
    author,
    iso_date,
    issues_json,
    month_number,
    print_notes,
    print_wait,
    progress_bar,
    whole_number,
)
from sop_core.data import access, db, schema
from sop_core.data.errors import InputError, SopError
from sop_core.data.fiscal import PATTERNS, FiscalCalendar
from sop_core.data.sample import (
    FAMILIES,
    MIXES,
    SampleConfig,
    build_empty_database,
    build_sample_database,
)
from sop_core.data.stores import master, sales

MEETING_MAX_SKUS = 2_000
"""Above this many SKUs ``init`` builds the data only unless ``--meeting`` asks for the meeting:
its forecasts of every SKU would take from minutes to hours (20,000 SKUs: 7.5 minutes for the
forecast alone on 2 cores, measured, and 9 forecasts with the past ones)."""


def command_init(args: argparse.Namespace) -> int:
    if args.meeting and (args.data_only or args.empty):
        raise InputError("--meeting builds the meeting in progress: leave out --data-only/--empty.")
    args.fiscal = FiscalCalendar(args.fiscal_start, args.fiscal_pattern)
    if args.empty:
        build_empty_database(
            args.db,
            force=args.force,
            company_name=args.company,
            currency=args.currency,
            fiscal=args.fiscal,
            on_wait=print_wait,
        )
        print(
            f"Created {args.db} with the schema (version {schema.SCHEMA_VERSION}) and no data. "
            f"Import your files with: python -m sop_core import --db {args.db} --table "
            "sales_history FILE"
        )
        return 0
    config = SampleConfig(
        skus=args.skus,
        weeks=args.weeks,
        seed=args.seed,
        as_of=args.as_of,
        lines=args.lines,
        mix=args.mix,
        fiscal=args.fiscal,
    )
    started = time.perf_counter()
    with progress_bar(args.quiet) as progress:
        counts = build_sample_database(
            args.db, config, force=args.force, progress=progress, on_wait=print_wait
        )
    seconds = time.perf_counter() - started
    print(
        f"Built {args.db}: {counts['products']} SKUs, {counts['production_lines']} lines, "
        f"{counts['sales_history']:,} weekly sales rows in {seconds:.1f} s."
    )
    if args.data_only:
        return 0
    if config.skus > MEETING_MAX_SKUS and not args.meeting:
        print(
            f"Above {MEETING_MAX_SKUS:,} SKUs init builds the company's data only: the meeting "
            "in progress starts with a forecast of every SKU (20,000 SKUs: about 8 minutes on 2 "
            "cores) and 8 past forecasts. Make the forecast with: python -m sop_core forecast "
            f"--db {args.db} (the app shows the sales history until then), or build the whole "
            "meeting with init --meeting."
        )
        return 0
    from sop_core.meeting.story import make_past_runs, seed_meeting

    started = time.perf_counter()
    with progress_bar(args.quiet) as progress:
        story = seed_meeting(args.db, progress=lambda f, m: progress(0.3 * f, m))
        past = make_past_runs(args.db, progress=lambda f, m: progress(0.3 + 0.7 * f, m))
    print(
        f"Meeting in progress: forecast run {story['run_id']}, plan of record "
        f"{story['plan_version']} approved last week, {story['overrides']} consensus overrides, "
        f"{story['scenarios']} scenarios, {story['decisions']} decisions and assumptions, "
        f"{past} past forecasts ({time.perf_counter() - started:.0f} s)."
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
        author=author(args),
        on_wait=print_wait,
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
                    "issues": issues_json(report.issues),
                }
            )
        )
    else:
        print_notes(report.issues)
    if not report.ok:
        print(f"error: {report.summary()}", file=sys.stderr)
        for issue in report.errors[:20]:
            print(f"  {issue.text()}", file=sys.stderr)
        return EXIT_FAILURE
    if not args.json:
        print(report.summary() + (" (dry run: nothing written)" if args.dry_run else ""))
    return 0


def command_export(args: argparse.Namespace) -> int:
    from sop_core.data.export import (
        check_excel_rows,
        check_out_file,
        check_out_folder,
        export_format,
        export_table,
        export_workbook,
    )

    who = author(args)
    if args.table == "all":
        with db.connect(args.db, on_wait=print_wait) as con:
            tables = list(schema.table_columns(con))
        if not args.out.is_dir() and args.out.suffix.lower() == ".xlsx":
            # One workbook, a sheet per table.
            if args.format not in (None, "xlsx"):
                raise InputError(
                    f"One file holds every table only as Excel (.xlsx); give a folder for "
                    f"{args.format} files ({args.out})."
                )
            written = export_workbook(args.db, tables, args.out, author=who, bucket=args.bucket)
            for table, rows in written.items():
                print(f"{table}: {rows:,} rows")
            print(f"Wrote {len(written)} tables to {args.out}, one sheet each.")
            return 0
        if not args.out.exists():
            raise InputError(
                f"With --table all, --out must be an existing folder or a .xlsx file ({args.out})."
            )
        check_out_folder(args.out)
        suffix = (
            "" if args.bucket == "week" else f"-by-{args.bucket}"
        ) + f".{args.format or 'csv'}"
        if suffix == ".xlsx":
            check_excel_rows(args.db, tables)
        for table in tables:
            rows = export_table(
                args.db,
                table,
                args.out / f"{table}{suffix}",
                args.format,
                author=who,
                bucket=args.bucket,
            )
            print(f"{table}: {rows:,} rows")
        return 0
    export_format(args.out, args.format)
    check_out_file(args.out)
    rows = export_table(args.db, args.table, args.out, args.format, author=who, bucket=args.bucket)
    print(f"Wrote {rows:,} rows of {args.table} to {args.out}.")
    return 0


def command_info(args: argparse.Namespace) -> int:
    reclaimed = db.reclaim_space(args.db, on_wait=print_wait) if args.reclaim else None
    with db.connect(args.db, on_wait=print_wait) as con:
        counts = master.table_row_counts(con)
        version = schema.current_version(con)
        first_week, last_week = sales.sales_history_span(con)
        wasted = db.wasted_bytes_open(con, args.db)
    tables = dict(zip(counts["table"], (int(n) for n in counts["rows"]), strict=True))
    if not tables:
        raise SopError(f"{args.db} is a DuckDB file without any tables; is it the right file?")
    if args.json:
        print(
            json.dumps(
                {
                    "tables": tables,
                    "schema_version": version,
                    "history_first_week": str(first_week) if first_week else None,
                    "history_last_week": str(last_week) if last_week else None,
                    "wasted_mb": round(wasted / 1e6, 1),
                    "single_team": tables.get("users", 0) == 0,
                }
            )
        )
        return 0
    width = max(len(t) for t in tables)
    print(f"{args.db}  (schema version {version})")
    if first_week:
        print(f"history: {first_week} to {last_week}")
    if reclaimed is not None:
        print(f"gave back {reclaimed / 1e6:.1f} MB of unused space")
    if wasted >= 1e6:
        print(f"unused space: {wasted / 1e6:.1f} MB (give it back with --reclaim)")
    if tables.get("users", 0) == 0:
        print(access.SINGLE_TEAM)
    for table, rows in tables.items():
        print(f"  {table:<{width}}  {rows:>12,}")
    return 0


def command_dictionary(args: argparse.Namespace) -> int:
    text = schema.dictionary_markdown()
    if args.out == "-":
        sys.stdout.write(text)
    else:
        from sop_core.data.export import check_out_file

        check_out_file(args.out).write_text(text, encoding="utf-8")
        print(f"Wrote {args.out}")
    return 0


# ---- parsers -----------------------------------------------------------------------------------


def add_init_parser(commands: argparse._SubParsersAction) -> None:
    init = commands.add_parser(
        "init",
        help="build a sample company database",
        description="Build a database filled with the seeded sample cosmetics company.",
    )
    init.add_argument("--db", required=True, type=Path, help="database file to create")
    init.add_argument(
        "--skus", type=whole_number(5, 20_000), default=40, help="number of SKUs (40)"
    )
    init.add_argument(
        "--weeks", type=whole_number(104, 520), default=160, help="weeks of sales history (160)"
    )
    init.add_argument("--seed", type=whole_number(0, 2**32 - 1), default=7, help="random seed (7)")
    init.add_argument(
        "--mix",
        choices=list(MIXES),
        default="standard",
        help="kind of demand: "
        + "; ".join(f"{name}: {mix.description}" for name, mix in MIXES.items()).replace("%", "%%")
        + " (standard)",
    )
    init.add_argument(
        "--lines",
        type=whole_number(len(FAMILIES)),
        default=None,
        help="production lines (default: about 6 per 40 SKUs)",
    )
    init.add_argument(
        "--as-of",
        type=iso_date,
        default=None,
        help="history ends with the last complete week before this date "
        "(YYYY-MM-DD; default today)",
    )
    init.add_argument("--force", action="store_true", help="replace an existing database")
    init.add_argument(
        "--data-only",
        action="store_true",
        help="the company's data only: no forecast, plan of record, overrides, scenarios, "
        "decisions or past forecasts (seconds instead of about a minute)",
    )
    init.add_argument(
        "--meeting",
        action="store_true",
        help=f"build the meeting in progress whatever the size (above {MEETING_MAX_SKUS:,} SKUs "
        "init builds the data only unless asked: the forecasts take from minutes to hours)",
    )
    init.add_argument(
        "--empty",
        action="store_true",
        help="the schema and no data, for your own data (see the import command)",
    )
    init.add_argument("--company", default="My company", help="company name with --empty")
    init.add_argument("--currency", default="EUR", help="currency with --empty (EUR)")
    init.add_argument(
        "--fiscal-start",
        type=month_number,
        default=1,
        metavar="MONTH",
        help="first month of the fiscal year: 1-12 or a name such as Jul (1, January)",
    )
    init.add_argument(
        "--fiscal-pattern",
        choices=list(PATTERNS),
        default="calendar",
        help="fiscal months: calendar months, or weeks per month in each quarter (calendar)",
    )
    init.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    init.set_defaults(handler=command_init)


def add_import_parser(commands: argparse._SubParsersAction) -> None:
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
    importer.add_argument("--author", default=None, help="who imports (the same as --as)")
    add_as_option(importer)
    importer.add_argument("--json", action="store_true", help="print the report as JSON")
    importer.set_defaults(handler=command_import)


def add_export_parser(commands: argparse._SubParsersAction) -> None:
    exporter = commands.add_parser(
        "export",
        help="export a table to CSV, Parquet or Excel",
        description="Write a table to CSV, Parquet or Excel; with --table all, every table "
        "into a folder (a file each) or into one Excel workbook (--out FILE.xlsx: a sheet per "
        "table). Workbooks store numbers as numbers with number formats, headers in words, "
        "and a cover sheet (company, forecast run, plan of record, who, when). Text a "
        "spreadsheet would run as a formula is escaped in CSV and Excel.",
    )
    exporter.add_argument("--db", required=True, type=Path, help="database file")
    exporter.add_argument("--table", required=True, help="table name, or all")
    exporter.add_argument(
        "--out",
        required=True,
        type=Path,
        help="output file; with --table all, a folder or one .xlsx workbook",
    )
    exporter.add_argument(
        "--format", choices=("csv", "parquet", "xlsx"), default=None, help="(from --out)"
    )
    exporter.add_argument(
        "--author", default=None, help="who exports, on a workbook's cover (default: $USER)"
    )
    add_bucket_option(exporter)
    exporter.set_defaults(handler=command_export)


def add_info_parser(commands: argparse._SubParsersAction) -> None:
    info = commands.add_parser(
        "info",
        help="row counts of every table",
        description="Print each table's row count, the schema version and the history range.",
    )
    info.add_argument("--db", required=True, type=Path, help="database file")
    info.add_argument(
        "--json", action="store_true", help='print {"tables": {"name": rows, ...}, ...} as JSON'
    )
    info.add_argument(
        "--reclaim",
        action="store_true",
        help="first rewrite the file without the space interrupted writes left in it",
    )
    info.set_defaults(handler=command_info)


def add_dictionary_parser(commands: argparse._SubParsersAction) -> None:
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


PARSERS = {
    "init": add_init_parser,
    "import": add_import_parser,
    "export": add_export_parser,
    "info": add_info_parser,
    "dictionary": add_dictionary_parser,
}
"""This group's commands and the functions that add their subparsers."""
