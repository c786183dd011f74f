"""Tables as every page shows them: missing text as a dash, no negative zero, shares as the
formatting module writes a percent."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest


def _page():
    import pandas as pd

    from sop_ui import columns, widgets

    widgets.table(
        pd.DataFrame(
            {
                "owner": ["Ana", None],
                "units": [-0.0, 12.0],
                "utilisation": [0.845, 1.2],
                "change": [0.024, -0.1],
            }
        ),
        utilisation=columns.share("Load"),
        change=columns.change("Change"),
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


def _weeks_page():
    import datetime as dt

    import pandas as pd

    from sop_ui import columns, widgets

    widgets.table(
        pd.DataFrame(
            {
                "week": [dt.date(2026, 11, 23), dt.date(2026, 11, 30)],
                "units": [12345.4, 830.0],
                # A column whose name says nothing of a change: the config decides.
                "load": [0.845, 1.2],
                "growth": [0.024, -0.1],
                "vs_plan": [0.5, 0.25],
            }
        ),
        week=columns.week("Week"),
        units=columns.units("Units"),
        load=columns.share("Load"),
        growth=columns.change("Growth"),
        vs_plan=columns.share("Share of plan"),
    )


def test_a_week_column_shows_the_iso_week_and_its_monday_and_a_change_is_signed():
    at = AppTest.from_function(_weeks_page).run()
    assert not at.exception
    shown = at.dataframe[0]
    columns = json.loads(shown.proto.columns)
    # momentJS: "[W]" is the letter, "WW" the ISO week, "D MMM" its Monday: W48 · 23 Nov.
    assert columns["week"]["type_config"]["format"] == "[W]WW · D MMM"
    assert columns["week"]["label"] == "Week"
    # Whole units with thousands separators.
    assert columns["units"]["type_config"]["format"] == "localized"
    assert columns["units"]["type_config"]["step"] == 1
    # The change is signed because it is configured as one, not because of its name ...
    assert columns["growth"]["type_config"]["format"] == "%+.1f%%"
    assert columns["load"]["type_config"]["format"] == "%.1f%%"
    # ... and a share named "vs" is not.
    assert columns["vs_plan"]["type_config"]["format"] == "%.1f%%"
    frame = shown.value
    assert list(frame["growth"].round(6)) == [2.4, -10.0]
    assert list(frame["vs_plan"].round(6)) == [50.0, 25.0]


def _long_picker_page():
    import streamlit as st

    from sop_ui import widgets

    codes = [f"SKU{i:05d}" for i in range(1000)]
    names = {
        code: f"{code}  {'Rose' if i % 100 == 7 else 'Musk'} cream" for i, code in enumerate(codes)
    }
    st.session_state["picked"] = widgets.long_select(
        "SKU", codes, key="sku", format_func=names.get, limit=50
    )


def test_a_picker_of_many_options_lists_the_first_ones_and_finds_the_others():
    at = AppTest.from_function(_long_picker_page).run()
    assert not at.exception
    assert len(at.selectbox[0].options) == 50  # not a thousand
    assert "first 50 of 1,000 SKUs" in at.caption[0].value
    at.text_input[0].input("rose").run()  # by name, any case
    found = at.selectbox[0].options
    assert len(found) == 10 and all("Rose" in label for label in found)
    at.selectbox[0].set_value("SKU00307").run()
    assert at.session_state["picked"] == "SKU00307"
    at.text_input[0].input("").run()
    # The value found stays listed (and chosen) beside the first 50.
    assert at.selectbox[0].options[0] == "SKU00307  Rose cream"
    assert at.session_state["picked"] == "SKU00307"
    at.text_input[0].input("no such thing").run()
    assert not at.selectbox and "No SKUs match" in at.caption[0].value


def _long_table_page():
    import pandas as pd

    from sop_ui import widgets

    widgets.table(pd.DataFrame({"sku": [f"S{i}" for i in range(30)], "units": range(30)}), most=12)


def test_a_long_table_sends_its_first_rows_and_says_how_many_there_are():
    at = AppTest.from_function(_long_table_page).run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 12
    assert at.caption[0].value == "The first 12 rows of 30."
