"""The sample's seasonality: each family's yearly wave and its holiday peaks (Black Friday
and Christmas for everything; Valentine's and Mother's Day for gifts), and the Black Friday
weeks that promotions crowd into.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from sop_core.data.calendar import retail_holidays
from sop_core.data.sample.catalogue import Catalogue
from sop_core.data.sample.config import Weeks
from sop_core.data.sample.families import FAMILIES


def _week_of_year_angle(weeks: pd.DatetimeIndex) -> np.ndarray:
    return 2 * np.pi * (weeks.dayofyear.to_numpy() + 3) / 365.25


def _holiday_profile(weeks: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """Per holiday, the share of its lift that falls in each week (shopping happens before)."""
    index = {w.date(): i for i, w in enumerate(weeks)}
    profile = {
        name: np.zeros(len(weeks))
        for name in ("Black Friday", "Christmas", "Valentine's Day", "Mother's Day")
    }
    # Weeks relative to the week containing the holiday -> share of the lift.
    shape = {
        "Black Friday": {0: 1.0},
        "Christmas": {-2: 0.55, -1: 1.0, 0: 0.45},
        "Valentine's Day": {-1: 0.5, 0: 1.0},
        "Mother's Day": {0: 1.0, -1: 0.3},
    }
    years = range(weeks.min().year - 1, weeks.max().year + 2)
    for holiday in retail_holidays(years):
        for offset, weight in shape[holiday.name].items():
            key = holiday.week + dt.timedelta(days=7 * offset)
            if key in index:
                profile[holiday.name][index[key]] = max(profile[holiday.name][index[key]], weight)
    return profile


def seasonal_profile(catalogue: Catalogue, weeks: Weeks) -> np.ndarray:
    """Each SKU's seasonal factor by week (SKU, week): its family's yearly wave times its
    holiday lifts; flat for intermittent SKUs, whose rare orders follow no season."""
    angle = _week_of_year_angle(weeks.all)
    peak = catalogue.per_family("season_peak_day") / 365.25 * 2 * np.pi
    amplitude = catalogue.per_family("season_amplitude")
    season = np.exp(amplitude[:, None] * np.cos(angle[None, :] - peak[:, None]))
    for name, shape in _holiday_profile(weeks.all).items():
        lift = np.array([FAMILIES[f].holiday_lift.get(name, 0.0) for f in catalogue.family_of])
        season = season * (1 + lift[:, None] * shape[None, :])
    season[catalogue.is_intermittent] = 1.0
    return season


def black_friday_weeks(weeks: Weeks) -> np.ndarray:
    """Whether each week holds Black Friday."""
    years = weeks.years
    black_friday = np.zeros(weeks.count, dtype=bool)
    for holiday in retail_holidays(range(years.min(), years.max() + 1)):
        if holiday.name == "Black Friday":
            black_friday |= np.array(weeks.all.date == holiday.week)
    return black_friday
