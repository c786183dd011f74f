"""Bring your own data: read a CSV, Excel or Parquet file, check it, and write it all or nothing.

``import_file`` reads the file into DuckDB as text (fast on millions of rows), maps its columns
onto the table's (``--map target=source`` and common names such as ``date``, ``item`` or
``qty``), and checks every value with SQL: types, ranges, required values, known SKUs, lines
and channels, duplicate keys, dates on a week boundary (aligned to the company's week start,
with a notice) and gaps. Any error: nothing is written, and the report says which rows and why,
in a planner's words. No error: one transaction replaces the rows with the same keys, adds the
rest and records the import in ``import_log``. A crash mid-way leaves the database as before.

Sales need only a date, an item and a quantity: daily rows are summed into weeks, unknown
SKUs become products (with a warning saying what is missing), a missing channel becomes
``all``, and a price column feeds the price drivers. Channels, families and brands match the
existing codes whatever their case and spaces; a really new one is a warning naming it.

The file is read, capped (``SOP_IMPORT_MAX_ROWS``, ``SOP_IMPORT_MAX_UNPACKED_MB``) and mapped in
memory before the database is opened, so a big or hostile file never holds its write lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import duckdb
import pandas as pd

from sop_core.data import access, db, schema, settings
from sop_core.data.errors import InputError
from sop_core.data.stores import audit

FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "excel", ".xls": "excel"}
FORMATS[".parquet"] = "parquet"
MAX_NUMBER = 1e12  # anything bigger is a typo or a unit mix-up, not a weekly volume or price
MAX_INTEGER = 2**31 - 1  # whole-number columns are 32-bit
SHOWN_LINES = 8  # rows quoted per problem; the count says how many in all
FIRST_YEAR, LAST_YEAR = 1990, 2100  # a two-digit year (26 for 2026) reads as year 26
AMBIGUOUS = "ambiguous"
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y")
WEEKDAYS = {"MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6, "SUN": 7}
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Column:
    """One column of an input table, as the importer checks it."""

    name: str
    kind: str  # text, number, integer, date, month
    required: bool = False
    default: object = None  # used when the column is absent or a value is empty
    minimum: float | None = None
    maximum: float | None = None
    above: bool = False  # minimum excluded
    below: bool = False  # maximum excluded
    refers_to: str | None = None  # table whose key this value must be
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    what: str  # "sales rows", for messages

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


SKU = ("item", "product", "article", "material", "sku_code", "product_code", "item_code")
WEEK = ("date", "day", "week_start", "period", "week_of")
SHARE = {"minimum": 0.0, "maximum": 1.0}

SPECS: dict[str, TableSpec] = {
    "products": TableSpec(
        (
            Column("sku", "text", required=True, aliases=SKU),
            Column("name", "text", aliases=("description", "product_name")),
            Column("family", "text", default="unassigned", aliases=("category",)),
            Column("brand", "text", default="unassigned"),
            Column("list_price", "number", required=True, minimum=0, aliases=("price",)),
            Column("unit_variable_cost", "number", default=0.0, minimum=0, aliases=("cost",)),
            Column("setup_cost_per_batch", "number", default=0.0, minimum=0),
            Column("standard_batch_size", "number", default=1.0, minimum=0, above=True),
            Column("default_line", "text", refers_to="production_lines", aliases=("line",)),
            Column("units_per_hour", "number", minimum=0, above=True),
            Column("launch_week", "date"),
            Column("status", "text", default="active"),
        ),
        ("sku",),
        "products",
    ),
    "channels": TableSpec(
        (
            Column("channel", "text", required=True),
            Column("name", "text"),
            Column("description", "text"),
        ),
        ("channel",),
        "channels",
    ),
    "sales_history": TableSpec(
        (
            Column("week", "date", required=True, aliases=WEEK),
            Column("sku", "text", required=True, refers_to="products", aliases=SKU),
            Column("channel", "text", default="all", aliases=("customer", "market")),
            Column(
                "units",
                "number",
                required=True,
                minimum=0,
                aliases=("qty", "quantity", "sales", "volume", "sales_units", "units_sold"),
            ),
            Column("net_price", "number", minimum=0, aliases=("price", "unit_price")),
            Column("list_price", "number", minimum=0, aliases=("regular_price",)),
            Column(
                "discount_depth",
                "number",
                default=0.0,
                minimum=0,
                maximum=1,
                below=True,
                aliases=("discount",),
            ),
            Column("feature", "number", default=0.0, **SHARE),
            Column("display", "number", default=0.0, **SHARE),
        ),
        ("week", "sku", "channel"),
        "sales rows",
    ),
    "production_lines": TableSpec(
        (
            Column("line", "text", required=True),
            Column("plant", "text", default="main"),
            Column("name", "text"),
            Column(
                "standard_hours_per_week",
                "number",
                required=True,
                minimum=0,
                aliases=("hours", "hours_per_week"),
            ),
            Column("oee", "number", default=0.85, minimum=0, maximum=1, above=True),
            Column("changeover_hours", "number", default=0.0, minimum=0),
        ),
        ("line",),
        "lines",
    ),
    "capacity_calendar": TableSpec(
        (
            Column("week", "date", required=True, aliases=WEEK),
            Column("line", "text", required=True, refers_to="production_lines"),
            Column("hours_delta", "number", required=True, aliases=("hours", "delta_hours")),
            Column("reason", "text", default="imported"),
        ),
        ("week", "line", "reason"),
        "capacity changes",
    ),
    "production_actuals": TableSpec(
        (
            Column("week", "date", required=True, aliases=WEEK),
            Column("line", "text", required=True, refers_to="production_lines"),
            Column("sku", "text", required=True, refers_to="products", aliases=SKU),
            Column(
                "units_produced",
                "number",
                required=True,
                minimum=0,
                aliases=("units", "produced", "qty", "quantity"),
            ),
            Column("batches", "integer", default=0, minimum=0),
            Column("hours_used", "number", required=True, minimum=0, aliases=("hours",)),
        ),
        ("week", "line", "sku"),
        "production rows",
    ),
    "inventory": TableSpec(
        (
            Column("week", "date", required=True, aliases=WEEK),
            Column("sku", "text", required=True, refers_to="products", aliases=SKU),
            Column(
                "units_on_hand",
                "number",
                required=True,
                minimum=0,
                aliases=("stock", "on_hand", "units", "qty", "quantity"),
            ),
        ),
        ("week", "sku"),
        "stock rows",
    ),
    "promotions": TableSpec(
        (
            Column("promotion_id", "text", aliases=("id", "promo_id")),
            Column("name", "text", aliases=("promotion", "event")),
            Column("sku", "text", required=True, refers_to="products", aliases=SKU),
            Column("channel", "text", refers_to="channels"),
            Column("start_week", "date", required=True, aliases=("start", "from", "start_date")),
            Column("end_week", "date", required=True, aliases=("end", "to", "end_date")),
            Column(
                "discount_depth",
                "number",
                required=True,
                minimum=0,
                maximum=1,
                below=True,
                aliases=("discount", "depth"),
            ),
            Column("feature", "number", default=0.0, **SHARE),
            Column("display", "number", default=0.0, **SHARE),
            Column("status", "text"),
        ),
        ("promotion_id",),
        "promotions",
    ),
    "price_changes": TableSpec(
        (
            Column("sku", "text", required=True, refers_to="products", aliases=SKU),
            Column("effective_week", "date", required=True, aliases=(*WEEK, "effective_date")),
            Column("previous_list_price", "number", minimum=0, aliases=("old_price",)),
            Column(
                "list_price", "number", required=True, minimum=0, aliases=("price", "new_price")
            ),
            Column("reason", "text"),
        ),
        ("sku", "effective_week"),
        "price changes",
    ),
    "budget": TableSpec(
        (
            Column("month", "month", required=True, aliases=("period", "fiscal_month")),
            Column("sku", "text", refers_to="products", aliases=SKU),
            Column("family", "text", aliases=("category",)),
            Column(
                "units",
                "number",
                required=True,
                minimum=0,
                aliases=("qty", "quantity", "volume", "budget_units"),
            ),
            Column(
                "revenue",
                "number",
                required=True,
                minimum=0,
                aliases=("sales", "value", "budget_revenue", "net_sales"),
            ),
        ),
        ("month", "sku", "family"),
        "budget rows",
    ),
}
KEYS_OF = {"products": "sku", "production_lines": "line", "channels": "channel"}


@dataclass
class Issue:
    """One finding: ``error`` stops the import, ``warning`` and ``notice`` do not."""

    severity: str
    message: str
    lines: list[int] = field(default_factory=list)
    count: int = 0

    def text(self) -> str:
        if not self.lines:
            return self.message
        more = f" and {self.count - len(self.lines):,} more" if self.count > len(self.lines) else ""
        where = ", ".join(str(line) for line in self.lines)
        row = "row" if self.count == 1 else "rows"
        return f"{self.message} ({self.count:,} {row}: line {where}{more})"


@dataclass
class ImportReport:
    """What an import found and did."""

    table: str
    file_name: str
    sha256: str
    rows_in_file: int = 0
    rows_to_write: int = 0
    rows_added: int = 0
    rows_replaced: int = 0
    products_created: int = 0
    columns: dict[str, str] = field(default_factory=dict)  # table column -> file column
    file_columns: list[str] = field(default_factory=list)  # the file's, in its order
    ignored: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    preview: pd.DataFrame | None = None
    written: bool = False
    import_id: int | None = None

    @property
    def errors(self) -> list[Issue]:
        """The errors, the one on the earliest line first."""
        found = [i for i in self.issues if i.severity == "error"]
        return sorted(found, key=lambda i: i.lines[0] if i.lines else 0)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if not self.ok:
            return (
                f"{self.file_name}: {len(self.errors)} problem(s) found; nothing was written. "
                "Fix the file (or the column mapping) and import it again."
            )
        verb = "Imported" if self.written else "Ready to import"
        created = f"; {self.products_created} new product(s)" if self.products_created else ""
        return (
            f"{verb} {self.file_name} into {self.table}: {self.rows_to_write:,} row(s), "
            f"{self.rows_added:,} new and {self.rows_replaced:,} replacing rows with the same "
            f"key{created}."
        )


def parse_mapping(text: str | None) -> dict[str, str]:
    """``"units=qty,sku=item"`` -> ``{"units": "qty", "sku": "item"}``."""
    mapping: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        target, sep, source = part.partition("=")
        if not sep or not target.strip() or not source.strip():
            raise InputError(f"--map takes target=source pairs separated by commas; got {part!r}.")
        mapping[target.strip().lower()] = source.strip()
    return mapping


def file_format(file_name: str) -> str:
    suffix = Path(file_name).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"{file_name}: the importer reads CSV, Excel (.xlsx) and Parquet files, "
            f"not {suffix or 'files without an extension'}."
        )
    return FORMATS[suffix]


def import_file(
    path: Path | str,
    table: str,
    source: Path | str,
    *,
    file_name: str | None = None,
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    author: str = "import",
    on_wait: db.WaitCallback | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> ImportReport:
    """Check ``source`` for ``table`` and, unless ``dry_run`` or it has errors, write it in one
    transaction. ``file_name`` is what the report and the log call the file (an upload's
    name); bad input never raises, it comes back as the report's errors."""
    report_progress = progress or (lambda fraction, message: None)
    source = Path(source)
    file_name = file_name or source.name
    if table not in SPECS:
        raise InputError(
            f"There is no input table called {table!r}; choose one of {', '.join(SPECS)}."
        )
    spec = SPECS[table]
    if not dry_run:  # refused before the file is read; checked again as it is written
        access.check(path, author, "import")
    report_progress(0.05, "Reading the file")
    report = ImportReport(table, file_name, "")
    # The file is read, capped and mapped in a database of its own, in memory, before ours is
    # opened: opening ours takes its write lock, and a big or hostile file must not hold it
    # (nor make the dashboard and a scheduled refresh wait) while it is unpacked.
    staging = duckdb.connect()
    try:
        if not _stage(staging, source, None, file_name, report):
            return report
        _map_columns(staging, spec, mapping or {}, report)
        if not report.ok:
            return report
        mapped = staging.sql("SELECT * FROM _mapped").to_arrow_reader()
        with db.connect(path, on_wait=on_wait) as con:
            con.register("_staged", mapped)
            con.execute("CREATE OR REPLACE TEMP TABLE _mapped AS SELECT * FROM _staged")
            con.unregister("_staged")
            staging.close()  # the rows are in ours now: free the copy before checking
            report_progress(0.3, "Checking every value")
            _check(con, table, spec, report)
            if not report.ok or dry_run:
                return report
            report_progress(0.7, "Writing")
            try:
                _write(con, table, spec, report, author)
            except (duckdb.ConstraintException, duckdb.ConversionException) as error:
                # A rule the checks above do not know: nothing was written (the transaction
                # rolled back); say which rule in the database's words.
                report.issues.append(
                    Issue("error", f"The database refused a row: {_first_line(error)}")
                )
                return report
    finally:
        staging.close()
    report.written = True
    # An import killed before this one may have left its rows' blocks at the end of the file;
    # now that ours is safely in, give that space back when it is large (never fails the import).
    report_progress(0.95, "Tidying the database file")
    db.reclaim_if_wasteful(path, on_wait=on_wait)
    report_progress(1.0, "Done")
    return report


