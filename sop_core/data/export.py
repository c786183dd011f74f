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

import re
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from sop_core.data import db, schema
from sop_core.data.errors import InputError

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
            frame[column] = frame[column].map(_escape_cell)
    return frame


def _escape_cell(value):
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


def _escaped_select(con: duckdb.DuckDBPyConnection, table: str, excel: bool = False) -> str:
    """``SELECT`` of ``table`` with formula-like text escaped (``escaped_text_sql``)."""
    columns = []
    for name, kind in con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall():
        quoted = '"' + name.replace('"', '""') + '"'
        columns.append(
            f"{escaped_text_sql(quoted, excel)} AS {quoted}" if kind == "VARCHAR" else quoted
        )
    return f'SELECT {", ".join(columns)} FROM "{table}"'


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


def export_table(path: Path | str, table: str, out: Path | str, fmt: str | None = None) -> int:
    """Write ``table`` to ``out``; return the rows written. The file appears complete or not
    at all (written next to it, then moved into place)."""
    out = Path(out)
    kind = export_format(out, fmt)
    check_out_file(out)
    temporary = out.with_name(f".{out.name}.partial")
    try:
        rows = _write(path, table, temporary, kind)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    temporary.replace(out)
    return rows


def _write(path: Path | str, table: str, temporary: Path, kind: str) -> int:
    with db.connect(path) as con:
        if table not in schema.table_columns(con):
            raise InputError(f"There is no table called {table!r} in {path}.")
        rows = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        if kind == "parquet":
            con.execute(f"COPY \"{table}\" TO '{_literal(temporary)}' (FORMAT parquet)")
        elif kind == "csv":
            select = _escaped_select(con, table)
            con.execute(f"COPY ({select}) TO '{_literal(temporary)}' (HEADER, DELIMITER ',')")
        else:
            _refuse_over_excel(table, rows)
            _stream_excel(con, _escaped_select(con, table, excel=True), table[:31], temporary)
    return int(rows)


def _stream_excel(con: duckdb.DuckDBPyConnection, select: str, sheet_name: str, out: Path) -> None:
    """Write the rows of ``select`` into a one-sheet workbook, batch by batch: openpyxl's
    write-only mode keeps rows on disk, so memory stays flat whatever the table's size
    (a frame through ``to_excel`` held every cell as an object: minutes and ~1.8 GB for
    450,000 rows)."""
    import openpyxl  # here, not at the top: it costs every CLI command 70 ms to start

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_name)
    result = con.execute(select)
    sheet.append([column[0] for column in result.description])
    while batch := result.fetchmany(EXCEL_BATCH_ROWS):
        for row in batch:
            sheet.append(row)
    workbook.save(out)


def _literal(path: Path) -> str:
    return str(path).replace("'", "''")


def export_bytes(path: Path | str, table: str, fmt: str) -> bytes:
    """``table`` as the bytes of a CSV, Parquet or Excel file (for a download button)."""
    with tempfile.TemporaryDirectory(prefix="sop-export-") as folder:
        out = Path(folder) / f"{table}.{fmt}"
        export_table(path, table, out, fmt)
        return out.read_bytes()


def targets_csv(rows: pd.DataFrame) -> bytes:
    """Targets (``sku, week, baseline, revised, lower_80, upper_80``, weeks as timestamps) as
    the bytes of a CSV file, weeks written as dates and formula-like SKU codes escaped."""
    # DuckDB writes the CSV: pandas' float formatting is the slow part of a big file.
    # (a private in-memory connection: sessions download at the same time)
    with tempfile.TemporaryDirectory(prefix="sop-targets-") as folder:
        out = Path(folder) / "targets.csv"
        with duckdb.connect() as con:
            con.register("targets", rows)
            con.execute(
                f"COPY (SELECT {escaped_text_sql('sku')} AS sku, "
                "strftime(week, '%Y-%m-%d') AS week, baseline, revised, lower_80, upper_80 "
                f"FROM targets) TO '{_literal(out)}' (HEADER, DELIMITER ',')"
            )
        return out.read_bytes()
