"""The peer for ``bench_browser.py``: a what-if page the way Streamlit demos build one.

One discount slider, the forecast's weekly total scaled by a fixed uplift per point of
discount, a ``plotly.express`` line chart and one metric, all in a fragment. Nothing else on
the page: it is as little as a live what-if page can show, so its timings are near the
floor of a Streamlit slider-to-chart round trip on this machine. Reads ``SOP_DB`` (once, with
``sop_core.data.db``'s lock retry, as the benchmark's other servers share the file).
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


@st.cache_data
def weekly_forecast(path: str) -> pd.DataFrame:
    with db.connect(path) as con:
        return con.execute(
            "SELECT week, sum(forecast) AS baseline FROM forecast_rows "
            "WHERE run_id = (SELECT max(run_id) FROM forecast_runs) GROUP BY week ORDER BY week"
        ).df()


weekly = weekly_forecast(os.environ["SOP_DB"])
st.title("What-if demo")


@st.fragment
def whatif() -> None:
    discount = st.slider("Discount", 0, 60, 0, 5, format="%d%%")
    frame = weekly.assign(revised=weekly["baseline"] * (1 + 0.025 * discount))
    st.plotly_chart(px.line(frame, x="week", y=["baseline", "revised"]))
    st.metric("Volume", f"{frame['revised'].sum():,.0f}")


whatif()