# --- reading --------------------------------------------------------------------------------


def _stage(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    data: bytes | None,
    name: str,
    report: ImportReport,
) -> bool:
    """The file as a text table ``_raw`` with its line numbers; False (and an error) when it
    cannot be read or is over the caps (``SOP_IMPORT_MAX_ROWS``, ``SOP_IMPORT_MAX_UNPACKED_MB``),
    which are checked before anything is unpacked. Sets the report's ``sha256``."""
    try:
        kind = file_format(name)
    except InputError as error:
        report.issues.append(Issue("error", str(error)))
        return False
    max_rows = settings.import_max_rows()
    max_bytes = settings.import_max_unpacked_bytes()
    try:
        if data is None:
            if kind == "csv" and source.stat().st_size > max_bytes:
                report.sha256 = _sha256(source)
                report.issues.append(_too_big(name, source.stat().st_size, max_bytes))
                return False
            data = source.read_bytes()
        report.sha256 = hashlib.sha256(data).hexdigest()
    except OSError as error:
        report.issues.append(Issue("error", f"{name} could not be read: {_first_line(error)}"))
        return False
    if not data.strip():
        report.issues.append(Issue("error", f"{name} is empty."))
        return False
    limit = f"LIMIT {max_rows + 1}"  # one more than the cap says the file is over it
    try:
        if kind == "csv":
            if len(data) > max_bytes:
                report.issues.append(_too_big(name, len(data), max_bytes))
                return False
            encoding = _encoding(data)
            if encoding != "utf-8":
                report.issues.append(Issue("notice", f"Read as {encoding} text (not UTF-8)."))
            with contextlib.ExitStack() as stack:
                if encoding in ("utf-16", "utf-32"):
                    # DuckDB reads little-endian UTF-16 only: hand it the text as UTF-8.
                    source = stack.enter_context(_utf8_copy(data, encoding))
                    encoding = "utf-8"
                # RFC 4180: a quoted field may hold separators, doubled quotes and line
                # breaks (Excel's Alt+Enter). DuckDB's parallel reader cannot pad short rows
                # when a quoted field breaks a line, so a file with quotes is read serially.
                con.execute(
                    "CREATE OR REPLACE TEMP TABLE _raw AS SELECT row_number() OVER () + 1 "
                    "AS _line, * FROM (SELECT * FROM read_csv(?, all_varchar = true, "
                    "header = true, encoding = ?, null_padding = true, parallel = ?) "
                    f"{limit})",
                    [str(source), encoding, b'"' not in data],
                )
        elif kind == "parquet":
            rows, unpacked = con.execute(
                "SELECT (SELECT sum(num_rows) FROM parquet_file_metadata($1)), "
                "(SELECT coalesce(sum(total_uncompressed_size), 0) FROM parquet_metadata($1))",
                [str(source)],
            ).fetchone()
            if unpacked > max_bytes:
                report.issues.append(_too_big(name, unpacked, max_bytes))
                return False
            if rows > max_rows:
                report.issues.append(_too_many(name, max_rows))
                return False
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _raw AS SELECT row_number() OVER () + 1 AS _line, "
                f"COLUMNS(*)::VARCHAR FROM (SELECT * FROM read_parquet(?) {limit})",
                [str(source)],
            )
        else:
            unpacked, rows = _workbook_size(source)
            if unpacked > max_bytes:
                report.issues.append(_too_big(name, unpacked, max_bytes))
                return False
            sheet_rows = settings.import_max_sheet_rows()
            if rows - 1 > min(max_rows, sheet_rows):  # the first row is the header
                report.issues.append(
                    _too_many(name, max_rows)
                    if max_rows <= sheet_rows
                    else _too_many_in_a_sheet(name, sheet_rows)
                )
                return False
            frame = pd.read_excel(source, dtype=str, engine="openpyxl")
            frame.columns = [str(c) for c in frame.columns]
            frame.insert(0, "_line", range(2, len(frame) + 2))
            con.register("_excel", frame)
            con.execute("CREATE OR REPLACE TEMP TABLE _raw AS SELECT * FROM _excel")
            con.unregister("_excel")
    except (duckdb.Error, ValueError, OSError, KeyError, IndexError) as error:
        report.issues.append(
            Issue("error", f"{name} could not be read as {kind.upper()}: {_first_line(error)}")
        )
        return False
    except Exception as error:  # openpyxl and zipfile raise their own kinds on a bad workbook
        report.issues.append(
            Issue("error", f"{name} could not be read as Excel: {_first_line(error)}")
        )
        return False
    report.rows_in_file = con.execute("SELECT count(*) FROM _raw").fetchone()[0]
    if report.rows_in_file > max_rows:
        report.rows_in_file = 0  # not counted: the read stopped at the cap
        report.issues.append(_too_many(name, max_rows))
        return False
    if report.rows_in_file == 0:
        report.issues.append(Issue("error", f"{name} has a header but no rows."))
        return False
    return True


