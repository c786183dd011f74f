"""What would fix an overloaded line-week: recommended actions, ranked by cost.

For each line-week where the scenario's demand needs more hours than the line has (demand
load above 100%), the kinds of action a supply review weighs:

- ``overtime``: the line's own overtime, up to its limit (``PlanSettings.overtime_share`` of
  its standard hours), at ``overtime_cost_per_hour``;
- ``saturday shift``: one extra shift (a fifth of the line's standard weekly hours) at the
  overtime rate plus ``WEEKEND_PREMIUM``;
- ``build earlier``: the hours the same line has spare in the ``BUILD_AHEAD_WEEKS`` weeks
  before, paid as the holding cost of the stock built that much earlier;
- ``alternate line``: the SKUs of the line that another line can make (``product_lines``),
  up to that line's spare hours that week, at the alternate premium per unit;
- ``trim promotion``: where the scenario's own promotion lever drives the week's demand on the
  line, halving its discount: the hours that frees and the volume, revenue and margin it
  costs, from the scenario maths itself;
- ``move promotion``: the same lever moved up to ``MOVE_WEEKS`` weeks later or earlier, to the
  nearest week where the line can take it without a new overload.

Each action says the hours it recovers, its cost, whether that covers the gap, and, for those
a scenario can hold (overtime, a Saturday shift, a trimmed promotion), the change that adds it
to the scenario in one click (``Action.capacity`` or ``Action.lever``; a moved or trimmed
promotion replaces its lever). Building earlier and
moving SKUs to an alternate line are what the production plan does by itself when they are
the cheapest (``planning.solve_plan``): building the plan applies them.

**What the plan makes of it** (``plan_weeks`` given): the production plan's linear program is
solved once for the scenario, and

- ``hour_value`` is the shadow price of the line-week's hours: what one more hour there would
  save the plan (the overtime rate while the plan still has overtime to use, up to the cost of
  the demand it cannot meet; zero where the line has hours to spare);
- ``plan_saving`` is what the action saves the plan: for an action the scenario can hold, the
  plan without it less the plan with it (solved again with the action in the scenario), counted
  on what meeting the demand costs beyond materials (holding, overtime, unmet demand, stock
  below safety: ``ProductionPlan.cost_beyond_materials``; a lever's materials are in its
  margin change); for building earlier and alternate lines, which the plan already takes when
  they pay, the hours at their shadow prices (gained in the week, given up where they come
  from);
- ``net_cost`` is the cost less that saving: below zero, the action pays for itself.

At scale: only the ``MOST_LINE_WEEKS`` line-weeks with the biggest overloads get actions, and
a plan big enough to be solved in parts (``planning.PART_VARIABLES``; 20,000 SKUs take about
half a minute) is not solved again per action: an action the scenario can hold is then priced
like the others, its hours at the line-week's shadow price (the first-order saving, exact
while the hours stay within the shadow price's range).

Ranked: the biggest overload first; within it, the actions that close the gap, cheapest
first, then the partial ones by cost per hour. With the plan, "cost" there is ``net_cost``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sop_core.scenario.levers import ScenarioResult, apply_scenario
from sop_core.scenario.model import CapacityChange, Lever, Scenario
from sop_core.supply import planning
from sop_core.supply.capacity import load_view
from sop_core.supply.planning import PlanSettings, SupplyData, solve_plan

MOST_LINE_WEEKS = 100
"""Line-weeks (the biggest overloads first) that get actions: every one in the sample (6
lines x 13 weeks), the worst 100 of a company with thousands of lines."""

WEEKEND_PREMIUM = 0.5  # a Saturday shift costs the overtime rate plus half
BUILD_AHEAD_WEEKS = 4
MOVE_WEEKS = 3  # how far a promotion may move to a week the line can take it
COLUMNS = [
    "line",
    "line_name",
    "week",
    "gap_hours",
    "kind",
    "action",
    "hours",
    "cost",
    "hour_value",
    "plan_saving",
    "net_cost",
    "closes_gap",
    "volume_change",
    "revenue_change",
    "margin_change",
]


@dataclass
class Action:
    """One way to recover hours on a line-week (``action`` says what, without the line and
    week, which are its own fields)."""

    line: str
    line_name: str
    week: dt.date
    gap_hours: float
    kind: str
    action: str
    hours: float
    cost: float
    volume_change: float = 0.0
    revenue_change: float = 0.0
    margin_change: float = 0.0
    capacity: CapacityChange | None = None
    lever: Lever | None = None  # the trimmed lever
    replaces: Lever | None = None  # the lever it replaces
    hour_value: float = float("nan")  # the plan's shadow price of the line-week's hours
    plan_saving: float = float("nan")  # what it saves the plan (see the module)
    # Hours it takes from the line's earlier weeks ((week index, hours); building earlier) or
    # puts on other lines ((line index, hours); an alternate line), priced in the saving.
    takes_from: tuple[tuple[int, float], ...] = ()
    # The scenario maths with the action in it, where finding the action made it already (a
    # trimmed or moved promotion), so pricing it does not compute it again.
    after: ScenarioResult | None = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def closes_gap(self) -> bool:
        return self.hours >= self.gap_hours - 1e-6

    @property
    def net_cost(self) -> float:
        """The cost less what it saves the plan (the cost itself without a plan)."""
        return self.cost - (0.0 if np.isnan(self.plan_saving) else self.plan_saving)

    @property
    def holdable(self) -> bool:
        """Whether a scenario can hold it (a capacity change or a changed lever)."""
        return self.capacity is not None or self.lever is not None

    def applied_to(self, scenario: Scenario) -> Scenario:
        """``scenario`` with this action in it (unchanged for actions the plan takes)."""
        if self.capacity is not None:
            return dataclasses.replace(scenario, capacity=[*scenario.capacity, self.capacity])
        if self.lever is not None and self.replaces is not None:
            return _scenario_with(scenario, self.replaces, self.lever)
        return scenario


def recommend(
    scenario: Scenario,
    result: ScenarioResult,
    supply: SupplyData,
    settings: PlanSettings | None = None,
    weeks: int | None = None,
    plan_weeks: int | None = None,
) -> list[Action]:
    """Every action for every overloaded line-week of ``result`` (its first ``weeks``
    weeks), ranked (see the module). With ``plan_weeks``, each is priced by the production
    plan over that many weeks (``hour_value``, ``plan_saving``, ``net_cost``)."""
    settings = settings or PlanSettings()
    view = load_view(result)
    gap = view.gap_hours[:, :weeks]
    actions: list[Action] = []
    lines, columns = np.nonzero(gap > 1e-6)
    worst = np.argsort(-gap[lines, columns], kind="stable")[:MOST_LINE_WEEKS]
    for li, w in sorted(zip(lines[worst], columns[worst], strict=True)):
        actions.extend(_for_line_week(scenario, result, supply, settings, view, li, w))
    if plan_weeks is not None and actions:
        _price_with_plan(actions, scenario, result, supply, settings, plan_weeks)
    return sorted(
        actions,
        key=lambda a: (
            -a.gap_hours,  # the biggest overload first, then its actions
            a.line,
            a.week,
            not a.closes_gap,
            a.net_cost if a.closes_gap else a.net_cost / max(a.hours, 1e-9),
        ),
    )


def frame(actions: list[Action]) -> pd.DataFrame:
    """The actions as a table (``COLUMNS``)."""
    return pd.DataFrame([[getattr(a, c) for c in COLUMNS] for a in actions], columns=COLUMNS)


def _price_with_plan(
    actions: list[Action],
    scenario: Scenario,
    result: ScenarioResult,
    supply: SupplyData,
    settings: PlanSettings,
    plan_weeks: int,
) -> None:
    """Set each action's ``hour_value`` and ``plan_saving`` from the plan (see the module)."""
    plan = solve_plan(result, supply, settings, plan_weeks)
    value = plan.hour_value
    weeks = result.base.weeks[:plan_weeks].astype("datetime64[D]").astype(dt.date)
    column = {week: i for i, week in enumerate(weeks)}
    lines = {str(line): i for i, line in enumerate(result.base.lines)}
    solved: dict[str, float] = {}  # the plan's cost with each scenario tried
    routes, periods = len(supply.routes), len(plan.periods)
    again = (routes + 4 * len(result.base.skus)) * periods <= planning.PART_VARIABLES
    for action in actions:
        li, w = lines[action.line], column.get(action.week)
        if w is None:
            continue  # beyond the plan's weeks
        action.hour_value = float(value[li, w])
        if action.holdable and not again:  # too big to solve again per action
            action.plan_saving = action.hours * value[li, w]
            action.after = None
        elif action.holdable:
            changed = action.applied_to(scenario)
            key = changed.to_json()
            if key not in solved:
                after = action.after or apply_scenario(result.base, changed)
                solved[key] = solve_plan(after, supply, settings, plan_weeks).cost_beyond_materials
            action.plan_saving = plan.cost_beyond_materials - solved[key]
            action.after = None  # priced: not kept (the app caches the actions)
        elif action.kind == "build earlier":
            action.plan_saving = sum(
                hours * (value[li, w] - value[li, earlier]) for earlier, hours in action.takes_from
            )
        else:  # alternate line: freed here, used on the other line
            action.plan_saving = action.hours * value[li, w] - sum(
                hours * value[other, w] for other, hours in action.takes_from
            )


