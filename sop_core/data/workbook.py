"""How the product writes an Excel workbook: the one writer behind table exports, the
targets file and the meeting pack.

Every sheet it writes reads the way finance files it: numbers stored as numbers with the
number formats of ``formats.EXCEL_FORMATS`` (units ``#,##0``, money, percents as fractions
shown ``0.0%``), dates as dates, a bold header row that stays frozen with a filter on it,
columns as wide as what they hold, and a cover sheet saying what the file is, who made it and
when. Text is written as text, never as a formula (the leading apostrophe of
``export.escape_formulas`` stays visible), and a missing value is an empty cell.

XlsxWriter in constant-memory mode: rows go to disk as they are written, so a sheet of any
size costs the same memory, and a column's number format applies to every cell written into
it without a style object per cell. Sheets are written one after another, each row once.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sop_core.data.formats import EXCEL_FORMATS, MISSING, missing

SHEET_NAME_MAX = 31
WIDTH_SAMPLE_ROWS = 10_000
"""Columns are fitted to the header and to this many first rows (a big table streams on)."""
MIN_WIDTH, MAX_WIDTH = 6, 60
HEADER_FILL = "#E8EEF4"
COVER_SHEET = "Cover"

# A column's number format by its name, for tables and frames whose columns are not labelled
# one by one. The first rule whose words appear in the name wins; the kinds are the keys of
# ``EXCEL_FORMATS``.
_NAME_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ratio", ("elasticity", "coefficient", "mase", "estimate", "standard_error", "seconds")),
    (
        "percent",
        (
            "share",
            "depth",
            "discount",
            "feature",
            "display",
            "utilisation",
            "oee",
            "progress",
            "probability",
            "noise_cv",
            "uplift",
            "dip",
            "per_year",
            "wape",
            "mape",
            "bias",
            "cannibalisation",
        ),
    ),
    ("money", ("revenue", "margin", "spend", "total_cost")),
    ("price", ("price", "cost")),
)
_ID_ENDINGS = ("_id", "version", "pid", "_run", "reused_from", "preference")


def column_kind(name: str, values: str) -> str | None:
    """The ``EXCEL_FORMATS`` kind of a column from its name and what it holds (``values``:
    ``"number"``, ``"integer"``, ``"date"``, ``"datetime"``, ``"text"``, ``"bool"``); None
    for text and identifiers (shown as they are)."""
    if values == "date":
        return "date"
    if values == "datetime":
        return "datetime"
    if values == "integer":
        return None if name.endswith(_ID_ENDINGS) or name == "id" else "units"
    if values != "number":
        return None
    for kind, words in _NAME_RULES:
        if any(word in name for word in words):
            return kind
    return "units"


def duckdb_values(data_type: str) -> str:
    """What a DuckDB column of ``data_type`` holds, in ``column_kind``'s words."""
    kind = data_type.upper()
    if kind in ("DOUBLE", "FLOAT", "REAL") or kind.startswith("DECIMAL"):
        return "number"
    if kind in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT"):
        return "integer"
    if kind in ("UINTEGER", "UBIGINT"):
        return "integer"
    if kind == "DATE":
        return "date"
    if kind.startswith("TIMESTAMP"):
        return "datetime"
    if kind == "BOOLEAN":
        return "bool"
    return "text"


def frame_values(series: pd.Series) -> str:
    """What a pandas column holds, in ``column_kind``'s words."""
    kind = series.dtype
    if pd.api.types.is_bool_dtype(kind):
        return "bool"
    if pd.api.types.is_integer_dtype(kind):
        return "integer"
    if pd.api.types.is_numeric_dtype(kind):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(kind):
        clean = series.dropna()
        midnight = clean.empty or bool((clean == clean.dt.normalize()).all())
        return "date" if midnight else "datetime"
    present = series.dropna()
    if len(present) and all(isinstance(v, dt.date) for v in present.head(100)):
        timed = any(isinstance(v, dt.datetime) for v in present.head(100))
        return "datetime" if timed else "date"
    return "text"


@dataclass(frozen=True)
class Column:
    """One column of a sheet: the header as written, what its cells hold and their format
    (a key of ``EXCEL_FORMATS``, an Excel format string, or None)."""

    header: str
    values: str = "text"
    kind: str | None = None

    @property
    def number_format(self) -> str | None:
        if self.kind is None:
            return None
        return EXCEL_FORMATS.get(self.kind, self.kind)


