"""The sales history read from a Parquet dataset instead of the database.

A forecast on a Dask cluster may take its history from Parquet (``forecast --engine dask
--history PATH``): a file, a folder of files (read recursively) or a glob, on local disk or on
storage every worker mounts. The client reads it once for what needs every SKU (classification,
the global model, fingerprints); each worker reads only its batch's SKUs, so the histories do
not travel through one process. The columns are those of ``sales_history``: ``week`` (a date,
the Monday of the week), ``sku``, ``channel``, ``units`` required; ``net_price``,
``list_price``, ``discount_depth``, ``feature``, ``display`` optional (missing: no prices, no
promotions). ``export --table sales_history --format parquet`` writes such a file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd

from sop_core.data.errors import InputError

REQUIRED = ("week", "sku", "channel", "units")
OPTIONAL = {
    "net_price": "NULL",
    "list_price": "NULL",
    "discount_depth": "0",
    "feature": "0",
    "display": "0",
}


def dataset_files(source: str | Path) -> str:
    """What DuckDB's ``read_parquet`` reads for ``source``: the file, every ``.parquet`` file
    under a folder, or the glob or URL as given."""
    text = str(source)
    if "://" in text or any(c in text for c in "*?["):
        return text
    path = Path(text)
    if path.is_dir():
        if not any(path.rglob("*.parquet")):
            raise InputError(f"There is no .parquet file in the folder {path}.")
        return str(path / "**" / "*.parquet")
    if not path.exists():
        raise InputError(f"There is no Parquet history at {path}.")
    return text


def _select(con: duckdb.DuckDBPyConnection, files: str) -> str:
    """The SELECT list that gives ``sales_history``'s columns from the dataset's."""
    try:
        columns = {
            row[0]
            for row in con.execute(
                "DESCRIBE SELECT * FROM read_parquet(?, union_by_name = true)", [files]
            ).fetchall()
        }
    except duckdb.Error as error:
        raise InputError(f"The Parquet history {files} cannot be read: {error}") from None
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise InputError(
            f"The Parquet history {files} has no column {', '.join(missing)} "
            f"(it needs {', '.join(REQUIRED)})."
        )
    parts = ["week::DATE AS week", "sku::VARCHAR AS sku", "channel::VARCHAR AS channel"]
    parts.append("units::DOUBLE AS units")
    for column, fill in OPTIONAL.items():
        source = column if column in columns else fill
        parts.append(f"{source}::DOUBLE AS {column}")
    return ", ".join(parts)


def parquet_sales_rows(
    source: str | Path,
    history_end: dt.date | None = None,
    skus: list[str] | None = None,
) -> pd.DataFrame:
    """The sales rows of the Parquet dataset ``source`` up to ``history_end`` (all without
    it), of ``skus`` only when given, by SKU, week and channel: the columns of
    ``sales.sales_rows``."""
    files = dataset_files(source)
    with duckdb.connect() as con:
        select = _select(con, files)
        return con.execute(
            f"""
            SELECT {select}
            FROM read_parquet(?, union_by_name = true)
            WHERE (?::DATE IS NULL OR week::DATE <= ?::DATE)
              AND (?::VARCHAR[] IS NULL OR sku IN (SELECT unnest(?::VARCHAR[])))
            ORDER BY sku, week, channel
            """,
            [files, history_end, history_end, skus, skus],
        ).df()
