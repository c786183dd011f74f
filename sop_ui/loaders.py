"""Every read the pages make, cached: the database on first start, the stores' reads by name
(``weekly_sales_by_family(scope)``, ...), and the heavier figures built on a forecast run (its
arrays, accuracy, the comparison, the Overview, what changed).

Query results are cached, never connections: every read opens the database, does its work and
closes it, so a scheduled forecast or import can get in between. Cache keys are the database
path, its ``db.data_version`` (a changed file is a new entry, so nothing stale is served) and
the arguments. Core modules above ``sop_core.data`` are imported inside the functions that use
them, and their types only for type checking: the first page renders before they load (first
render time is measured in benchmarks/bench_foundation.py).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
import pandas as pd
import streamlit as st

from sop_core.data import company, db, settings
from sop_core.data.errors import DatabaseBusyError, InputError, SopError
from sop_core.data.fiscal import FiscalCalendar
from sop_core.data.sample import (
    SampleConfig,
    build_sample_database,
    remove_leftover_temporaries,
)
from sop_core.data.stores import audit, forecast_runs, master, production, sales, users
from sop_core.data.stores import import_log as import_log_store
from sop_core.data.stores import jobs as jobs_store
from sop_core.data.stores import plans_of_record as plans_of_record_store
from sop_core.data.stores import scenarios as scenarios_store
from sop_core.data.stores.sales import ALL, Scope
from sop_ui.filters import BASELINE

if TYPE_CHECKING:
    from streamlit.runtime.uploaded_file_manager import UploadedFile

    from sop_core.data.importer import ImportReport
    from sop_core.demand.accuracy import HistoryScales
    from sop_core.demand.cube import DemandCube
    from sop_core.demand.plan_base import PlanBase
    from sop_core.meeting.budget import BudgetInputs, Gap
    from sop_core.meeting.cockpit import Overview
    from sop_core.scenario.model import Scenario
    from sop_core.scenario.plan_files import PlanReport
    from sop_core.scenario.store import StoredScenario
    from sop_core.supply.actions import Action
    from sop_core.supply.planning import StoredPlan, SupplyData

T = TypeVar("T")

# A first attempt gives up quickly so the page can say what it is waiting for.
QUICK_LOCK_WAIT = 1.0
_build_lock = threading.Lock()


# ---- what pages read by name from the stores' dicts -----------------------------------------


@dataclass(frozen=True)
class CompanyFacts:
    """The company and its history's range (``master.company_facts``); the weeks are None on
    a database without sales history."""

    company_name: str
    currency: str
    history_first_week: dt.date | None
    history_last_week: dt.date | None
    history_weeks: int
    skus: int
    families: list[str]
    channels: list[str]
    lines: int
    schema_version: int


@dataclass(frozen=True)
class ForecastRun:
    """The current forecast run (``forecast_runs.latest_forecast_run``)."""

    run_id: int
    created_at: dt.datetime
    history_end: dt.date
    horizon: int
    skus: int


@dataclass(frozen=True)
class PlanOfRecordTotals:
    """The latest plan of record over the weeks asked for (``plan_of_record_totals``); the
    sums and weeks are None when it covers none of them."""

    plan_version: int
    scenario: str
    approved_at: dt.datetime
    volume: float | None
    revenue: float | None
    margin: float | None
    first_week: dt.date | None
    last_week: dt.date | None
    weeks: int


@dataclass(frozen=True)
class AccuracyScores:
    """Accuracy of a scope from the stored runs: ``by_lag`` (the lags the scope has closed
    weeks for), ``origins`` (past forecasts counted), ``overridden`` (whether the team's
    overrides touched its closed weeks) and, when asked at a lag, ``by_sku`` (the exception
    list) and ``value_added`` at that lag."""

    by_lag: pd.DataFrame
    origins: int
    overridden: bool
    by_sku: pd.DataFrame | None = None
    value_added: pd.DataFrame | None = None


Row = TypeVar("Row", CompanyFacts, ForecastRun, PlanOfRecordTotals)


def _named(kind: type[Row], row: dict[str, Any]) -> Row:
    """The fields of ``kind`` out of a store's dict (keys no page reads are left out)."""
    return kind(**{field.name: row[field.name] for field in fields(kind)})


# ---- the database file and waiting for it -------------------------------------------------


def database_path() -> Path:
    """The DuckDB file the app works on (``SOP_DB``)."""
    return settings.database_path()


