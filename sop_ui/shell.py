"""The shell around every page: page configuration, the database on first start, the
navigation over the meeting steps in ``pages/``, the global filters and the running jobs in the
sidebar (jobs interrupted by a stop are taken up again at the start), and the
error boundary where errors a planner can cause or meet (a busy database, a bad setting)
become a message instead of a traceback.

``app.py`` calls ``main``; every page calls ``require_shell`` first, so a page Streamlit runs
directly still runs inside the shell. Nothing here imports ``app``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import streamlit as st

from sop_core.data import access
from sop_core.data.errors import SopError
from sop_core.data.fiscal import BUCKETS, DEFAULT_BUCKET
from sop_ui import filters, identity, jobs, loaders
from sop_ui.formatting import plain

_shell = threading.local()
# A row of KPI tiles (widgets.kpi_row): a horizontal container holding metrics.
_KPI_ROW = (
    '[data-testid="stHorizontalBlock"]'
    ':has(> [data-testid="stElementContainer"] > [data-testid="stMetric"])'
)


def pages() -> list[st.Page]:
    """The meeting steps in navigation order. Streamlit resolves the paths against the folder
    of the script it serves (``app.py``), whichever script is running."""
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
    """Run the app: configure the page, draw the navigation and the sidebar, run the chosen
    page inside the error boundary."""
    st.set_page_config(page_title="S&OP meeting", page_icon="📊", layout="wide")
    page = st.navigation(pages(), position="top")
    # Less empty space above the title: on a projector every line of height counts. The KPI
    # tiles of a row (widgets.kpi_row, which wraps on a narrow screen) equally tall, and a
    # tile alone on its row at a tile's width rather than across the page.
    st.html(
        "<style>.stMainBlockContainer {padding-top: 3.5rem;}"
        f"{_KPI_ROW} {{align-items: stretch;}}"
        f"{_KPI_ROW} > div {{max-width: calc(50% - 0.5rem);}}"
        f'{_KPI_ROW} [data-testid="stMetric"] {{height: 100%;}}</style>'
    )
    with error_boundary():
        # Nobody signed in (SOP_SIGN_IN oidc or proxy): the sign-in screen or why not, and stop.
        identity.signed_in()
        path = loaders.ensure_database()
        jobs.resume_at_start(str(path))
        company = loaders.facts()
        global_filters(company)
        with st.sidebar:
            jobs.running_jobs()
        if not company.history_weeks and page.title != "Data":
            st.info(
                "This database has no sales history yet, so there is nothing to review. "
                "The **Data** page shows what it holds.",
                icon=":material/info:",
            )
            return
        with _inside_shell():
            page.run()


@contextmanager
def error_boundary() -> Iterator[None]:
    """Show a ``SopError`` (a bad setting, a busy database, a missing file) or a DuckDB error
    as a message on the page instead of a traceback."""
    try:
        yield
    except SopError as error:
        st.error(plain(error), icon=":material/error:")
    except duckdb.Error as error:
        st.error(
            plain(
                f"The database {loaders.database_path()} could not be read: "
                f"{str(error).strip().splitlines()[0]}"
            ),
            icon=":material/error:",
        )


@contextmanager
def _inside_shell() -> Iterator[None]:
    """Mark that the shell is running the current page (Streamlit runs a session's script on
    one thread, so a thread-local flag is per run)."""
    _shell.active = True
    try:
        yield
    finally:
        _shell.active = False


def require_shell() -> None:
    """First line of every page: make sure the page runs inside the shell.

    With a ``pages/`` folder, Streamlit runs a page script directly (without ``app.py``) when a
    fresh server's first request is a link to that page, and in ``AppTest``. Then run the
    shell here, which runs this page inside it, and stop the outer run.
    """
    if getattr(_shell, "active", False):
        return
    main()
    st.stop()


def global_filters(company: loaders.CompanyFacts) -> None:
    """The sidebar filters every page applies; bound to the URL so a link reopens the view."""
    with st.sidebar:
        st.subheader(plain(company.company_name))
        last = company.history_last_week
        if last:
            st.caption(f"History end: the week of {last:%d %b %Y} ({company.history_weeks} weeks)")
        else:
            st.caption("No sales history yet")
        st.multiselect(
            "Family",
            company.families,
            key=filters.FAMILY,
            bind="query-params",
            placeholder="All families",
        )
        st.multiselect(
            "Channel",
            company.channels,
            key=filters.CHANNEL,
            bind="query-params",
            placeholder="All channels",
        )
        st.segmented_control(
            "Figures by",
            list(BUCKETS),
            format_func=str.title,
            key=filters.BUCKET,
            bind="query-params",
            default=DEFAULT_BUCKET,
            required=True,
            help="Every chart, table and comparison by week, or summed per month or quarter "
            "of the company's fiscal calendar (Data page). Totals are the same in each.",
        )
        filters.apply_requested_scenario()
        st.selectbox(
            "Scenario",
            [filters.BASELINE, *loaders.scenario_names()],
            key=filters.SCENARIO,
            bind="query-params",
            help="The what-if scenario every page shows; build and save them on Promotions & "
            "pricing.",
        )
        who_is_at_the_screen()


def who_is_at_the_screen() -> None:
    """The sidebar's last lines: who is signed in, with their roles, and a Sign out button
    (``oidc``), or in ``local`` mode the "Your name" box; and whether they may change
    anything (single-team mode: everyone may; someone who is not an active user: nothing)."""
    if identity.mode() == "local":
        if loaders.single_team():
            st.caption(
                "Single-team mode: no users are set up, so everyone may change everything "
                "(`python -m sop_core users add` adds the first, an admin)."
            )
        st.text_input(
            "Your name",
            key=filters.USER,
            persist_state="session",
            placeholder="Shown on what you save",
            max_chars=40,
        )
        return
    person = identity.current()
    st.markdown(f"Signed in as **{plain(person.name)}**")
    if loaders.single_team():
        st.caption(
            f"{plain(person.email)}. Single-team mode: no users are set up, so everyone may "
            "change everything (`python -m sop_core users add` adds the first, an admin)."
        )
    elif person.known:
        roles = ", ".join(access.ROLE_NAMES.get(role, role) for role in person.roles)
        named = "roles" if len(person.roles) > 1 else "role"
        st.caption(f"{plain(person.email)} · {named}: {plain(roles)}")
    else:
        st.caption(
            f"{plain(person.email)} is not an active user of this database: you may read "
            "everything but not change anything. An admin adds users (Data page, or "
            "`python -m sop_core users add`)."
        )
    if identity.mode() == "oidc" and st.button("Sign out", icon=":material/logout:"):
        st.logout()
