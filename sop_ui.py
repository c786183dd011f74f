"""Streamlit glue shared by ``app.py`` and the pages: the database on first start, cached
loaders over ``sop_core.data.stores``, the global filters and the page furniture.

Pages stay thin: they call ``load(...)`` with a query name and widget values, and hand the
frames to ``sop_core.charts``. Query results are cached, never connections: every load opens the
database, runs one query and closes it, so a scheduled forecast or import can get in between.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from sop_core.data import db, settings
from sop_core.data.errors import DatabaseBusyError, InputError, SopError
from sop_core.data.sample import SampleConfig, build_sample_database
from sop_core.data.stores import (
    forecast_runs,
    import_log,
    master,
    plans_of_record,
    production,
    sales,
    scenarios,
)
from sop_core.data.stores.sales import Scope

# A first attempt gives up quickly so the page can say what it is waiting for.
QUICK_LOCK_WAIT = 1.0
_build_lock = threading.Lock()
_shell = threading.local()


@contextmanager
def inside_shell() -> Iterator[None]:
    """Mark that ``app.py`` is running the current page (Streamlit runs a session's script on
    one thread, so a thread-local flag is per run)."""
    _shell.active = True
    try:
        yield
    finally:
        _shell.active = False


def require_shell() -> None:
    """First line of every page: make sure the page runs inside ``app.py``'s shell.

    With a ``pages/`` folder, Streamlit runs a page script directly (without ``app.py``) when a
    fresh server's first request is a link to that page, and in ``AppTest``. Then run the
    shell here, which runs this page inside it, and stop the outer run.
    """
    if getattr(_shell, "active", False):
        return
    import app

    app.main()
    st.stop()


def database_path() -> Path:
    return settings.database_path()


def _sample_config() -> SampleConfig:
    as_of_text = settings.SAMPLE_AS_OF.value().strip()
    try:
        as_of = dt.date.fromisoformat(as_of_text) if as_of_text else None
    except ValueError:
        raise SopError(
            f"{settings.SAMPLE_AS_OF.env} must be a date as YYYY-MM-DD (it is {as_of_text!r})."
        ) from None
    skus_text = settings.SAMPLE_SKUS.value().strip()
    try:
        skus = int(skus_text)
    except ValueError:
        raise SopError(
            f"{settings.SAMPLE_SKUS.env} must be a whole number (it is {skus_text!r})."
        ) from None
    try:
        return SampleConfig(skus=skus, as_of=as_of).validated()
    except InputError as error:
        raise SopError(
            f"The sample settings ({settings.SAMPLE_SKUS.env}, {settings.SAMPLE_AS_OF.env}) "
            f"are out of range: {error}"
        ) from None


@st.cache_resource(show_spinner=False)
def _schema_checked(path: str) -> bool:
    db.ensure_schema(path, timeout=QUICK_LOCK_WAIT)
    return True


def ensure_database() -> Path:
    """Build the sample company's database on first start, then make sure its schema is
    current. Shows a progress bar while building."""
    path = database_path()
    if not path.exists():
        with _build_lock:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                bar = st.progress(
                    0.0, text="First start: building the sample company's database..."
                )
                build_sample_database(
                    path,
                    _sample_config(),
                    progress=lambda fraction, message: bar.progress(
                        min(fraction, 1.0), text=f"First start: {message.lower()}..."
                    ),
                )
                bar.empty()
    try:
        _schema_checked(str(path))
    except DatabaseBusyError:
        with st.spinner(f"{db.busy_message(path)} Waiting for it to finish...", show_time=True):
            db.wait_until_free(path, timeout=settings.lock_timeout())
        _schema_checked(str(path))
    return path


def _load_scenario(con: Any, name: str) -> Any:
    from sop_core.scenario.store import load_scenario

    return load_scenario(con, name)


def _driver_table(con: Any, run_id: int) -> pd.DataFrame:
    from sop_core.forecast.runs import driver_report

    return pd.DataFrame(driver_report(con, run_id))


def _consensus_overrides(con: Any, in_force: bool = False) -> pd.DataFrame:
    from sop_core.demand.consensus import override_history

    frame = override_history(con)
    return frame[frame["status"] == "in force"] if in_force else frame


def _decision_log(con: Any, today: dt.date) -> pd.DataFrame:
    from sop_core.meeting.decisions import decision_log

    return decision_log(con, today)


_QUERIES: dict[str, Any] = {
    name: getattr(module, name)
    for module in (forecast_runs, import_log, master, plans_of_record, production, sales, scenarios)
    for name in dir(module)
    if not name.startswith("_") and callable(getattr(module, name))
}
_QUERIES.update(
    driver_table=_driver_table,
    consensus_overrides=_consensus_overrides,
    decision_log=_decision_log,
)


@st.cache_data(ttl=settings.seconds(settings.CACHE_TTL), max_entries=256, show_spinner=False)
def _cached_query(name: str, path: str, version: tuple[int, int], args: tuple[Any, ...]) -> Any:
    # ``version`` is only part of the cache key: a changed file is a new entry.
    function = _QUERIES[name]
    with db.connect(path, timeout=QUICK_LOCK_WAIT) as con:
        return function(con, *args)


def load(name: str, *args: Any) -> Any:
    """Run a store function ``<name>(con, *args)`` through the cache.

    When another process holds the database, say so with a spinner and keep waiting up to
    ``SOP_LOCK_TIMEOUT``; after that, raise ``DatabaseBusyError`` (shown by ``app.py``).
    """
    path = database_path()
    try:
        return _cached_query(name, str(path), db.data_version(path), args)
    except DatabaseBusyError:
        with st.spinner(f"{db.busy_message(path)} Waiting for it to finish...", show_time=True):
            db.wait_until_free(path, timeout=settings.lock_timeout())
        return _cached_query(name, str(path), db.data_version(path), args)


def facts() -> dict[str, Any]:
    """Company facts and the history's range (see ``master.company_facts``)."""
    return load("company_facts")


