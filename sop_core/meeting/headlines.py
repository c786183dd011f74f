"""The meeting's agenda and one headline sentence per step: what the room should take away
from each screen, in words, from the same figures the pages show.

- ``AGENDA``: the steps' titles, the one list the Overview's agenda and Present mode read;
- ``where_we_stand``: the revised target, the peak demand load and what the production plan
  leaves unmet (``cockpit.overview``'s KPIs and peaks);
- ``demand_review``: the consensus of the next weeks against last year and the statistical
  forecast (``demand.cube.next_weeks``);
- ``supply_review``: the line furthest over its hours, over which weeks, and the recommended
  fix (``supply.capacity.LoadView.frame`` and ``supply.actions.recommend``);
- ``reconciliation``: the options side by side (``comparison.compare``) and what moved since
  the plan of record (``changes.what_changed``);
- ``decisions``: what is open in the decisions log and what is overdue (``decisions.decision_log``).

Sentences are plain text (names people typed are quoted as typed: escape them where they are
shown); numbers and weeks are written by ``sop_core.data.formats``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sop_core.data import formats
from sop_core.supply.loads import KPI_WEEKS

if TYPE_CHECKING:  # the Overview reads AGENDA: no production plan's imports for it
    from sop_core.supply.actions import Action
    from sop_core.supply.loads import Peak

AGENDA = (
    "Where we stand",
    "1. Demand review",
    "2. Supply review",
    "3. Reconciliation: options and what changed",
    "4. Decisions",
)
"""The meeting's steps in order: Present mode's slide titles and the Overview's agenda."""

QUOTE_LIMIT = 90  # a decision quoted in a headline is cut to this many characters


def where_we_stand(
    kpis: dict[str, float], peaks: dict[str, Peak], weeks: int, currency: str
) -> str:
    """The revised target and its revenue over the next ``weeks``, where the demand load
    peaks, and what the production plan leaves unmet or takes in overtime.

    ``kpis`` and ``peaks`` are ``cockpit.Overview``'s (``target``, ``revenue``,
    ``unmet_units``; ``demand_load`` and ``planned_load``).
    """
    sentence = (
        f"The next {weeks} weeks ask for {formats.compact(kpis['target'])} units "
        f"({formats.money(kpis['revenue'], currency)})"
    )
    demand = peaks.get("demand_load")
    if demand is not None and demand.week is not None:
        sentence += (
            f"; demand load peaks at {demand.shown} on {demand.line_name or demand.line} "
            f"in {_week(demand.week)}"
        )
    planned = peaks.get("planned_load")
    unmet = kpis.get("unmet_units", float("nan"))
    if planned is None or planned.week is None or formats.missing(unmet):
        return sentence + "."
    if unmet > 0.5:
        return sentence + f", and the production plan leaves {formats.units(unmet)} units unmet."
    if planned.overtime_hours > 0.5:
        return (
            sentence + f", and the production plan meets it all with "
            f"{formats.units(planned.overtime_hours)} h of overtime."
        )
    return sentence + ", and the production plan meets it all in regular hours."


def demand_review(next_weeks: pd.DataFrame) -> str:
    """The consensus over the weeks of ``next_weeks`` (``demand.cube.next_weeks``: ``week,
    statistical, consensus, last_year``) against the same weeks a year earlier and the
    statistical forecast, and its busiest week."""
    if next_weeks.empty:
        return "There is no forecast for the weeks ahead."
    weeks = len(next_weeks)
    consensus = float(next_weeks["consensus"].sum())
    statistical = float(next_weeks["statistical"].sum())
    last_year = float(next_weeks["last_year"].fillna(0).sum())
    sentence = f"The consensus for the next {weeks} weeks is {formats.compact(consensus)} units"
    if last_year > 0:
        sentence += f", {_versus(consensus, last_year)} the same weeks last year"
    team = consensus - statistical
    if abs(team) < 0.5:
        sentence += " and the same as the statistical forecast"
    else:
        sentence += (
            f" and {_versus(consensus, statistical)} the statistical forecast "
            f"({_signed(team)} units of overrides)"
        )
    busiest = next_weeks.loc[next_weeks["consensus"].idxmax()]
    return (
        sentence + f"; the busiest week is {formats.week(busiest['week'])} with "
        f"{formats.compact(busiest['consensus'])} units."
    )