def _waiting_if_busy(attempt: Callable[[], T]) -> T:
    """``attempt()``; when another process holds the database, say so with a spinner, keep
    waiting up to ``SOP_LOCK_TIMEOUT`` and try once more. After that ``DatabaseBusyError``
    reaches the shell's error boundary."""
    try:
        return attempt()
    except DatabaseBusyError:
        path = database_path()
        with st.spinner(f"{db.busy_message(path)} Waiting for it to finish...", show_time=True):
            db.wait_until_free(path, timeout=settings.lock_timeout())
        return attempt()


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
    # Once per server: also the temporary databases a killed build left beside the file.
    remove_leftover_temporaries(path)
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
                told = bar.progress
                build_sample_database(
                    path,
                    _sample_config(),
                    progress=lambda fraction, message: told(
                        min(fraction, 1.0), text=f"First start: {message.lower()}..."
                    ),
                )
                # The meeting the sample company is in the middle of (the forecast, last
                # week's plan of record, overrides, scenarios, decisions, then the past
                # forecasts) is prepared by a job: the pages show the history meanwhile.
                from sop_core.jobs import control

                config = _sample_config()
                control.start(
                    path,
                    "meeting",
                    # A small sample fits faster in one process than worker processes start.
                    {"jobs": 1 if config.skus <= 100 else None},
                    "first start",
                )
                bar.empty()
    _waiting_if_busy(lambda: _schema_checked(str(path)))
    return path


# ---- the stores' reads, one cache for all of them -------------------------------------------


@st.cache_data(ttl=settings.seconds(settings.CACHE_TTL), max_entries=256, show_spinner=False)
def _cached_read(
    name: str,
    path: str,
    version: tuple[int, int],
    args: tuple[Hashable, ...],
    _query: Callable[..., Any],
) -> Any:
    # ``name`` stands for ``_query`` in the cache key (Streamlit hashes no argument whose name
    # starts with "_"). ``version`` is only part of the key: a changed file is a new entry.
    with db.connect(path, timeout=QUICK_LOCK_WAIT) as con:
        return _query(con, *args)


def _read(query: Callable[..., T], *args: Hashable) -> T:
    """``query(con, *args)`` on the database, through the cache shared by every store read,
    waiting with a spinner while another process holds the file."""
    name = f"{query.__module__}.{query.__qualname__}"

    def attempt() -> T:
        path = database_path()
        return _cached_read(name, str(path), db.data_version(path), args, query)

    return _waiting_if_busy(attempt)


def facts() -> CompanyFacts:
    """Company facts and the history's range."""
    return _named(CompanyFacts, _read(master.company_facts))


def fiscal_calendar() -> FiscalCalendar:
    """The company's fiscal calendar."""
    return _read(master.fiscal_calendar)


def single_team() -> bool:
    """Whether no users are set up yet: everyone may change everything (``data.access``)."""
    return _read(users.user_count) == 0


def user(email: str) -> users.User | None:
    """The user ``email`` (any case), None when there is none."""
    return _read(users.user, email)


def users_table() -> pd.DataFrame:
    """Every user: ``email, name, role, active, added_at, added_by``."""
    return _read(users.user_rows)


def four_eyes() -> bool:
    """Whether approving a plan of record takes someone other than the scenario's author."""
    return _read(company.four_eyes)


def audit_entries(since: dt.date | None = None, who: str | None = None) -> pd.DataFrame:
    """The audit trail, newest first, from the day ``since`` and of ``who`` when given."""
    return _read(_newest_entries, since, who or None)


def _newest_entries(
    con: duckdb.DuckDBPyConnection, since: dt.date | None, who: str | None
) -> pd.DataFrame:
    return audit.entries(con, since, who, newest_first=True)


def table_row_counts() -> pd.DataFrame:
    """Rows per table: ``table, rows``."""
    return _read(master.table_row_counts)


def latest_run() -> ForecastRun | None:
    """The current forecast run, None before the first forecast."""
    run = _read(forecast_runs.latest_forecast_run)
    return None if run is None else _named(ForecastRun, run)


def models_used(run_id: int) -> dict[str, int]:
    """How many SKUs each model serves in run ``run_id``, most used first."""
    return _read(forecast_runs.models_used, run_id)


