"""The sample company: a seeded cosmetics manufacturer that tells the S&OP story.

Aurora Cosmetics sells skincare, haircare, fragrance, makeup and body care through retail,
e-commerce and pharmacy. Its weekly history has trend, yearly seasonality, holiday peaks
(Black Friday and Christmas for everything; Valentine's and Mother's Day for fragrance),
promotions whose uplift grows with the discount depth plus feature and display effects and a
post-promotion dip, a real price elasticity per SKU, a few new launches and a few intermittent
SKUs. Its lines have finite hours, so the peak season overloads at least one of them, and batch
setup costs make bigger batches cheaper per unit.

The generator is vectorised over a (SKU, channel, week) array, so 1,000 SKUs take seconds.
Its true driver values go to the ``sample_truth`` table; ``DATA_DICTIONARY`` there gives the
demand equation.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from sop_core.data import db, schema
from sop_core.data.calendar import last_complete_week, retail_holidays
from sop_core.data.errors import InputError

ProgressCallback = Callable[[float, str], None]
"""Called as ``progress(fraction_done, what_is_happening)``."""

GENERATOR_VERSION = 1


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
        Weeks after the history covered by planned promotions, price changes and capacity
        exceptions.
    """

    skus: int = 40
    weeks: int = 160
    seed: int = 7
    as_of: dt.date | None = None
    future_weeks: int = 52
    lines: int | None = None

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
        if self.skus * self.weeks > 1_300_000:
            raise InputError(
                f"--skus x --weeks is {self.skus * self.weeks:,}; the most a sample can hold "
                "in memory here is 1,300,000 (for example 2,500 SKUs x 520 weeks)."
            )
        as_of = self.as_of or dt.date.today()
        if not dt.date(2000, 1, 1) <= as_of <= dt.date(2100, 12, 31):
            raise InputError(f"--as-of must be between 2000-01-01 and 2100-12-31 (got {as_of}).")
        if self.lines is not None and not len(FAMILIES) <= self.lines <= self.skus:
            raise InputError(
                f"--lines must be between {len(FAMILIES)} (one per family) and the number of "
                f"SKUs (got {self.lines})."
            )
        return SampleConfig(self.skus, self.weeks, self.seed, as_of, self.future_weeks, self.lines)


@dataclass(frozen=True)
class Family:
    """How one product family behaves; ranges are drawn per SKU."""

    name: str
    code: str
    share: float
    brands: tuple[str, str]
    products: tuple[str, ...]
    qualifiers: tuple[str, ...]
    size: str
    list_price: tuple[float, float]
    elasticity: tuple[float, float]
    channel_mix: tuple[float, float, float]  # retail, ecommerce, pharmacy
    season_amplitude: float
    season_peak_day: int  # day of year of the seasonal peak
    holiday_lift: dict[str, float]
    units_per_hour: float
    setup_cost: tuple[float, float]
    plant: str
    line_name: str
    target_utilisation: float


