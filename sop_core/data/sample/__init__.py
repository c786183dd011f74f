"""The sample company: a seeded cosmetics manufacturer that tells the S&OP story.

Aurora Cosmetics sells skincare, haircare, fragrance, makeup and body care through retail,
e-commerce and pharmacy. Its weekly history has trend, yearly seasonality, holiday peaks
(Black Friday and Christmas for everything; Valentine's and Mother's Day for fragrance),
promotions whose uplift grows with the discount depth plus feature and display effects and a
post-promotion dip, a real price elasticity per SKU, a few new launches and a few intermittent
SKUs (``SampleConfig.mix`` picks another kind of demand: promotion-heavy, intermittent or
short-history; ``mixes`` holds their parameters). Its lines have finite hours, so the peak
season overloads at least one of them, and batch setup costs make bigger batches cheaper per unit.

The generator is vectorised over a (SKU, channel, week) array, so 1,000 SKUs take seconds.
Its true driver values go to the ``sample_truth`` table; ``DATA_DICTIONARY`` there gives the
demand equation. One module per part of the story, in the order ``generate`` tells it (the
random draws are made in that order, so a seed always gives the same company): ``families``
(the cast), ``catalogue`` (channels, SKUs and their true drivers), ``prices``, ``promotions``,
``seasonality`` and ``demand``, ``lines`` (lines, capacity calendar, the products table),
``stock`` (production and inventory) and ``budget`` (a family budget a few percent above the
trend). This module holds the public API: ``SampleConfig``,
``generate`` and the database builders.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from sop_core.data import db, schema
from sop_core.data.errors import InputError
from sop_core.data.fiscal import FiscalCalendar
from sop_core.data.sample.budget import budget_frame
from sop_core.data.sample.catalogue import (
    CHANNELS,
    channels_frame,
    design_products,
    truth_frame,
)
from sop_core.data.sample.config import SampleConfig, Weeks, capacity_weeks, sample_weeks
from sop_core.data.sample.demand import sales_frame, simulate_demand
from sop_core.data.sample.families import FAMILIES, Family
from sop_core.data.sample.lines import (
    alternate_lines_frame,
    capacity_calendar,
    lines_frame,
    products_frame,
    size_lines,
)
from sop_core.data.sample.mixes import MIXES, Mix
from sop_core.data.sample.prices import price_change_frame, set_prices
from sop_core.data.sample.promotions import plan_promotions, promotion_frame
from sop_core.data.sample.stock import inventory_frame, production_frame, simulate_stock

__all__ = [
    "CHANNELS",
    "FAMILIES",
    "GENERATOR_VERSION",
    "MIXES",
    "Family",
    "Mix",
    "ProgressCallback",
    "SampleConfig",
    "build_empty_database",
    "build_sample_database",
    "generate",
    "write_tables",
]

ProgressCallback = Callable[[float, str], None]
"""Called as ``progress(fraction_done, what_is_happening)``."""

GENERATOR_VERSION = 1


def generate(
    config: SampleConfig, progress: ProgressCallback | None = None
) -> dict[str, pd.DataFrame]:
    """Generate the sample company's tables as data frames keyed by table name."""
    config = config.validated()
    report = progress or (lambda fraction, message: None)
    # One generator for the whole story: every part draws from it in turn, so the order of
    # the calls below is part of what a seed means.
    rng = np.random.default_rng(config.seed)
    weeks = sample_weeks(config)
    mix = config.mix_parameters
    report(0.05, "Designing products")
    catalogue = design_products(rng, config.skus, weeks, mix)
    report(0.15, "Setting prices")
    prices = set_prices(rng, catalogue, weeks, mix)
    report(0.25, "Planning promotions")
    promotions = plan_promotions(rng, catalogue, weeks, mix)
    report(0.4, "Simulating weekly demand")
    demand = simulate_demand(rng, catalogue, weeks, prices, promotions)
    report(0.6, "Sizing production lines")
    sku_units = demand.units.sum(axis=1)  # (SKU, week), channels summed
    lines = size_lines(rng, catalogue, weeks, sku_units, config.lines)
    report(0.7, "Writing the capacity calendar")
    calendar, available = capacity_calendar(lines, capacity_weeks(weeks))
    available = available[:, : weeks.count]
    report(0.8, "Simulating production")
    stock = simulate_stock(lines, available, weeks, sku_units)

    report(0.9, "Assembling tables")
    skus = catalogue.sku_array
    channel_codes = [c[0] for c in CHANNELS]
    products = products_frame(catalogue, weeks, prices.list_price, lines)
    sales = sales_frame(catalogue, weeks, prices, promotions, demand)
    truth = truth_frame(catalogue)
    return {
        "company_settings": _company_frame(config, weeks),
        "channels": channels_frame(),
        "production_lines": lines_frame(lines),
        "products": products,
        "product_lines": alternate_lines_frame(lines, skus),
        "sales_history": sales,
        "capacity_calendar": calendar,
        "production_actuals": production_frame(stock, lines, weeks, skus),
        "inventory": inventory_frame(stock, catalogue, weeks),
        "promotions": promotion_frame(
            promotions.events, weeks.all, weeks.history, skus, channel_codes
        ),
        "price_changes": price_change_frame(prices.list_price, weeks.all, skus, catalogue.on_sale),
        "sample_truth": truth,
        "budget": budget_frame(
            sales, products, truth, config.fiscal, weeks.all[weeks.history].date()
        ),
    }