def _too_many(name: str, max_rows: int) -> Issue:
    return Issue(
        "error",
        f"{name} has more than {max_rows:,} rows, the most one import takes (setting "
        f"{settings.IMPORT_MAX_ROWS.env}); split the file, or raise the setting.",
    )


def _too_many_in_a_sheet(name: str, max_rows: int) -> Issue:
    return Issue(
        "error",
        f"{name} has more than {max_rows:,} rows, the most one Excel workbook takes (setting "
        f"{settings.IMPORT_MAX_SHEET_ROWS.env}); save it as CSV, which imports millions of rows "
        "in seconds, or raise the setting.",
    )


def _too_big(name: str, size: int, max_bytes: int) -> Issue:
    return Issue(
        "error",
        f"{name} unpacks to {size / 1e6:,.0f} MB, more than the {max_bytes / 1e6:,.0f} MB one "
        f"import takes (setting {settings.IMPORT_MAX_UNPACKED_MB.env}); split the file, or "
        "raise the setting.",
    )


def _sha256(source: Path) -> str:
    with source.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row(?=[\s/>])([^>]*)>")
_ROW_NUMBER = re.compile(rb"\sr\s*=\s*[\"'](\d+)")


def _workbook_size(source: Path) -> tuple[int, int]:
    """An .xlsx's unpacked size (the sum of its parts' sizes, from the zip's directory: nothing
    is inflated) and, only when that is within the cap, how many rows its first sheet has
    (the highest row number, or the count of rows: a sheet may skip numbers, and the reader
    fills the gaps). The sheet is streamed, never held whole."""
    with zipfile.ZipFile(source) as archive:
        unpacked = sum(member.file_size for member in archive.infolist())
        if unpacked > settings.import_max_unpacked_bytes():
            return unpacked, 0
        sheet = _first_sheet(archive)
        if sheet is None:
            return unpacked, 0  # the reader says what is wrong with the workbook
        count = highest = 0
        carry = b""
        with archive.open(sheet) as stream:
            while chunk := stream.read(1 << 20):
                text = carry + chunk
                cut = text.rfind(b"<")  # a tag cut by the chunk's end is read with the next
                cut = cut if cut >= 0 and text.find(b">", cut) < 0 else len(text)
                text, carry = text[:cut], text[cut:]
                for match in _ROW_TAG.finditer(text):
                    count += 1
                    if number := _ROW_NUMBER.search(match.group(1)):
                        highest = max(highest, int(number.group(1)))
    return unpacked, max(count, highest)