def _for_line_week(
    scenario: Scenario,
    result: ScenarioResult,
    supply: SupplyData,
    settings: PlanSettings,
    view,
    li: int,
    w: int,
) -> list[Action]:
    base = result.base
    week = base.weeks[w].astype("datetime64[D]").astype(dt.date)
    line, name = str(base.lines[li]), str(base.line_names[li])
    gap = float(view.gap_hours[li, w])
    standard = float(supply.standard_hours[li])

    def action(kind: str, text: str, hours: float, cost: float, **more) -> Action:
        return Action(line, name, week, gap, kind, text, float(hours), float(cost), **more)

    found = []
    limit = standard * settings.overtime_share
    if limit > 0:
        hours = min(gap, limit)
        found.append(
            action(
                "overtime",
                f"{hours:,.0f} h of overtime",
                hours,
                hours * settings.overtime_cost_per_hour,
                capacity=CapacityChange(line, week, week, round(hours, 1), "Overtime"),
            )
        )
    shift = standard / 5
    if shift > 0:
        found.append(
            action(
                "saturday shift",
                f"a Saturday shift ({shift:,.0f} h)",
                min(gap, shift),
                shift * settings.overtime_cost_per_hour * (1 + WEEKEND_PREMIUM),
                capacity=CapacityChange(line, week, week, round(shift, 1), "Saturday shift"),
            )
        )
    found.extend(_build_earlier(result, settings, view, li, w, action))
    found.extend(_alternate_lines(result, supply, settings, view, li, w, action))
    found.extend(_trim_promotions(scenario, result, li, w, action))
    found.extend(_move_promotions(scenario, result, view, li, w, action))
    return found