def unique_sheet_name(name: str, taken: Iterable[str]) -> str:
    """``name`` as a sheet may be called: the characters Excel refuses replaced, at most 31
    characters, and different (whatever the case) from every name in ``taken``."""
    clean = "".join("_" if c in "[]:*?/\\" else c for c in str(name)).strip("'") or "Sheet"
    used = {t.lower() for t in taken}
    candidate = clean[:SHEET_NAME_MAX]
    number = 1
    while candidate.lower() in used:
        number += 1
        suffix = f" ({number})"
        candidate = clean[: SHEET_NAME_MAX - len(suffix)] + suffix
    return candidate


class Workbook:
    """An Excel workbook written sheet by sheet: ``cover``, ``frame`` or ``rows``, then
    ``close`` (or use it as a context manager; an error leaves no file behind)."""

    def __init__(self, out: Path | str):
        import xlsxwriter  # here, not at the top: most CLI commands never write a workbook

        self.out = Path(out)
        # Rows wait in files of this folder until ``close``: removed however the work ends.
        self._rows_folder = tempfile.TemporaryDirectory(prefix="sop-workbook-")
        self._book = xlsxwriter.Workbook(
            str(self.out),
            {
                "constant_memory": True,
                "tmpdir": self._rows_folder.name,
                "strings_to_formulas": False,  # text is text, whatever it starts with
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "remove_timezone": True,
            },
        )
        self._header = self._book.add_format(
            {
                "bold": True,
                "bg_color": HEADER_FILL,
                "bottom": 1,
            }
        )
        self._formats: dict[str, Any] = {}
        self.sheet_names: list[str] = []

    def __enter__(self) -> Workbook:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self._rows_folder.cleanup()
            self.out.unlink(missing_ok=True)

    def close(self) -> None:
        try:
            self._book.close()
        finally:
            self._rows_folder.cleanup()

    def _format(self, number_format: str | None, **extra: Any) -> Any:
        key = f"{number_format}|{sorted(extra.items())}"
        if key not in self._formats:
            spec = dict(extra)
            if number_format:
                spec["num_format"] = number_format
            self._formats[key] = self._book.add_format(spec) if spec else None
        return self._formats[key]

    def _sheet(self, name: str) -> Any:
        name = unique_sheet_name(name, self.sheet_names)
        self.sheet_names.append(name)
        return self._book.add_worksheet(name)

    # ---- sheets ----------------------------------------------------------------------------

    def cover(self, title: str, fields: Sequence[tuple[str, Any]], name: str = COVER_SHEET) -> None:
        """A cover sheet: ``title`` on top, then one row per field (label, value); a date or
        a number keeps its type."""
        sheet = self._sheet(name)
        sheet.set_column(0, 0, max([len(label) for label, _ in fields] + [14]) + 2)
        width = 14
        sheet.write_string(0, 0, title, self._format(None, bold=True, font_size=14))
        for row, (label, value) in enumerate(fields, start=2):
            sheet.write_string(row, 0, label, self._format(None, bold=True))
            width = max(width, self._write_any(sheet, row, 1, value))
        sheet.set_column(1, 1, min(width + 2, MAX_WIDTH * 2))
        sheet.hide_gridlines(2)

    def frame(
        self,
        name: str,
        frame: pd.DataFrame,
        header: Callable[[str], str] = str,
        kinds: dict[str, str | None] | None = None,
    ) -> int:
        """``frame`` as a sheet: each column's header through ``header``, its number format
        from ``kinds`` (by column name) or from its name and values (``column_kind``).
        Return the rows written."""
        kinds = kinds or {}
        columns = []
        for column in frame.columns:
            values = frame_values(frame[column])
            kind = kinds[column] if column in kinds else column_kind(str(column), values)
            columns.append(Column(header(str(column)), values, kind))
        cells = [
            _plain(frame[column], c.values)
            for column, c in zip(frame.columns, columns, strict=True)
        ]
        return self.rows(name, columns, zip(*cells, strict=True) if cells else iter(()))

    def rows(self, name: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> int:
        """A sheet of ``columns`` filled from ``rows`` (tuples in column order), streamed:
        a header row frozen with a filter, columns fitted to the header and the first
        ``WIDTH_SAMPLE_ROWS`` rows. Return the rows written."""
        sheet = self._sheet(name)
        writers = [self._writer(sheet, column.values) for column in columns]
        widths = [_header_width(column.header) for column in columns]
        formats = [self._format(column.number_format) for column in columns]
        for index, column in enumerate(columns):
            # The format first: a cell takes its column's format as it is written.
            sheet.set_column(index, index, None, formats[index])
            sheet.write_string(0, index, column.header, self._header)
        count = 0
        for count, row in enumerate(rows, start=1):
            if count <= WIDTH_SAMPLE_ROWS:
                for index, (write, value) in enumerate(zip(writers, row, strict=True)):
                    if value is not None:
                        write(count, index, value)
                        widths[index] = max(widths[index], _width(value, columns[index]))
            else:
                for index, (write, value) in enumerate(zip(writers, row, strict=True)):
                    if value is not None:
                        write(count, index, value)
        for index, width in enumerate(widths):
            sheet.set_column(index, index, min(max(width, MIN_WIDTH), MAX_WIDTH), formats[index])
        if columns:
            sheet.freeze_panes(1, 0)
            sheet.autofilter(0, 0, max(count, 1), len(columns) - 1)
        return count

    def key_values(
        self, name: str, headers: Sequence[str], rows: Sequence[tuple[str, Any, str | None, str]]
    ) -> None:
        """A sheet of labelled figures, one per row: (label, value, kind, note); each value
        with its own number format (``kind``: a key of ``EXCEL_FORMATS`` or None)."""
        sheet = self._sheet(name)
        for index, text in enumerate(headers):
            sheet.write_string(0, index, text, self._header)
        widths = [_header_width(text) for text in headers]
        for row, (label, value, kind, note) in enumerate(rows, start=1):
            number_format = EXCEL_FORMATS.get(kind, kind) if kind else None
            sheet.write_string(row, 0, label)
            shown = self._write_any(sheet, row, 1, value, number_format)
            if note:
                sheet.write_string(row, 2, note)
            for index, width in enumerate((len(label), shown, len(note or ""))):
                widths[index] = max(widths[index], width)
        for index, width in enumerate(widths):
            sheet.set_column(index, index, min(max(width + 2, MIN_WIDTH), MAX_WIDTH))
        sheet.freeze_panes(1, 0)

    # ---- cells -----------------------------------------------------------------------------

    def _writer(self, sheet: Any, values: str) -> Callable[[int, int, Any], Any]:
        if values in ("number", "integer"):

            def number(row: int, col: int, value: Any) -> None:
                value = float(value)
                if math.isfinite(value):  # NaN and infinities: an empty cell
                    sheet.write_number(row, col, value)

            return number
        if values in ("date", "datetime"):
            return sheet.write_datetime
        if values == "bool":
            return lambda row, col, value: sheet.write_boolean(row, col, bool(value))
        return lambda row, col, value: sheet.write_string(
            row, col, value if isinstance(value, str) else str(value)
        )

    def _write_any(
        self, sheet: Any, row: int, col: int, value: Any, number_format: str | None = None
    ) -> int:
        """Write one value of any type with ``number_format`` (or the one its type reads
        with); return its width in characters."""
        if missing(value):
            sheet.write_string(row, col, MISSING)
            return 1
        if isinstance(value, bool):
            sheet.write_boolean(row, col, value)
            return 5
        if isinstance(value, numbers.Number):
            number_format = number_format or EXCEL_FORMATS["units"]
            sheet.write_number(row, col, float(value), self._format(number_format))
            return len(f"{float(value):,.2f}")
        if isinstance(value, dt.datetime):
            timed = value != pd.Timestamp(value).normalize()
            kind = "datetime" if timed else "date"
            sheet.write_datetime(
                row, col, value, self._format(number_format or EXCEL_FORMATS[kind])
            )
            return 17 if timed else 11
        if isinstance(value, dt.date):
            sheet.write_datetime(
                row, col, value, self._format(number_format or EXCEL_FORMATS["date"])
            )
            return 11
        text = str(value)
        sheet.write_string(row, col, text)
        return len(text)


def _plain(series: pd.Series, values: str) -> list:
    """A frame column as plain Python values for the writer, missing values as None."""
    if values == "date":
        return [None if pd.isna(v) else v.date() for v in pd.to_datetime(series)]
    if values == "datetime":
        stamps = pd.to_datetime(series)
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_localize(None)
        return [None if pd.isna(v) else v.to_pydatetime() for v in stamps]
    if values in ("number", "integer", "bool"):
        return series.astype(object).where(series.notna(), None).tolist()
    return [None if missing(v) else v for v in series.tolist()]


def _header_width(text: str) -> int:
    return len(text) + 3  # and the filter's button beside it


def _width(value: Any, column: Column) -> int:
    if column.values == "date":
        return 11
    if column.values == "datetime":
        return 17
    if column.values in ("number", "integer"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return 8
        if not math.isfinite(number):
            return 1
        if column.kind == "percent":
            return 7
        decimals = 2 if column.kind in ("price", "ratio") else 0
        return len(f"{number:,.{decimals}f}") + 1
    return len(value) if isinstance(value, str) else len(str(value))
