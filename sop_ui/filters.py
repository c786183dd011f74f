"""What the global filters in the sidebar hold: the scope (families, channels), the scenario
every page shows and who is at the keyboard. ``shell.global_filters`` draws them; this module
only reads and sets their session state, so every other module can use it.
"""

from __future__ import annotations

import streamlit as st

from sop_core.data.stores.sales import Scope

BASELINE = "Baseline (no levers)"
# The sidebar's widget keys; "family", "channel" and "scenario" are also the URL's parameters.
FAMILY, CHANNEL, SCENARIO, USER = "family", "channel", "scenario", "user"
# The sidebar's *Figures by* switch, also the URL's parameter: "week", "month" or "quarter".
BUCKET = "bucket"
_REQUESTED_SCENARIO = "_open_scenario"


def scope() -> Scope:
    """The global filters chosen in the sidebar."""
    state = st.session_state
    return Scope(tuple(state.get(FAMILY) or ()), tuple(state.get(CHANNEL) or ()))


def bucket() -> str:
    """ "week", "month" or "quarter": the periods every page's figures are shown in."""
    return st.session_state.get(BUCKET) or "week"


def user_name() -> str:
    """Who is at the keyboard (the sidebar's "Your name"), for what they save."""
    return (st.session_state.get(USER) or "").strip() or "planner"


def selected_scenario() -> str | None:
    """The scenario chosen in the sidebar, or None for the baseline."""
    name = st.session_state.get(SCENARIO)
    return None if not name or name == BASELINE else name


def request_scenario(name: str | None) -> None:
    """Have the sidebar show scenario ``name`` (None: the baseline) from the next run on."""
    st.session_state[_REQUESTED_SCENARIO] = name or BASELINE


def apply_requested_scenario() -> None:
    """Called just before the sidebar draws its scenario box: a widget's value can only be set
    before the widget is drawn, so a page's request waits for the next run to get here."""
    if _REQUESTED_SCENARIO in st.session_state:
        st.session_state[SCENARIO] = st.session_state.pop(_REQUESTED_SCENARIO)