def _first_sheet(archive: zipfile.ZipFile) -> str | None:
    """The zip member holding the workbook's first sheet (the one the reader reads)."""
    names = set(archive.namelist())
    try:
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        links = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        sheets = sorted(n for n in names if n.startswith("xl/worksheets/sheet"))
        return sheets[0] if sheets else None
    first = next((e for e in book.iter() if e.tag.endswith("}sheet")), None)
    if first is None:
        return None
    link = next((v for k, v in first.attrib.items() if k.endswith("}id")), None)
    for relation in links:
        if relation.get("Id") == link:
            target = relation.get("Target", "").lstrip("/")
            member = target if target.startswith("xl/") else f"xl/{target}"
            return member if member in names else None
    return None


def _encoding(data: bytes) -> str:
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "utf-32"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        data[:1_000_000].decode("utf-8")
    except UnicodeDecodeError as error:
        # A cut in the middle of a character at the end of the sample is still UTF-8.
        if error.start < 1_000_000 - 4:
            return "latin-1"
    return "utf-8"


@contextmanager
def _utf8_copy(data: bytes, encoding: str) -> Iterator[Path]:
    """``data`` decoded (by its byte-order mark) and written as UTF-8 to a temporary file,
    removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="sop-import-") as folder:
        path = Path(folder) / "file.csv"
        path.write_bytes(data.decode(encoding).encode("utf-8"))
        yield path


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def _map_columns(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, mapping: dict[str, str], report: ImportReport
) -> None:
    """Build ``_mapped`` (one text column per table column, empty text as NULL) and record
    which file column feeds each."""
    file_columns = [c for c in _columns(con, "_raw") if c != "_line"]
    report.file_columns = file_columns
    by_normal = {_normal(c): c for c in file_columns}
    targets = {c.name for c in spec.columns}
    for target, source in mapping.items():
        if target not in targets:
            report.issues.append(
                Issue(
                    "error",
                    f"--map names {target!r}, which is not a column of this table "
                    f"({', '.join(sorted(targets))}).",
                )
            )
        elif source not in file_columns and _normal(source) not in by_normal:
            report.issues.append(
                Issue(
                    "error",
                    f"--map says {target} comes from {source!r}, but the file has "
                    f"no such column (it has {', '.join(file_columns)}).",
                )
            )
    if not report.ok:
        return
    used: dict[str, str] = {}
    for column in spec.columns:
        if column.name in mapping:
            source = mapping[column.name]
            used[column.name] = source if source in file_columns else by_normal[_normal(source)]
            continue
        for candidate in (column.name, *column.aliases):
            found = by_normal.get(_normal(candidate))
            if found is not None and found not in used.values():
                used[column.name] = found
                break
    report.columns = used
    report.ignored = [c for c in file_columns if c not in used.values()]
    if report.ignored:
        report.issues.append(
            Issue(
                "notice",
                f"Columns not used: {', '.join(report.ignored)} (map one with "
                "target=source if it holds one of the table's columns).",
            )
        )
    missing = [c.name for c in spec.columns if c.required and c.name not in used]
    if missing:
        report.issues.append(
            Issue(
                "error",
                f"Missing column(s): {', '.join(missing)}. The file has "
                f"{', '.join(file_columns)}; map them with target=source.",
            )
        )
        return
    select = ", ".join(
        f"nullif(trim(CAST({_quote(used[c.name])} AS VARCHAR)), '') AS {c.name}"
        if c.name in used
        else f"NULL::VARCHAR AS {c.name}"
        for c in spec.columns
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE _mapped AS SELECT _line, {select} FROM _raw")


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- checking -------------------------------------------------------------------------------


def _problem(
    con: duckdb.DuckDBPyConnection,
    report: ImportReport,
    severity: str,
    message: str,
    where: str,
    table: str = "_mapped",
) -> int:
    """Add an issue for the rows of ``table`` matching ``where``; return how many."""
    count, lines = con.execute(
        f"SELECT count(*), list(_line ORDER BY _line)[1:{SHOWN_LINES}] FROM {table} WHERE {where}"
    ).fetchone()
    if count:
        report.issues.append(Issue(severity, message, [int(x) for x in lines], int(count)))
    return int(count)


def _not_time(column: str) -> str:
    """SQL: the value has something after its date that is not a time of day (a date from a
    spreadsheet may carry ``00:00:00``; anything else is not a date)."""
    return (
        f"(strpos({column}, ' ') > 0 AND "
        f"TRY_CAST(trim(substr({column}, strpos({column}, ' '))) AS TIME) IS NULL)"
    )


def _date_format(con: duckdb.DuckDBPyConnection, column: str) -> str | None:
    """The date format every value of ``column`` parses with, with a year between 1990 and
    2100 (None: none does; ``AMBIGUOUS`` when both day/month and month/day read every value,
    as 05/01/2026 could be either). Checked on the distinct values, in one pass: a big file
    holds few different dates."""
    bad = []
    for pattern in DATE_FORMATS:
        parsed = f"try_strptime(split_part(d, ' ', 1), '{pattern}')"
        bad.append(
            f"count(*) FILTER (WHERE {parsed} IS NULL OR NOT year({parsed}) "
            f"BETWEEN {FIRST_YEAR} AND {LAST_YEAR} OR {_not_time('d')})"
        )
    values, *counts = con.execute(
        f"WITH v AS (SELECT DISTINCT {column} AS d FROM _mapped WHERE {column} IS NOT NULL) "
        f"SELECT count(*), {', '.join(bad)} FROM v"
    ).fetchone()
    if not values:
        return DATE_FORMATS[0]  # no dates at all: nothing to tell apart
    fits = [pattern for pattern, count in zip(DATE_FORMATS, counts, strict=True) if count == 0]
    if "%d/%m/%Y" in fits and "%m/%d/%Y" in fits:
        return AMBIGUOUS
    return fits[0] if fits else None


def _check(
    con: duckdb.DuckDBPyConnection, table: str, spec: TableSpec, report: ImportReport
) -> None:
    """Check ``_mapped`` for ``table`` and build ``_typed``; errors and notices go into
    ``report``."""
    typecheck(con, spec, report)
    if not report.ok:
        return
    _match_codes(con, table, spec, report)
    special = {"sales_history": _sales, "promotions": _promotions, "budget": _budget}.get(table)
    if special:
        special(con, report)
    if report.ok:
        _duplicates(con, spec, report)
    if report.ok:
        _references(con, table, spec, report)
    if report.ok and table == "sales_history":
        _gaps(con, report)
    if report.ok:
        report.rows_to_write = con.execute("SELECT count(*) FROM _typed").fetchone()[0]
        keys = " AND ".join(_same_key(spec, k, "t", "s") for k in spec.key)
        report.rows_replaced = con.execute(
            f"SELECT count(*) FROM _typed s WHERE EXISTS (SELECT 1 FROM {table} t WHERE {keys})"
        ).fetchone()[0]
        report.rows_added = report.rows_to_write - report.rows_replaced
        names = ", ".join(c.name for c in spec.columns)
        report.preview = con.execute(f"SELECT {names} FROM _typed ORDER BY _line LIMIT 20").df()


def source_found(source: Path, report: ImportReport) -> bool:
    """Whether ``source`` is a file: its SHA-256 goes in ``report``; else an error in
    ``report`` says there is none. How other inputs (a promotion plan, an overrides file)
    open, before ``read_file``."""
    if not source.is_file():
        report.issues.append(Issue("error", f"There is no file at {source}."))
        return False
    report.sha256 = _sha256(source)
    return True


def read_file(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    source: Path,
    report: ImportReport,
    mapping: dict[str, str] | None = None,
) -> bool:
    """Read ``source`` into the temporary table ``_typed`` with ``spec``'s columns, mapped,
    typed and range-checked (dates on the company's week start); False when it has errors
    (in ``report``). How other inputs (a promotion plan) share the importer's checks."""
    if not _stage(con, source, None, report.file_name, report):
        return False
    _map_columns(con, spec, mapping or {}, report)
    if report.ok:
        typecheck(con, spec, report)
    return report.ok


def typecheck(con: duckdb.DuckDBPyConnection, spec: TableSpec, report: ImportReport) -> None:
    """Check ``_mapped`` value by value against ``spec`` and build ``_typed``."""
    settings = dict(con.execute("SELECT key, value FROM company_settings").fetchall())
    start = WEEKDAYS.get(str(settings.get("week_start", "MON")).upper()[:3], 1)
    typed = ["_line"]
    for column in spec.columns:
        name = column.name
        label = name.replace("_", " ")
        if column.required:
            _problem(con, report, "error", f"{label} is empty", f"{name} IS NULL")
        if column.kind == "date":
            pattern = _date_format(con, name)
            if pattern == AMBIGUOUS:
                report.issues.append(
                    Issue(
                        "error",
                        f"{label}: dates such as 05/01/2026 could be 5 January or 1 May and "
                        "nothing in the file tells which; write them as YYYY-MM-DD.",
                    )
                )
                typed.append(f"NULL::DATE AS {name}")
                continue
            if pattern is None:
                parsed = f"try_strptime(split_part({name}, ' ', 1), '%Y-%m-%d')"
                _problem(
                    con,
                    report,
                    "error",
                    f"{label} is not a date between {FIRST_YEAR} and {LAST_YEAR} (write "
                    "dates as YYYY-MM-DD, with four-digit years)",
                    f"{name} IS NOT NULL AND ({parsed} IS NULL OR NOT year({parsed}) "
                    f"BETWEEN {FIRST_YEAR} AND {LAST_YEAR} OR {_not_time(name)})",
                )
                if report.ok:  # every value is wrong in some other format: say so once
                    report.issues.append(
                        Issue(
                            "error",
                            f"{label}: the dates are not in one format the importer "
                            "reads (YYYY-MM-DD, DD/MM/YYYY, MM/DD/YYYY, DD.MM.YYYY).",
                        )
                    )
                typed.append(f"NULL::DATE AS {name}")
                continue
            value = f"CAST(strptime(split_part({name}, ' ', 1), '{pattern}') AS DATE)"
            # Dates count for the week that contains them (weeks start on the company's day).
            aligned = f"({value} - CAST((isodow({value}) - {start} + 7) % 7 AS INTEGER))"
            typed.append(f"{aligned} AS {name}")
            typed.append(f"{value} <> {aligned} AS _{name}_moved")
        elif column.kind == "month":
            value = _month_value(name)
            _problem(
                con,
                report,
                "error",
                f"{label} is not a month (write 2026-11, 2026-11-01 or Nov 2026)",
                f"{name} IS NOT NULL AND {value} IS NULL",
            )
            typed.append(f"{value} AS {name}")
        elif column.kind in ("number", "integer"):
            sql_type = "DOUBLE" if column.kind == "number" else "BIGINT"
            value = f"TRY_CAST({name} AS {sql_type})"
            kind = "a number" if column.kind == "number" else "a whole number"
            _problem(
                con,
                report,
                "error",
                f"{label} is not {kind} (write numbers without thousands separators, with a "
                "point for decimals)",
                f"{name} IS NOT NULL AND {value} IS NULL",
            )
            if column.kind == "integer":
                # TRY_CAST rounds 1.5 to 2: a fraction is an error, not a rounding.
                _problem(
                    con,
                    report,
                    "error",
                    f"{label} is not a whole number, or is above {MAX_INTEGER:,}",
                    f"{value} IS NOT NULL AND (TRY_CAST({name} AS DOUBLE) <> {value} "
                    f"OR abs({value}) > {MAX_INTEGER})",
                )
            if column.kind == "number":
                _problem(
                    con,
                    report,
                    "error",
                    f"{label} is not a finite number (or is above {MAX_NUMBER:,.0f})",
                    f"{value} IS NOT NULL "
                    f"AND (NOT isfinite({value}) OR abs({value}) > {MAX_NUMBER})",
                )
            if column.minimum is not None:
                op = "<=" if column.above else "<"
                words = (
                    "zero or negative"
                    if column.above and column.minimum == 0
                    else ("negative" if column.minimum == 0 else f"below {column.minimum}")
                )
                _problem(
                    con, report, "error", f"{label} is {words}", f"{value} {op} {column.minimum}"
                )
            if column.maximum is not None:
                op = ">=" if column.below else ">"
                limit = f"{column.maximum:g}"
                words = f"{'at or above' if column.below else 'above'} {limit}"
                hint = " (write shares as 0 to 1, e.g. 0.25 for 25%)" if column.maximum == 1 else ""
                _problem(
                    con,
                    report,
                    "error",
                    f"{label} is {words}{hint}",
                    f"{value} {op} {column.maximum}",
                )
            typed.append(f"{value} AS {name}")
        else:
            _problem(
                con,
                report,
                "error",
                f"{label} is longer than 200 characters",
                f"length({name}) > 200",
            )
            typed.append(name)
    if not report.ok:
        return
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _typed AS SELECT {_with_defaults(spec)} "
        f"FROM (SELECT {', '.join(typed)} FROM _mapped)"
    )
    moved = [c.name for c in spec.columns if c.kind == "date"]
    if moved:
        count = con.execute(
            f"SELECT count(*) FROM _typed WHERE {' OR '.join(f'_{m}_moved' for m in moved)}"
        ).fetchone()[0]
        if count:
            report.issues.append(
                Issue(
                    "notice",
                    f"{count:,} date(s) are not on the first day of a week; "
                    f"they count for the week that contains them (weeks start on "
                    f"{DAY_NAMES[start - 1]}).",
                )
            )


