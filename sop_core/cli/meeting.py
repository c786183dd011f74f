"""The meeting command: ``pack``, the meeting pack (Excel workbook, HTML report, PDF)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sop_core.cli.common import WEEKS_AHEAD, add_bucket_option, author, progress_bar


def command_pack(args: argparse.Namespace) -> int:
    from sop_core.data.export import check_out_folder
    from sop_core.meeting.pack import build_pack

    check_out_folder(args.out)
    started = time.perf_counter()
    with progress_bar(args.quiet) as progress:
        files = build_pack(
            args.db,
            args.out,
            args.scenario,
            weeks=args.weeks,
            progress=progress,
            author=author(args),
            bucket=args.bucket,
        )
    for kind, path in files.items():
        print(f"{kind}: {path}")
    if "pdf" not in files:
        print("pdf: not made (Chromium is not installed); the HTML report opens in any browser")
    print(f"Meeting pack written in {time.perf_counter() - started:.1f} s.")
    return 0


# ---- parsers -----------------------------------------------------------------------------------


def add_pack_parser(commands: argparse._SubParsersAction) -> None:
    pack = commands.add_parser(
        "pack",
        help="write the meeting pack (Excel workbook, HTML report, PDF)",
        description="Write the meeting pack: the latest plan of record as frozen (with "
        "--scenario: that scenario planned on today's forecast; with nothing approved: the "
        "baseline): an Excel workbook with a cover, the summary, the targets by SKU x week, "
        "production and capacity by line x week and the decisions; a self-contained HTML "
        "report with the charts as pictures (it opens offline); and a PDF of it where "
        "Chromium is installed, on A4 or Letter (SOP_PAPER_SIZE).",
    )
    pack.add_argument("--db", required=True, type=Path, help="database file")
    pack.add_argument("--out", required=True, type=Path, help="folder to write into")
    pack.add_argument("--scenario", default=None, help="saved scenario (default: see above)")
    pack.add_argument("--weeks", type=WEEKS_AHEAD, default=26, help="weeks covered (26)")
    pack.add_argument(
        "--author", default=None, help="who makes the pack, on its cover (default: $USER)"
    )
    add_bucket_option(pack)
    pack.add_argument("--quiet", action="store_true", help="no progress on stderr")
    pack.set_defaults(handler=command_pack)


PARSERS = {"pack": add_pack_parser}
"""This group's commands and the functions that add their subparsers."""