def run_fallbacks(run_id: int) -> pd.DataFrame:
    """The SKUs of run ``run_id`` whose candidates failed: ``sku, failed_models, failure,
    model`` (what served instead)."""
    return _read(forecast_runs.run_fallbacks, run_id)


def scenario_names() -> list[str]:
    """The saved scenarios' names."""
    return _read(scenarios_store.scenario_names)


def import_log() -> pd.DataFrame:
    """Every import so far, newest first."""
    return _read(import_log_store.import_log)


def plans_of_record() -> pd.DataFrame:
    """Every approved plan of record, newest first."""
    return _read(plans_of_record_store.plans_of_record)


def latest_done_job(kind: str, parameters: str) -> jobs_store.Job | None:
    """The newest job of ``kind`` with these parameters (canonical JSON) that ended done."""
    return _read(jobs_store.latest_done, kind, parameters)


def plan_of_record_totals(first: dt.date, last: dt.date) -> PlanOfRecordTotals | None:
    """The latest plan of record's volume, revenue and margin over ``first`` to ``last``
    (None when nothing is approved yet)."""
    totals = _read(plans_of_record_store.plan_of_record_totals, first, last)
    return None if totals is None else _named(PlanOfRecordTotals, totals)


def weekly_sales_by_family(scope: Scope) -> pd.DataFrame:
    """Weekly units and revenue by family: ``week, family, units, revenue, promoted_units``."""
    return _read(sales.weekly_sales_by_family, scope)


def period_totals(scope: Scope, last_week: dt.date, weeks: int) -> pd.DataFrame:
    """Units, revenue and promoted share of the ``weeks`` ending ``last_week`` and of the same
    weeks a year earlier (``period``: ``current``, ``last_year``)."""
    return _read(sales.period_totals, scope, last_week, weeks)


def totals_by_family_channel(scope: Scope, last_week: dt.date, weeks: int = 52) -> pd.DataFrame:
    """Units and revenue by family and channel over the ``weeks`` ending ``last_week``, with
    the change against a year earlier."""
    return _read(sales.totals_by_family_channel, scope, last_week, weeks)


def promotion_lift_by_depth(scope: Scope) -> pd.DataFrame:
    """Observed sales lift of promoted weeks by discount depth band."""
    return _read(sales.promotion_lift_by_depth, scope)


def promotions_between(scope: Scope, first_week: dt.date, last_week: dt.date) -> pd.DataFrame:
    """Promotion events overlapping ``first_week`` to ``last_week``."""
    return _read(sales.promotions_between, scope, first_week, last_week)


def price_changes_after(scope: Scope, after_week: dt.date) -> pd.DataFrame:
    """List price changes effective after ``after_week`` (the announced ones)."""
    return _read(sales.price_changes_after, scope, after_week)


def line_utilisation_history(
    last_week: dt.date, weeks: int = 52, scope: Scope = ALL
) -> pd.DataFrame:
    """Hours each line would have needed for what was sold, against its available hours, by
    week over the ``weeks`` ending ``last_week``."""
    return _read(production.line_utilisation_history, last_week, weeks, scope)


def hours_used(last_week: dt.date, weeks: int = 52, scope: Scope = ALL) -> pd.DataFrame:
    """Line hours used in production actuals against the hours available, per line over the
    ``weeks`` ending ``last_week``."""
    return _read(production.hours_used, last_week, weeks, scope)


def capacity_exceptions_after(after_week: dt.date, weeks: int = 26) -> pd.DataFrame:
    """The capacity calendar's changes in the ``weeks`` after ``after_week``."""
    return _read(production.capacity_exceptions_after, after_week, weeks)


def inventory_cover(scope: Scope, demand_weeks: int = 13) -> pd.DataFrame:
    """Stock on hand, its value and weeks of cover by SKU."""
    return _read(production.inventory_cover, scope, demand_weeks)


def production_vs_sales(scope: Scope, last_week: dt.date, weeks: int = 13) -> pd.DataFrame:
    """Units produced against units sold by family."""
    return _read(production.production_vs_sales, scope, last_week, weeks)


def _driver_table(con: duckdb.DuckDBPyConnection, run_id: int) -> pd.DataFrame:
    from sop_core.forecast.runs import driver_report

    return pd.DataFrame(driver_report(con, run_id))


def driver_table(run_id: int) -> pd.DataFrame:
    """The estimated effects (elasticity, uplifts, confidence) of each SKU in run ``run_id``."""
    return _read(_driver_table, run_id)