def _with_defaults(spec: TableSpec) -> str:
    """The select list that fills empty values with the column's default, in the same pass
    that types them (an UPDATE afterwards would rewrite every row of a big file)."""
    named = spec.key[0] in KEYS_OF.values() and any(c.name == "name" for c in spec.columns)
    parts = ["*"]
    replaced = []
    for column in spec.columns:
        if column.default is not None:
            default = (
                str(int(column.default))
                if column.kind == "integer"
                else repr(float(column.default))
                if column.kind == "number"
                else "'" + str(column.default).replace("'", "''") + "'"
            )
            replaced.append(f"coalesce({column.name}, {default}) AS {column.name}")
        elif named and column.name == "name":
            # A product, line or channel without a name is called by its code.
            replaced.append(f"coalesce(name, {spec.key[0]}) AS name")
    if replaced:
        parts = ["* REPLACE (" + ", ".join(replaced) + ")"]
    return ", ".join(parts)


# Codes a planner types by hand, matched to the ones already kept whatever their case and
# spaces: (table, column) -> (the table holding the existing codes, its column, what to call it).
MATCHED_CODES = {
    ("sales_history", "channel"): ("channels", "channel", "channel"),
    ("promotions", "channel"): ("channels", "channel", "channel"),
    ("channels", "channel"): ("channels", "channel", "channel"),
    ("products", "family"): ("products", "family", "family"),
    ("products", "brand"): ("products", "brand", "brand"),
    ("budget", "family"): ("products", "family", "family"),
}
SHOWN_CODES = 10  # codes named per message; the count says how many in all


