"""Tables as every page shows them: missing text as a dash, no negative zero, shares as the
formatting module writes a percent."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest


def _page():
    import pandas as pd
    import streamlit as st

    from sop_ui import widgets

    widgets.table(
        pd.DataFrame(
            {
                "owner": ["Ana", None],
                "units": [-0.0, 12.0],
                "utilisation": [0.845, 1.2],
                "change": [0.024, -0.1],
            }
        ),
        utilisation=st.column_config.NumberColumn("Load", format="percent"),
        change=st.column_config.NumberColumn("Change", format="percent"),
    )


def test_a_table_shows_a_dash_for_missing_text_and_percents_with_one_decimal():
    at = AppTest.from_function(_page).run()
    assert not at.exception
    shown = at.dataframe[0]
    frame = shown.value
    assert list(frame["owner"]) == ["Ana", "–"]
    assert str(frame["units"].iloc[0]) == "0.0"  # not "-0.0"
    assert list(frame["utilisation"].round(6)) == [84.5, 120.0]  # percent points
    columns = json.loads(shown.proto.columns)
    assert columns["utilisation"]["type_config"]["format"] == "%.1f%%"  # 84.5%
    assert columns["change"]["type_config"]["format"] == "%+.1f%%"  # +2.4%