FAMILIES: tuple[Family, ...] = (
    Family(
        name="skincare",
        code="SKN",
        share=0.25,
        brands=("Lumiere", "DermaPure"),
        products=(
            "Day Cream",
            "Serum",
            "Cleanser",
            "Eye Cream",
            "Toner",
            "Night Cream",
            "Face Mask",
        ),
        qualifiers=("Hydra", "Radiance", "Calm", "Vita-C", "Age-Defy", "Clarify", "Barrier"),
        size="50 ml",
        list_price=(14.0, 62.0),
        elasticity=(-1.8, -1.0),
        channel_mix=(0.40, 0.22, 0.38),
        season_amplitude=0.10,
        season_peak_day=15,
        holiday_lift={
            "Black Friday": 0.55,
            "Christmas": 0.35,
            "Mother's Day": 0.25,
            "Valentine's Day": 0.05,
        },
        units_per_hour=1100,
        setup_cost=(2500, 5000),
        plant="North plant",
        line_name="Cream filling",
        target_utilisation=0.80,
    ),
    Family(
        name="haircare",
        code="HAI",
        share=0.20,
        brands=("Silkline", "Maneo"),
        products=("Shampoo", "Conditioner", "Hair Mask", "Styling Gel", "Hair Oil", "Dry Shampoo"),
        qualifiers=("Repair", "Volume", "Curl", "Colour Care", "Scalp", "Smooth"),
        size="250 ml",
        list_price=(6.0, 24.0),
        elasticity=(-2.6, -1.6),
        channel_mix=(0.60, 0.20, 0.20),
        season_amplitude=0.06,
        season_peak_day=170,
        holiday_lift={"Black Friday": 0.35, "Christmas": 0.15},
        units_per_hour=1700,
        setup_cost=(1500, 3000),
        plant="North plant",
        line_name="Bottling",
        target_utilisation=0.74,
    ),
    Family(
        name="fragrance",
        code="FRA",
        share=0.15,
        brands=("Maison Ambre", "Nocturne"),
        products=("Eau de Parfum", "Eau de Toilette", "Body Mist", "Parfum Extrait", "Gift Set"),
        qualifiers=("Ambre", "Iris", "Santal", "Neroli", "Oud", "Fig", "Vetiver"),
        size="50 ml",
        list_price=(35.0, 120.0),
        elasticity=(-1.4, -0.7),
        channel_mix=(0.60, 0.35, 0.05),
        season_amplitude=0.12,
        season_peak_day=350,
        holiday_lift={
            "Black Friday": 0.9,
            "Christmas": 1.6,
            "Valentine's Day": 0.8,
            "Mother's Day": 0.7,
        },
        units_per_hour=650,
        setup_cost=(4000, 8000),
        plant="South plant",
        line_name="Fragrance filling",
        target_utilisation=0.56,
    ),
    Family(
        name="makeup",
        code="MKP",
        share=0.25,
        brands=("Velvet Muse", "Chroma"),
        products=("Lipstick", "Mascara", "Foundation", "Eyeshadow Palette", "Blush", "Concealer"),
        qualifiers=("Matte", "Satin", "Lash", "Glow", "Nude", "Bold", "Longwear"),
        size="",
        list_price=(9.0, 45.0),
        elasticity=(-2.0, -1.2),
        channel_mix=(0.60, 0.32, 0.08),
        season_amplitude=0.08,
        season_peak_day=345,
        holiday_lift={"Black Friday": 0.7, "Christmas": 0.6, "Valentine's Day": 0.2},
        units_per_hour=900,
        setup_cost=(2500, 5000),
        plant="South plant",
        line_name="Makeup line",
        target_utilisation=0.72,
    ),
    Family(
        name="body care",
        code="BDY",
        share=0.15,
        brands=("Oasis", "Lumiere"),
        products=("Body Lotion", "Shower Gel", "Sun Fluid SPF 50", "Hand Cream", "Body Scrub"),
        qualifiers=("Shea", "Aloe", "Coconut", "Citrus", "Sensitive", "Cocoa"),
        size="200 ml",
        list_price=(5.0, 22.0),
        elasticity=(-2.4, -1.4),
        channel_mix=(0.50, 0.20, 0.30),
        season_amplitude=0.28,
        season_peak_day=190,
        holiday_lift={"Black Friday": 0.3, "Christmas": 0.3, "Mother's Day": 0.1},
        units_per_hour=1600,
        setup_cost=(1500, 3000),
        plant="North plant",
        line_name="Lotion & gel filling",
        target_utilisation=0.66,
    ),
)

CHANNELS = (
    ("retail", "Retail", "Drugstores, department stores and supermarkets"),
    ("ecommerce", "E-commerce", "Own web shop and online marketplaces"),
    ("pharmacy", "Pharmacy", "Pharmacies and parapharmacies"),
)
# Regular net price vs list price by channel (trade terms), and promotion habits by channel:
# events started per week, depth choices, feature and display probabilities.
CHANNEL_PRICE_FACTOR = np.array([1.00, 0.95, 0.98])
PROMO_START_RATE = np.array([0.07, 0.06, 0.035])
PROMO_FEATURE_RATE = np.array([0.6, 0.5, 0.3])
PROMO_DISPLAY_RATE = np.array([0.5, 0.0, 0.45])
PROMO_DEPTHS = np.array([0.10, 0.15, 0.20, 0.25, 0.30, 0.40])
PROMO_DEPTH_WEIGHTS = np.array([0.15, 0.2, 0.25, 0.2, 0.15, 0.05])
SUPPORT_SHARES = np.array([0.5, 0.75, 1.0])