def _match_codes(
    con: duckdb.DuckDBPyConnection, table: str, spec: TableSpec, report: ImportReport
) -> None:
    """Channels, families and brands in ``_typed`` land on the existing code they match once
    case and spaces are ignored (``Retail `` and ``RETAIL`` are ``retail``; so are two
    spellings of a new one, on the first in the file); a really new one is a warning naming
    it, so a typo does not split a channel's volume in two."""
    for column in spec.columns:
        if (table, column.name) not in MATCHED_CODES:
            continue
        source, key, what = MATCHED_CODES[(table, column.name)]
        name = column.name
        normal = "lower(regexp_replace({}, '\\s+', '', 'g'))"
        rows = con.execute(
            f"""
            WITH existing AS (SELECT DISTINCT {key} AS code, 0 AS rank FROM {source}
                              WHERE {key} IS NOT NULL),
                 file AS (SELECT {name} AS code, min(_line) AS rank FROM _typed
                          WHERE {name} IS NOT NULL GROUP BY {name}),
                 codes AS (SELECT {normal.format("code")} AS normal,
                                  first(code ORDER BY rank, code) AS canonical,
                                  bool_or(rank = 0) AS known
                           FROM (SELECT * FROM existing UNION ALL SELECT * FROM file)
                           GROUP BY normal)
            SELECT f.code, c.canonical, c.known
            FROM file f JOIN codes c ON {normal.format("f.code")} = c.normal
            ORDER BY f.rank
            """
        ).fetchall()
        renamed = [(code, canonical) for code, canonical, _ in rows if code != canonical]
        if renamed:
            con.execute("CREATE OR REPLACE TEMP TABLE _renamed (code VARCHAR, canonical VARCHAR)")
            con.executemany("INSERT INTO _renamed VALUES (?, ?)", renamed)
            con.execute(
                f"UPDATE _typed SET {name} = r.canonical FROM _renamed r WHERE {name} = r.code"
            )
            shown = [f"'{code}' as '{canonical}'" for code, canonical in renamed]
            report.issues.append(
                Issue(
                    "notice",
                    f"{what.capitalize()} codes read as the ones they match, whatever their "
                    f"case and spaces: {_some(shown)}.",
                )
            )
        if table not in ("sales_history", "products"):
            continue  # a new channel is the import itself, or an error (a promotion's)
        new = [
            repr(canonical)
            for code, canonical, known in rows
            if not known and code == canonical and canonical != column.default
        ]
        if new:
            where = "channels" if source == "channels" else "the product list"
            report.issues.append(
                Issue(
                    "warning",
                    f"{len(new):,} new {what}(s), not in {where} yet: {_some(new)}. Check the "
                    f"spelling: an existing {what} is matched whatever its case and spaces.",
                )
            )