def _line_hours_per_unit(result: ScenarioResult, li: int, w: int) -> float:
    """The line's average hours per unit for the week's mix."""
    base = result.base
    on_line = base.line_index == li
    units = result.revised[on_line, w]
    hours = (units * base.hours_per_unit[on_line]).sum()
    return float(hours / units.sum()) if units.sum() > 0 else 0.0


def _build_earlier(result, settings, view, li, w, action) -> list[Action]:
    base = result.base
    spare = np.maximum(view.available[li] - view.hours[li], 0.0)
    first = max(0, w - BUILD_AHEAD_WEEKS)
    if w == 0 or spare[first:w].sum() <= 0:
        return []
    gap = float(view.gap_hours[li, w])
    hours_per_unit = _line_hours_per_unit(result, li, w)
    if hours_per_unit <= 0:
        return []
    on_line = base.line_index == li
    hold = float(np.average(base.unit_cost[on_line])) * settings.holding_rate_per_year / 52.0
    taken, cost, used = 0.0, 0.0, []
    for earlier in range(w - 1, first - 1, -1):  # the latest spare weeks first: least holding
        hours = min(spare[earlier], gap - taken)
        if hours <= 0:
            continue
        taken += hours
        cost += hours / hours_per_unit * hold * (w - earlier)
        used.append((earlier, float(hours)))
        if taken >= gap - 1e-9:
            break
    return [
        action(
            "build earlier",
            f"build {taken / hours_per_unit:,.0f} units up to {BUILD_AHEAD_WEEKS} weeks ahead",
            taken,
            cost,
            takes_from=tuple(used),
        )
    ]


def _alternate_lines(result, supply, settings, view, li, w, action) -> list[Action]:
    base = result.base
    routes = supply.routes
    alternates = routes[routes["alternate"].to_numpy()]
    found = []
    spare = np.maximum(view.available[:, w] - view.hours[:, w], 0.0)
    gap = float(view.gap_hours[li, w])
    for target, group in alternates.groupby("line_index"):
        skus = group["sku_index"].to_numpy()
        movable = base.line_index[skus] == li
        if not movable.any() or spare[target] <= 0:
            continue
        skus, hours_there = skus[movable], group["hours_per_unit"].to_numpy()[movable]
        units = result.revised[skus, w]
        freed = units * base.hours_per_unit[skus]  # hours off this line
        needed = units * hours_there  # hours on the other line
        share = min(1.0, spare[target] / max(needed.sum(), 1e-9), gap / max(freed.sum(), 1e-9))
        if share <= 0:
            continue
        premium = base.unit_cost[skus] * settings.alternate_premium
        found.append(
            action(
                "alternate line",
                f"make {share * units.sum():,.0f} units ({len(skus)} SKUs) on "
                f"{base.line_names[target]}",
                share * freed.sum(),
                share * float((units * premium).sum()),
                takes_from=((int(target), float(share * needed.sum())),),
            )
        )
    return found