def _allocate(total: int, shares: np.ndarray, minimum: int = 1) -> np.ndarray:
    """Split ``total`` by ``shares`` (largest remainder), at least ``minimum`` each."""
    raw = shares / shares.sum() * total
    counts = np.maximum(np.floor(raw).astype(int), minimum)
    while counts.sum() < total:
        counts[np.argmax(raw - counts)] += 1
    while counts.sum() > total:
        counts[np.argmax(np.where(counts > minimum, counts - raw, -np.inf))] -= 1
    return counts


def _round_nice(values: np.ndarray) -> np.ndarray:
    """Round to two significant figures (batch sizes, prices of setup)."""
    values = np.asarray(values, dtype=float)
    magnitude = 10.0 ** (np.floor(np.log10(np.maximum(values, 1e-9))) - 1)
    return np.round(values / magnitude) * magnitude


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


def _product_names(rng: np.random.Generator, family: Family, count: int) -> list[str]:
    combos = [(q, p) for p in family.products for q in family.qualifiers]
    order = rng.permutation(len(combos))
    names = []
    for i in range(count):
        qualifier, product = combos[order[i % len(combos)]]
        edition = "" if i < len(combos) else f" {i // len(combos) + 1}"
        names.append(" ".join(x for x in (qualifier, product, family.size) if x) + edition)
    return names


