"""Export any table to CSV, Parquet or Excel, and the rules every file the product writes
follows.

Text that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return) is written with a leading apostrophe in CSV and Excel files, so opening
a file of ours never runs what somebody typed into a SKU name or a reason: ``escape_formulas``
for frames, ``escaped_text_sql`` for files DuckDB writes itself (one rule, one set of
characters). Parquet keeps values as they are (it is read by programs, not run by
spreadsheets). ``check_out_file`` and ``check_out_folder`` refuse a place that cannot be written
before any work is done.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from sop_core.data import db, schema
from sop_core.data.errors import InputError
from sop_core.data.fiscal import FiscalCalendar, bucketed_weeks
from sop_core.data.formats import MISSING, date, header
from sop_core.data.workbook import Column, Workbook, column_kind, duckdb_values

EXPORT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".xlsx": "xlsx"}
EXCEL_MAX_ROWS = 1_048_575  # one row for the header
EXCEL_BATCH_ROWS = 10_000
"""Rows fetched from DuckDB at a time while an Excel export streams into the workbook."""
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Characters below space other than tab, newline and carriage return: a workbook refuses them.
CONTROL = r"[\x00-\x08\x0B\x0C\x0E-\x1F]"


# ---- where a file goes ---------------------------------------------------------------------------


def check_out_file(out: Path | str) -> Path:
    """``out`` as a file to write, refused with one line when its folder is missing, is not
    a folder or cannot be written into, or when ``out`` is itself a folder."""
    out = Path(out)
    if out.is_dir():
        raise InputError(f"{out} is a folder; name the file to write.")
    _check_folder(out.parent)
    return out


def check_out_folder(out: Path | str) -> Path:
    """``out`` as a folder to write into, refused with one line when it is missing, is a
    file, or cannot be written into."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file, not a folder; give a folder to write into.")
    _check_folder(out)
    return out


def _check_folder(folder: Path) -> None:
    if not folder.exists():
        raise InputError(f"The folder {folder} does not exist.")
    if not folder.is_dir():
        raise InputError(f"{folder} is a file, not a folder.")
    try:
        # Really write: permission bits say nothing for root or a read-only mount.
        with tempfile.TemporaryFile(dir=folder, prefix=".sop-probe-"):
            pass
    except OSError as error:
        raise InputError(
            f"Cannot write into the folder {folder} ({error.strerror or error})."
        ) from None


# ---- the one escaping rule ---------------------------------------------------------------------


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with text a spreadsheet would run as a formula given a leading apostrophe
    and control characters a workbook refuses removed (for frames written to CSV or Excel)."""
    frame = frame.copy()
    for column in frame.columns:
        kind = frame[column].dtype
        if pd.api.types.is_object_dtype(kind) or pd.api.types.is_string_dtype(kind):
            frame[column] = frame[column].map(escape_text)
    return frame


def escape_text(value):
    """One value under the rule of ``escape_formulas`` (anything but text as it is)."""
    if not isinstance(value, str):
        return value
    value = re.sub(CONTROL, "", value)
    return "'" + value if value.startswith(FORMULA_START) else value


def escaped_text_sql(expression: str, excel: bool = False) -> str:
    """SQL for the text ``expression`` under the rule of ``escape_formulas``: a leading
    apostrophe before formula-like text (and, for Excel, the control characters a workbook
    cannot hold removed). For files DuckDB writes itself."""
    starts = ", ".join(f"'{c}'" if c not in "\t\r" else f"chr({ord(c)})" for c in FORMULA_START)
    text = f"regexp_replace({expression}, '{CONTROL}', '', 'g')" if excel else expression
    return f"CASE WHEN left({text}, 1) IN ({starts}) THEN '''' || {text} ELSE {text} END"


def write_csv(frame: pd.DataFrame, out: Path | str, **to_csv: object) -> None:
    """Write ``frame`` to the CSV file ``out`` with formula-like text escaped; the file
    appears complete or not at all. ``to_csv`` goes to ``DataFrame.to_csv``."""
    out = Path(out)
    temporary = out.with_name(f".{out.name}.partial")
    try:
        escape_formulas(frame).to_csv(temporary, index=False, **to_csv)
        temporary.replace(out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# ---- tables out ----------------------------------------------------------------------------------


def export_format(out: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in EXPORT_FORMATS.values():
            raise InputError(f"Export as csv, parquet or xlsx, not {fmt!r}.")
        return fmt
    suffix = out.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise InputError(f"{out.name}: name the file .csv, .parquet or .xlsx (or give --format).")
    return EXPORT_FORMATS[suffix]


def _table_types(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """``table``'s columns and their DuckDB types, in order."""
    return con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()


