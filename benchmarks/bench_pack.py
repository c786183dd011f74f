"""Meeting pack and workbook benchmarks (issue 20): what the files weigh and cost to write.

Pack: ``build_pack`` on the sample (workbook, HTML report, PDF where Chromium is installed),
median of ``--repeats``, with the size of each file and the PDF's pages. Peer, same run and
same content (the pack's own sheets and figures, computed the same way): pandas'
``DataFrame.to_excel`` of the sheets into one workbook with default settings, and plotly's
``Figure.write_html`` with its defaults (the full plotly.js bundle) of the charts into one
file; no PDF.

Export: every table into one workbook (``export_workbook``, what ``export --table all --out
FILE.xlsx`` runs) against pandas' ``to_excel`` of the same tables into one workbook; with
``--big``, the sales history of a 1,000-SKU sample (about 450,000 rows) into a workbook, time
and peak memory of a process of its own.

Run: ``python benchmarks/bench_pack.py [--json] [--repeats 3] [--db PATH] [--big]``.
``--library DIR`` measures the ``sop_core`` of another checkout (DIR holds ``sop_core/``),
for a before/after comparison on the same machine and database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _library(root: Path) -> None:
    sys.path.insert(0, str(root))


def sample(folder: Path, skus: int = 40, forecast: bool = True) -> Path:
    from sop_core.data.sample import SampleConfig, build_sample_database

    path = folder / f"sop-{skus}.duckdb"
    config = SampleConfig(skus=skus, weeks=160, seed=7, as_of=dt.date(2026, 11, 25))
    build_sample_database(path, config)
    if forecast:
        from sop_core.forecast.runs import refresh_forecast

        refresh_forecast(path, jobs=2)
    return path


def pack_content(path: Path):
    """The pack's sheets and figures, computed as ``build_pack`` computes them."""
    from sop_core.data import db
    from sop_core.data.stores import plans_of_record
    from sop_core.meeting import pack

    with db.connect(path) as con:
        approved = plans_of_record.plan_of_record(con)
        if approved is None:
            content = pack._planned(con, None, 26, "EUR", None)
        else:
            content = pack._frozen(con, approved, "EUR")
    if hasattr(content, "charts"):  # this checkout
        return content.sheets, content.charts
    return content[1], content[2]  # before issue 20: (kpis, sheets, figures, first week)


def pack_times(path: Path, folder: Path, repeats: int) -> dict:
    import pandas as pd

    from sop_core.meeting.pack import build_pack

    ours, files = [], {}
    for index in range(repeats):
        out = folder / f"ours-{index}"
        out.mkdir()
        started = time.perf_counter()
        files = build_pack(path, out)
        ours.append(time.perf_counter() - started)
    sizes = {kind: file.stat().st_size for kind, file in files.items()}
    pages = None
    if "pdf" in files:
        try:
            from pypdf import PdfReader

            pages = len(PdfReader(files["pdf"]).pages)
        except ImportError:
            pass

    peer, peer_sizes = [], {}
    for index in range(repeats):
        out = folder / f"peer-{index}"
        out.mkdir()
        started = time.perf_counter()
        sheets, figures = pack_content(path)
        with pd.ExcelWriter(out / "pack.xlsx") as writer:
            for name, frame in sheets.items():
                frame.to_excel(writer, sheet_name=name, index=False)
        parts = [figure.to_html(full_html=False, include_plotlyjs=i == 0) for i, figure in
                 enumerate(figures)]  # fmt: skip
        (out / "pack.html").write_text("<html><body>" + "".join(parts) + "</body></html>")
        peer.append(time.perf_counter() - started)
        peer_sizes = {
            "xlsx": (out / "pack.xlsx").stat().st_size,
            "html": (out / "pack.html").stat().st_size,
        }
    # plotly's own default: one figure, one file, the full bundle inside.
    single = folder / "write_html.html"
    figures[0].write_html(single)
    return {
        "ours_median_s": round(statistics.median(ours), 2),
        "ours_runs_s": [round(t, 2) for t in ours],
        "ours_bytes": sizes,
        "ours_pdf_pages": pages,
        "peer_median_s": round(statistics.median(peer), 2),
        "peer_bytes": peer_sizes,
        "plotly_write_html_one_figure_bytes": single.stat().st_size,
    }


def export_all_times(path: Path, folder: Path, repeats: int) -> dict:
    import pandas as pd

    from sop_core.data import db, export, schema

    with db.connect(path) as con:
        tables = list(schema.table_columns(con))
    writer = getattr(export, "export_workbook", None)
    ours = []
    if writer is not None:
        for index in range(repeats):
            out = folder / f"all-{index}.xlsx"
            started = time.perf_counter()
            writer(path, tables, out)
            ours.append(time.perf_counter() - started)
    else:  # before issue 20: a workbook per table into a folder
        for index in range(repeats):
            out = folder / f"all-{index}"
            out.mkdir()
            started = time.perf_counter()
            for table in tables:
                export.export_table(path, table, out / f"{table}.xlsx")
            ours.append(time.perf_counter() - started)
    peer = []
    for index in range(repeats):
        out = folder / f"peer-all-{index}.xlsx"
        started = time.perf_counter()
        with db.connect(path) as con, pd.ExcelWriter(out) as excel:
            for table in tables:
                con.execute(f'SELECT * FROM "{table}"').df().to_excel(
                    excel, sheet_name=table[:31], index=False
                )
        peer.append(time.perf_counter() - started)
    return {
        "tables": len(tables),
        "one_workbook": writer is not None,
        "ours_median_s": round(statistics.median(ours), 2),
        "peer_median_s": round(statistics.median(peer), 2),
    }


BIG = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from sop_core.data.export import export_table
started = time.perf_counter()
rows = export_table(sys.argv[2], "sales_history", sys.argv[3])
print(json.dumps({"rows": rows, "seconds": round(time.perf_counter() - started, 1),
                  "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def big_export(library: Path, folder: Path) -> dict:
    path = sample(folder, skus=1000, forecast=False)
    out = folder / "sales.xlsx"
    done = subprocess.run(
        [sys.executable, "-c", BIG, str(library), str(path), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    # (the last line: DuckDB may draw a progress bar above it)
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "bytes": out.stat().st_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--db", type=Path, default=None, help="a sample database to reuse")
    parser.add_argument("--big", action="store_true", help="also the 450,000-row export")
    parser.add_argument("--library", type=Path, default=ROOT, help="checkout to measure")
    args = parser.parse_args()
    _library(args.library.resolve())
    folder = Path(tempfile.mkdtemp(prefix="bench_pack_"))
    try:
        if args.db:
            path = folder / "sop.duckdb"
            shutil.copy(args.db, path)
        else:
            path = sample(folder)
        result = {
            "library": str(args.library),
            "pack": pack_times(path, folder, args.repeats),
            "export_all": export_all_times(path, folder, args.repeats),
        }
        if args.big:
            result["big_export"] = big_export(args.library.resolve(), folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>12}: {value}")


if __name__ == "__main__":
    main()
