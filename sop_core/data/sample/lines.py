"""The sample's production lines: how many per family, crewed with the shift pattern their
recent load needs at the family's target utilisation (so the peak season overloads at least
one), their speeds, batch sizes and costs (setup costs make bigger batches cheaper per
unit), the capacity calendar (Christmas shutdowns, summer maintenance, Saturday shifts) and
the alternate lines a SKU can move to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sop_core.data.calendar import retail_holidays
from sop_core.data.sample.catalogue import Catalogue, allocate, draw_within
from sop_core.data.sample.config import Weeks
from sop_core.data.sample.families import FAMILIES

# Families whose lines can stand in for each other (same kind of filling), at this speed.
SHARED_LINES = {("haircare", "body care"): 0.8, ("body care", "haircare"): 0.8}


@dataclass
class Lines:
    """The lines (one entry per line) and what each SKU needs of them (one entry per SKU)."""

    codes: list[str]
    rows: list[tuple[str, str, str, int]]  # code, plant, name, family index
    oee: np.ndarray
    changeover_hours: np.ndarray
    standard_hours: np.ndarray  # per week
    line_of: np.ndarray  # each SKU's default line (index into codes)
    recent_units: np.ndarray  # each SKU's average weekly units over the last year on sale
    batch_size: np.ndarray
    units_per_hour: np.ndarray
    variable_cost: np.ndarray
    setup_cost: np.ndarray

    @property
    def count(self) -> int:
        return len(self.codes)


def _round_nice(values: np.ndarray) -> np.ndarray:
    """Round to two significant figures (batch sizes, prices of setup)."""
    values = np.asarray(values, dtype=float)
    magnitude = 10.0 ** (np.floor(np.log10(np.maximum(values, 1e-9))) - 1)
    return np.round(values / magnitude) * magnitude


def size_lines(
    rng: np.random.Generator,
    catalogue: Catalogue,
    weeks: Weeks,
    sku_units: np.ndarray,
    lines_total: int | None,
) -> Lines:
    """Give each family its lines (``lines_total``, default about 6 per 40 SKUs) and size
    them, their speeds, batches and costs, for what the SKUs sell now (``sku_units``: units
    by SKU and week, channels summed)."""
    n_skus, n_hist = catalogue.count, weeks.history
    family_of = catalogue.family_of
    # Average over the weeks each SKU was on sale (a new launch's weeks before launch do not
    # count), so lines, speeds and batches are sized for what the SKU sells now.
    recent = slice(max(0, n_hist - 52), n_hist)
    selling = catalogue.on_sale[:, recent]
    mean_recent = np.maximum(
        sku_units[:, recent].sum(axis=1) / np.maximum(selling.sum(axis=1), 1), 1.0
    )
    lines_total = lines_total or max(len(FAMILIES), round(n_skus * 6 / 40))
    lines_per_family = allocate(lines_total, catalogue.family_counts.astype(float))
    line_codes, line_rows, line_of = [], [], np.zeros(n_skus, dtype=int)
    plant_counter: dict[str, int] = {}
    for f_index, family in enumerate(FAMILIES):
        members = np.nonzero(family_of == f_index)[0]
        count = int(lines_per_family[f_index])
        for k in range(count):
            letter = family.plant[0]
            plant_counter[letter] = plant_counter.get(letter, 0) + 1
            code = f"{letter}{plant_counter[letter]}"
            line_codes.append(code)
            suffix = f" {k + 1}" if count > 1 else ""
            line_rows.append((code, family.plant, family.line_name + suffix, f_index))
        first = len(line_codes) - count
        line_of[members] = first + np.arange(len(members)) % count
    n_lines = len(line_codes)
    oee = np.round(rng.uniform(0.68, 0.85, n_lines), 2)
    changeover_hours = np.round(rng.uniform(1.0, 3.0, n_lines) * 2) / 2
    batch_size = np.maximum(_round_nice(mean_recent * 2), 50.0)
    speed = catalogue.per_family("units_per_hour") * np.exp(rng.normal(0, 0.2, n_skus))
    # Crew each line with the shift pattern (1 to 4 shifts of 40 h) closest to what its recent
    # load needs at the family's target utilisation, then fine-tune the speeds so that the
    # load, changeovers included, meets that target.
    run_hours = np.bincount(line_of, weights=mean_recent / speed, minlength=n_lines) / oee
    changeovers = np.bincount(line_of, weights=mean_recent / batch_size, minlength=n_lines)
    changeovers *= changeover_hours
    target = np.array([FAMILIES[row[3]].target_utilisation for row in line_rows])
    target *= rng.uniform(0.95, 1.05, n_lines)
    shifts = np.array([40.0, 80.0, 120.0, 160.0])
    required = (run_hours + changeovers) / target
    standard_hours = shifts[np.argmin(np.abs(np.log(required[:, None] / shifts[None, :])), axis=1)]
    standard_hours = np.maximum(
        standard_hours, shifts[np.searchsorted(shifts, 2.5 * changeovers / target).clip(0, 3)]
    )
    # A line with little to make (say, only an intermittent SKU) stays mostly idle rather than
    # getting an absurdly slow speed.
    scale = np.clip(run_hours / (target * standard_hours - changeovers), 0.4, 2.5)
    units_per_hour = np.maximum(np.round(speed * scale[line_of], -1), 10.0)

    variable_cost = np.round(catalogue.start_price * rng.uniform(0.2, 0.32, n_skus) * 0.85, 2)
    setup_cost = _round_nice(draw_within(rng, catalogue.per_family("setup_cost")))
    return Lines(
        codes=line_codes,
        rows=line_rows,
        oee=oee,
        changeover_hours=changeover_hours,
        standard_hours=standard_hours,
        line_of=line_of,
        recent_units=mean_recent,
        batch_size=batch_size,
        units_per_hour=units_per_hour,
        variable_cost=variable_cost,
        setup_cost=setup_cost,
    )


def capacity_calendar(lines: Lines, weeks: Weeks) -> tuple[pd.DataFrame, np.ndarray]:
    """The ``capacity_calendar`` table (exceptions to the standard hours) and the hours each
    line has in each week (line, week) once they are applied."""
    calendar_rows = []
    week_dates = weeks.all.date
    n_lines, line_codes, standard_hours = lines.count, lines.codes, lines.standard_hours
    for week in week_dates:
        for holiday in retail_holidays([week.year]):
            if holiday.name == "Christmas" and holiday.week == week:
                for li in range(n_lines):
                    calendar_rows.append(
                        (week, line_codes[li], -0.6 * standard_hours[li], "Christmas shutdown")
                    )
        # Summer maintenance: each line loses one week between late July and August.
        iso_week = week.isocalendar()[1]
        for li in range(n_lines):
            if iso_week == 30 + (li * 2) % 6:
                calendar_rows.append(
                    (week, line_codes[li], -standard_hours[li], "Summer maintenance")
                )
        # Saturday shifts on the gift lines in the run-up to Christmas.
        if (week.month == 11 and week.day >= 8) or (week.month == 12 and week.day <= 14):
            for li in range(n_lines):
                if FAMILIES[lines.rows[li][3]].name in ("fragrance", "makeup"):
                    calendar_rows.append((week, line_codes[li], 16.0, "Saturday shift"))
    calendar = pd.DataFrame(calendar_rows, columns=["week", "line", "hours_delta", "reason"])
    calendar["week"] = pd.to_datetime(calendar["week"])

    available = np.tile(standard_hours[:, None], (1, weeks.count))
    week_pos = {d: i for i, d in enumerate(week_dates)}
    for row in calendar.itertuples(index=False):
        available[line_codes.index(row.line), week_pos[row.week.date()]] += row.hours_delta
    return calendar, np.maximum(available, 0.0)


def lines_frame(lines: Lines) -> pd.DataFrame:
    """The ``production_lines`` table."""
    return pd.DataFrame(
        {
            "line": lines.codes,
            "plant": [r[1] for r in lines.rows],
            "name": [r[2] for r in lines.rows],
            "standard_hours_per_week": lines.standard_hours,
            "oee": lines.oee,
            "changeover_hours": lines.changeover_hours,
        }
    )


def alternate_lines_frame(lines: Lines, skus: np.ndarray) -> pd.DataFrame:
    """The ``product_lines`` table: up to two alternate lines per SKU, the next line of its
    family (85% of the default speed) and a line of a family that fills the same kind of
    product (80%)."""
    family_of_line = np.array([FAMILIES[row[3]].name for row in lines.rows], dtype=object)
    rows = []
    for s_index, default in enumerate(lines.line_of):
        family = family_of_line[default]
        own = np.flatnonzero(family_of_line == family)
        if len(own) > 1:
            position = int(np.flatnonzero(own == default)[0])
            other = own[(position + 1) % len(own)]
            rows.append(
                (
                    skus[s_index],
                    lines.codes[other],
                    round(lines.units_per_hour[s_index] * 0.85, 1),
                    2,
                )
            )
        for (mine, theirs), speed in SHARED_LINES.items():
            if mine == family:
                shared = np.flatnonzero(family_of_line == theirs)
                if len(shared):
                    other = shared[s_index % len(shared)]
                    rows.append(
                        (
                            skus[s_index],
                            lines.codes[other],
                            round(lines.units_per_hour[s_index] * speed, 1),
                            3,
                        )
                    )
    return pd.DataFrame(rows, columns=["sku", "line", "units_per_hour", "preference"])


def products_frame(
    catalogue: Catalogue, weeks: Weeks, list_price: np.ndarray, lines: Lines
) -> pd.DataFrame:
    """The ``products`` table: master data at today's list price, with the costs and the
    default line production gave each SKU."""
    hist_weeks = weeks.history_weeks
    return pd.DataFrame(
        {
            "sku": catalogue.skus,
            "name": catalogue.names,
            "family": [FAMILIES[f].name for f in catalogue.family_of],
            "brand": catalogue.brands,
            "list_price": list_price[:, weeks.history - 1],
            "unit_variable_cost": lines.variable_cost,
            "setup_cost_per_batch": lines.setup_cost,
            "standard_batch_size": lines.batch_size,
            "default_line": [lines.codes[i] for i in lines.line_of],
            "units_per_hour": lines.units_per_hour,
            "launch_week": [
                hist_weeks[i] if catalogue.is_new[s] else pd.NaT
                for s, i in enumerate(catalogue.launch_index)
            ],
            "status": "active",
        }
    )
