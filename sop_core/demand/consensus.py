"""Consensus overrides: the team's changes to the statistical forecast, and their history.

Consensus = statistical forecast + overrides, applied in the order they were made, at the
grain of SKU x channel x week. An override names a scope (the total, a family, a brand, a
channel or a SKU), a range of weeks and a change: a percentage, units per week to add (or take
away), or a volume per week to set. A change in units is spread down to the scope's SKUs and
channels in proportion to the statistical forecast, so the scope's total moves by exactly the
override. Overrides are never deleted: undo marks one undone, and the history keeps who did
what, when, why, and the scope's volume before and after.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

import duckdb
import numpy as np
import pandas as pd

from sop_core.data import access
from sop_core.data.calendar import week_start
from sop_core.data.errors import InputError
from sop_core.data.stores import forecast_runs, overrides
from sop_core.demand.fences import TimeFences, frozen_warning

LEVELS = ("total", "family", "brand", "channel", "sku")
MODES = ("percent", "units", "set")
LARGE_CHANGE = 0.5
"""An override moving its scope's volume by more than this share is confirmed first (the
Demand page asks; the CLI takes ``--yes``)."""
MODE_LABELS = {
    "percent": "Change by %",
    "units": "Add units per week",
    "set": "Set units per week",
}


class Grid(Protocol):
    """What an override is applied on: the labels of a SKU x channel x week array (a
    ``PlanBase``, or ``Labels``)."""

    skus: np.ndarray
    families: np.ndarray
    brands: np.ndarray
    channels: np.ndarray
    weeks: np.ndarray  # datetime64[D], Mondays


@dataclass(frozen=True)
class Labels:
    """Just the labels of a SKU x channel x week array."""

    skus: np.ndarray
    families: np.ndarray
    brands: np.ndarray
    channels: np.ndarray
    weeks: np.ndarray


@dataclass(frozen=True)
class Override:
    """One change to the forecast for a scope and a range of weeks."""

    level: str
    target: str | None
    first_week: dt.date
    last_week: dt.date
    mode: str
    amount: float
    reason: str
    author: str = ""
    override_id: int | None = None

    def validated(self) -> Override:
        """The override with its weeks on Mondays, or ``InputError`` saying what is wrong."""
        if self.level not in LEVELS:
            raise InputError(f"The scope must be one of {', '.join(LEVELS)}.")
        if self.level != "total" and not self.target:
            raise InputError(f"Choose which {self.level} to change.")
        if self.mode not in MODES:
            raise InputError(f"The change must be one of {', '.join(MODES)}.")
        amount = float(self.amount)
        if not np.isfinite(amount):
            raise InputError("The change must be a number.")
        if self.mode == "percent" and amount < -100:
            raise InputError("A volume cannot fall by more than 100%.")
        if self.mode == "set" and amount < 0:
            raise InputError("A volume cannot be set below zero.")
        if not (self.reason or "").strip():
            raise InputError("Say why: a reason is required for every override.")
        first, last = week_start(self.first_week), week_start(self.last_week)
        if last < first:
            raise InputError("The last week comes before the first week.")
        return Override(
            self.level,
            None if self.level == "total" else self.target,
            first,
            last,
            self.mode,
            amount,
            self.reason.strip(),
            self.author,
            self.override_id,
        )

    def scope_text(self) -> str:
        return "Total" if self.level == "total" else f"{self.level.capitalize()} {self.target}"

    def describe(self) -> str:
        """``Family fragrance, 07 Dec - 28 Dec 2026: +10%``."""
        change = {
            "percent": f"{self.amount:+g}%",
            "units": f"{self.amount:+,.0f} units/week",
            "set": f"= {self.amount:,.0f} units/week",
        }[self.mode]
        weeks = f"{self.first_week:%d %b} - {self.last_week:%d %b %Y}"
        return f"{self.scope_text()}, {weeks}: {change}"


def scope_cells(grid: Grid, level: str, target: str | None) -> tuple[np.ndarray, np.ndarray]:
    """The SKU and channel masks of a scope (``InputError`` for an unknown name)."""
    rows = np.ones(len(grid.skus), dtype=bool)
    columns = np.ones(len(grid.channels), dtype=bool)
    if level == "total":
        return rows, columns
    if level == "channel":
        columns = grid.channels == target
        if not columns.any():
            raise InputError(f"There is no channel called {target!r}.")
        return rows, columns
    values = {"family": grid.families, "brand": grid.brands, "sku": grid.skus}.get(level)
    if values is None:
        raise InputError(f"The scope must be one of {', '.join(LEVELS)}.")
    rows = values == target
    if not rows.any():
        raise InputError(f"There is no {level} called {target!r}.")
    return rows, columns


def week_cells(grid: Grid, first: dt.date, last: dt.date) -> np.ndarray:
    """The horizon weeks from ``first`` to ``last`` (inclusive) as a boolean mask."""
    return (grid.weeks >= np.datetime64(first, "D")) & (grid.weeks <= np.datetime64(last, "D"))


def apply_override(
    consensus: np.ndarray,
    statistical: np.ndarray,
    grid: Grid,
    override: Override,
    *,
    strict: bool = False,
) -> tuple[np.ndarray, str | None]:
    """``consensus`` (SKUs x channels x weeks) with ``override`` applied, and a warning when
    it had to be cut short (a cut that would go below zero stops at zero; with ``strict``
    it raises ``InputError`` instead). Weeks outside the horizon are left alone."""
    rows, columns = scope_cells(grid, override.level, override.target)
    weeks = week_cells(grid, override.first_week, override.last_week)
    if not weeks.any():
        return consensus, None
    block = np.ix_(rows, columns, weeks)
    now = consensus[block]
    total = now.sum(axis=(0, 1))  # per week
    if override.mode == "percent":
        new = now * (1 + override.amount / 100)
        result = consensus.copy()
        result[block] = new
        return result, None
    delta = np.full(total.shape, override.amount) - (total if override.mode == "set" else 0)
    warning = None
    short = total + delta < -1e-9
    if short.any():
        message = (
            f"{override.describe()} would take the volume below zero in "
            f"{int(short.sum())} week(s): the consensus there is only "
            f"{total[short].min():,.0f} units."
        )
        if strict:
            raise InputError(message)
        warning = message + " It stops at zero there."
        delta = np.maximum(delta, -total)
    # Each week's change is spread over the scope's cells in proportion to the statistical
    # forecast of the cells still in the plan (a channel or SKU the team has set to zero stays
    # at zero). Where that cannot take a cut without a cell going below zero (after earlier
    # overrides), in proportion to the consensus; where the scope holds nothing, by the
    # statistical forecast, or evenly.
    statistical_block = statistical[block]
    new = now.copy()
    placed = np.zeros(total.shape, dtype=bool)
    for weights in (statistical_block * (now > 0), now, statistical_block, np.ones_like(now)):
        sums = weights.sum(axis=(0, 1))
        trial = now + np.divide(weights, sums, out=np.zeros_like(weights), where=sums > 0) * delta
        fits = ~placed & (sums > 0) & (trial >= -1e-9).all(axis=(0, 1))
        new[:, :, fits] = trial[:, :, fits]
        placed |= fits
    result = consensus.copy()
    result[block] = np.maximum(new, 0.0)
    return result, warning


def apply_overrides(
    statistical: np.ndarray, grid: Grid, overrides: list[Override]
) -> tuple[np.ndarray, list[str]]:
    """The consensus: ``statistical`` with every override applied in order, and warnings."""
    consensus = statistical
    warnings = []
    for override in overrides:
        consensus, warning = apply_override(consensus, statistical, grid, override)
        if warning:
            warnings.append(warning)
    return consensus, warnings


def _override(row: dict) -> Override:
    return Override(
        row["level"],
        row["target"],
        row["first_week"],
        row["last_week"],
        row["mode"],
        row["amount"],
        row["reason"],
        row["author"],
        row["override_id"],
    )


def active_overrides(
    con: duckdb.DuckDBPyConnection, cycle: dt.date | None = None
) -> list[Override]:
    """The overrides in force, in the order they were made. With ``cycle``: those in force
    in that planning cycle (made in it or before, not undone by then)."""
    frame = overrides.overrides_in_force(con, cycle)
    return [_override(row) for row in frame.to_dict("records")]


def override_cycles(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """The planning cycles overrides were made in."""
    return overrides.override_cycles(con)


def override_history(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every override, newest first, with a readable scope and change and its status: ``in
    force``, ``undone``, or ``expired`` (all its weeks are before the current forecast)."""
    frame = overrides.all_overrides(con)
    first_week = forecast_runs.latest_first_week(con)
    records = frame.to_dict("records")
    frame["scope"] = [_override(r).scope_text() for r in records]
    frame["change"] = [_override(r).describe().split(": ", 1)[1] for r in records]
    expired = (
        pd.to_datetime(frame["last_week"]) < pd.Timestamp(first_week)
        if first_week is not None
        else np.zeros(len(frame), dtype=bool)
    )
    frame["status"] = np.select(
        [frame["undone_at"].notna(), expired], ["undone", "expired"], "in force"
    )
    return frame