def supply_review(
    load: pd.DataFrame,
    actions: Sequence[Action] = (),
    currency: str = "EUR",
    weeks: int = KPI_WEEKS,
) -> str:
    """The line furthest over its hours in the first ``weeks`` weeks and what would fix it.

    ``load`` is ``LoadView.frame()`` (``line, line_name, week, needed_hours,
    available_hours, utilisation``). An overload is a run of consecutive weeks where a line
    needs more hours than it has; the headline names the run with the most hours missing and
    says how far over the line is across it (its hours needed over its hours available, less
    one). ``actions`` are ``actions.recommend``'s for the same scenario, ranked: the fix named
    is the first one that closes the gap of the run's worst week, else the first one for that
    week (which closes part of it).
    """
    shown = sorted(load["week"].unique())[:weeks]
    inside = load[load["week"].isin(shown)].copy()
    inside["gap"] = np.maximum(inside["needed_hours"] - inside["available_hours"], 0.0)
    inside["gap"] = inside["gap"].where(inside["available_hours"] > 0, 0.0)
    runs = _overload_runs(inside, shown)
    if not runs:
        known = inside.dropna(subset=["utilisation"])
        if known.empty:
            return f"No line has available hours in the next {len(shown)} weeks."
        busiest = known.loc[known["utilisation"].idxmax()]
        return (
            f"Every line fits its available hours over the next {len(shown)} weeks; the "
            f"busiest is {_line(busiest)} at {busiest['utilisation']:.0%} in "
            f"{_week(busiest['week'])}."
        )
    worst = max(runs, key=lambda run: run["gap"].sum())
    over = worst["needed_hours"].sum() / worst["available_hours"].sum() - 1
    first, last = worst["week"].iloc[0], worst["week"].iloc[-1]
    line = worst["line"].iloc[0]
    sentence = f"{_line(worst.iloc[0])} is {over:.0%} over its hours in {_weeks(first, last)}"
    others = len({run["line"].iloc[0] for run in runs} - {line})
    if others:
        sentence += f", and {_count(others, 'other line')} {'is' if others == 1 else 'are'} over"
    peak = worst.loc[worst["gap"].idxmax()]
    fixes = [
        a
        for a in actions
        if a.line == line and formats.monday(a.week) == formats.monday(peak["week"])
    ]
    if not fixes:
        return sentence + "."
    closing = next((a for a in fixes if a.closes_gap), None)
    if closing is not None:
        return (
            sentence + f"; to close {_week(peak['week'])}: "
            f"{closing.action}, {formats.money(closing.cost, currency)}."
        )
    partial = fixes[0]
    return (
        sentence + f"; no single action closes {_week(peak['week'])}: "
        f"{partial.action} recovers {formats.units(partial.hours)} of the "
        f"{formats.units(partial.gap_hours)} h missing."
    )


