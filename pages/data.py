"""Data: what is in the database, where it lives, and what each table means."""

from __future__ import annotations

import streamlit as st

import sop_ui
from sop_core import schema

sop_ui.require_shell()
facts = sop_ui.facts()
path = sop_ui.database_path()

st.title("Data")
st.caption(f"Database: `{path}`")

counts = sop_ui.load("table_row_counts")
first, last = facts["history_first_week"], facts["history_last_week"]
sales_rows = int(counts.set_index("table").loc["sales_history", "rows"])
sop_ui.kpi_row(
    [
        sop_ui.Kpi("Tables", f"{len(counts)}"),
        sop_ui.Kpi("Weekly sales rows", f"{sales_rows:,}"),
        sop_ui.Kpi(
            "History",
            f"{facts['history_weeks']} weeks",
            note=f"{first:%d %b %Y} to {last:%d %b %Y}" if first else None,
        ),
        sop_ui.Kpi(
            "Schema version",
            f"{facts['schema_version']}",
            note=f"{path.stat().st_size / 1e6:,.1f} MB on disk" if path.exists() else None,
        ),
    ]
)

left, right = st.columns([2, 3])
with left:
    st.subheader("Rows per table")
    sop_ui.table(
        counts,
        fit=True,
        table="Table",
        rows=st.column_config.NumberColumn("Rows", format="localized"),
    )
with right:
    st.subheader("Data dictionary")
    for table, (description, columns) in schema.DATA_DICTIONARY.items():
        with st.expander(f"`{table}`"):
            st.markdown(description)
            st.markdown("\n".join(f"- `{name}`: {text}" for name, text in columns.items()))

sop_ui.not_built_yet(
    "Importing your own sales, products, lines, calendar, stock, promotions and prices from "
    "CSV, Excel or Parquet with validation, and exporting every table. Today the database is "
    "the built-in sample company (or one built with `python -m sop_core init`)."
)