def scope_change(
    grid: Grid, statistical: np.ndarray, current: np.ndarray, override: Override
) -> tuple[float, float]:
    """The scope's volume over the override's weeks before and after it is applied on
    ``current`` (the consensus of the moment); ``InputError`` if it would go below zero."""
    override = override.validated()
    after, _ = apply_override(current, statistical, grid, override, strict=True)
    rows, columns = scope_cells(grid, override.level, override.target)
    block = np.ix_(rows, columns, week_cells(grid, override.first_week, override.last_week))
    return float(current[block].sum()), float(after[block].sum())


class SavedOverride(NamedTuple):
    """What ``add_override`` stored: the override's id, the scope's volume over its weeks
    before and after, and the frozen-zone warning (None when it changes no frozen week)."""

    override_id: int
    units_before: float
    units_after: float
    warning: str | None = None


def frozen_override_warning(
    grid: Grid, override: Override, fences: TimeFences | None = None
) -> str | None:
    """A warning naming the weeks of the frozen zone (``sop_core.demand.fences``) that
    ``override`` changes; None when it changes none (or changes nothing: +0%)."""
    if override.mode != "set" and not override.amount:
        return None
    weeks = week_cells(grid, override.first_week, override.last_week)
    return frozen_warning(
        f"The override ({override.describe()})", np.asarray(grid.weeks), weeks, fences
    )


