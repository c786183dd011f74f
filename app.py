"""S&OP meeting dashboard: `streamlit run app.py`.

The shell around every page: page configuration, the database on first start, the navigation
over the meeting steps, the global filters, and one place where errors a planner can cause or
meet (a busy database, a bad setting) become a message instead of a traceback.
"""

from __future__ import annotations

import duckdb
import streamlit as st

import sop_ui
from sop_core.data.errors import SopError


def pages() -> list[st.Page]:
    return [
        st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("pages/demand.py", title="Demand review", icon=":material/trending_up:"),
        st.Page("pages/promotions.py", title="Promotions & pricing", icon=":material/sell:"),
        st.Page("pages/supply.py", title="Supply & capacity", icon=":material/factory:"),
        st.Page("pages/plan.py", title="Plan & decisions", icon=":material/task_alt:"),
        st.Page("pages/data.py", title="Data", icon=":material/database:"),
        st.Page("pages/present.py", title="Present", icon=":material/slideshow:"),
    ]


def main() -> None:
    st.set_page_config(page_title="S&OP meeting", page_icon=":material/monitoring:", layout="wide")
    page = st.navigation(pages(), position="top")
    # Less empty space above the title: on a projector every line of height counts.
    st.html("<style>.stMainBlockContainer {padding-top: 3.5rem;}</style>")
    try:
        sop_ui.ensure_database()
        company = sop_ui.facts()
        sop_ui.global_filters(company)
        if not company["history_weeks"] and page.title != "Data":
            st.info(
                "This database has no sales history yet, so there is nothing to review. "
                "The **Data** page shows what it holds.",
                icon=":material/info:",
            )
            return
        with sop_ui.inside_shell():
            page.run()
    except SopError as error:
        st.error(str(error), icon=":material/error:")
    except duckdb.Error as error:
        st.error(
            f"The database {sop_ui.database_path()} could not be read: "
            f"{str(error).strip().splitlines()[0]}",
            icon=":material/error:",
        )


if __name__ == "__main__":
    main()