def scope() -> Scope:
    """The global filters chosen in the sidebar."""
    state = st.session_state
    return Scope(tuple(state.get("family") or ()), tuple(state.get("channel") or ()))


def global_filters(company: dict[str, Any]) -> None:
    """The sidebar filters every page applies; bound to the URL so a link reopens the view."""
    with st.sidebar:
        st.subheader(company["company_name"])
        last = company["history_last_week"]
        if last:
            st.caption(f"History to the week of {last:%d %b %Y} ({company['history_weeks']} weeks)")
        else:
            st.caption("No sales history yet")
        st.multiselect(
            "Family",
            company["families"],
            key="family",
            bind="query-params",
            placeholder="All families",
        )
        st.multiselect(
            "Channel",
            company["channels"],
            key="channel",
            bind="query-params",
            placeholder="All channels",
        )
        if "_open_scenario" in st.session_state:
            # A page asked to switch scenario (after a save, rename or delete): the widget's
            # value can only be set before the widget is drawn.
            st.session_state["scenario"] = st.session_state.pop("_open_scenario")
        st.selectbox(
            "Scenario",
            [BASELINE, *load("scenario_names")],
            key="scenario",
            bind="query-params",
            help="The what-if scenario every page shows; build and save them on Promotions & "
            "pricing.",
        )
        st.text_input(
            "Your name",
            key="user",
            persist_state="session",
            placeholder="Shown on what you save",
            max_chars=40,
        )


BASELINE = "Baseline (no levers)"


def user_name() -> str:
    """Who is at the keyboard (the sidebar's "Your name"), for what they save."""
    return (st.session_state.get("user") or "").strip() or "planner"


def selected_scenario() -> str | None:
    """The scenario chosen in the sidebar, or None for the baseline."""
    name = st.session_state.get("scenario")
    return None if not name or name == BASELINE else name


def open_scenario(name: str | None) -> None:
    """Switch every page to scenario ``name`` (None: the baseline) and rerun the app."""
    st.session_state["_open_scenario"] = name or BASELINE
    st.session_state.pop("scenario_draft", None)
    st.rerun(scope="app")


def scenario_draft() -> dict:
    """The scenario being edited in this session (shared by every page), loaded from the
    database when the sidebar's choice changes: its stored version, levers, overrides,
    capacity changes, and whether it has unsaved changes."""
    from sop_core.scenario.levers import Scenario

    chosen = selected_scenario()
    current = st.session_state.get("scenario_draft")
    if current is None or current["for"] != chosen:
        stored = stored_scenario(chosen) if chosen else None
        saved = stored.scenario if stored else Scenario("")
        current = {
            "for": chosen,
            "stored": stored,
            "levers": list(saved.levers),
            "overrides": list(saved.overrides),
            "cannibalisation": saved.cannibalisation,
            "capacity": list(saved.capacity),
            "dirty": False,
        }
        st.session_state["scenario_draft"] = current
    return current