def generate(
    config: SampleConfig, progress: ProgressCallback | None = None
) -> dict[str, pd.DataFrame]:
    """Generate the sample company's tables as data frames keyed by table name."""
    config = config.validated()
    report = progress or (lambda fraction, message: None)
    rng = np.random.default_rng(config.seed)
    last_week = pd.Timestamp(last_complete_week(config.as_of))
    n_hist = config.weeks
    all_weeks = pd.date_range(end=last_week, periods=n_hist, freq="7D").append(
        pd.date_range(last_week + pd.Timedelta(days=7), periods=config.future_weeks, freq="7D")
    )
    n_weeks = len(all_weeks)
    n_channels = len(CHANNELS)
    report(0.05, "Designing products")

    # ---- products -------------------------------------------------------------------------
    family_counts = _allocate(config.skus, np.array([f.share for f in FAMILIES]))
    family_of = np.repeat(np.arange(len(FAMILIES)), family_counts)
    n_skus = config.skus
    skus, names, brands = [], [], []
    for f_index, family in enumerate(FAMILIES):
        count = int(family_counts[f_index])
        skus += [f"{family.code}-{i + 1:04d}" for i in range(count)]
        names += _product_names(rng, family, count)
        brands += list(rng.choice(family.brands, size=count, p=[0.6, 0.4]))

    def per_family(attribute: str) -> np.ndarray:
        return np.array([getattr(FAMILIES[f], attribute) for f in family_of])

    def draw(bounds: np.ndarray) -> np.ndarray:
        low, high = bounds[:, 0], bounds[:, 1]
        return low + (high - low) * rng.random(n_skus)

    pattern = np.array(["regular"] * n_skus, dtype=object)
    n_special = max(1, round(0.075 * n_skus))
    special = rng.permutation(n_skus)[: 2 * n_special]
    pattern[special[:n_special]] = "new"
    pattern[special[n_special:]] = "intermittent"

    start_price = np.round(draw(per_family("list_price")), 1) - 0.01
    elasticity = draw(per_family("elasticity"))
    depth_coefficient = rng.uniform(0.3, 1.8, n_skus)
    feature_uplift = rng.uniform(0.15, 0.45, n_skus)
    display_uplift = rng.uniform(0.10, 0.35, n_skus)
    post_promo_dip = rng.uniform(0.05, 0.25, n_skus)
    trend = rng.normal(0.04, 0.06, n_skus)
    base_units = np.exp(rng.normal(np.log(5000), 0.7, n_skus))
    noise_cv = rng.uniform(0.07, 0.16, n_skus)
    demand_probability = np.ones(n_skus)
    is_intermittent = pattern == "intermittent"
    base_units[is_intermittent] = rng.uniform(8, 30, is_intermittent.sum())
    demand_probability[is_intermittent] = rng.uniform(0.15, 0.4, is_intermittent.sum())
    noise_cv[is_intermittent] = 0.3
    launch_index = np.zeros(n_skus, dtype=int)
    is_new = pattern == "new"
    launch_index[is_new] = rng.integers(n_hist - 40, n_hist - 12, is_new.sum())

    # ---- prices: list price steps each January, retailer price drift ------------------------
    report(0.15, "Setting prices")
    years = np.array(all_weeks.year)
    year_step = years - years[0]
    increases = rng.uniform(0.02, 0.055, (n_skus, year_step.max() + 1))
    increases[:, 0] = 0.0
    price_factor = np.cumprod(1 + increases, axis=1)  # by year
    # The increase lands in the first week of each year; the future year is announced for
    # about half the SKUs only.
    future_year = years[n_hist:].max() if config.future_weeks else None
    announced = rng.random(n_skus) < 0.5
    if future_year is not None and future_year > years[n_hist - 1]:
        step = future_year - years[0]
        price_factor[~announced, step:] = price_factor[~announced, step - 1 : step]
    list_price = np.round(start_price[:, None] * price_factor[:, year_step], 2)  # (sku, week)

    drift = np.zeros((n_skus, n_channels, n_weeks))
    level = rng.normal(0, 0.03, (n_skus, n_channels))
    for w in range(n_weeks):
        change = rng.random((n_skus, n_channels)) < 1 / 12
        level = np.where(change, np.clip(rng.normal(0, 0.035, level.shape), -0.08, 0.06), level)
        drift[:, :, w] = level
    regular_net = list_price[:, None, :] * CHANNEL_PRICE_FACTOR[None, :, None] * (1 + drift)

    # ---- promotions ---------------------------------------------------------------------------
    report(0.25, "Planning promotions")
    depth = np.zeros((n_skus, n_channels, n_weeks))
    feature = np.zeros_like(depth)
    display = np.zeros_like(depth)
    dip = np.zeros_like(depth)
    events = []
    cooldown = rng.integers(0, 6, (n_skus, n_channels))
    on_sale = np.arange(n_weeks)[None, :] >= launch_index[:, None]
    promotable = ~is_intermittent
    black_friday = np.zeros(n_weeks, dtype=bool)
    for holiday in retail_holidays(range(years.min(), years.max() + 1)):
        if holiday.name == "Black Friday":
            black_friday |= np.array(all_weeks.date == holiday.week)
    for w in range(n_weeks):
        rate = PROMO_START_RATE * (4.0 if black_friday[w] else 1.0)
        start = (
            (rng.random((n_skus, n_channels)) < rate[None, :])
            & (cooldown <= 0)
            & on_sale[:, w, None]
            & promotable[:, None]
        )
        cooldown -= 1
        if not start.any():
            continue
        s_idx, c_idx = np.nonzero(start)
        duration = np.where(rng.random(len(s_idx)) < 0.3, 2, 1)
        ev_depth = rng.choice(PROMO_DEPTHS, size=len(s_idx), p=PROMO_DEPTH_WEIGHTS)
        ev_feature = np.where(
            rng.random(len(s_idx)) < PROMO_FEATURE_RATE[c_idx],
            rng.choice(SUPPORT_SHARES, len(s_idx)),
            0.0,
        )
        ev_display = np.where(
            rng.random(len(s_idx)) < PROMO_DISPLAY_RATE[c_idx],
            rng.choice(SUPPORT_SHARES, len(s_idx)),
            0.0,
        )
        for d in range(2):
            take = duration > d
            if w + d < n_weeks:
                depth[s_idx[take], c_idx[take], w + d] = ev_depth[take]
                feature[s_idx[take], c_idx[take], w + d] = ev_feature[take]
                display[s_idx[take], c_idx[take], w + d] = ev_display[take]
        after = w + duration
        inside = after < n_weeks
        dip[s_idx[inside], c_idx[inside], after[inside]] = np.minimum(1.0, ev_depth[inside] / 0.25)
        cooldown[s_idx, c_idx] = duration + rng.integers(3, 9, len(s_idx))
        events.append(
            (np.full(len(s_idx), w), s_idx, c_idx, duration, ev_depth, ev_feature, ev_display)
        )
    dip = np.where(depth > 0, 0.0, dip)

    # ---- demand ------------------------------------------------------------------------------
    report(0.4, "Simulating weekly demand")
    t_years = (np.arange(n_weeks) - (n_hist - 1)) / 52.18
    angle = _week_of_year_angle(all_weeks)
    peak = per_family("season_peak_day") / 365.25 * 2 * np.pi
    amplitude = per_family("season_amplitude")
    season = np.exp(amplitude[:, None] * np.cos(angle[None, :] - peak[:, None]))
    holidays = _holiday_profile(all_weeks)
    for name, shape in holidays.items():
        lift = np.array([FAMILIES[f].holiday_lift.get(name, 0.0) for f in family_of])
        season = season * (1 + lift[:, None] * shape[None, :])
    season[is_intermittent] = 1.0
    growth = np.exp(np.log1p(trend)[:, None] * (t_years[None, :] + (n_hist - 1) / 52.18))
    ramp = np.clip(1 - np.exp(-(np.arange(n_weeks)[None, :] - launch_index[:, None] + 1) / 6), 0, 1)
    ramp = np.where(is_new[:, None], ramp, 1.0) * on_sale

    mix = np.array([FAMILIES[f].channel_mix for f in family_of])
    mix = mix * np.exp(rng.normal(0, 0.15, mix.shape))
    shift = np.clip(0.03 * (t_years + 2), 0, None)  # e-commerce gains share over time
    channel_share = mix[:, :, None] * np.ones(n_weeks)[None, None, :]
    channel_share[:, 1, :] *= 1 + shift[None, :] * 3
    channel_share /= channel_share.sum(axis=1, keepdims=True)

    reference_price = (start_price[:, None] * CHANNEL_PRICE_FACTOR[None, :])[:, :, None]
    net_price = regular_net * (1 - depth)
    price_effect = (net_price / reference_price) ** elasticity[:, None, None]
    promo_effect = (
        np.exp(depth_coefficient[:, None, None] * depth)
        * (1 + feature_uplift[:, None, None] * feature)
        * (1 + display_uplift[:, None, None] * display)
        * (1 - post_promo_dip[:, None, None] * dip)
    )
    mean = (
        base_units[:, None, None]
        * channel_share
        * (growth * season * ramp)[:, None, :]
        * price_effect
        * promo_effect
    )
    sigma = np.sqrt(np.log1p(noise_cv**2))[:, None, None]
    noise = np.exp(rng.normal(-(sigma**2) / 2, sigma, mean.shape))
    occurs = rng.random(mean.shape) < demand_probability[:, None, None]
    units = rng.poisson(mean * noise * occurs / demand_probability[:, None, None]).astype(float)
    units *= on_sale[:, None, :]

    # ---- lines, speeds and batches -----------------------------------------------------------
    report(0.6, "Sizing production lines")
    hist = slice(0, n_hist)
    total_units = units.sum(axis=1)  # (sku, week)
    # Average over the weeks each SKU was on sale (a new launch's weeks before launch do not
    # count), so lines, speeds and batches are sized for what the SKU sells now.
    recent = slice(max(0, n_hist - 52), n_hist)
    selling = on_sale[:, recent]
    mean_recent = np.maximum(
        total_units[:, recent].sum(axis=1) / np.maximum(selling.sum(axis=1), 1), 1.0
    )
    lines_total = config.lines or max(len(FAMILIES), round(n_skus * 6 / 40))
    lines_per_family = _allocate(lines_total, family_counts.astype(float))
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
    speed = per_family("units_per_hour") * np.exp(rng.normal(0, 0.2, n_skus))
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

    variable_cost = np.round(start_price * rng.uniform(0.2, 0.32, n_skus) * 0.85, 2)
    setup_cost = _round_nice(draw(per_family("setup_cost")))

    # ---- capacity calendar -------------------------------------------------------------------
    report(0.7, "Writing the capacity calendar")
    calendar_rows = []
    week_dates = all_weeks.date
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
                if FAMILIES[line_rows[li][3]].name in ("fragrance", "makeup"):
                    calendar_rows.append((week, line_codes[li], 16.0, "Saturday shift"))
    calendar = pd.DataFrame(calendar_rows, columns=["week", "line", "hours_delta", "reason"])
    calendar["week"] = pd.to_datetime(calendar["week"])

    available = np.tile(standard_hours[:, None], (1, n_weeks))
    week_pos = {d: i for i, d in enumerate(week_dates)}
    for row in calendar.itertuples(index=False):
        available[line_codes.index(row.line), week_pos[row.week.date()]] += row.hours_delta
    available = np.maximum(available, 0.0)

    # ---- production and inventory: a reorder-point policy with overtime up to 15% -----------
    # Sales are the demand history; when stock runs out the shortfall is backordered and ships
    # from later production, so stock on hand + backorders always balances with the flows.
    report(0.8, "Simulating production")
    demand = total_units[:, hist]
    average = mean_recent
    safety = 1.5 * average
    inventory_level = 4.0 * average
    produced = np.zeros((n_skus, n_hist))
    batches = np.zeros((n_skus, n_hist), dtype=int)
    on_hand = np.zeros((n_skus, n_hist))
    batch_hours = batch_size / (units_per_hour * oee[line_of]) + changeover_hours[line_of]
    for w in range(n_hist):
        upcoming = demand[:, w] + (demand[:, w + 1] if w + 1 < n_hist else demand[:, w])
        short = np.maximum(upcoming + safety - inventory_level, 0.0)
        need = np.ceil(short / batch_size)
        # Lines run up to 15% overtime; the SKUs with the least cover get the hours first.
        order = np.lexsort((inventory_level / average, line_of))
        hours = need[order] * batch_hours[order]
        cumulative = np.cumsum(hours)
        group_start = np.searchsorted(line_of[order], line_of[order])
        before = cumulative - hours - (cumulative - hours)[group_start]
        room = np.clip(available[line_of[order], w] * 1.15 - before, 0.0, None)
        need[order] = np.minimum(need[order], np.floor(room / batch_hours[order]))
        batches[:, w] = need
        produced[:, w] = need * batch_size
        inventory_level = inventory_level + produced[:, w] - demand[:, w]
        on_hand[:, w] = np.maximum(inventory_level, 0.0)

    # ---- frames ------------------------------------------------------------------------------
    report(0.9, "Assembling tables")
    hist_weeks = all_weeks[:n_hist]
    channel_codes = [c[0] for c in CHANNELS]
    s_grid, c_grid, w_grid = np.meshgrid(
        np.arange(n_skus), np.arange(n_channels), np.arange(n_hist), indexing="ij"
    )
    keep = on_sale[s_grid, w_grid].ravel()
    sku_array = np.array(skus, dtype=object)
    sales = pd.DataFrame(
        {
            "week": hist_weeks[w_grid.ravel()],
            "sku": sku_array[s_grid.ravel()],
            "channel": np.array(channel_codes, dtype=object)[c_grid.ravel()],
            "units": units[:, :, hist].ravel(),
            "net_price": np.round(net_price[:, :, hist].ravel(), 2),
            "list_price": list_price[s_grid.ravel(), w_grid.ravel()],
            "discount_depth": depth[:, :, hist].ravel(),
            "feature": feature[:, :, hist].ravel(),
            "display": display[:, :, hist].ravel(),
        }
    )[keep].reset_index(drop=True)

    current_price = list_price[:, n_hist - 1]
    products = pd.DataFrame(
        {
            "sku": skus,
            "name": names,
            "family": [FAMILIES[f].name for f in family_of],
            "brand": brands,
            "list_price": current_price,
            "unit_variable_cost": variable_cost,
            "setup_cost_per_batch": setup_cost,
            "standard_batch_size": batch_size,
            "default_line": [line_codes[i] for i in line_of],
            "units_per_hour": units_per_hour,
            "launch_week": [
                hist_weeks[i] if is_new[s] else pd.NaT for s, i in enumerate(launch_index)
            ],
            "status": "active",
        }
    )

    lines = pd.DataFrame(
        {
            "line": line_codes,
            "plant": [r[1] for r in line_rows],
            "name": [r[2] for r in line_rows],
            "standard_hours_per_week": standard_hours,
            "oee": oee,
            "changeover_hours": changeover_hours,
        }
    )

    prod_s, prod_w = np.nonzero(batches)
    run_hours = produced[prod_s, prod_w] / (units_per_hour[prod_s] * oee[line_of[prod_s]])
    production = pd.DataFrame(
        {
            "week": hist_weeks[prod_w],
            "line": np.array(line_codes, dtype=object)[line_of[prod_s]],
            "sku": sku_array[prod_s],
            "units_produced": produced[prod_s, prod_w],
            "batches": batches[prod_s, prod_w],
            "hours_used": np.round(
                run_hours + batches[prod_s, prod_w] * changeover_hours[line_of[prod_s]], 2
            ),
        }
    )

    inv_s, inv_w = np.nonzero(on_sale[:, hist])
    inventory = pd.DataFrame(
        {
            "week": hist_weeks[inv_w],
            "sku": sku_array[inv_s],
            "units_on_hand": on_hand[inv_s, inv_w],
        }
    )

    promotions = _promotion_frame(events, all_weeks, n_hist, sku_array, channel_codes)
    price_changes = _price_change_frame(list_price, all_weeks, sku_array, on_sale)
    truth = pd.DataFrame(
        {
            "sku": skus,
            "pattern": pattern.astype(str),
            "base_weekly_units": np.round(base_units, 2),
            "reference_price": start_price,
            "trend_per_year": trend,
            "price_elasticity": elasticity,
            "promo_depth_coefficient": depth_coefficient,
            "promo_uplift_per_10pct_discount": 0.9**elasticity * np.exp(0.1 * depth_coefficient)
            - 1,
            "feature_uplift": feature_uplift,
            "display_uplift": display_uplift,
            "post_promo_dip": post_promo_dip,
            "noise_cv": noise_cv,
            "demand_probability": demand_probability,
        }
    )
    channels = pd.DataFrame(CHANNELS, columns=["channel", "name", "description"])
    company = pd.DataFrame(
        {
            "key": [
                "company_name",
                "currency",
                "week_start",
                "history_start",
                "history_end",
                "generated_by",
            ],
            "value": [
                "Aurora Cosmetics",
                "EUR",
                "MON",
                str(hist_weeks[0].date()),
                str(hist_weeks[-1].date()),
                f"sample v{GENERATOR_VERSION} skus={config.skus} weeks={config.weeks} "
                f"seed={config.seed} as_of={config.as_of}",
            ],
        }
    )
    alternates = _alternate_lines(line_rows, line_codes, line_of, sku_array, units_per_hour)
    return {
        "company_settings": company,
        "channels": channels,
        "production_lines": lines,
        "products": products,
        "product_lines": alternates,
        "sales_history": sales,
        "capacity_calendar": calendar,
        "production_actuals": production,
        "inventory": inventory,
        "promotions": promotions,
        "price_changes": price_changes,
        "sample_truth": truth,
    }