def reconciliation(
    options: pd.DataFrame | None,
    changes: pd.DataFrame | None,
    currency: str = "EUR",
    weeks: int = KPI_WEEKS,
) -> str:
    """The options side by side and what moved since the plan of record.

    ``options`` is ``comparison.compare``'s table (the first row the reference, usually the
    baseline) over ``weeks`` weeks; ``changes`` is ``changes.what_changed``'s waterfall (None
    when nothing is approved).
    """
    parts = []
    if options is not None and len(options) >= 2:
        reference = options.iloc[0]
        others = options.iloc[1:]
        best = others.loc[others["margin"].idxmax()]
        gain = float(best["margin"] - reference["margin"])
        if gain > 0.5:
            part = (
                f"{best['scenario']} earns {formats.money(gain, currency)} more gross margin "
                f"than {reference['scenario']} over the next {weeks} weeks"
            )
            strain = []
            if best["peak_demand_load"] > 1:
                strain.append(f"a peak demand load of {best['peak_demand_load']:.0%}")
            if best["unmet_units"] > 0.5:
                strain.append(f"{formats.units(best['unmet_units'])} units unmet")
            if strain:
                part += " with " + " and ".join(strain)
        else:
            part = (
                f"no option earns more gross margin than {reference['scenario']}; the "
                f"closest, {best['scenario']}, gives up {formats.money(-gain, currency)}"
            )
        parts.append(part)
    elif options is not None and len(options) == 1:
        parts.append(f"{options.iloc[0]['scenario']} is the only option: no scenario is saved")
    if changes is not None and len(changes) >= 2:
        before, now = float(changes["volume"].iloc[0]), float(changes["volume"].iloc[-1])
        causes = changes.iloc[1:-1]
        version = changes.attrs.get("version", "?")
        if abs(now - before) < 0.5:
            parts.append(f"the revised target has not moved since plan of record v{version}")
        else:
            part = (
                f"since plan of record v{version} the revised target moved "
                f"{_signed(now - before)} units"
            )
            moved = formats.relative_change(now, before)
            if moved is not None:
                part += f" ({moved})"
            if not causes.empty and causes["volume"].abs().max() > 0.5:
                biggest = causes.loc[causes["volume"].abs().idxmax()]
                part += f", most of it from {biggest['cause']} ({_signed(biggest['volume'])})"
            parts.append(part)
    if not parts:
        return "No saved scenario and no plan of record yet: there is nothing to weigh."
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def decisions(log: pd.DataFrame) -> str:
    """What is open in the decisions log (``decisions.decision_log``: ``kind, text, owner,
    due_date, status, state``) and the most overdue item."""
    open_items = log[log["status"] == "open"]
    if open_items.empty:
        return "Nothing is open in the decisions log: record what this meeting decides."
    to_take = int((open_items["kind"] == "decision").sum())
    to_check = int((open_items["kind"] == "assumption").sum())
    counts = [
        _count(to_take, "decision") + " to take" if to_take else "",
        _count(to_check, "assumption") + " to check" if to_check else "",
    ]
    sentence = " and ".join(part for part in counts if part)
    late = open_items[open_items["state"].isin(["overdue", "expired"])]
    if late.empty:
        return sentence[0].upper() + sentence[1:] + "; none is overdue."
    oldest = late.sort_values("due_date").iloc[0]
    return (
        sentence[0].upper() + sentence[1:] + f"; {len(late)} overdue, the oldest "
        f"\u201c{_quoted(oldest['text'])}\u201d, due {formats.date(oldest['due_date'])}, "
        f"owner {oldest['owner']}."
    )


def _overload_runs(inside: pd.DataFrame, shown: list) -> list[pd.DataFrame]:
    """Each line's runs of consecutive weeks (of ``shown``) with hours missing, in order."""
    position = {week: index for index, week in enumerate(shown)}
    runs = []
    for _, rows in inside.groupby("line", sort=True):
        rows = rows.sort_values("week")
        over = rows[rows["gap"] > 1e-6]
        if over.empty:
            continue
        index = over["week"].map(position).to_numpy()
        breaks = np.flatnonzero(np.diff(index) != 1) + 1
        runs.extend(over.iloc[part] for part in np.split(np.arange(len(over)), breaks))
    return runs


def _quoted(text: object) -> str:
    """Text someone typed, cut at a word to ``QUOTE_LIMIT`` characters, its full stop off."""
    text = " ".join(str(text).split()).rstrip(".")
    if len(text) <= QUOTE_LIMIT:
        return text
    cut = text[: QUOTE_LIMIT - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "\u2026"


def _versus(value: float, base: float) -> str:
    """``value`` against ``base`` in words: ``2.4% above``, ``1.0% below``, ``level with``."""
    moved = value / base - 1
    if abs(moved) < 0.0005:
        return "level with"
    return f"{formats.percent(abs(moved))} {'above' if moved > 0 else 'below'}"


def _line(row: pd.Series) -> str:
    name = row.get("line_name")
    return str(name) if isinstance(name, str) and name else str(row["line"])


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _signed(value: float) -> str:
    """A change in units, compact and signed: ``+12.3k``, ``-830``."""
    text = formats.compact(value)
    return text if text.startswith("-") or text == formats.MISSING else f"+{text}"


# Load peaks are weekly facts: said of "week W52 · 21 Dec" so that they read as weeks next to
# figures by month or quarter.
def _week(day: object) -> str:
    return f"week {formats.week(day)}"


def _weeks(first: object, last: object) -> str:
    span = formats.weeks_span(first, last)
    return f"week{'s' if formats.monday(first) != formats.monday(last) else ''} {span}"
