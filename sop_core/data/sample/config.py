"""The sample's size and seed (``SampleConfig``) and the weeks it spans: the history, then
the future covered by planned promotions, price changes and capacity exceptions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sop_core.data.calendar import last_complete_week
from sop_core.data.errors import InputError
from sop_core.data.fiscal import FiscalCalendar
from sop_core.data.sample.families import FAMILIES
from sop_core.data.sample.mixes import Mix, mix_named

MAX_SKU_WEEKS = 3_200_000
"""The largest sample (SKUs x history weeks): 20,000 SKUs x 160 weeks peaks at about 4 GB of
memory while it is generated (9 million weekly sales rows with their channels)."""


@dataclass(frozen=True)
class SampleConfig:
    """Size and seed of a sample company.

    Parameters
    ----------
    skus
        Number of SKUs (at least 5: one per family).
    weeks
        Weeks of sales history (at least 104, two years).
    seed
        Random seed; the same seed and ``as_of`` give the same database.
    as_of
        The history ends with the last complete week before this date (default: today).
    future_weeks
        Weeks after the history covered by planned promotions and price changes; capacity
        exceptions cover at least ``CAPACITY_FUTURE_WEEKS`` (78), the longest horizon planned.
    lines
        Production lines (default: about 6 per 40 SKUs).
    mix
        The kind of demand, a name in ``mixes.MIXES``: ``standard`` (the default),
        ``promotion-heavy``, ``intermittent`` or ``short-history``.
    fiscal
        The company's fiscal calendar (default: calendar months from January).
    """

    skus: int = 40
    weeks: int = 160
    seed: int = 7
    as_of: dt.date | None = None
    future_weeks: int = 52
    lines: int | None = None
    mix: str = "standard"
    fiscal: FiscalCalendar = field(default_factory=FiscalCalendar)

    @property
    def mix_parameters(self) -> Mix:
        """The generator parameters of ``mix`` (``InputError`` for an unknown name)."""
        return mix_named(self.mix)

    def validated(self) -> SampleConfig:
        """Return the config with ``as_of`` filled in, or raise ``InputError``."""
        if not 5 <= self.skus <= 20_000:
            raise InputError(f"--skus must be between 5 and 20000 (got {self.skus}).")
        if not 104 <= self.weeks <= 520:
            raise InputError(f"--weeks must be between 104 and 520 (got {self.weeks}).")
        if not 0 <= self.seed <= 2**32 - 1:
            raise InputError(f"--seed must be between 0 and {2**32 - 1} (got {self.seed}).")
        if not 13 <= self.future_weeks <= 104:
            raise InputError("future_weeks must be between 13 and 104.")
        if self.skus * self.weeks > MAX_SKU_WEEKS:
            raise InputError(
                f"--skus x --weeks is {self.skus * self.weeks:,}; the most a sample can hold "
                f"in memory here is {MAX_SKU_WEEKS:,} (for example 20,000 SKUs x 160 weeks or "
                "6,000 SKUs x 520 weeks)."
            )
        as_of = self.as_of or dt.date.today()
        if not dt.date(2000, 1, 1) <= as_of <= dt.date(2100, 12, 31):
            raise InputError(f"--as-of must be between 2000-01-01 and 2100-12-31 (got {as_of}).")
        if self.lines is not None and not len(FAMILIES) <= self.lines <= self.skus:
            raise InputError(
                f"--lines must be between {len(FAMILIES)} (one per family) and the number of "
                f"SKUs (got {self.lines})."
            )
        mix_named(self.mix)  # InputError for an unknown mix, naming the known ones
        return dataclasses.replace(self, as_of=as_of)


@dataclass(frozen=True)
class Weeks:
    """Every week the generator simulates: ``history`` weeks, then the planned future."""

    all: pd.DatetimeIndex
    history: int

    @property
    def count(self) -> int:
        return len(self.all)

    @property
    def history_weeks(self) -> pd.DatetimeIndex:
        return self.all[: self.history]

    @property
    def years(self) -> np.ndarray:
        """The calendar year of each week."""
        return np.array(self.all.year)


def sample_weeks(config: SampleConfig) -> Weeks:
    """The weeks of a validated config: the history ends with the last complete week before
    ``as_of``; the future follows it."""
    last_week = pd.Timestamp(last_complete_week(config.as_of))
    history = pd.date_range(end=last_week, periods=config.weeks, freq="7D")
    future = pd.date_range(last_week + pd.Timedelta(days=7), periods=config.future_weeks, freq="7D")
    return Weeks(history.append(future), config.weeks)


CAPACITY_FUTURE_WEEKS = 78
"""Weeks after the history the capacity calendar covers at least: the longest horizon the
meeting plans (18 months), so every planned week has its shutdowns and added shifts. The
calendar draws nothing at random, so covering more weeks changes no other table."""


def capacity_weeks(weeks: Weeks) -> Weeks:
    """``weeks`` with the future extended to ``CAPACITY_FUTURE_WEEKS`` when it is shorter."""
    missing = CAPACITY_FUTURE_WEEKS - (weeks.count - weeks.history)
    if missing <= 0:
        return weeks
    extra = pd.date_range(weeks.all[-1] + pd.Timedelta(days=7), periods=missing, freq="7D")
    return Weeks(weeks.all.append(extra), weeks.history)