# Families whose lines can stand in for each other (same kind of filling), at this speed.
SHARED_LINES = {("haircare", "body care"): 0.8, ("body care", "haircare"): 0.8}


def _alternate_lines(
    line_rows: list[tuple],
    line_codes: list[str],
    line_of: np.ndarray,
    skus: np.ndarray,
    units_per_hour: np.ndarray,
) -> pd.DataFrame:
    """Up to two alternate lines per SKU: the next line of its family (85% of the default
    speed) and a line of a family that fills the same kind of product (80%)."""
    family_of_line = np.array([FAMILIES[row[3]].name for row in line_rows], dtype=object)
    rows = []
    for s_index, default in enumerate(line_of):
        family = family_of_line[default]
        own = np.flatnonzero(family_of_line == family)
        if len(own) > 1:
            position = int(np.flatnonzero(own == default)[0])
            other = own[(position + 1) % len(own)]
            rows.append(
                (skus[s_index], line_codes[other], round(units_per_hour[s_index] * 0.85, 1), 2)
            )
        for (mine, theirs), speed in SHARED_LINES.items():
            if mine == family:
                shared = np.flatnonzero(family_of_line == theirs)
                if len(shared):
                    other = shared[s_index % len(shared)]
                    rows.append(
                        (
                            skus[s_index],
                            line_codes[other],
                            round(units_per_hour[s_index] * speed, 1),
                            3,
                        )
                    )
    return pd.DataFrame(rows, columns=["sku", "line", "units_per_hour", "preference"])