def _some(texts: list[str]) -> str:
    more = f" and {len(texts) - SHOWN_CODES:,} more" if len(texts) > SHOWN_CODES else ""
    return ", ".join(texts[:SHOWN_CODES]) + more


def _sales(con: duckdb.DuckDBPyConnection, report: ImportReport) -> None:
    """Daily (or any finer) rows become weekly ones: units summed, prices and promotion
    shares averaged weighted by units."""
    moved = con.execute("SELECT count(*) FROM _typed WHERE _week_moved").fetchone()[0]
    if not moved:
        return
    # Daily data that starts or ends inside a week leaves that week short of days: its total
    # would look like a collapse in demand.
    partial = con.execute(
        """
        WITH days AS (
            SELECT t.week, count(DISTINCT CAST(strptime(split_part(m.week, ' ', 1), ?) AS DATE))
                   AS days
            FROM _typed t JOIN _mapped m USING (_line) GROUP BY t.week
        )
        SELECT list(strftime(week, '%d %b %Y') ORDER BY week), list(days ORDER BY week)
        FROM days WHERE days < 7 AND (week = (SELECT min(week) FROM _typed)
                                      OR week = (SELECT max(week) FROM _typed))
        """,
        [_date_format(con, "week")],
    ).fetchone()
    for week, days in zip(partial[0] or [], partial[1] or [], strict=True):
        report.issues.append(
            Issue(
                "warning",
                f"The week of {week} has data for only {days} of its 7 days: its "
                "total will look low. Leave it out, or add the missing days.",
            )
        )
    before = con.execute("SELECT count(*) FROM _typed").fetchone()[0]
    weighted = ", ".join(
        f"coalesce(sum({c} * units) / nullif(sum(units) FILTER (WHERE {c} IS NOT NULL), 0), "
        f"avg({c})) AS {c}"
        for c in ("net_price", "list_price", "discount_depth", "feature", "display")
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _typed AS SELECT min(_line) AS _line, week, sku, channel, "
        f"sum(units) AS units, {weighted}, false AS _week_moved FROM _typed "
        "GROUP BY week, sku, channel"
    )
    after = con.execute("SELECT count(*) FROM _typed").fetchone()[0]
    report.issues.append(
        Issue(
            "notice",
            f"{before:,} rows with dates inside weeks were summed into {after:,} "
            "weekly rows (units added up; prices and promotion shares averaged by units).",
        )
    )


MONTH_FORMATS = ("%Y-%m", "%Y-%m-%d", "%b %Y", "%B %Y")
BUDGET_MONTHS_AHEAD = 36  # a budget may run this many months past the history's last week


def _month_value(column: str) -> str:
    """SQL: the first day of the month ``column`` names (2026-11, 2026-11-01, Nov 2026 or
    November 2026), NULL when it names none between FIRST_YEAR and LAST_YEAR."""
    parsed = ", ".join(f"try_strptime({column}, '{pattern}')" for pattern in MONTH_FORMATS)
    month = f"CAST(date_trunc('month', coalesce({parsed})) AS DATE)"
    return f"CASE WHEN year({month}) BETWEEN {FIRST_YEAR} AND {LAST_YEAR} THEN {month} END"