def add_override(
    path: Path | str,
    grid: Grid,
    statistical: np.ndarray,
    override: Override,
    *,
    run_id: int,
    cycle: dt.date,
) -> SavedOverride:
    """Store ``override`` (made on forecast run ``run_id``): validated, checked against the
    consensus of the moment, all in one transaction. Returns its id, the scope's volume over
    its weeks before and after, and a warning when it changes weeks of the frozen zone (it is
    stored all the same: the room may decide to chase a late order). Bad input raises
    ``InputError`` and writes nothing."""
    return add_overrides(path, grid, statistical, [override], run_id=run_id, cycle=cycle)[0]


def large_change(units_before: float, units_after: float) -> bool:
    """Whether an override moves its scope by more than ``LARGE_CHANGE`` (the Demand page
    asks before saving one, the CLI wants ``--yes``): more often a slip (a % typed as units,
    "set" left at its default) than a plan."""
    return abs(units_after - units_before) > LARGE_CHANGE * units_before


def check_override(grid: Grid, override: Override) -> Override:
    """``override`` validated, its scope known and its weeks inside the forecast horizon of
    ``grid`` (``InputError`` saying what is wrong); what ``add_override`` checks before it
    opens the database."""
    override = override.validated()
    if not (override.author or "").strip():
        raise InputError("Say who you are (your name in the sidebar) before changing the plan.")
    scope_cells(grid, override.level, override.target)
    weeks = week_cells(grid, override.first_week, override.last_week)
    if not weeks.any():
        raise InputError(
            f"The weeks {override.first_week:%d %b %Y} to {override.last_week:%d %b %Y} are "
            f"outside the forecast horizon ({_date(grid.weeks[0]):%d %b %Y} to "
            f"{_date(grid.weeks[-1]):%d %b %Y})."
        )
    return override