def _escaped_select(
    con: duckdb.DuckDBPyConnection,
    table: str,
    excel: bool = False,
    bucket: str = "week",
    escape: bool = True,
) -> str:
    """``SELECT`` of ``table`` with formula-like text escaped (``escaped_text_sql``; not
    with ``escape`` False, for Parquet); a weekly table by fiscal month or quarter with
    ``bucket`` (``_bucketed_select``)."""
    types = _table_types(con, table)
    if bucket != "week" and "week" in dict(types):
        return _bucketed_select(con, table, types, excel, bucket, escape)
    columns = []
    for name, kind in types:
        quoted = _quoted(name)
        columns.append(
            f"{escaped_text_sql(quoted, excel)} AS {quoted}" if kind == "VARCHAR" else quoted
        )
    return f'SELECT {", ".join(columns)} FROM "{table}"'


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# How a weekly figure adds up over a month or a quarter, where it is not a sum: a stock is the
# period's last week's; a price, a discount or a share of stores is the mean over the period,
# weighted by the units sold where the table has them (so units x price is the revenue) and by
# the days otherwise; an 80% or 95% bound is its centre less or plus the weekly half-widths
# combined as independent errors (the square root of the sum of squares), as the targets' are.
LAST_IN_PERIOD = ("units_on_hand", "inventory")
MEAN_IN_PERIOD = ("net_price", "list_price", "discount_depth", "feature", "display")
BAND_CENTRES = {"forecast_rows": "forecast", "plan_of_record_targets": "target"}
# What a caller may ask of a column that its name does not say (``rules``): a level that is
# not named as a stock ("last"), a mean ("mean"), the period's highest week ("max", a weekly
# chance or peak), or the sum after all ("sum").
PERIOD_RULES = ("sum", "last", "mean", "max")
# Whole numbers that name a row rather than count something: kept as keys of the period.
KEY_NUMBERS = ("run_id", "plan_id", "plan_version")