def _budget(con: duckdb.DuckDBPyConnection, report: ImportReport) -> None:
    """A budget row is for a SKU, a family or the company total: its month within the
    calendar (the history's first month to ``BUDGET_MONTHS_AHEAD`` months after its last week),
    its family one the products have, a SKU row's family the SKU's own (filled in when empty)."""
    first, last = con.execute("SELECT min(week), max(week) FROM sales_history").fetchone()
    if first is None:
        report.issues.append(
            Issue(
                "error",
                "There is no sales history yet, so the fiscal months a budget may cover are "
                "not known: import the sales history first.",
            )
        )
        return
    first_month = first.replace(day=1)
    end = last.replace(day=1)
    index = end.month - 1 + BUDGET_MONTHS_AHEAD
    last_month = end.replace(year=end.year + index // 12, month=index % 12 + 1)
    _problem(
        con,
        report,
        "error",
        f"month is outside the calendar (the history's first month, {first_month:%b %Y}, to "
        f"{BUDGET_MONTHS_AHEAD} months after its last week, {last_month:%b %Y})",
        f"month < DATE '{first_month}' OR month > DATE '{last_month}'",
        "_typed",
    )
    _problem(
        con,
        report,
        "error",
        "unknown family (not in the product list)",
        "family IS NOT NULL AND family NOT IN (SELECT DISTINCT family FROM products)",
        "_typed",
    )
    _problem(
        con,
        report,
        "error",
        "the family is not the SKU's own (leave it empty on a SKU row, or write the SKU's)",
        "sku IS NOT NULL AND family IS NOT NULL AND EXISTS (SELECT 1 FROM products p "
        "WHERE p.sku = _typed.sku AND p.family <> _typed.family)",
        "_typed",
    )
    con.execute(
        "UPDATE _typed SET family = p.family FROM products p "
        "WHERE _typed.sku = p.sku AND _typed.family IS NULL"
    )


def _promotions(con: duckdb.DuckDBPyConnection, report: ImportReport) -> None:
    _problem(
        con, report, "error", "end week is before start week", "end_week < start_week", "_typed"
    )
    con.execute(
        "UPDATE _typed SET promotion_id = sku || '-' || strftime(start_week, '%Y-%m-%d') "
        "|| coalesce('-' || channel, '') WHERE promotion_id IS NULL"
    )
    con.execute("UPDATE _typed SET name = promotion_id WHERE name IS NULL")
    con.execute(
        "UPDATE _typed SET status = CASE WHEN start_week > coalesce("
        "(SELECT max(week) FROM sales_history), DATE '1900-01-01') THEN 'planned' ELSE 'past' "
        "END WHERE status IS NULL"
    )
    _problem(
        con,
        report,
        "error",
        "status must be past or planned",
        "status NOT IN ('past', 'planned')",
        "_typed",
    )


def _duplicates(con: duckdb.DuckDBPyConnection, spec: TableSpec, report: ImportReport) -> None:
    keys = ", ".join(spec.key)
    _problem(
        con,
        report,
        "error",
        f"the same {' + '.join(k.replace('_', ' ') for k in spec.key)} appears more than once",
        f"_line IN (SELECT _line FROM (SELECT _line, count(*) OVER (PARTITION BY {keys}) AS n "
        "FROM _typed) WHERE n > 1)",
        "_typed",
    )


def _references(
    con: duckdb.DuckDBPyConnection, table: str, spec: TableSpec, report: ImportReport
) -> None:
    for column in spec.columns:
        if column.refers_to is None:
            continue
        key = KEYS_OF[column.refers_to]
        unknown = (
            f"{column.name} IS NOT NULL AND {column.name} NOT IN "
            f"(SELECT {key} FROM {column.refers_to})"
        )
        if table == "sales_history" and column.name == "sku":
            created = con.execute(
                f"SELECT count(DISTINCT sku) FROM _typed WHERE {unknown}"
            ).fetchone()[0]
            report.products_created = int(created)
            if created:
                report.issues.append(
                    Issue(
                        "warning",
                        f"{created:,} SKU(s) are not in the product list; they "
                        "will be created with only their code (family and brand "
                        "'unassigned', list price from the file's prices or 0, no cost, "
                        "batch size or line). Import a product list to complete them.",
                    )
                )
            continue
        if table == "sales_history" and column.name == "channel":
            continue  # new channels are created (see _write)
        _problem(
            con,
            report,
            "error",
            f"unknown {column.name.replace('_', ' ')} (not in {column.refers_to.replace('_', ' ')}"
            f"; import it there first)",
            unknown,
            "_typed",
        )


def _gaps(con: duckdb.DuckDBPyConnection, report: ImportReport) -> None:
    row = con.execute(
        """
        WITH span AS (
            SELECT sku, count(DISTINCT week) AS weeks,
                   (max(week) - min(week)) // 7 + 1 AS expected
            FROM _typed GROUP BY sku
        )
        SELECT count(*), sum(expected - weeks) FROM span WHERE expected > weeks
        """
    ).fetchone()
    if row[0]:
        report.issues.append(
            Issue(
                "notice",
                f"{row[0]:,} SKU(s) have weeks without any row between their first "
                f"and last week ({int(row[1]):,} SKU-weeks in all); those weeks count as no "
                "sales.",
            )
        )


# --- writing --------------------------------------------------------------------------------


def _same_key(spec: TableSpec, key: str, left: str, right: str) -> str:
    """SQL: ``left`` and ``right`` rows share ``key``; null-safe for a key that may be empty
    (a budget's company-total row has neither SKU nor family, and still replaces its month's)."""
    column = spec.column(key)
    if column.required or column.default is not None:
        return f"{left}.{key} = {right}.{key}"
    return f"{left}.{key} IS NOT DISTINCT FROM {right}.{key}"


def _write(
    con: duckdb.DuckDBPyConnection,
    table: str,
    spec: TableSpec,
    report: ImportReport,
    author: str,
) -> None:
    names = ", ".join(c.name for c in spec.columns)
    same_key = " AND ".join(_same_key(spec, k, table, "_typed") for k in spec.key)
    con.execute("BEGIN TRANSACTION")
    try:
        author = access.actor(access.require(con, author, "import"), author)
        if table == "sales_history":
            _complete_sales(con)
        con.execute(f"DELETE FROM {table} USING _typed WHERE {same_key}")
        con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _typed")
        (report.import_id,) = con.execute(
            "INSERT INTO import_log (author, table_name, file_name, file_sha256, rows_in_file, "
            "rows_added, rows_replaced, products_created, notices) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING import_id",
            [
                author,
                table,
                report.file_name,
                report.sha256,
                report.rows_in_file,
                report.rows_added,
                report.rows_replaced,
                report.products_created,
                "\n".join(i.text() for i in report.issues if i.severity != "error"),
            ],
        ).fetchone()
        audit.append(
            con,
            author,
            "import",
            report.file_name,
            scope=table,
            before={"rows_replaced": report.rows_replaced},
            after={
                "import_id": report.import_id,
                "rows_added": report.rows_added,
                "sha256": report.sha256,
            },
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _complete_sales(con: duckdb.DuckDBPyConnection) -> None:
    """New SKUs and channels of a sales file, and list prices where the file has none."""
    con.execute(
        """
        INSERT INTO products (sku, name, family, brand, list_price, unit_variable_cost,
                              standard_batch_size)
        SELECT sku, sku, 'unassigned', 'unassigned',
               coalesce(max(coalesce(list_price, net_price)), 0), 0, 1
        FROM _typed WHERE sku NOT IN (SELECT sku FROM products) GROUP BY sku
        """
    )
    con.execute(
        "INSERT INTO channels (channel, name) SELECT DISTINCT channel, channel FROM _typed "
        "WHERE channel NOT IN (SELECT channel FROM channels)"
    )
    # A price without a list price: the product's list price is the regular price it is
    # compared with (that is what turns a price column into price drivers).
    con.execute(
        "UPDATE _typed SET list_price = p.list_price FROM products p "
        "WHERE _typed.sku = p.sku AND _typed.list_price IS NULL AND _typed.net_price IS NOT NULL "
        "AND p.list_price > 0"
    )


def input_tables() -> tuple[str, ...]:
    """The tables a company's own data can fill (the schema's input tables)."""
    return tuple(t for t in schema.INPUT_TABLES if t in SPECS)