def _promotion_frame(
    events: list[tuple[np.ndarray, ...]],
    weeks: pd.DatetimeIndex,
    n_hist: int,
    skus: np.ndarray,
    channel_codes: list[str],
) -> pd.DataFrame:
    columns = [
        "promotion_id",
        "name",
        "sku",
        "channel",
        "start_week",
        "end_week",
        "discount_depth",
        "feature",
        "display",
        "status",
    ]
    if not events:
        return pd.DataFrame(columns=columns)
    start, sku, channel, duration, depth, feature, display = (
        np.concatenate(part) for part in zip(*events, strict=True)
    )
    end = np.minimum(start + duration - 1, len(weeks) - 1)
    frame = pd.DataFrame(
        {
            "sku": skus[sku],
            "channel": np.array(channel_codes, dtype=object)[channel],
            "start_week": weeks[start],
            "end_week": weeks[end],
            "discount_depth": depth,
            "feature": feature,
            "display": display,
            "status": np.where(end < n_hist, "past", "planned"),
        }
    ).sort_values(["start_week", "sku", "channel"], ignore_index=True)
    frame.insert(0, "promotion_id", [f"P{i + 1:06d}" for i in range(len(frame))])
    percent = (frame["discount_depth"] * 100).round().astype(int).astype(str)
    frame.insert(
        1,
        "name",
        percent + "% off, " + frame["channel"] + " " + frame["start_week"].dt.strftime("%d %b %Y"),
    )
    return frame[columns]


