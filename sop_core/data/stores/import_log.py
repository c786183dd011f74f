"""The import log: every file that landed, who brought it and what it changed."""

from __future__ import annotations

import duckdb
import pandas as pd


def import_log(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every import that landed, newest first."""
    return con.execute(
        "SELECT import_id, imported_at, author, table_name, file_name, rows_in_file, "
        "rows_added, rows_replaced, products_created, left(file_sha256, 12) AS sha256 "
        "FROM import_log ORDER BY import_id DESC"
    ).df()