def _consensus_overrides(con: duckdb.DuckDBPyConnection, in_force: bool = False) -> pd.DataFrame:
    from sop_core.demand.consensus import override_history

    frame = override_history(con)
    return frame[frame["status"] == "in force"] if in_force else frame


def consensus_overrides(in_force: bool = False) -> pd.DataFrame:
    """Every consensus override, or with ``in_force`` only those in force."""
    return _read(_consensus_overrides, in_force)


def _decision_log(con: duckdb.DuckDBPyConnection, today: dt.date) -> pd.DataFrame:
    from sop_core.meeting.decisions import decision_log

    return decision_log(con, today)


def decision_log(today: dt.date) -> pd.DataFrame:
    """Decisions and assumptions with their state as of ``today``."""
    return _read(_decision_log, today)


def _load_scenario(con: duckdb.DuckDBPyConnection, name: str) -> StoredScenario:
    from sop_core.scenario.store import load_scenario

    return load_scenario(con, name)


def stored_scenario(name: str) -> StoredScenario:
    """The saved scenario ``name``, read fresh, never cached (its version matters for the
    next save)."""
    with db.connect(database_path(), on_wait=None) as con:
        return _load_scenario(con, name)


# ---- a forecast run's arrays and what is built on them --------------------------------------


def _fresh(cached: Callable[..., T], *args: Hashable) -> T:
    """Call a cached loader with the database path and its current data version first: a
    changed file is a new cache entry, so nothing stale is ever served."""
    path = database_path()
    return cached(str(path), db.data_version(path), *args)


@st.cache_resource(show_spinner=False, max_entries=4)
def _plan_base(path: str, version: tuple[int, int], run_id: int) -> PlanBase:
    from sop_core.demand.plan_base import load_plan_base

    with db.connect(path) as con:
        return load_plan_base(con, run_id)


def plan_base(run_id: int) -> PlanBase:
    """The scenario arrays of a forecast run, built once and shared (read-only)."""
    return _fresh(_plan_base, run_id)


@st.cache_resource(show_spinner=False, max_entries=4)
def _supply_data(path: str, version: tuple[int, int], run_id: int) -> SupplyData:
    from sop_core.supply.planning import load_supply

    with db.connect(path) as con:
        return load_supply(con, _plan_base(path, version, run_id))


def supply_data(run_id: int) -> SupplyData:
    """Routings, standard hours and stock on hand for the production plan (cached)."""
    return _fresh(_supply_data, run_id)


@st.cache_data(show_spinner=False, max_entries=16)
def _stored_plan(
    path: str, version: tuple[int, int], run_id: int, definition: str, weeks: int
) -> StoredPlan | None:
    from sop_core.scenario.model import Scenario
    from sop_core.supply.planning import stored_plan

    with db.connect(path) as con:
        return stored_plan(
            con, _plan_base(path, version, run_id), Scenario.from_json("", definition), weeks
        )


def stored_plan(run_id: int, scenario: Scenario, weeks: int) -> StoredPlan | None:
    """The newest stored production plan of ``scenario`` (its content, saved or a draft) on
    run ``run_id`` over ``weeks`` weeks, as stored (cached per data version); None when none
    was built yet."""
    return _waiting_if_busy(lambda: _fresh(_stored_plan, run_id, scenario.to_json(), weeks))


@st.cache_resource(show_spinner=False, max_entries=4)
def _demand_cube(path: str, version: tuple[int, int], run_id: int) -> DemandCube:
    from sop_core.demand.cube import load_demand_cube

    with db.connect(path) as con:
        return load_demand_cube(con, _plan_base(path, version, run_id))


def demand_cube(run_id: int) -> DemandCube:
    """Actuals, statistical forecast, consensus and approved plan of a run as arrays (cached:
    switching the Demand review's scope only sums them)."""
    return _fresh(_demand_cube, run_id)


@st.cache_resource(show_spinner=False, max_entries=2)
def _accuracy_frames(
    path: str, version: tuple[int, int]
) -> tuple[pd.DataFrame, pd.DataFrame | HistoryScales]:
    from sop_core.demand import accuracy

    with db.connect(path) as con:
        frame = accuracy.lag_frame(con)
        if frame.empty:
            # Nothing to score: no scale is needed.
            return frame, accuracy.HISTORY_EMPTY.copy()
        # Every scope's MASE scales at the scored origins, summed in DuckDB: the history
        # itself (a row per SKU, channel and week, 9 million at 20,000 SKUs) stays there.
        history = accuracy.history_scales(con, frame["origin"].unique())
        return accuracy.with_consensus(con, frame), history


