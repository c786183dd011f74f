"""The capacity-constrained production plan: a linear program solved with HiGHS.

Decide, for every SKU, line it can run on (default and alternates) and week, how much to make,
so that the revised targets are made at the least cost:

- production costs materials (plus a small premium on an alternate line, to prefer the
  default), stock costs a holding charge per unit and week, overtime costs per hour up to a
  limit per line, demand that cannot be met costs a penalty (lost margin and goodwill), and
  stock below safety stock costs a smaller penalty per unit and week;
- the safety stock holds to the end of the horizon: stock the last week leaves below it would
  have to be made right after the horizon, so that shortfall is priced halfway between the
  cost of making the unit and the penalty on unmet demand. Without it the program drains the
  buffer in the last weeks (stock left at the end is worth nothing to it); with it, the plan
  keeps the buffer wherever capacity allows and still serves demand first. What it cannot
  keep shows as ``below_safety`` (units per SKU and week) and in the summary;
- a line's hours (units / units per hour / OEE) stay within its available hours plus overtime;
- stock flows: closing = opening + production - (demand - unmet), never negative, starting
  from today's stock on hand.

So the plan builds stock ahead of a peak when that is cheaper than overtime, uses alternate
lines when the default is full, and leaves demand unmet only when capacity truly runs out.
Batch setups are not in the program (they would make it an integer program); the batch
economics are shown beside it.

The peer, ``chase_plan``, produces each week's demand (topping up to safety stock) on the
default line, up to the line's hours plus overtime, cutting all SKUs of a full line alike.

``build_plan`` stores a plan with a fingerprint of the scenario it planned (saved or a page's
unsaved draft); ``stored_plan`` finds the newest one for a scenario's content and reads it back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from sop_core.data import access, db
from sop_core.data.errors import InputError
from sop_core.data.fiscal import FiscalCalendar
from sop_core.data.stores import forecast_runs, master, production, production_plans
from sop_core.data.workers import run_parts
from sop_core.demand.fences import DETAIL_WEEKS, planning_periods
from sop_core.demand.plan_base import PlanBase
from sop_core.scenario.levers import ScenarioResult, apply_scenario
from sop_core.scenario.model import Scenario
from sop_core.supply.loads import load_ratio


@dataclass(frozen=True)
class PlanSettings:
    """Costs and limits of the plan (money in the company's currency)."""

    overtime_cost_per_hour: float = 95.0
    overtime_share: float = 0.2  # overtime allowed, as a share of a line's standard hours
    holding_rate_per_year: float = 0.25  # of the unit cost, per unit of stock held a year
    unmet_penalty_factor: float = 1.5  # times the regular price, per unit not delivered
    # The one safety stock, in weeks of average demand: the plan keeps it in every week,
    # and the stock cover (chart, "SKUs under N weeks of cover") is measured against it.
    safety_weeks: float = 1.0
    safety_penalty_factor: float = 0.05  # of the unit cost, per unit-week below safety stock
    alternate_premium: float = 0.03  # of the unit cost, per unit made on an alternate line

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class SupplyData:
    """What the plan needs beyond the scenario: routings, standard hours and stock."""

    routes: pd.DataFrame  # sku_index, line_index, hours_per_unit, alternate (bool)
    standard_hours: np.ndarray  # per line
    opening_stock: np.ndarray  # per SKU
    # The company's fiscal calendar: beyond the weekly detail the plan runs per fiscal month.
    calendar: FiscalCalendar = field(default_factory=FiscalCalendar)


def load_supply(con: duckdb.DuckDBPyConnection, base: PlanBase) -> SupplyData:
    """Routings (default and alternate lines), standard hours and stock on hand for ``base``."""
    sku_index = {sku: i for i, sku in enumerate(base.skus)}
    line_index = {line: i for i, line in enumerate(base.lines)}
    oee = production.line_oee(con)
    routes = [
        (i, base.line_index[i], base.hours_per_unit[i], False)
        for i in range(len(base.skus))
        if base.line_index[i] >= 0 and base.hours_per_unit[i] > 0
    ]
    for sku, line, speed in production.product_routings(con):
        if sku in sku_index and line in line_index and speed > 0 and oee.get(line):
            i, li = sku_index[sku], line_index[line]
            if li != base.line_index[i]:
                routes.append((i, li, 1.0 / (speed * oee[line]), True))
    standard = production.standard_hours_by_line(con)
    stock = production.stock_on_hand(con)
    return SupplyData(
        routes=pd.DataFrame(
            routes, columns=["sku_index", "line_index", "hours_per_unit", "alternate"]
        ),
        standard_hours=np.array([standard.get(line, 0.0) for line in base.lines], dtype=float),
        opening_stock=np.array([stock.get(sku, 0.0) for sku in base.skus], dtype=float),
        calendar=master.fiscal_calendar(con),
    )


@dataclass
class ProductionPlan:
    """A plan over SKUs x weeks (production per route), with its costs and status."""

    method: str
    status: str
    production: np.ndarray  # (routes, weeks)
    inventory: np.ndarray  # (SKUs, weeks), closing stock
    unmet: np.ndarray  # (SKUs, weeks)
    overtime: np.ndarray  # (lines, weeks)
    hours: np.ndarray  # (lines, weeks)
    demand: np.ndarray
    costs: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    safety: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per SKU, in units
    # What one more hour on a line-week would save the plan (lines, weeks): the shadow price
    # of the line-hours constraint, >= 0; zero where the line has hours to spare. Only the
    # linear program has it (empty for the chase plan).
    hour_value: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    # The periods the linear program planned, as (first week's index, weeks): one week each
    # within the weekly detail, a fiscal month beyond (empty for the chase plan).
    periods: list[tuple[int, int]] = field(default_factory=list)

    @property
    def total_cost(self) -> float:
        return float(sum(self.costs.values()))

    @property
    def cost_beyond_materials(self) -> float:
        """What meeting the demand costs besides making the units: holding, overtime, unmet
        demand and stock below safety (what capacity decides; the materials follow the demand,
        whose margin a lever's change carries)."""
        return self.total_cost - self.costs.get("production", 0.0)

    @property
    def below_safety(self) -> np.ndarray:
        """Units of closing stock below safety stock, (SKUs, weeks): the shortfall the plan
        could not avoid (zero where the stock covers the safety stock)."""
        if self.safety.size == 0:
            return np.zeros_like(self.inventory)
        return below_safety(self.inventory, self.safety)

    def summary(self, available: np.ndarray) -> dict:
        """The CLI's keys: status, total_cost, unmet_units, overtime_hours, max_utilisation,
        seconds (plus the cost breakdown), and the safety stock the last week misses:
        ``below_safety_units_at_end`` (units, all SKUs) and ``skus_below_safety_at_end``.
        ``max_utilisation`` is the peak planned load over the plan's weeks
        (``sop_core.supply.loads``: the plan's hours, overtime included, over the available
        hours; 0 when no line-week has hours)."""
        utilisation = load_ratio(self.hours, available)
        known = utilisation[np.isfinite(utilisation)]
        short_at_end = self.below_safety[:, -1] if self.inventory.size else np.zeros(0)
        return {
            "status": self.status,
            "total_cost": round(self.total_cost, 2),
            "unmet_units": round(float(self.unmet.sum()), 1),
            "below_safety_units_at_end": round(float(short_at_end.sum()), 1),
            "skus_below_safety_at_end": int((short_at_end > 0.5).sum()),
            "overtime_hours": round(float(self.overtime.sum()), 1),
            "max_utilisation": round(float(known.max()) if known.size else 0.0, 4),
            "seconds": round(self.seconds, 3),
            "costs": {k: round(v, 2) for k, v in self.costs.items()},
        }


def _cost_inputs(base: PlanBase, settings: PlanSettings) -> dict[str, np.ndarray]:
    unit = base.unit_cost
    make = base.variable_cost
    unmet = np.maximum(base.regular_price, unit) * settings.unmet_penalty_factor
    short = unit * settings.safety_penalty_factor
    return {
        "make": make,
        "hold": unit * settings.holding_rate_per_year / 52.0,
        "unmet": unmet,
        "short": short,
        # Per unit the last week leaves below safety stock: halfway between making the unit
        # and not delivering one, so the plan rebuilds the buffer before the horizon ends
        # whenever it can make the units, but never at the expense of demand.
        "short_at_end": np.maximum(short, (make + unmet) / 2.0),
        "alternate": unit * settings.alternate_premium,
    }


def below_safety(inventory: np.ndarray, safety: np.ndarray) -> np.ndarray:
    """Units below safety stock per SKU and week (zero where the stock covers it)."""
    return np.maximum(safety[:, None] - inventory, 0.0)


def plan_costs(
    base: PlanBase,
    supply: SupplyData,
    settings: PlanSettings,
    production: np.ndarray,
    inventory: np.ndarray,
    unmet: np.ndarray,
    overtime: np.ndarray,
    safety: np.ndarray,
) -> dict[str, float]:
    """The same cost accounting for every plan (the LP and the chase plan)."""
    cost = _cost_inputs(base, settings)
    short = below_safety(inventory, safety)
    routes = supply.routes
    per_route = cost["make"][routes["sku_index"]] + np.where(
        routes["alternate"], cost["alternate"][routes["sku_index"]], 0.0
    )
    return {
        "production": float((per_route[:, None] * production).sum()),
        "holding": float((cost["hold"][:, None] * inventory).sum()),
        "overtime": float(settings.overtime_cost_per_hour * overtime.sum()),
        "unmet_demand": float((cost["unmet"][:, None] * unmet).sum()),
        "below_safety_stock": float(
            (cost["short"][:, None] * short[:, :-1]).sum()
            + (cost["short_at_end"] * short[:, -1]).sum()
        ),
    }


def _safety_stock(demand: np.ndarray, settings: PlanSettings) -> np.ndarray:
    return settings.safety_weeks * demand.mean(axis=1)


def solve_plan(
    result: ScenarioResult,
    supply: SupplyData,
    settings: PlanSettings = PlanSettings(),
    weeks: int | None = None,
    detail: int | None = DETAIL_WEEKS,
    jobs: int | None = None,
) -> ProductionPlan:
    """The least-cost plan for the scenario's volume targets (its first ``weeks`` weeks).

    The first ``detail`` weeks are planned week by week and the weeks beyond per fiscal
    month of ``supply.calendar`` (``sop_core.demand.fences.planning_periods``), so an
    18-month plan stays a small program; ``detail=None`` plans every week on its own. A
    month's production is spread over its weeks in proportion to each week's demand (its
    unmet demand likewise, its overtime by the hours), so the plan still has a row per week,
    every week's stock follows from the stock balance (it moves in a straight line from the
    month's opening to its closing stock, never below zero), and the month's totals are the
    program's. A large plan's independent parts are solved in up to ``jobs`` worker processes
    at once (default: this machine's cores; ``_solve_programs``)."""
    started = time.perf_counter()
    base = result.base
    weekly_demand = np.maximum(result.revised[:, :weeks], 0.0)
    n, w = weekly_demand.shape
    weekly_available = result.available[:, :w]
    routes = supply.routes
    r = len(routes)
    n_lines = len(base.lines)
    if r == 0:
        raise InputError("No SKU has a production line with a speed; there is nothing to plan.")
    cost = _cost_inputs(base, settings)
    safety = _safety_stock(weekly_demand, settings)
    periods = (
        [(t, 1) for t in range(w)]
        if detail is None
        else planning_periods(base.weeks[:w], supply.calendar, detail)
    )
    # Period p covers weeks starts[p] .. starts[p] + lengths[p] - 1.
    starts = np.array([start for start, _ in periods])
    lengths = np.array([length for _, length in periods], dtype=float)
    demand = np.add.reduceat(weekly_demand, starts, axis=1)
    available = np.add.reduceat(weekly_available, starts, axis=1)
    p = len(periods)

    # Per part of the company that shares no line with the rest (``_independent_parts``),
    # its own program: the same optimum, found far faster than one program for everything.
    per_route = np.zeros((r, p))
    per_sku = np.zeros((n, p))
    per_line = np.zeros((n_lines, p))
    hour_value = np.zeros((n_lines, p))
    route_sku = routes["sku_index"].to_numpy()
    route_line = routes["line_index"].to_numpy()
    parts = [
        part
        for part in _independent_parts(route_sku, route_line, n, n_lines, p)
        if len(part[0])  # lines nothing runs on: no overtime, an hour more is worth nothing
    ]
    programs = [
        Program(
            demand=demand[skus],
            available=available[lines],
            opening_stock=supply.opening_stock[skus],
            safety=safety[skus],
            cost={name: values[skus] for name, values in cost.items()},
            standard_hours=supply.standard_hours[lines],
            lengths=lengths,
            route_sku=np.searchsorted(skus, route_sku[chosen]),
            route_line=np.searchsorted(lines, route_line[chosen]),
            route_hours=routes["hours_per_unit"].to_numpy()[chosen],
            alternate=routes["alternate"].to_numpy()[chosen],
        )
        for skus, chosen, lines in parts
    ]
    for (skus, chosen, lines), (made, short, extra, value) in zip(
        parts, _solve_programs(programs, settings, jobs), strict=True
    ):
        per_route[chosen], per_sku[skus], per_line[lines], hour_value[lines] = (
            made,
            short,
            extra,
            value,
        )
    production, unmet, overtime, hours = _weekly(
        per_route, per_sku, per_line, weekly_demand, starts, routes, n_lines
    )
    # Each week's closing stock from the stock balance (in a weekly period it is the
    # program's own; in a month it follows the demand to the month's closing stock).
    inventory = np.maximum(
        supply.opening_stock[:, None]
        + np.cumsum(_by_sku(production, route_sku, n) - weekly_demand + unmet, axis=1),
        0.0,
    )
    plan = _priced(
        "optimised",
        "optimal",
        base,
        supply,
        settings,
        started,
        production,
        inventory,
        unmet,
        overtime,
        hours,
        weekly_demand,
        safety,
    )
    plan.periods = periods
    # An hour more in any week of a month is worth the month's shadow price.
    plan.hour_value = np.repeat(hour_value, lengths.astype(int), axis=1)
    return plan


PART_VARIABLES = 200_000
"""A plan with more variables than this is solved part by part (``_independent_parts``);
smaller ones (1,000 SKUs x 26 weeks and less) stay one program, as before."""


def _independent_parts(
    route_sku: np.ndarray, route_line: np.ndarray, skus: int, lines: int, periods: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The plan split into parts that share no line: each SKU with every line it can run on,
    and every SKU those lines make, and so on. A part's program is independent of the others'
    (its SKUs' stock, unmet demand and production, its lines' hours and overtime), so their
    optima together are the whole plan's optimum. Returns ``(skus, routes, lines)`` index
    arrays (sorted) per part; small parts are gathered into one program, and a plan of at
    most ``PART_VARIABLES`` variables is one part: everything."""
    everything = (np.arange(skus), np.arange(len(route_sku)), np.arange(lines))
    if (len(route_sku) + 4 * skus + lines) * periods <= PART_VARIABLES:
        return [everything]
    graph = sparse.coo_matrix(
        (np.ones(len(route_sku)), (route_sku, skus + route_line)),
        shape=(skus + lines, skus + lines),
    )
    count, label = connected_components(graph, directed=False)
    sku_label, line_label, route_label = label[:skus], label[skus:], label[route_sku]
    # Variables per component; components are gathered in order until a program holds about
    # a quarter of the limit (a SKU without a line, or an unused line, is a component alone).
    size = (
        np.bincount(route_label, minlength=count)
        + 4 * np.bincount(sku_label, minlength=count)
        + np.bincount(line_label, minlength=count)
    ) * periods
    group = np.zeros(count, dtype=int)
    filled, current = 0, 0
    for component in np.argsort(size, kind="stable"):
        if filled and filled + size[component] > PART_VARIABLES // 4:
            current, filled = current + 1, 0
        group[component] = current
        filled += size[component]
    return [
        (
            np.flatnonzero(group[sku_label] == part),
            np.flatnonzero(group[route_label] == part),
            np.flatnonzero(group[line_label] == part),
        )
        for part in range(current + 1)
    ]


PARALLEL_VARIABLES = 1_000_000
"""A plan in parts with more variables than this solves its parts in worker processes at once
(20,000 SKUs x 26 weeks: 3.4 million); a smaller one solves them one after another here, where
starting the workers (about a second each) would cost more than it saves."""


def _solve_programs(
    programs: list[Program], settings: PlanSettings, jobs: int | None
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """``_solve_program`` of each program, in order: in ``jobs`` worker processes (default:
    the cores; ``workers.run_parts``) when there are several programs of more than
    ``PARALLEL_VARIABLES`` in all, the largest first so that the last to finish is a small
    one; else here, one after another."""
    workers = min(jobs or os.cpu_count() or 1, len(programs))
    if workers <= 1 or sum(program.variables for program in programs) <= PARALLEL_VARIABLES:
        return [_solve_program(program, settings) for program in programs]
    order = sorted(range(len(programs)), key=lambda i: -programs[i].variables)
    solved: dict[int, tuple] = {}

    def keep(at: int, result: tuple) -> None:
        solved[order[at]] = result

    run_parts(_solve_program, [programs[i] for i in order], (settings,), workers, keep)
    return [solved[i] for i in range(len(programs))]


@dataclass
class Program:
    """One production-planning linear program, per period: its SKUs' demand, opening and
    safety stock and costs, its lines' available and standard hours, and its routes (SKU and
    line as positions in these arrays)."""

    demand: np.ndarray  # (SKUs, periods)
    available: np.ndarray  # (lines, periods)
    opening_stock: np.ndarray
    safety: np.ndarray
    cost: dict[str, np.ndarray]  # ``_cost_inputs``, per SKU
    standard_hours: np.ndarray
    lengths: np.ndarray  # weeks per period
    route_sku: np.ndarray
    route_line: np.ndarray
    route_hours: np.ndarray
    alternate: np.ndarray

    @property
    def variables(self) -> int:
        """The program's variables: production per route, stock, unmet demand and stock below
        safety per SKU, overtime per line, each per period."""
        return (len(self.route_sku) + 3 * len(self.demand) + len(self.available)) * len(
            self.lengths
        )


def _solve_program(
    program: Program, settings: PlanSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Solve ``program`` with HiGHS: per period, production per route, unmet demand per SKU,
    overtime per line and the value of an hour more on each line (its shadow price)."""
    demand, lengths, cost = program.demand, program.lengths, program.cost
    route_sku, route_line = program.route_sku, program.route_line
    n, p = demand.shape
    r, n_lines = len(route_sku), len(program.available)
    # Variables, in blocks: production x[r, t], stock I[i, t], unmet U[i, t],
    # below-safety S[i, t], overtime O[l, t], t a period (a week or a month).
    x0, i0, u0, s0, o0 = 0, r * p, r * p + n * p, r * p + 2 * n * p, r * p + 3 * n * p
    total = o0 + n_lines * p
    make = cost["make"][route_sku] + np.where(program.alternate, cost["alternate"][route_sku], 0.0)
    # Stock and stock below safety are counted at a period's end and held for its weeks.
    short = cost["short"][:, None] * lengths[None, :]
    short[:, -1] = cost["short_at_end"]  # the buffer the plan hands over after the horizon
    c = np.concatenate(
        [
            np.repeat(make, p),
            (cost["hold"][:, None] * lengths[None, :]).ravel(),
            np.repeat(cost["unmet"], p),
            short.ravel(),
            np.tile(settings.overtime_cost_per_hour * np.ones(p), n_lines),
        ]
    )
    t_index = np.arange(p)

    # Stock balance (equality): I[i,t] - I[i,t-1] - sum_r x[r,t] - U[i,t] = -D[i,t]
    # (I[i,-1] is the opening stock, moved to the right-hand side).
    balance_row = (np.arange(n)[:, None] * p + t_index[None, :]).ravel()
    later = (np.arange(n)[:, None] * p + t_index[None, 1:]).ravel()  # periods with a t-1
    route_rows = (route_sku[:, None] * p + t_index[None, :]).ravel()
    rows = [balance_row, balance_row, later, route_rows]
    cols = [
        i0 + balance_row,
        u0 + balance_row,
        i0 + later - 1,
        x0 + (np.arange(r)[:, None] * p + t_index[None, :]).ravel(),
    ]
    vals = [np.ones(n * p), -np.ones(n * p), -np.ones(len(later)), -np.ones(r * p)]
    a_eq = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n * p, total)
    )
    b_eq = -demand.copy()
    b_eq[:, 0] += program.opening_stock
    b_eq = b_eq.ravel()

    # Line hours (inequality): sum_r h[r] x[r,t] - O[l,t] <= available[l,t]
    cap_rows = (route_line[:, None] * p + t_index[None, :]).ravel()
    cap_cols = x0 + (np.arange(r)[:, None] * p + t_index[None, :]).ravel()
    cap_vals = np.repeat(program.route_hours, p)
    over_rows = np.arange(n_lines * p)
    # Safety stock (inequality): -I[i,t] - S[i,t] <= -safety[i]
    safe_rows = n_lines * p + np.arange(n * p)
    a_ub = sparse.csr_matrix(
        (
            np.concatenate([cap_vals, -np.ones(n_lines * p), -np.ones(n * p), -np.ones(n * p)]),
            (
                np.concatenate([cap_rows, over_rows, safe_rows, safe_rows]),
                np.concatenate(
                    [cap_cols, o0 + over_rows, i0 + np.arange(n * p), s0 + np.arange(n * p)]
                ),
            ),
        ),
        shape=(n_lines * p + n * p, total),
    )
    b_ub = np.concatenate([program.available.ravel(), np.repeat(-program.safety, p)])
    overtime_limit = (program.standard_hours[:, None] * settings.overtime_share * lengths).ravel()
    bounds = np.zeros((total, 2))
    bounds[:, 1] = np.inf
    bounds[u0 : u0 + n * p, 1] = demand.ravel()
    bounds[o0:, 1] = overtime_limit
    solution = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if solution.status != 0 or solution.x is None:
        raise InputError(f"The production plan could not be solved: {solution.message}")
    x = np.maximum(solution.x, 0.0)
    # HiGHS reports the marginals of the <= rows as <= 0 (cost falls as the bound loosens).
    value = np.maximum(-solution.ineqlin.marginals[: n_lines * p], 0.0).reshape(n_lines, p)
    return (
        x[x0:i0].reshape(r, p),
        x[u0:s0].reshape(n, p),
        x[o0:].reshape(n_lines, p),
        value,
    )


