"""The peer for ``bench_buckets.py``: weeks, months and quarters the way Streamlit demos
switch them.

One segmented control, the forecast's weekly totals by family resampled with pandas
(``DataFrame.resample``: calendar months and quarters, no fiscal calendar, no split weeks), a
``plotly.express`` line chart, a total and the table of the periods. Nothing else on the page.
Reads ``SOP_DB`` (once, with ``sop_core.data.db``'s lock retry, as the benchmark's other
servers share the file).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sop_core.data import db  # its lock retry: the benchmark's servers share the file

st.set_page_config(layout="wide")
RULES = {"Week": "W-MON", "Month": "MS", "Quarter": "QS"}


@st.cache_data
def weekly_forecast(path: str) -> pd.DataFrame:
    with db.connect(path) as con:
        return con.execute(
            "SELECT f.week, p.family, sum(f.forecast) AS units FROM forecast_rows f "
            "JOIN products p USING (sku) "
            "WHERE f.run_id = (SELECT max(run_id) FROM forecast_runs) "
            "GROUP BY ALL ORDER BY f.week"
        ).df()


weekly = weekly_forecast(os.environ["SOP_DB"])
st.title("Periods demo")
with st.sidebar:
    bucket = st.segmented_control(
        "Figures by", list(RULES), default="Week", required=True, key="bucket"
    )
frame = (
    weekly.set_index("week")
    .groupby("family")["units"]
    .resample(RULES[bucket], label="left", closed="left")
    .sum()
    .reset_index()
)
st.plotly_chart(px.line(frame, x="week", y="units", color="family", title="Forecast"))
st.metric("Total", f"{frame['units'].sum():,.0f}")
st.dataframe(frame, hide_index=True)