def reload_scenario_draft() -> None:
    """Forget this session's edits: the next ``scenario_draft()`` reads the saved version."""
    st.session_state.pop("scenario_draft", None)
    st.session_state.pop("scenario_conflict", None)


def edited_scenario(current: dict, name: str, extra: list | None = None) -> Any:
    """The scenario as edited in this session (plus ``extra`` levers being previewed)."""
    from sop_core.scenario.levers import Scenario

    return Scenario(
        name,
        [*current["levers"], *(extra or [])],
        list(current["overrides"]),
        current["cannibalisation"],
        list(current.get("capacity", [])),
    )


def stored_scenario(name: str) -> Any:
    """The saved scenario ``name``, read fresh (its version matters for the next save)."""
    with db.connect(database_path(), on_wait=None) as con:
        return _load_scenario(con, name)


def latest_run() -> dict[str, Any] | None:
    return load("latest_forecast_run")


@contextmanager
def progress_bar(label: str) -> Iterator[Any]:
    """A progress bar for long work: yields the ``progress(fraction, message)`` callback the
    engine's functions take, and clears the bar when the work ends (or fails)."""
    bar = st.progress(0.0, text=label)
    try:
        yield lambda fraction, message: bar.progress(
            min(max(fraction, 0.0), 1.0), text=f"{label}: {message}"
        )
    finally:
        bar.empty()


def refresh_forecast_with_progress(label: str = "Refreshing the forecast") -> None:
    """Run (or reuse) the forecast with a progress bar, then rerun the page."""
    from sop_core.forecast.runs import refresh_forecast

    with progress_bar(label) as progress:
        refresh_forecast(database_path(), progress=progress)
    st.rerun()


def require_forecast() -> dict[str, Any]:
    """The latest forecast run; without one, offer to make it and stop the page."""
    run = latest_run()
    if run is not None:
        return run
    st.info(
        "There is no demand forecast yet. Making one fits every SKU's model and backtest "
        "(about 10 seconds for the sample company).",
        icon=":material/info:",
    )
    if st.button("Make the forecast now", type="primary", key="make_forecast"):
        refresh_forecast_with_progress("Making the forecast")
    st.stop()


def _fresh(cached: Any, *args: Any) -> Any:
    """Call a cached loader with the database path and its current data version first: a
    changed file is a new cache entry, so nothing stale is ever served."""
    path = database_path()
    return cached(str(path), db.data_version(path), *args)


@st.cache_resource(show_spinner=False, max_entries=4)
def _plan_base(path: str, version: tuple[int, int], run_id: int) -> Any:
    from sop_core.demand.plan_base import load_plan_base

    with db.connect(path) as con:
        return load_plan_base(con, run_id)


def plan_base(run_id: int) -> Any:
    """The scenario arrays of a forecast run, built once and shared (read-only)."""
    return _fresh(_plan_base, run_id)


@st.cache_resource(show_spinner=False, max_entries=4)
def _supply_data(path: str, version: tuple[int, int], run_id: int) -> Any:
    from sop_core.supply.planning import load_supply

    with db.connect(path) as con:
        return load_supply(con, _plan_base(path, version, run_id))


def supply_data(run_id: int) -> Any:
    """Routings, standard hours and stock on hand for the production plan (cached)."""
    return _fresh(_supply_data, run_id)


@st.cache_resource(show_spinner=False, max_entries=4)
def _demand_cube(path: str, version: tuple[int, int], run_id: int) -> Any:
    from sop_core.demand.cube import load_demand_cube

    with db.connect(path) as con:
        return load_demand_cube(con, _plan_base(path, version, run_id))


def demand_cube(run_id: int) -> Any:
    """Actuals, statistical forecast, consensus and approved plan of a run as arrays (cached:
    switching the Demand review's scope only sums them)."""
    return _fresh(_demand_cube, run_id)


