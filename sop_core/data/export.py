"""Export any table to CSV, Parquet or Excel.

Text that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return) is written with a leading apostrophe in CSV and Excel files, so opening
an export never runs what somebody typed into a SKU name or a reason. Parquet keeps values as
they are (it is read by programs, not run by spreadsheets).
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
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Characters below space other than tab, newline and carriage return: a workbook refuses them.
CONTROL = r"[\x00-\x08\x0B\x0C\x0E-\x1F]"


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
    """``SELECT`` of ``table`` with formula-like text given a leading apostrophe (and, for
    Excel, the control characters a workbook cannot hold removed)."""
    starts = ", ".join(f"'{c}'" if c not in "\t\r" else f"chr({ord(c)})" for c in FORMULA_START)
    columns = []
    for name, kind in con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall():
        quoted = '"' + name.replace('"', '""') + '"'
        if kind == "VARCHAR":
            text = f"regexp_replace({quoted}, '{CONTROL}', '', 'g')" if excel else quoted
            columns.append(
                f"CASE WHEN left({text}, 1) IN ({starts}) THEN '''' || {text} "
                f"ELSE {text} END AS {quoted}"
            )
        else:
            columns.append(quoted)
    return f'SELECT {", ".join(columns)} FROM "{table}"'


def export_table(path: Path | str, table: str, out: Path | str, fmt: str | None = None) -> int:
    """Write ``table`` to ``out``; return the rows written. The file appears complete or not
    at all (written next to it, then moved into place)."""
    out = Path(out)
    kind = export_format(out, fmt)
    if not out.parent.exists():
        raise InputError(f"The folder {out.parent} does not exist.")
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
            if rows > EXCEL_MAX_ROWS:
                raise InputError(
                    f"{table} has {rows:,} rows, more than an Excel sheet holds; export it as "
                    "CSV or Parquet."
                )
            frame = con.execute(_escaped_select(con, table, excel=True)).df()
            frame.to_excel(temporary, sheet_name=table[:31], index=False, engine="openpyxl")
    return int(rows)


def _literal(path: Path) -> str:
    return str(path).replace("'", "''")


def export_bytes(path: Path | str, table: str, fmt: str) -> bytes:
    """``table`` as the bytes of a CSV, Parquet or Excel file (for a download button)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="sop-export-") as folder:
        out = Path(folder) / f"{table}.{fmt}"
        export_table(path, table, out, fmt)
        return out.read_bytes()


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with text a spreadsheet would run as a formula given a leading apostrophe
    and control characters a workbook refuses removed (for frames written to Excel)."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(_escape_cell)
    return frame


def _escape_cell(value):
    if not isinstance(value, str):
        return value
    value = re.sub(CONTROL, "", value)
    return "'" + value if value.startswith(FORMULA_START) else value


def targets_csv(rows: pd.DataFrame) -> bytes:
    """Targets (``sku, week, baseline, revised, lower_80, upper_80``, weeks as timestamps) as
    the bytes of a CSV file, weeks written as dates."""
    # DuckDB writes the CSV: pandas' float formatting is the slow part of a big file.
    # (a private in-memory connection: sessions download at the same time)
    with tempfile.TemporaryDirectory(prefix="sop-targets-") as folder:
        out = Path(folder) / "targets.csv"
        with duckdb.connect() as con:
            con.register("targets", rows)
            con.execute(
                "COPY (SELECT sku, strftime(week, '%Y-%m-%d') AS week, baseline, revised, "
                f"lower_80, upper_80 FROM targets) TO '{out}' (HEADER, DELIMITER ',')"
            )
        return out.read_bytes()