def _bucketed_select(
    con: duckdb.DuckDBPyConnection,
    table: str,
    types: list[tuple[str, str]],
    excel: bool,
    bucket: str,
    escape: bool = True,
    calendar: FiscalCalendar | None = None,
    centre: str | None = None,
    rules: dict[str, str] | None = None,
) -> str:
    """``SELECT`` of a weekly ``table`` per fiscal ``bucket`` of ``calendar`` (the
    database's by default): its text, dates and row numbers as keys, the week as the period's
    name (a column named after the bucket) and first day (``period_start``), its figures
    summed with split weeks allocated by their days (``fiscal.bucketed_weeks``' shares, in DuckDB)
    or as ``LAST_IN_PERIOD``, ``MEAN_IN_PERIOD`` and the bands (around ``centre``, by
    default ``BAND_CENTRES``'s) say, or as ``rules`` say by column (``PERIOD_RULES``);
    ``weeks`` last."""
    from sop_core.data.stores import master

    weeks = con.execute(f'SELECT DISTINCT week FROM "{table}"').df()["week"]
    periods = bucketed_weeks(weeks, bucket, calendar or master.fiscal_calendar(con))
    con.register("fiscal_periods", periods)
    centre = centre or BAND_CENTRES.get(table)
    has_units = "units" in dict(types)
    keys, figures = [], []
    for name, kind in types:
        quoted = _quoted(name)
        if name == "week":
            continue
        numeric = duckdb_values(kind) in ("number", "integer") and name not in KEY_NUMBERS
        if not numeric:
            text = kind == "VARCHAR" and escape
            key = escaped_text_sql(f"t.{quoted}", excel) if text else f"t.{quoted}"
            keys.append(f"{key} AS {quoted}")
            continue
        value = f"t.{quoted}"
        rule = (rules or {}).get(name)
        if rule == "max":
            figure = f"max({value})"
        elif rule == "last" or (rule is None and name in LAST_IN_PERIOD):
            figure = f"arg_max({value}, t.week)"
        elif rule == "mean" or (rule is None and name in MEAN_IN_PERIOD):
            figure = f"sum({value} * p.share) / sum(p.share)"
            if has_units:
                weighted = f"sum({value} * t.units * p.share) / nullif(sum(t.units * p.share), 0)"
                figure = f"coalesce({weighted}, {figure})"
        elif rule is None and centre and (name.startswith("lower_") or name.startswith("upper_")):
            sign = "-" if name.startswith("lower_") else "+"
            spread = f"sum(power({value} - t.{_quoted(centre)}, 2) * p.share)"
            figure = f"sum(t.{_quoted(centre)} * p.share) {sign} sqrt({spread})"
            if sign == "-":
                figure = f"greatest({figure}, 0)"
        else:
            figure = f"sum({value} * p.share)"
        figures.append(f"{figure} AS {quoted}")
    groups = ", ".join(str(i + 1) for i in range(len(keys) + 2))
    order = ", ".join([*(str(i + 1) for i in range(len(keys))), str(len(keys) + 2)])
    columns = [
        *keys,
        f"p.period AS {_quoted(bucket)}",
        "CAST(p.period_start AS DATE) AS period_start",
        *figures,
    ]
    return (
        f"SELECT {', '.join(columns)}, sum(p.share) AS weeks "
        f'FROM "{table}" t JOIN fiscal_periods p ON p.week = t.week '
        f"GROUP BY {groups} ORDER BY {order}"
    )


def bucketed_frame(
    frame: pd.DataFrame,
    bucket: str,
    calendar: FiscalCalendar,
    centre: str | None = None,
    rules: dict[str, str] | None = None,
) -> pd.DataFrame:
    """A weekly ``frame`` per fiscal ``bucket`` by the rules of a bucketed export (the same
    SQL, over the frame in a private DuckDB): for the meeting pack's sheets and the pages.
    ``centre`` is the column its ``lower_``/``upper_`` bands are around; ``rules`` says how a
    column adds up where its name does not (``{"safety_stock": "last"}``, ``PERIOD_RULES``)."""
    if bucket == "week" or "week" not in frame.columns:
        return frame
    unknown = set((rules or {}).values()) - set(PERIOD_RULES)
    if unknown:
        raise ValueError(f"No period rule {sorted(unknown)}: {', '.join(PERIOD_RULES)}.")
    with duckdb.connect() as con:
        con.register("weekly", frame)
        types = [
            (name, str(kind))
            for name, kind, *_ in con.execute("SELECT * FROM weekly LIMIT 0").description
        ]
        select = _bucketed_select(
            con,
            "weekly",
            types,
            False,
            bucket,
            escape=False,
            calendar=calendar,
            centre=centre,
            rules=rules,
        )
        return con.execute(select).df()


def check_excel_rows(path: Path | str, tables: list[str]) -> None:
    """Refuse, before anything is written, tables with more rows than an Excel sheet holds."""
    with db.connect(path) as con:
        known = schema.table_columns(con)
        for table in tables:
            if table not in known:
                continue  # export_table says so
            rows = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            _refuse_over_excel(table, rows)