def has_past_forecasts() -> bool:
    """Whether any stored run has forecast a week that has since closed."""
    frame, _ = _fresh(_accuracy_frames)
    return not frame.empty


@st.cache_data(show_spinner=False, max_entries=64)
def _accuracy(
    path: str, version: tuple[int, int], level: str, target: str | None, lag: int | None
) -> AccuracyScores:
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
    if lag is None:
        return AccuracyScores(by_lag, int(scoped["origin"].nunique()), overridden)
    return AccuracyScores(
        by_lag,
        int(scoped["origin"].nunique()),
        overridden,
        by_sku=accuracy.accuracy_by_sku(frame, history, lag, level, target),
        value_added=accuracy.value_added(frame, history, level, target, lag),
    )


def accuracy(level: str, target: str | None, lag: int | None = None) -> AccuracyScores:
    """Accuracy of the scope from the stored runs (cached per data version); ``by_sku`` and
    ``value_added`` only with ``lag``."""
    return _fresh(_accuracy, level, target, lag)


@st.cache_data(show_spinner=False, max_entries=16)
def _comparison(
    path: str, version: tuple[int, int], run_id: int, names: tuple[str, ...], weeks: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sop_core.meeting.comparison import compare
    from sop_core.scenario.model import Scenario

    with db.connect(path) as con:
        scenarios = [
            _load_scenario(con, name).scenario if name != BASELINE else Scenario(name)
            for name in names
        ]
    return compare(
        _plan_base(path, version, run_id), _supply_data(path, version, run_id), scenarios, weeks
    )


def comparison(run_id: int, names: list[str], weeks: int = 26) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scenarios side by side (cached per data version): the metrics table and the weekly
    volumes, see ``sop_core.meeting.comparison.compare``."""
    return _fresh(_comparison, run_id, tuple(names), weeks)


@st.cache_resource(show_spinner=False, max_entries=8)
def _recommended_actions(
    path: str, version: tuple[int, int], run_id: int, scenario_json: str, weeks: int
) -> list[Action]:
    from sop_core.scenario.levers import apply_scenario
    from sop_core.scenario.model import Scenario
    from sop_core.supply.actions import recommend

    base = _plan_base(path, version, run_id)
    scenario = Scenario.from_json("scenario", scenario_json)
    return recommend(
        scenario,
        apply_scenario(base, scenario),
        _supply_data(path, version, run_id),
        weeks=weeks,
        plan_weeks=base.weeks.size,
    )


def recommended_actions(run_id: int, scenario_json: str, weeks: int = 13) -> list[Action]:
    """What would fix the overloads of the scenario (``Scenario.to_json``) in its first
    ``weeks`` weeks, priced by the production plan over the horizon (cached per scenario and
    data version: the plan is solved again for each action): ``sop_core.supply.actions``."""
    return _fresh(_recommended_actions, run_id, scenario_json, weeks)


@st.cache_data(show_spinner=False, max_entries=16)
def _overview(
    path: str, version: tuple[int, int], run_id: int, scenario_name: str | None
) -> Overview:
    from sop_core.demand import accuracy
    from sop_core.meeting.cockpit import overview
    from sop_core.scenario.model import Scenario

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


def overview(run_id: int, scenario_name: str | None) -> Overview:
    """The Overview's figures for the saved scenario ``scenario_name`` (None: the baseline),
    cached per data version: see ``sop_core.meeting.cockpit.overview``."""
    return _fresh(_overview, run_id, scenario_name)


@st.cache_data(show_spinner=False, max_entries=8)
def _budget_plans(
    path: str,
    version: tuple[int, int],
    run_id: int,
    scenario_name: str | None,
    families: tuple[str, ...],
) -> tuple[BudgetInputs, pd.DataFrame, pd.DataFrame]:
    """What the budget comparisons read, and the baseline's and the scenario's weekly plans
    in ``families`` (``sop_core.meeting.budget.weekly_plan``)."""
    from sop_core.meeting import budget
    from sop_core.scenario.levers import applicable, apply_scenario
    from sop_core.scenario.model import Scenario
    from sop_core.scenario.targets import result_targets

    base = _plan_base(path, version, run_id)
    first = pd.Timestamp(base.weeks[0]).date()
    with db.connect(path) as con:
        inputs = budget.load_inputs(con, first, families)
        scenario = (
            _load_scenario(con, scenario_name).scenario if scenario_name else Scenario(BASELINE)
        )

    def plan(chosen: Scenario) -> pd.DataFrame:
        targets = result_targets(apply_scenario(base, applicable(base, chosen)[0]))
        return budget.in_families(budget.weekly_plan(targets), families)

    baseline = plan(Scenario(BASELINE))
    return inputs, baseline, plan(scenario) if scenario_name else baseline


@st.cache_data(show_spinner=False, max_entries=16)
def _budget_gaps(
    path: str,
    version: tuple[int, int],
    run_id: int,
    scenario_name: str | None,
    families: tuple[str, ...],
) -> tuple[list[Gap], list[str]]:
    from sop_core.meeting import budget

    inputs, baseline, outturn = _budget_plans(path, version, run_id, scenario_name, families)
    if not inputs.has_budget:
        return [], inputs.notes
    gaps = budget.budget_gaps(baseline, outturn, inputs.actuals, inputs.budget, inputs.calendar)
    return gaps, inputs.notes


@st.cache_data(show_spinner=False, max_entries=16)
def _period_comparison(
    path: str,
    version: tuple[int, int],
    run_id: int,
    scenario_name: str | None,
    families: tuple[str, ...],
    bucket: str,
) -> tuple[pd.DataFrame, list[str]]:
    from sop_core.meeting import budget

    inputs, _, outturn = _budget_plans(path, version, run_id, scenario_name, families)
    table = budget.period_comparison(
        outturn, inputs.budget, inputs.actuals, inputs.record, inputs.calendar, bucket
    )
    return table, inputs.notes


def period_comparison(
    run_id: int, scenario_name: str | None, families: tuple[str, ...], bucket: str
) -> tuple[pd.DataFrame, list[str]]:
    """The scenario's plan per fiscal month or quarter against the budget, the same period
    last year and the latest plan of record (cached): ``budget.period_comparison``."""
    return _fresh(_period_comparison, run_id, scenario_name, tuple(families), bucket)


def budget_gaps(
    run_id: int, scenario_name: str | None, families: tuple[str, ...] = ()
) -> tuple[list[Gap], list[str]]:
    """The gap to budget of the current fiscal quarter and year for the baseline and the saved
    scenario ``scenario_name`` in ``families`` (cached per data version), with notes on what
    the scope leaves out; no gaps when there is no budget: ``sop_core.meeting.budget``."""
    return _fresh(_budget_gaps, run_id, scenario_name, tuple(families))


@st.cache_data(show_spinner=False, max_entries=16)
def _what_changed(
    path: str, version: tuple[int, int], run_id: int, scenario_name: str | None
) -> pd.DataFrame | None:
    from sop_core.meeting.changes import what_changed
    from sop_core.scenario.model import Scenario

    with db.connect(path) as con:
        scenario = (
            _load_scenario(con, scenario_name).scenario if scenario_name else Scenario(BASELINE)
        )
        return what_changed(con, _plan_base(path, version, run_id), scenario)


def what_changed(run_id: int, scenario_name: str | None) -> pd.DataFrame | None:
    """The waterfall from the latest plan of record to the scenario now (cached); None when
    nothing is approved or the two share no week."""
    return _fresh(_what_changed, run_id, scenario_name)


# ---- files the planner uploads ------------------------------------------------------------


def uploaded_file(upload: UploadedFile) -> Path:
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
) -> ImportReport:
    from sop_core.data.importer import import_file

    return import_file(
        path, table, source, file_name=file_name, mapping=dict(mapping), dry_run=True
    )


def check_import(table: str, source: Path, file_name: str, mapping: dict[str, str]) -> ImportReport:
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
) -> PlanReport:
    from sop_core.scenario.plan_files import read_plan

    return read_plan(path, source, file_name=file_name, mapping=dict(mapping))


def check_plan(source: Path, file_name: str, mapping: dict[str, str]) -> PlanReport:
    """A promotion and price plan file read into levers (``plan_files.read_plan``), cached
    per file, mapping and data version."""
    return _fresh(_check_plan, str(source), file_name, tuple(sorted(mapping.items())))