def _price_change_frame(
    list_price: np.ndarray, weeks: pd.DatetimeIndex, skus: np.ndarray, on_sale: np.ndarray
) -> pd.DataFrame:
    changed = np.nonzero(np.diff(list_price, axis=1) != 0)
    s_idx, w_idx = changed[0], changed[1] + 1
    keep = on_sale[s_idx, w_idx]
    s_idx, w_idx = s_idx[keep], w_idx[keep]
    return pd.DataFrame(
        {
            "sku": skus[s_idx],
            "effective_week": weeks[w_idx],
            "previous_list_price": list_price[s_idx, w_idx - 1],
            "list_price": list_price[s_idx, w_idx],
            "reason": "Annual price increase",
        }
    ).sort_values(["effective_week", "sku"], ignore_index=True)


def write_tables(con, tables: dict[str, pd.DataFrame]) -> None:
    """Insert generated frames into their tables (columns matched by name)."""
    for table, frame in tables.items():
        db.insert_frame(con, table, frame)


def _swap_in(new_file: Path, path: Path, on_wait: db.WaitCallback | None) -> None:
    """Move ``new_file`` to ``path``. While an old database is there, hold its lock across the
    swap, so no other process is inside it (or writing its WAL) when it is replaced."""
    holder = None
    if path.exists():
        try:
            holder = db.open_connection(path, on_wait=on_wait)
        except duckdb.Error:
            holder = None  # not a DuckDB database: nothing can be inside it
    try:
        Path(f"{path}.wal").unlink(missing_ok=True)
        os.replace(new_file, path)
    finally:
        if holder is not None:
            holder.close()