def _by_sku(per_route: np.ndarray, route_sku: np.ndarray, skus: int) -> np.ndarray:
    """Route rows (routes, weeks) summed per SKU (SKUs, weeks)."""
    out = np.zeros((skus, per_route.shape[1]))
    np.add.at(out, route_sku, per_route)
    return out


def _weekly(
    production: np.ndarray,
    unmet: np.ndarray,
    overtime: np.ndarray,
    weekly_demand: np.ndarray,
    starts: np.ndarray,
    routes: pd.DataFrame,
    n_lines: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-period production (routes), unmet demand (SKUs) and overtime (lines) spread over
    the periods' weeks: production and unmet demand in proportion to the SKU's demand each
    week (evenly where the SKU has none in the period), overtime in proportion to the line's
    hours. Returns production, unmet, overtime and hours, all per week."""
    n, w = weekly_demand.shape
    period_of = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, w)))
    period_demand = np.add.reduceat(weekly_demand, starts, axis=1)[:, period_of]
    lengths = np.diff(np.append(starts, w))[period_of]
    share = np.divide(
        weekly_demand,
        period_demand,
        out=np.broadcast_to(1.0 / lengths, (n, w)).copy(),
        where=period_demand > 0,
    )
    route_sku = routes["sku_index"].to_numpy()
    route_line = routes["line_index"].to_numpy()
    made = production[:, period_of] * share[route_sku]
    short = unmet[:, period_of] * share
    hours = np.zeros((n_lines, w))
    np.add.at(hours, route_line, made * routes["hours_per_unit"].to_numpy()[:, None])
    period_hours = np.add.reduceat(hours, starts, axis=1)[:, period_of]
    hour_share = np.divide(
        hours,
        period_hours,
        out=np.broadcast_to(1.0 / lengths, (n_lines, w)).copy(),
        where=period_hours > 0,
    )
    return made, short, overtime[:, period_of] * hour_share, hours


def _priced(
    method: str,
    status: str,
    base: PlanBase,
    supply: SupplyData,
    settings: PlanSettings,
    started: float,
    production: np.ndarray,
    inventory: np.ndarray,
    unmet: np.ndarray,
    overtime: np.ndarray,
    hours: np.ndarray,
    demand: np.ndarray,
    safety: np.ndarray,
) -> ProductionPlan:
    """A plan with its costs, priced by the one cost accounting every plan shares."""
    plan = ProductionPlan(
        method,
        status,
        production,
        inventory,
        unmet,
        overtime,
        hours,
        demand,
        plan_costs(base, supply, settings, production, inventory, unmet, overtime, safety),
        safety=safety,
    )
    plan.seconds = time.perf_counter() - started
    return plan


def chase_plan(
    result: ScenarioResult,
    supply: SupplyData,
    settings: PlanSettings = PlanSettings(),
    weeks: int | None = None,
) -> ProductionPlan:
    """The naive peer: make each week's demand (topping up to safety stock) on the default
    line, up to its hours plus overtime; a full line cuts every SKU alike."""
    started = time.perf_counter()
    base = result.base
    demand = np.maximum(result.revised[:, :weeks], 0.0)
    n, w = demand.shape
    available = result.available[:, :w]
    routes = supply.routes
    default = routes[~routes["alternate"]]
    route_of = np.full(n, -1)
    route_of[default["sku_index"].to_numpy()] = default.index.to_numpy()
    hours_per_unit = np.zeros(n)
    hours_per_unit[default["sku_index"].to_numpy()] = default["hours_per_unit"].to_numpy()
    line = np.full(n, -1)
    line[default["sku_index"].to_numpy()] = default["line_index"].to_numpy()
    safety = _safety_stock(demand, settings)
    limit = supply.standard_hours * settings.overtime_share
    stock = supply.opening_stock.copy()
    production = np.zeros((len(routes), w))
    inventory, unmet = np.zeros((n, w)), np.zeros((n, w))
    overtime, hours = np.zeros((len(base.lines), w)), np.zeros((len(base.lines), w))
    for t in range(w):
        want = np.maximum(demand[:, t] + safety - stock, 0.0) * (line >= 0)
        need = np.bincount(
            line[line >= 0], weights=(want * hours_per_unit)[line >= 0], minlength=len(base.lines)
        )
        room = available[:, t] + limit
        cut = np.divide(room, need, out=np.ones_like(need), where=need > room)
        made = want * np.where(line >= 0, cut[np.maximum(line, 0)], 0.0)
        used = np.bincount(
            line[line >= 0], weights=(made * hours_per_unit)[line >= 0], minlength=len(base.lines)
        )
        hours[:, t] = used
        overtime[:, t] = np.maximum(used - available[:, t], 0.0)
        production[route_of[line >= 0], t] = made[line >= 0]
        supplied = stock + made
        unmet[:, t] = np.maximum(demand[:, t] - supplied, 0.0)
        stock = np.maximum(supplied - demand[:, t], 0.0)
        inventory[:, t] = stock
    return _priced(
        "chase",
        "heuristic",
        base,
        supply,
        settings,
        started,
        production,
        inventory,
        unmet,
        overtime,
        hours,
        demand,
        safety,
    )


def scenario_fingerprint(scenario: Scenario) -> str:
    """A short hash of what a scenario plans (levers, effect overrides, cannibalisation,
    capacity changes; not its name), saved or an unsaved draft: a stored plan is found again
    by it."""
    # Once through JSON first, so a scenario and the same one read back from its JSON (a
    # job's parameters, a saved definition) give the same hash.
    text = Scenario.from_json(scenario.name, scenario.to_json()).to_json()
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def save_plan(
    path: Path | str,
    plan: ProductionPlan,
    result: ScenarioResult,
    supply: SupplyData,
    scenario: str | None,
    settings: PlanSettings,
    *,
    fingerprint: str | None = None,
    who: str = "",
) -> int:
    """Store a plan (summary, production, stock and line rows) in one transaction, by
    ``who`` (an operations user's write); ``fingerprint``: the planned scenario's
    ``scenario_fingerprint``."""
    base = result.base
    w = plan.demand.shape[1]
    summary = plan.summary(result.available[:, :w])
    frames = plan_tables(plan, result, supply)
    stored = {
        "scenario": scenario,
        "run_id": base.run_id,
        "horizon": w,
        "status": plan.status,
        "total_cost": summary["total_cost"],
        "unmet_units": summary["unmet_units"],
        "overtime_hours": summary["overtime_hours"],
        "max_utilisation": summary["max_utilisation"],
        "seconds": plan.seconds,
        "parameters": settings.to_json(),
        "scenario_fingerprint": fingerprint,
    }
    with access.writing(path, who, "production_plan") as write:
        plan_id = production_plans.save_production_plan(write.con, stored, frames)
        write.record(
            "production plan",
            f"plan {plan_id}",
            scope=scenario or "baseline",
            after={key: stored[key] for key in ("horizon", "status", "total_cost",
                                                 "unmet_units", "max_utilisation")},
        )  # fmt: skip
        return plan_id


def plan_tables(
    plan: ProductionPlan, result: ScenarioResult, supply: SupplyData
) -> dict[str, pd.DataFrame]:
    """A plan as the rows it is stored in: ``plan_rows`` (production by SKU, line and week,
    non-zero only), ``plan_stock`` (demand, stock and unmet by SKU and week) and
    ``plan_lines`` (hours, available and overtime by line and week)."""
    base = result.base
    w = plan.demand.shape[1]
    weeks = pd.to_datetime(base.weeks[:w])
    routes = supply.routes
    r_idx, t_idx = np.nonzero(plan.production > 0.5)
    return {
        "plan_rows": pd.DataFrame(
            {
                "sku": base.skus[routes["sku_index"].to_numpy()[r_idx]],
                "line": base.lines[routes["line_index"].to_numpy()[r_idx]],
                "week": weeks[t_idx],
                "production": plan.production[r_idx, t_idx],
            }
        )
        .groupby(["sku", "line", "week"], as_index=False)["production"]
        .sum(),
        "plan_stock": pd.DataFrame(
            {
                "sku": np.repeat(base.skus, w),
                "week": np.tile(weeks, len(base.skus)),
                "demand": plan.demand.ravel(),
                "inventory": plan.inventory.ravel(),
                "unmet": plan.unmet.ravel(),
            }
        ),
        "plan_lines": pd.DataFrame(
            {
                "line": np.repeat(base.lines, w),
                "week": np.tile(weeks, len(base.lines)),
                "hours": plan.hours.ravel(),
                "available_hours": result.available[:, :w].ravel(),
                "overtime_hours": plan.overtime.ravel(),
            }
        ),
    }


def plan_frames(plan: ProductionPlan, result: ScenarioResult) -> dict[str, pd.DataFrame]:
    """Weekly totals for the page: ``weekly`` (demand, production, unmet, stock, the safety
    stock and the units below it) and ``lines`` (hours, available, overtime per line and
    week)."""
    w = plan.demand.shape[1]
    return _frames(
        result.base,
        plan.demand,
        plan.production.sum(axis=0),
        plan.unmet,
        plan.inventory,
        plan.safety if plan.safety.size else np.zeros(len(plan.demand)),
        plan.hours,
        result.available[:, :w],
        plan.overtime,
    )


def _frames(
    base: PlanBase,
    demand: np.ndarray,
    production_by_week: np.ndarray,
    unmet: np.ndarray,
    inventory: np.ndarray,
    safety: np.ndarray,
    hours: np.ndarray,
    available: np.ndarray,
    overtime: np.ndarray,
) -> dict[str, pd.DataFrame]:
    w = demand.shape[1]
    weeks = pd.to_datetime(base.weeks[:w])
    weekly = pd.DataFrame(
        {
            "week": weeks,
            "demand": demand.sum(axis=0),
            "production": production_by_week,
            "unmet": unmet.sum(axis=0),
            "inventory": inventory.sum(axis=0),
            "safety_stock": np.full(w, float(safety.sum())),
            "below_safety": below_safety(inventory, safety).sum(axis=0),
        }
    )
    lines = pd.DataFrame(
        {
            "line": np.repeat(base.lines, w),
            "line_name": np.repeat(base.line_names, w),
            "week": np.tile(weeks, len(base.lines)),
            "hours": hours.ravel(),
            "available_hours": available.ravel(),
            "overtime_hours": overtime.ravel(),
        }
    )
    return {"weekly": weekly, "lines": lines}


@dataclass(frozen=True)
class StoredPlan:
    """A stored production plan as a page shows it: its summary as stored, its hours and
    overtime by line and week (``base.lines`` x weeks, for the planned load) and the frames of
    ``plan_frames``."""

    plan_id: int
    created_at: dt.datetime
    scenario: str | None
    status: str
    total_cost: float
    unmet_units: float
    overtime_hours: float
    max_utilisation: float
    seconds: float
    hours: np.ndarray  # (lines, weeks)
    overtime: np.ndarray  # (lines, weeks)
    frames: dict[str, pd.DataFrame]


def stored_plan(
    con: duckdb.DuckDBPyConnection,
    base: PlanBase,
    scenario: Scenario,
    weeks: int,
    settings: PlanSettings = PlanSettings(),
) -> StoredPlan | None:
    """The newest stored plan of ``scenario``'s content on ``base``'s forecast run over its
    first ``weeks`` weeks with ``settings`` (made by the page's job, ``plan`` or a ``plan``
    job), read back as stored; None when there is none."""
    row = production_plans.latest_plan(
        con, scenario_fingerprint(scenario), base.run_id, weeks, settings.to_json()
    )
    if row is None:
        return None
    tables = production_plans.plan_tables(con, row["plan_id"])
    week_index = pd.DatetimeIndex(pd.to_datetime(base.weeks[:weeks])).as_unit("ns")

    def grid(table: str, key: str, labels: np.ndarray, column: str) -> np.ndarray:
        frame = tables[table]
        out = np.zeros((len(labels), weeks))
        rows = pd.Index(labels).get_indexer(frame[key])
        stored_weeks = pd.DatetimeIndex(pd.to_datetime(frame["week"])).as_unit("ns")
        cols = week_index.get_indexer(stored_weeks)
        keep = (rows >= 0) & (cols >= 0)
        np.add.at(out, (rows[keep], cols[keep]), frame[column].to_numpy(dtype=float)[keep])
        return out

    demand = grid("plan_stock", "sku", base.skus, "demand")
    inventory = grid("plan_stock", "sku", base.skus, "inventory")
    unmet = grid("plan_stock", "sku", base.skus, "unmet")
    hours = grid("plan_lines", "line", base.lines, "hours")
    available = grid("plan_lines", "line", base.lines, "available_hours")
    overtime = grid("plan_lines", "line", base.lines, "overtime_hours")
    # Production by SKU and line: only its non-zero rows are stored, enough for weekly totals.
    made = grid("plan_rows", "sku", base.skus, "production").sum(axis=0)
    frames = _frames(
        base,
        demand,
        made,
        unmet,
        inventory,
        _safety_stock(demand, settings),
        hours,
        available,
        overtime,
    )
    return StoredPlan(
        plan_id=int(row["plan_id"]),
        created_at=row["created_at"],
        scenario=row["scenario"],
        status=row["status"],
        total_cost=float(row["total_cost"]),
        unmet_units=float(row["unmet_units"]),
        overtime_hours=float(row["overtime_hours"]),
        max_utilisation=float(row["max_utilisation"]),
        seconds=float(row["seconds"]),
        hours=hours,
        overtime=overtime,
        frames=frames,
    )


def horizon_weeks(result: ScenarioResult, weeks: int | None) -> int:
    total = result.revised.shape[1]
    if weeks is None:
        return total
    if not 1 <= weeks <= total:
        raise InputError(
            f"--horizon must be between 1 and {total} weeks (the forecast's horizon); got {weeks}."
        )
    return weeks


def build_plan(
    path: Path | str,
    scenario_name: str | None = None,
    horizon: int = 26,
    settings: PlanSettings = PlanSettings(),
    *,
    scenario: Scenario | None = None,
    run_id: int | None = None,
    jobs: int | None = None,
    progress=None,
    on_wait: db.WaitCallback | None = None,
    who: str = "",
) -> tuple[ProductionPlan, ProductionPlan, ScenarioResult, int]:
    """Plan a scenario's volume targets, store the plan, and return it with the chase plan on
    the same data, the scenario result and the stored plan's id.

    The scenario is ``scenario`` when given (a page's draft, saved or not; ``scenario_name``
    is then only the name stored with the plan), else the saved scenario ``scenario_name``,
    else the baseline. The forecast is run ``run_id`` when given, else the current forecast
    (refreshed or reused first). ``who`` plans: refused unless they may make production
    plans (``access``), before any work."""
    from sop_core.demand.plan_base import load_plan_base
    from sop_core.forecast.engine import ForecastSettings
    from sop_core.forecast.runs import refresh_forecast
    from sop_core.scenario.store import load_scenario

    if not 1 <= horizon <= 104:
        raise InputError(f"--horizon must be between 1 and 104 weeks (got {horizon}).")
    refreshed = run_id is None
    access.check(path, who, "production_plan")

    def step(fraction: float, message: str) -> None:
        if progress is not None:  # after a refresh its bar is full: it stays full
            progress(1.0 if refreshed else fraction, message)

    if run_id is None:
        run_id = refresh_forecast(
            path,
            ForecastSettings(horizon=max(horizon, 26)),
            jobs=jobs,
            progress=progress,
            on_wait=on_wait,
            who=who,
            write="production_plan",
        ).run_id
    step(0.05, "Reading the forecast, lines and stock")
    with db.connect(path, on_wait=on_wait) as con:
        if forecast_runs.run_counts(con, run_id) is None:
            raise InputError(f"There is no forecast run {run_id}; it may have been deleted.")
        base = load_plan_base(con, run_id)
        supply = load_supply(con, base)
        if scenario is None:
            scenario = (
                load_scenario(con, scenario_name).scenario
                if scenario_name
                else Scenario("baseline")
            )
    result = apply_scenario(base, scenario)
    weeks = horizon_weeks(result, horizon)
    step(0.3, "Solving the production plan")
    plan = solve_plan(result, supply, settings, weeks)
    chase = chase_plan(result, supply, settings, weeks)
    step(0.9, "Storing the plan")
    plan_id = save_plan(
        path,
        plan,
        result,
        supply,
        scenario_name,
        settings,
        fingerprint=scenario_fingerprint(scenario),
        who=who,
    )
    return plan, chase, result, plan_id