def _company_frame(config: SampleConfig, weeks: Weeks) -> pd.DataFrame:
    """The ``company_settings`` table: who the sample is and how it was generated."""
    hist_weeks = weeks.history_weeks
    return pd.DataFrame(
        {
            "key": [
                "company_name",
                "currency",
                "week_start",
                "history_start",
                "history_end",
                "generated_by",
                *config.fiscal.settings(),
            ],
            "value": [
                "Aurora Cosmetics",
                "EUR",
                "MON",
                str(hist_weeks[0].date()),
                str(hist_weeks[-1].date()),
                f"sample v{GENERATOR_VERSION} skus={config.skus} weeks={config.weeks} "
                f"seed={config.seed} as_of={config.as_of}"
                + ("" if config.mix == "standard" else f" mix={config.mix}"),
                *config.fiscal.settings().values(),
            ],
        }
    )


# ---- the database ------------------------------------------------------------------------------


def write_tables(con: duckdb.DuckDBPyConnection, tables: dict[str, pd.DataFrame]) -> None:
    """Insert generated frames into their tables (columns matched by name)."""
    for table, frame in tables.items():
        db.insert_frame(con, table, frame)


def _swap_in(new_file: Path, path: Path, on_wait: db.WaitCallback | None) -> None:
    """Move ``new_file`` to ``path``. While an old database is there, hold its lock across the
    swap, so no other process is inside it (or writing its WAL) when it is replaced."""
    holder = None
    if path.exists():
        try:
            holder = db.open_connection(path, on_wait=on_wait, ours_only=False)
        except duckdb.Error:
            holder = None  # not a DuckDB database: nothing can be inside it
    try:
        Path(f"{path}.wal").unlink(missing_ok=True)
        os.replace(new_file, path)
    finally:
        if holder is not None:
            holder.close()


def build_sample_database(
    path: Path | str,
    config: SampleConfig | None = None,
    *,
    force: bool = False,
    progress: ProgressCallback | None = None,
    on_wait: db.WaitCallback | None = None,
) -> dict[str, int]:
    """Build a sample database at ``path`` and return its row counts by table.

    The database is written to a temporary file next to ``path`` and moved into place only
    when complete, so a crash or an error never leaves a half-built database behind. Replacing
    an existing database waits (telling ``on_wait``) while another process uses it.
    """
    report = progress or (lambda fraction, message: None)
    _check_target(Path(path), force)
    tables = generate(config or SampleConfig(), progress=lambda f, m: report(0.8 * f, m))
    report(0.82, "Writing the database")
    _write_new_database(Path(path), tables, on_wait)
    report(1.0, "Done")
    return {name: len(frame) for name, frame in tables.items()}


def build_empty_database(
    path: Path | str,
    *,
    force: bool = False,
    company_name: str = "My company",
    currency: str = "EUR",
    week_start: str = "MON",
    fiscal: FiscalCalendar | None = None,
    on_wait: db.WaitCallback | None = None,
) -> None:
    """Create a database with the schema, the company settings and no data: the start for a
    company's own data (``python -m sop_core init --empty``)."""
    _check_target(Path(path), force)
    fiscal_settings = (fiscal or FiscalCalendar()).settings()
    settings = pd.DataFrame(
        {
            "key": ["company_name", "currency", "week_start", "generated_by", *fiscal_settings],
            "value": [
                company_name,
                currency,
                week_start,
                "init --empty",
                *fiscal_settings.values(),
            ],
        }
    )
    _write_new_database(Path(path), {"company_settings": settings}, on_wait)


def _check_target(path: Path, force: bool) -> None:
    if not path.parent.is_dir():
        raise InputError(f"The directory {path.parent} does not exist.")
    if path.exists() and not force:
        raise InputError(f"{path} already exists; use --force to replace it.")


def _temporary_name(path: Path) -> Path:
    """Where a new database is written before it is moved to ``path``: hidden, next to it,
    named after this process (``remove_leftover_temporaries`` reads the process back)."""
    return db.temporary_name(path)


def _process_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _locked_by_another_process(file: Path) -> bool:
    """True when another process holds a lock on ``file`` (DuckDB locks the files it has open
    with fcntl). Where fcntl does not exist, a file is taken as held."""
    try:
        import fcntl
    except ImportError:
        return True
    try:
        with file.open("rb+") as handle:
            try:
                fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.lockf(handle, fcntl.LOCK_UN)
    except FileNotFoundError:
        return False
    return False


def remove_leftover_temporaries(path: Path | str) -> list[Path]:
    """Remove the temporary databases a killed ``init`` (or first start) left next to
    ``path``; return the files removed.

    Only our own pattern (``.NAME.tmp-PID-NUMBER`` and its ``.wal``), only when the process
    named in it is gone and no process holds the file: a build running right now keeps its
    file.
    """
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.tmp-(\d+)-\d+(\.wal)?")
    removed = []
    for file in path.parent.glob(f".{glob.escape(path.name)}.tmp-*"):
        match = pattern.fullmatch(file.name)
        if match is None or not file.is_file():
            continue
        if _process_running(int(match.group(1))) or _locked_by_another_process(file):
            continue
        with contextlib.suppress(FileNotFoundError):
            file.unlink()
            removed.append(file)
    return removed


def _write_new_database(
    path: Path, tables: dict[str, pd.DataFrame], on_wait: db.WaitCallback | None
) -> None:
    """Write ``tables`` into a new database next to ``path`` and move it into place only when
    complete, so a crash or an error never leaves a half-built database behind. Replacing an
    existing database waits (telling ``on_wait``) while another process uses it."""
    remove_leftover_temporaries(path)
    temporary = _temporary_name(path)
    try:
        with db.connect(temporary, create=True) as con:
            schema.migrate(con)
            con.execute("BEGIN TRANSACTION")
            write_tables(con, tables)
            con.execute("COMMIT")
        _swap_in(temporary, path, on_wait)
    finally:
        temporary.unlink(missing_ok=True)
        Path(f"{temporary}.wal").unlink(missing_ok=True)
