"""The sample company's catalogue: its five families (how each behaves), its channels, and
the SKUs drawn from them with their true demand drivers (the ``sample_truth`` table).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sop_core.data.sample.config import Weeks
from sop_core.data.sample.families import FAMILIES, Family
from sop_core.data.sample.mixes import MIXES, Mix

CHANNELS = (
    ("retail", "Retail", "Drugstores, department stores and supermarkets"),
    ("ecommerce", "E-commerce", "Own web shop and online marketplaces"),
    ("pharmacy", "Pharmacy", "Pharmacies and parapharmacies"),
)


def allocate(total: int, shares: np.ndarray, minimum: int = 1) -> np.ndarray:
    """Split ``total`` by ``shares`` (largest remainder), at least ``minimum`` each."""
    raw = shares / shares.sum() * total
    counts = np.maximum(np.floor(raw).astype(int), minimum)
    while counts.sum() < total:
        counts[np.argmax(raw - counts)] += 1
    while counts.sum() > total:
        counts[np.argmax(np.where(counts > minimum, counts - raw, -np.inf))] -= 1
    return counts


def draw_within(rng: np.random.Generator, bounds: np.ndarray) -> np.ndarray:
    """One uniform draw per row of ``bounds`` (low, high)."""
    low, high = bounds[:, 0], bounds[:, 1]
    return low + (high - low) * rng.random(len(bounds))


def _product_names(rng: np.random.Generator, family: Family, count: int) -> list[str]:
    combos = [(q, p) for p in family.products for q in family.qualifiers]
    order = rng.permutation(len(combos))
    names = []
    for i in range(count):
        qualifier, product = combos[order[i % len(combos)]]
        edition = "" if i < len(combos) else f" {i // len(combos) + 1}"
        names.append(" ".join(x for x in (qualifier, product, family.size) if x) + edition)
    return names


@dataclass
class Catalogue:
    """The SKUs, one entry per SKU in every array, and their true demand drivers."""

    family_counts: np.ndarray
    family_of: np.ndarray  # index into FAMILIES
    skus: list[str]
    names: list[str]
    brands: list[str]
    pattern: np.ndarray  # regular, new or intermittent
    start_price: np.ndarray  # list price in the first week
    elasticity: np.ndarray
    depth_coefficient: np.ndarray
    feature_uplift: np.ndarray
    display_uplift: np.ndarray
    post_promo_dip: np.ndarray
    trend: np.ndarray
    base_units: np.ndarray
    noise_cv: np.ndarray
    demand_probability: np.ndarray
    launch_index: np.ndarray  # first week on sale (0 unless new)
    on_sale: np.ndarray  # (SKU, week)

    @property
    def count(self) -> int:
        return len(self.skus)

    @property
    def is_new(self) -> np.ndarray:
        return self.pattern == "new"

    @property
    def is_intermittent(self) -> np.ndarray:
        return self.pattern == "intermittent"

    @property
    def sku_array(self) -> np.ndarray:
        return np.array(self.skus, dtype=object)

    def per_family(self, attribute: str) -> np.ndarray:
        """A family attribute, one row per SKU."""
        return _per_family(self.family_of, attribute)


def _per_family(family_of: np.ndarray, attribute: str) -> np.ndarray:
    return np.array([getattr(FAMILIES[f], attribute) for f in family_of])


def design_products(
    rng: np.random.Generator, n_skus: int, weeks: Weeks, mix: Mix = MIXES["standard"]
) -> Catalogue:
    """Draw the SKUs: names, brands, which are new launches or intermittent (as many as the
    mix says), and their true price, promotion, trend and noise parameters."""
    family_counts = allocate(n_skus, np.array([f.share for f in FAMILIES]))
    family_of = np.repeat(np.arange(len(FAMILIES)), family_counts)
    skus, names, brands = [], [], []
    for f_index, family in enumerate(FAMILIES):
        count = int(family_counts[f_index])
        skus += [f"{family.code}-{i + 1:04d}" for i in range(count)]
        names += _product_names(rng, family, count)
        brands += list(rng.choice(family.brands, size=count, p=[0.6, 0.4]))

    pattern = np.array(["regular"] * n_skus, dtype=object)
    n_new = max(1, round(mix.new_share * n_skus))
    n_intermittent = max(1, round(mix.intermittent_share * n_skus))
    special = rng.permutation(n_skus)[: n_new + n_intermittent]
    pattern[special[:n_new]] = "new"
    pattern[special[n_new:]] = "intermittent"

    start_price = np.round(draw_within(rng, _per_family(family_of, "list_price")), 1) - 0.01
    elasticity = draw_within(rng, _per_family(family_of, "elasticity"))
    depth_coefficient = rng.uniform(0.3, 1.8, n_skus)
    feature_uplift = rng.uniform(0.15, 0.45, n_skus)
    display_uplift = rng.uniform(0.10, 0.35, n_skus)
    post_promo_dip = rng.uniform(0.05, 0.25, n_skus)
    trend = rng.normal(0.04, 0.06, n_skus)
    base_units = np.exp(rng.normal(np.log(5000), 0.7, n_skus))
    noise_cv = rng.uniform(0.07, 0.16, n_skus)
    demand_probability = np.ones(n_skus)
    is_intermittent = pattern == "intermittent"
    n_intermittent = is_intermittent.sum()
    base_units[is_intermittent] = rng.uniform(*mix.intermittent_units, n_intermittent)
    demand_probability[is_intermittent] = rng.uniform(*mix.intermittent_chance, n_intermittent)
    noise_cv[is_intermittent] = 0.3
    launch_index = np.zeros(n_skus, dtype=int)
    is_new = pattern == "new"
    fewest, most = mix.launch_weeks  # weeks of sales history a new launch has
    launch_index[is_new] = rng.integers(weeks.history - most, weeks.history - fewest, is_new.sum())
    on_sale = np.arange(weeks.count)[None, :] >= launch_index[:, None]
    return Catalogue(
        family_counts=family_counts,
        family_of=family_of,
        skus=skus,
        names=names,
        brands=brands,
        pattern=pattern,
        start_price=start_price,
        elasticity=elasticity,
        depth_coefficient=depth_coefficient,
        feature_uplift=feature_uplift,
        display_uplift=display_uplift,
        post_promo_dip=post_promo_dip,
        trend=trend,
        base_units=base_units,
        noise_cv=noise_cv,
        demand_probability=demand_probability,
        launch_index=launch_index,
        on_sale=on_sale,
    )


def truth_frame(catalogue: Catalogue) -> pd.DataFrame:
    """The ``sample_truth`` table: each SKU's true drivers, for checking the estimators."""
    elasticity = catalogue.elasticity
    return pd.DataFrame(
        {
            "sku": catalogue.skus,
            "pattern": catalogue.pattern.astype(str),
            "base_weekly_units": np.round(catalogue.base_units, 2),
            "reference_price": catalogue.start_price,
            "trend_per_year": catalogue.trend,
            "price_elasticity": elasticity,
            "promo_depth_coefficient": catalogue.depth_coefficient,
            "promo_uplift_per_10pct_discount": 0.9**elasticity
            * np.exp(0.1 * catalogue.depth_coefficient)
            - 1,
            "feature_uplift": catalogue.feature_uplift,
            "display_uplift": catalogue.display_uplift,
            "post_promo_dip": catalogue.post_promo_dip,
            "noise_cv": catalogue.noise_cv,
            "demand_probability": catalogue.demand_probability,
        }
    )


def channels_frame() -> pd.DataFrame:
    """The ``channels`` table."""
    return pd.DataFrame(CHANNELS, columns=["channel", "name", "description"])