def _trim_promotions(scenario: Scenario, result: ScenarioResult, li: int, w: int, action):
    """Halve the discount of each promotion lever of the scenario that runs that week on the
    line's SKUs: the hours freed and what the volume, revenue and margin lose."""
    base = result.base
    week = base.weeks[w].astype("datetime64[D]").astype(dt.date)
    found = []
    for lever in _promotions_loading(scenario, base, li, week):
        trimmed = dataclasses.replace(lever, discount=round(lever.discount / 2, 4))
        after = apply_scenario(base, _scenario_with(scenario, lever, trimmed))
        freed = float(result.hours[li, w] - after.hours[li, w])
        if freed <= 0:
            continue
        text = (
            f"trim {lever.target or 'all'}'s promotion {lever.discount:.0%} → "
            f"{trimmed.discount:.0%}"
        )
        found.append(
            _lever_action(action, "trim promotion", text, freed, result, after, trimmed, lever)
        )
    return found


def _move_promotions(scenario: Scenario, result: ScenarioResult, before, li: int, w: int, action):
    """Move each promotion lever of the scenario that loads the line that week to the nearest
    week (up to ``MOVE_WEEKS`` later or earlier, within the horizon) where the line can take
    it: the hours that frees that week and what the move does to margin."""
    base = result.base
    weeks = base.weeks.astype("datetime64[D]").astype(dt.date)
    week = weeks[w]
    found = []
    for lever in _promotions_loading(scenario, base, li, week):
        start, end = lever.start_week or weeks[0], lever.end_week or weeks[-1]
        for shift in (1, -1, 2, -2, 3, -3)[: 2 * MOVE_WEEKS]:
            moved = dataclasses.replace(
                lever,
                start_week=start + dt.timedelta(weeks=shift),
                end_week=end + dt.timedelta(weeks=shift),
            )
            if moved.start_week < weeks[0] or moved.end_week > weeks[-1]:
                continue
            after = apply_scenario(base, _scenario_with(scenario, lever, moved))
            view = load_view(after)
            if view.gap_hours[li, w] > 1e-6:
                continue
            touched = slice(
                max(0, w - MOVE_WEEKS), min(len(weeks), w + MOVE_WEEKS + 2)
            )  # the weeks it lands in must not overload more than before
            if view.gap_hours[li, touched].sum() > before.gap_hours[li, touched].sum():
                continue
            text = (
                f"move {lever.target or 'all'}'s {lever.discount:.0%} promotion "
                f"{abs(shift)} wk {'later' if shift > 0 else 'earlier'}"
            )
            freed = float(result.hours[li, w] - after.hours[li, w])
            found.append(
                _lever_action(action, "move promotion", text, freed, result, after, moved, lever)
            )
            break
    return found


def _scenario_with(scenario: Scenario, lever: Lever, replacement: Lever) -> Scenario:
    """``scenario`` with ``lever`` replaced by ``replacement``."""
    levers = [replacement if item == lever else item for item in scenario.levers]
    return dataclasses.replace(scenario, levers=levers)


def _lever_action(
    action, kind: str, text: str, hours: float, result, after, lever: Lever, replaces: Lever
) -> Action:
    """An action that changes a promotion lever: its cost is the margin it loses; the volume,
    revenue and margin changes are over the whole horizon."""
    margin = float(after.margin.sum() - result.margin.sum())
    return action(
        kind,
        text,
        hours,
        max(-margin, 0.0),
        volume_change=float(after.revised.sum() - result.revised.sum()),
        revenue_change=float(after.revenue.sum() - result.revenue.sum()),
        margin_change=margin,
        lever=lever,
        replaces=replaces,
        after=after,
    )


def _promotions_loading(scenario: Scenario, base, li: int, week: dt.date) -> list[Lever]:
    """The scenario's promotion levers running in ``week`` on SKUs of line ``li``."""
    return [
        lever
        for lever in scenario.levers
        if lever.kind == "promotion"
        and lever.discount > 0
        and not (lever.start_week and week < lever.start_week)
        and not (lever.end_week and week > lever.end_week)
        and (base.scope_mask(lever.scope, lever.target) & (base.line_index == li)).any()
    ]