@st.cache_resource(show_spinner=False, max_entries=2)
def _accuracy_frames(path: str, version: tuple[int, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sop_core.demand import accuracy

    with db.connect(path) as con:
        return accuracy.with_consensus(con, accuracy.lag_frame(con)), accuracy.history_frame(con)


def has_past_forecasts() -> bool:
    """Whether any stored run has forecast a week that has since closed."""
    frame, _ = _fresh(_accuracy_frames)
    return not frame.empty


@st.cache_data(show_spinner=False, max_entries=64)
def _accuracy(
    path: str, version: tuple[int, int], level: str, target: str | None, lag: int | None
) -> dict[str, Any]:
    from sop_core.demand import accuracy

    frame, history = _accuracy_frames(path, version)
    scoped = frame if level == "total" else frame[frame[level] == target]
    overridden = bool((scoped["consensus"] != scoped["statistical"]).any())
    by_lag = accuracy.accuracy_by_lag(frame, history, level, target)
    by_lag = by_lag[by_lag["weeks"] > 0]
    if overridden:
        consensus = accuracy.accuracy_by_lag(frame, history, level, target, forecast="consensus")
        by_lag = by_lag.merge(
            consensus[["lag", "wape"]].rename(columns={"wape": "consensus_wape"}), on="lag"
        )
    scores = {
        "by_lag": by_lag,
        "origins": int(scoped["origin"].nunique()),
        "overridden": overridden,
    }
    if lag is not None:
        scores["by_sku"] = accuracy.accuracy_by_sku(frame, history, lag, level, target)
        scores["value_added"] = accuracy.value_added(frame, history, level, target, lag)
    return scores


def accuracy(level: str, target: str | None, lag: int | None = None) -> dict[str, Any]:
    """Accuracy of the scope from the stored runs (cached per data version): ``by_lag`` (the
    lags the scope has closed weeks for), ``origins``, ``overridden`` (whether the team's
    overrides touched its closed weeks) and, with ``lag``, ``by_sku`` (the exception list) and
    ``value_added`` at that lag."""
    return _fresh(_accuracy, level, target, lag)


def backfill_with_progress(count: int, step: int = 2) -> None:
    """Make ``count`` past forecast runs (for accuracy by lag) with a progress bar, then rerun."""
    from sop_core.forecast.runs import backfill_runs

    with progress_bar("Making past forecasts") as progress:
        backfill_runs(database_path(), count, step, progress=progress)
    st.rerun()


def uploaded_file(upload: Any) -> Path:
    """An uploaded file saved under the system's temporary folder, named by its content (the
    same upload is written once)."""
    import hashlib
    import tempfile

    data = upload.getvalue()
    folder = Path(tempfile.gettempdir()) / "sop-uploads"
    folder.mkdir(exist_ok=True)
    path = folder / f"{hashlib.sha256(data).hexdigest()[:20]}{Path(upload.name).suffix.lower()}"
    if not path.exists():
        path.write_bytes(data)
    return path


@st.cache_data(show_spinner=False, max_entries=16)
def _check_import(
    path: str,
    version: tuple[int, int],
    table: str,
    source: str,
    file_name: str,
    mapping: tuple[tuple[str, str], ...],
) -> Any:
    from sop_core.data.importer import import_file

    return import_file(
        path, table, source, file_name=file_name, mapping=dict(mapping), dry_run=True
    )


def check_import(table: str, source: Path, file_name: str, mapping: dict[str, str]) -> Any:
    """The importer's report on ``source`` for ``table`` without writing (cached per file,
    mapping and data version)."""
    return _fresh(_check_import, table, str(source), file_name, tuple(sorted(mapping.items())))


@st.cache_data(show_spinner=False, max_entries=16)
def _check_plan(
    path: str,
    version: tuple[int, int],
    source: str,
    file_name: str,
    mapping: tuple[tuple[str, str], ...],
) -> Any:
    from sop_core.scenario.plan_files import read_plan

    return read_plan(path, source, file_name=file_name, mapping=dict(mapping))


def check_plan(source: Path, file_name: str, mapping: dict[str, str]) -> Any:
    """A promotion and price plan file read into levers (``promo_plan.read_plan``), cached
    per file, mapping and data version."""
    return _fresh(_check_plan, str(source), file_name, tuple(sorted(mapping.items())))


def show_issues(report: Any) -> None:
    """An import's or a plan file's errors, warnings and notices, each with its lines."""
    errors = report.errors
    if errors:
        st.error(
            report.summary() + "\n\n" + "\n".join(f"- {issue.text()}" for issue in errors[:20]),
            icon=":material/error:",
        )
    for severity, show in (("warning", st.warning), ("notice", st.info)):
        found = [i.text() for i in report.issues if i.severity == severity]
        if found:
            show("\n".join(f"- {text}" for text in found))


@st.cache_data(show_spinner=False, max_entries=16)
def _comparison(
    path: str, version: tuple[int, int], run_id: int, names: tuple[str, ...], weeks: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sop_core.meeting.comparison import compare
    from sop_core.scenario.levers import Scenario

    with db.connect(path) as con:
        scenarios = [
            _load_scenario(con, name).scenario if name != BASELINE else Scenario(name)
            for name in names
        ]
    return compare(
        _plan_base(path, version, run_id), _supply_data(path, version, run_id), scenarios, weeks
    )


def comparison(run_id: int, names: list[str], weeks: int = 26) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scenarios side by side (cached per data version): see ``sop_core.comparison.compare``."""
    return _fresh(_comparison, run_id, tuple(names), weeks)


@st.cache_data(show_spinner=False, max_entries=16)
def _overview(path: str, version: tuple[int, int], run_id: int, scenario_name: str | None) -> Any:
    from sop_core.demand import accuracy
    from sop_core.meeting.cockpit import overview
    from sop_core.scenario.levers import Scenario

    with db.connect(path) as con:
        scenario = (
            _load_scenario(con, scenario_name).scenario if scenario_name else Scenario(BASELINE)
        )
    frame, history = _accuracy_frames(path, version)
    misses = None
    if not frame.empty:
        lag = 4 if (frame["lag"] == 4).any() else int(frame["lag"].min())
        misses = accuracy.accuracy_by_sku(frame, history, lag)
    return overview(
        _plan_base(path, version, run_id),
        _supply_data(path, version, run_id),
        scenario,
        demand_misses=misses,
    )


def overview(run_id: int, scenario_name: str | None) -> Any:
    """The Overview's figures for the saved scenario ``scenario_name`` (None: the baseline),
    cached per data version: see ``sop_core.cockpit.overview``."""
    return _fresh(_overview, run_id, scenario_name)


@st.cache_data(show_spinner=False, max_entries=16)
def _what_changed(
    path: str, version: tuple[int, int], run_id: int, scenario_name: str | None
) -> pd.DataFrame | None:
    from sop_core.meeting.changes import what_changed
    from sop_core.scenario.levers import Scenario

    with db.connect(path) as con:
        scenario = (
            _load_scenario(con, scenario_name).scenario if scenario_name else Scenario(BASELINE)
        )
        return what_changed(con, _plan_base(path, version, run_id), scenario)


def what_changed(run_id: int, scenario_name: str | None) -> pd.DataFrame | None:
    """The waterfall from the latest plan of record to the scenario now (cached)."""
    return _fresh(_what_changed, run_id, scenario_name)


def scope_caption(current: Scope, channels: bool = True) -> str:
    """``Showing fragrance; all channels.`` for the page's caption."""
    families = ", ".join(current.families) if current.families else "all families"
    if not channels:
        return f"Showing {families}."
    chosen = ", ".join(current.channels) if current.channels else "all channels"
    return f"Showing {families}; {chosen}."


def money(value: float, currency: str = "EUR") -> str:
    """Compact money for KPI tiles: 1.2M EUR, 85k EUR."""
    for limit, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:,.1f}{suffix} {currency}"
    return f"{value:,.0f} {currency}"


def units(value: float) -> str:
    """Compact units for KPI tiles: 2.5M, 830k."""
    for limit, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:,.1f}{suffix}"
    return f"{value:,.0f}"


def change(current: float, previous: float) -> str | None:
    """A relative change such as ``+4.2%`` (None without a base)."""
    if not previous:
        return None
    ratio = round(current / previous - 1, 4) + 0.0  # + 0.0: no "-0.0%" from rounding noise
    return f"{ratio:+.1%}"


@dataclass(frozen=True)
class Kpi:
    """One tile of a KPI row.

    ``change`` is a movement, coloured (green up, red down) and described by
    ``change_label``; ``note`` is neutral context, grey and without an arrow.
    """

    label: str
    value: str
    change: str | None = None
    change_label: str = "vs last year"
    note: str | None = None
    help: str | None = None


def kpi_row(tiles: list[Kpi]) -> None:
    """A row of bordered KPI tiles, one column each."""
    for column, tile in zip(st.columns(len(tiles)), tiles, strict=True):
        if tile.change is not None:
            column.metric(
                tile.label,
                tile.value,
                tile.change,
                border=True,
                help=tile.help,
                delta_description=tile.change_label or None,
            )
        else:
            column.metric(
                tile.label,
                tile.value,
                tile.note,
                border=True,
                help=tile.help,
                delta_color="off",
                delta_arrow="off",
            )


def chart(figure: Any, key: str | None = None) -> None:
    """A figure in a bordered container, full width."""
    with st.container(border=True):
        # theme=None keeps the projector styling of sop_core.charts (Streamlit's theme would
        # shrink the fonts).
        st.plotly_chart(figure, key=key, theme=None, config={"displaylogo": False})


def table(frame: pd.DataFrame, *, fit: bool = False, **column_config: Any) -> None:
    """A table without its index; ``fit`` sizes it to show every row without scrolling."""
    height = 38 + 35 * len(frame) if fit else "auto"
    st.dataframe(frame, hide_index=True, column_config=column_config or None, height=height)


def _set_cannibalisation(scenario_id: int) -> None:
    current = scenario_draft()
    current["cannibalisation"] = st.session_state[f"cannibalisation_{scenario_id}"] / 100
    current["dirty"] = True


def scenario_bar(based_on: int) -> None:
    """Save, save as, rename, duplicate, delete and status of the scenario being edited (the
    same bar on every page that edits a scenario)."""
    from sop_core.data.errors import ConflictError
    from sop_core.scenario.store import (
        STATUSES,
        create_scenario,
        delete_scenario,
        duplicate_scenario,
        rename_scenario,
        save_scenario,
    )

    current = scenario_draft()
    stored = current["stored"]
    user = user_name()
    path = database_path()
    levers = current["levers"]
    try:
        if stored is None:
            name = st.text_input(
                "Save these levers as a new scenario",
                key="new_name",
                placeholder="e.g. Q1 skincare push",
            )
            if st.button(
                "Save as new scenario",
                type="primary",
                disabled=not (levers or current["overrides"] or current["capacity"]),
            ):
                created = create_scenario(path, edited_scenario(current, name), user, based_on)
                open_scenario(created.scenario.name)
            return
        left, right = st.columns([3, 2])
        left.markdown(
            f"**{stored.scenario.name}** · {stored.status} · version {stored.version} · "
            f"saved by {stored.updated_by} at {stored.updated_at:%d %b %H:%M}"
            + (" · **unsaved changes**" if current["dirty"] else "")
        )
        if stored.based_on_run and stored.based_on_run != based_on:
            st.caption(
                f"Saved on forecast run {stored.based_on_run}; its levers now apply to the "
                f"newer run {based_on}. Saving records that."
            )
        st.slider(
            "Cannibalisation",
            0,
            100,
            round(current["cannibalisation"] * 100),
            5,
            format="%d%%",
            key=f"cannibalisation_{stored.scenario_id}",
            on_change=_set_cannibalisation,
            args=(stored.scenario_id,),
            help="Share of the extra volume a promotion or campaign wins that comes out of the "
            "family's other SKUs that week.",
        )
        status = right.selectbox(
            "Status",
            STATUSES,
            index=STATUSES.index(stored.status),
            key="scenario_status",
            label_visibility="collapsed",
        )
        # One row that wraps, each button as wide as its label (fixed columns cut the labels).
        buttons = st.container(horizontal=True)
        if buttons.button(
            "Save", type="primary", disabled=not (current["dirty"] or status != stored.status)
        ):
            saved = save_scenario(
                path, stored, edited_scenario(current, stored.scenario.name), user, based_on, status
            )
            current.update(stored=saved, dirty=False)
            st.rerun(scope="app")
        with buttons.popover("Rename"):
            new = st.text_input("New name", value=stored.scenario.name, key="rename_to")
            if st.button("Rename", key="do_rename"):
                renamed = rename_scenario(path, stored, new, user)
                open_scenario(renamed.scenario.name)
        with buttons.popover("Duplicate"):
            new = st.text_input(
                "Name of the copy", value=f"{stored.scenario.name} (copy)", key="copy_to"
            )
            if st.button("Duplicate", key="do_copy"):
                copy = duplicate_scenario(path, stored.scenario.name, new, user)
                open_scenario(copy.scenario.name)
        with buttons.popover("Delete"):
            st.write(f"Delete **{stored.scenario.name}** for everyone?")
            if st.button("Delete", key="do_delete"):
                delete_scenario(path, stored)
                open_scenario(None)
    except ConflictError as error:
        # Kept in the session so the message and its button survive the next rerun.
        st.session_state["scenario_conflict"] = str(error)
    except SopError as error:
        st.error(str(error), icon=":material/error:")
    if message := st.session_state.get("scenario_conflict"):
        st.error(message, icon=":material/sync_problem:")
        st.button(
            "Reload their version", key="reload_after_conflict", on_click=reload_scenario_draft
        )