def add_overrides(
    path: Path | str,
    grid: Grid,
    statistical: np.ndarray,
    changes: list[Override],
    *,
    run_id: int,
    cycle: dt.date,
) -> list[SavedOverride]:
    """Store ``changes`` in order, as ``add_override`` stores one, all in one transaction:
    every one is stored or none is (an overrides file). Each is checked against the consensus
    with the ones before it applied; a bad one raises ``InputError`` naming its place in the
    list (when there are several) and writes nothing. Who makes them: the first one's author."""
    checked = []
    for number, override in enumerate(changes, start=1):
        try:
            checked.append(check_override(grid, override))
        except InputError as error:
            raise _numbered(error, number, len(changes)) from None
    if not checked:
        return []
    saved = []
    with access.writing(path, checked[0].author.strip(), "override") as write:
        con = write.con
        current, _ = apply_overrides(statistical, grid, active_overrides(con))
        for number, override in enumerate(checked, start=1):
            try:
                units_before, units_after = scope_change(grid, statistical, current, override)
            except InputError as error:
                raise _numbered(error, number, len(checked)) from None
            current, _ = apply_override(current, statistical, grid, override)
            override_id = overrides.insert_override(
                con,
                {
                    "author": write.actor,
                    "level": override.level,
                    "target": override.target,
                    "first_week": override.first_week,
                    "last_week": override.last_week,
                    "mode": override.mode,
                    "amount": override.amount,
                    "reason": override.reason,
                    "run_id": run_id,
                    "cycle": cycle,
                    "units_before": units_before,
                    "units_after": units_after,
                },
            )
            write.record(
                "override add",
                f"override {override_id}",
                scope=f"{override.level} {override.target}, {override.first_week} to "
                f"{override.last_week}",
                before={"units": units_before},
                after={"units": units_after, "mode": override.mode, "amount": override.amount,
                       "reason": override.reason},
            )  # fmt: skip
            saved.append(
                SavedOverride(
                    override_id, units_before, units_after, frozen_override_warning(grid, override)
                )
            )
    return saved


def _numbered(error: InputError, number: int, count: int) -> InputError:
    """``error`` of the ``number``-th of ``count`` overrides, saying which when there are
    several."""
    return error if count == 1 else InputError(f"Override {number} of {count}: {error}")


def undo_override(path: Path | str, override_id: int, user: str, cycle: dt.date) -> None:
    """Mark an override undone (it stays in the history). Undoing one already undone says
    who did it first."""
    with access.writing(path, user.strip() or "planner", "override") as write:
        if overrides.mark_undone(write.con, override_id, write.actor, cycle):
            write.record("override undo", f"override {override_id}", before="in force",
                         after="undone")  # fmt: skip
            return
        row = overrides.undone_by(write.con, override_id)
    if row is None:
        raise InputError(f"There is no override number {override_id}.")
    raise InputError(f"Override {override_id} was already undone by {row[0]} at {row[1]:%H:%M:%S}.")


def _date(value: np.datetime64) -> dt.date:
    return value.astype("datetime64[D]").astype(dt.date)