def _refuse_over_excel(table: str, rows: int) -> None:
    if rows > EXCEL_MAX_ROWS:
        raise InputError(
            f"{table} has {rows:,} rows, more than an Excel sheet holds "
            f"({EXCEL_MAX_ROWS + 1:,} with the header); export it as CSV or Parquet."
        )


def export_table(
    path: Path | str,
    table: str,
    out: Path | str,
    fmt: str | None = None,
    *,
    author: str | None = None,
    bucket: str = "week",
) -> int:
    """Write ``table`` to ``out``; return the rows written. The file appears complete or not
    at all (written next to it, then moved into place). A workbook holds the table's sheet
    first (the importer reads a workbook's first sheet, so an export reads back in) and a
    cover sheet saying who (``author``) made it, when and from what. With ``bucket`` "month"
    or "quarter" a weekly table comes out per fiscal period (``_bucketed_select``)."""
    out = Path(out)
    kind = export_format(out, fmt)
    check_out_file(out)
    temporary = out.with_name(f".{out.name}.partial")
    try:
        rows = _write(path, table, temporary, kind, author, bucket)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    temporary.replace(out)
    return rows


def _write(
    path: Path | str,
    table: str,
    temporary: Path,
    kind: str,
    author: str | None,
    bucket: str = "week",
) -> int:
    with db.connect(path) as con:
        if table not in schema.table_columns(con):
            raise InputError(f"There is no table called {table!r} in {path}.")
        select = _escaped_select(con, table, kind == "xlsx", bucket)
        rows = con.execute(f"SELECT count(*) FROM ({select})").fetchone()[0]
        if kind == "parquet":
            raw = bucket == "week" or "week" not in schema.table_columns(con)[table]
            source = (
                f'"{table}"'
                if raw
                else f"({_escaped_select(con, table, bucket=bucket, escape=False)})"
            )
            con.execute(f"COPY {source} TO '{_literal(temporary)}' (FORMAT parquet)")
        elif kind == "csv":
            con.execute(f"COPY ({select}) TO '{_literal(temporary)}' (HEADER, DELIMITER ',')")
        else:
            _refuse_over_excel(table, rows)
            with Workbook(temporary) as book:
                _stream_table(con, book, table, bucket)
                book.cover(
                    f"{table}: a table of the S&OP database",
                    _export_cover(con, path, f"the table {table} ({rows:,} rows)", author, bucket),
                )
    return int(rows)


def export_workbook(
    path: Path | str,
    tables: list[str],
    out: Path | str,
    *,
    author: str | None = None,
    bucket: str = "week",
) -> dict[str, int]:
    """Write every table of ``tables`` into the one workbook ``out``, a sheet each (named
    after the table: at most 31 characters, unique), then a cover sheet; return the rows
    written by table. Refused up front when a table has more rows than a sheet holds; the
    file appears complete or not at all."""
    out = check_out_file(out)
    check_excel_rows(path, tables)
    temporary = out.with_name(f".{out.name}.partial")
    written: dict[str, int] = {}
    try:
        with db.connect(path) as con:
            known = schema.table_columns(con)
            missing = [table for table in tables if table not in known]
            if missing:
                raise InputError(f"There is no table called {missing[0]!r} in {path}.")
            with Workbook(temporary) as book:
                for table in tables:
                    written[table] = _stream_table(con, book, table, bucket)
                total = sum(written.values())
                book.cover(
                    "The S&OP database, one sheet per table",
                    _export_cover(
                        con,
                        path,
                        f"{len(tables)} tables, one sheet each ({total:,} rows)",
                        author,
                        bucket,
                    ),
                )
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    temporary.replace(out)
    return written


