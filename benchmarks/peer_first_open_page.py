"""The peer for ``bench_first_start.py``: a forecast page the way Streamlit demos build one.

On first open it reads the weekly sales (the sample's, from ``SOP_DB``), fits a default
``prophet.Prophet()`` on the company's weekly total and shows the forecast in a
``plotly.express`` chart with one metric: the usual "upload your sales, get a Prophet
forecast" demo. It has no scenarios, plan of record, overrides or past forecasts to show.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sop_core.data import db

st.set_page_config(layout="wide")
logging.getLogger("cmdstanpy").disabled = True


@st.cache_data
def weekly_sales(path: str) -> pd.DataFrame:
    with db.connect(path) as con:
        return con.execute(
            "SELECT week AS ds, sum(units) AS y FROM sales_history GROUP BY 1 ORDER BY 1"
        ).df()


@st.cache_data
def forecast(history: pd.DataFrame) -> pd.DataFrame:
    from prophet import Prophet

    model = Prophet()
    model.fit(history)
    future = model.make_future_dataframe(periods=26, freq="7D", include_history=False)
    return model.predict(future)[["ds", "yhat"]]


st.title("Demand forecast demo")
history = weekly_sales(os.environ["SOP_DB"])
predicted = forecast(history)
st.metric("Next 13 weeks", f"{predicted['yhat'].head(13).sum():,.0f} units")
chart = pd.concat(
    [
        history.assign(kind="actual").rename(columns={"y": "units"}),
        predicted.assign(kind="forecast").rename(columns={"yhat": "units"}),
    ]
)
st.plotly_chart(px.line(chart, x="ds", y="units", color="kind"))