def build_sample_database(
    path: Path | str,
    config: SampleConfig | None = None,
    *,
    force: bool = False,
    progress: ProgressCallback | None = None,
    on_wait: db.WaitCallback | None = None,
) -> dict[str, int]:
    """Build a sample database at ``path`` and return its row counts by table.

    The database is written to a temporary file next to ``path`` and moved into place only
    when complete, so a crash or an error never leaves a half-built database behind. Replacing
    an existing database waits (telling ``on_wait``) while another process uses it.
    """
    report = progress or (lambda fraction, message: None)
    _check_target(Path(path), force)
    tables = generate(config or SampleConfig(), progress=lambda f, m: report(0.8 * f, m))
    report(0.82, "Writing the database")
    _write_new_database(Path(path), tables, on_wait)
    report(1.0, "Done")
    return {name: len(frame) for name, frame in tables.items()}


def build_empty_database(
    path: Path | str,
    *,
    force: bool = False,
    company_name: str = "My company",
    currency: str = "EUR",
    week_start: str = "MON",
    on_wait: db.WaitCallback | None = None,
) -> None:
    """Create a database with the schema, the company settings and no data: the start for a
    company's own data (``python -m sop_core init --empty``)."""
    _check_target(Path(path), force)
    settings = pd.DataFrame(
        {
            "key": ["company_name", "currency", "week_start", "generated_by"],
            "value": [company_name, currency, week_start, "init --empty"],
        }
    )
    _write_new_database(Path(path), {"company_settings": settings}, on_wait)


def _check_target(path: Path, force: bool) -> None:
    if not path.parent.is_dir():
        raise InputError(f"The directory {path.parent} does not exist.")
    if path.exists() and not force:
        raise InputError(f"{path} already exists; use --force to replace it.")


def _write_new_database(
    path: Path, tables: dict[str, pd.DataFrame], on_wait: db.WaitCallback | None
) -> None:
    """Write ``tables`` into a new database next to ``path`` and move it into place only when
    complete, so a crash or an error never leaves a half-built database behind. Replacing an
    existing database waits (telling ``on_wait``) while another process uses it."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}-{time.monotonic_ns()}")
    try:
        with db.connect(temporary, create=True) as con:
            schema.migrate(con)
            con.execute("BEGIN TRANSACTION")
            write_tables(con, tables)
            con.execute("COMMIT")
        _swap_in(temporary, path, on_wait)
    finally:
        temporary.unlink(missing_ok=True)
        Path(f"{temporary}.wal").unlink(missing_ok=True)