def _stream_table(
    con: duckdb.DuckDBPyConnection, book: Workbook, table: str, bucket: str = "week"
) -> int:
    """Stream ``table`` into a sheet of ``book``, batch by batch (``EXCEL_BATCH_ROWS`` rows
    fetched from DuckDB at a time): memory stays flat whatever the table's size (a frame
    through ``to_excel`` held every cell as an object: minutes and ~1.8 GB for 450,000
    rows). Numbers keep their type with a number format by column, headers read in words."""
    result = con.execute(_escaped_select(con, table, excel=True, bucket=bucket))
    columns = []
    for name, data_type, *_ in result.description:
        values = duckdb_values(str(data_type))
        columns.append(Column(table_header(name), values, column_kind(name, values)))

    def rows():
        while batch := result.fetchmany(EXCEL_BATCH_ROWS):
            yield from batch

    return book.rows(table, columns, rows())


def table_header(column: str) -> str:
    """A table column's header in an exported workbook: in words (``formats.header``), and
    read back by the importer (``list_price`` reads "List price", matched again as
    ``list_price``)."""
    # "name" is a product's, a line's, a channel's or a promotion's name here.
    return "Name" if column == "name" else header(column)


def _export_cover(
    con: duckdb.DuckDBPyConnection,
    path: Path | str,
    contents: str,
    author: str | None,
    bucket: str = "week",
) -> list[tuple[str, object]]:
    """The cover of an export: company, what the file holds, the forecast run and plan of
    record current when it was made, the bucket of weekly tables, who made it and when."""
    from sop_core.data.stores import forecast_runs, master, plans_of_record

    record = plans_of_record.plan_of_record(con)
    run = forecast_runs.latest_run_id(con)
    return [
        ("Company", master.company_settings(con).get("company_name", "")),
        ("Contents", contents),
        ("Scenario", "every scenario, as stored (the tables are not filtered)"),
        ("Forecast run", f"{run} (the latest)" if run is not None else "none yet"),
        (
            "Plan of record",
            f"v{record.plan_version} ({record.scenario}), approved by {record.approved_by} on "
            f"{date(record.approved_at)}"
            if record is not None
            else "none approved yet",
        ),
        (
            "Weekly tables",
            "by week, as stored"
            if bucket == "week"
            else f"by fiscal {bucket} ({master.fiscal_calendar(con).describe()})",
        ),
        ("Database", Path(path).name),
        ("Made by", author or MISSING),
        ("Made at", dt.datetime.now().replace(microsecond=0)),
    ]


def _literal(path: Path) -> str:
    return str(path).replace("'", "''")


def export_bytes(
    path: Path | str,
    table: str,
    fmt: str,
    *,
    author: str | None = None,
    bucket: str = "week",
) -> bytes:
    """``table`` as the bytes of a CSV, Parquet or Excel file (for a download button)."""
    with tempfile.TemporaryDirectory(prefix="sop-export-") as folder:
        out = Path(folder) / f"{table}.{fmt}"
        export_table(path, table, out, fmt, author=author, bucket=bucket)
        return out.read_bytes()


def targets_csv(rows: pd.DataFrame) -> bytes:
    """Targets (``sku, week, baseline, ...``: weeks as timestamps, any further columns after
    them) as the bytes of a CSV file, weeks written as dates and text columns a spreadsheet
    would run as a formula escaped."""
    # DuckDB writes the CSV: pandas' float formatting is the slow part of a big file.
    # (a private in-memory connection: sessions download at the same time)
    columns = []
    for name in rows.columns:
        quoted = '"' + str(name).replace('"', '""') + '"'
        if name == "week":
            columns.append("strftime(week, '%Y-%m-%d') AS week")
        elif pd.api.types.is_numeric_dtype(rows[name].dtype):
            columns.append(quoted)
        else:
            columns.append(f"{escaped_text_sql(f'CAST({quoted} AS VARCHAR)')} AS {quoted}")
    with tempfile.TemporaryDirectory(prefix="sop-targets-") as folder:
        out = Path(folder) / "targets.csv"
        with duckdb.connect() as con:
            con.register("targets", rows)
            con.execute(
                f"COPY (SELECT {', '.join(columns)} FROM targets) "
                f"TO '{_literal(out)}' (HEADER, DELIMITER ',')"
            )
        return out.read_bytes()
