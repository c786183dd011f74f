"""The sample company tells the S&OP story, deterministically."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from sop_core.data.errors import InputError
from sop_core.data.sample import FAMILIES, SampleConfig, build_sample_database, generate
from sop_core.data.stores import production
from tests.conftest import AS_OF, SAMPLE


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return generate(SAMPLE)


@pytest.fixture(scope="module")
def sales(tables) -> pd.DataFrame:
    frame = tables["sales_history"].merge(tables["products"][["sku", "family"]], on="sku")
    frame["quarter"] = frame["week"].dt.to_period("Q")
    return frame


def test_same_seed_same_company_other_seed_other_company():
    first, second = generate(SAMPLE), generate(SAMPLE)
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name])
    other = generate(SampleConfig(skus=40, seed=8, as_of=AS_OF))
    assert not other["sales_history"]["units"].equals(first["sales_history"]["units"])


def test_shape_of_the_company(tables):
    products = tables["products"]
    assert len(products) == 40 and products["sku"].is_unique
    assert set(products["family"]) == {f.name for f in FAMILIES}
    assert set(tables["channels"]["channel"]) == {"retail", "ecommerce", "pharmacy"}
    assert 5 <= len(tables["production_lines"]) <= 6
    assert set(products["default_line"]) <= set(tables["production_lines"]["line"])


def test_history_is_three_years_ending_with_the_last_complete_week(tables):
    weeks = tables["sales_history"]["week"]
    assert weeks.max() == pd.Timestamp("2026-11-16")
    assert weeks.nunique() == 160
    assert (weeks.max() - weeks.min()).days >= 3 * 365


def test_size_scales_with_parameters():
    small = generate(SampleConfig(skus=12, weeks=110, seed=3, as_of=AS_OF))
    assert len(small["products"]) == 12
    assert small["sales_history"]["week"].nunique() == 110
    big = generate(SampleConfig(skus=300, seed=3, as_of=AS_OF))
    assert len(big["products"]) == 300
    assert len(big["production_lines"]) > 6


@pytest.mark.parametrize("bad", [dict(skus=2), dict(weeks=20), dict(skus=10**6)])
def test_bad_sizes_are_refused(bad):
    with pytest.raises(InputError):
        generate(SampleConfig(as_of=AS_OF, **bad))


def test_no_negative_or_impossible_values(tables):
    sales = tables["sales_history"]
    assert (sales["units"] >= 0).all()
    assert sales["discount_depth"].between(0, 0.99).all()
    assert sales[["feature", "display"]].stack().between(0, 1).all()
    promoted = sales[sales["discount_depth"] > 0]
    assert (promoted["net_price"] < promoted["list_price"]).all()


def test_promotion_weeks_sell_more_and_deeper_discounts_more(sales):
    regular = sales[
        sales["sku"].isin(sales.groupby("sku")["units"].mean().loc[lambda s: s > 100].index)
    ]
    base = (
        regular[regular["discount_depth"] == 0]
        .groupby(["sku", "channel", "quarter"])["units"]
        .median()
        .rename("base")
    )
    promoted = regular[regular["discount_depth"] > 0].join(base, on=["sku", "channel", "quarter"])
    lift = promoted["units"] / promoted["base"]
    assert lift.median() > 1.5
    shallow = lift[promoted["discount_depth"] <= 0.15].median()
    deep = lift[promoted["discount_depth"] >= 0.3].median()
    assert deep > shallow * 1.3


def test_week_after_a_promotion_dips(sales):
    frame = sales.sort_values(["sku", "channel", "week"]).copy()
    keys = ["sku", "channel"]
    frame["previous_depth"] = frame.groupby(keys)["discount_depth"].shift(1)
    base = (
        frame[frame["discount_depth"] == 0]
        .groupby(["sku", "channel", "quarter"])["units"]
        .median()
        .rename("base")
    )
    after = frame[(frame["discount_depth"] == 0) & (frame["previous_depth"] >= 0.25)]
    after = after.join(base, on=["sku", "channel", "quarter"])
    ratio = (after["units"] / after["base"]).median()
    assert ratio < 0.97


def test_holiday_peaks(sales):
    fragrance = sales[sales["family"] == "fragrance"].groupby("week")["units"].sum()
    typical = fragrance.median()
    december = fragrance[(fragrance.index.month == 12) & (fragrance.index.day <= 21)]
    assert december.max() > 2.0 * typical
    valentines = fragrance[(fragrance.index.month == 2) & (fragrance.index.day.isin(range(8, 15)))]
    assert valentines.median() > 1.2 * typical
    total = sales.groupby("week")["units"].sum()
    black_friday_weeks = [pd.Timestamp(d) for d in ("2024-11-25", "2025-11-24")]
    assert (total[black_friday_weeks] > 1.3 * total.median()).all()


def test_observed_promotion_lift_matches_the_truth(tables, sales):
    """Depth-only promotions (no feature, display or holiday) lift sales by the true amount:
    the truth table describes the data."""
    truth = tables["sample_truth"].set_index("sku")
    regular = truth.index[truth["pattern"] == "regular"]
    frame = sales[sales["sku"].isin(regular) & ~sales["week"].dt.month.isin([11, 12])]
    base = (
        frame[frame["discount_depth"] == 0]
        .groupby(["sku", "channel", "quarter"])["units"]
        .median()
        .rename("base")
    )
    plain = frame[
        (frame["discount_depth"] > 0) & (frame["feature"] == 0) & (frame["display"] == 0)
    ].join(base, on=["sku", "channel", "quarter"])
    observed = plain["units"] / plain["base"]
    elasticity = truth.loc[plain["sku"], "price_elasticity"].to_numpy()
    depth_coefficient = truth.loc[plain["sku"], "promo_depth_coefficient"].to_numpy()
    expected = (1 - plain["discount_depth"]) ** elasticity * np.exp(
        depth_coefficient * plain["discount_depth"]
    )
    assert (observed / expected).median() == pytest.approx(1.0, abs=0.12)
    assert set(truth.index) == set(tables["products"]["sku"])


def test_stock_flows_balance(tables):
    made = tables["production_actuals"].groupby(["sku", "week"])["units_produced"].sum()
    sold = tables["sales_history"].groupby(["sku", "week"])["units"].sum()
    stock = tables["inventory"].set_index(["sku", "week"])["units_on_hand"].sort_index()
    frame = pd.DataFrame({"stock": stock}).join(made.rename("made")).join(sold.rename("sold"))
    frame = frame.fillna(0.0)
    frame["before"] = frame.groupby(level="sku")["stock"].shift(1)
    steady = frame[(frame["before"] > 0) & (frame["stock"] > 0)]
    assert len(steady) > 1000
    balance = steady["before"] + steady["made"] - steady["sold"] - steady["stock"]
    assert np.abs(balance).max() < 1e-6


@pytest.mark.parametrize(
    ("skus", "seed", "weeks"), [(5, 0, 104), (5, 1, 160), (17, 3, 160), (60, 42, 200)]
)
def test_other_sizes_and_seeds_hold_together(tmp_path: Path, skus, seed, weeks):
    path = tmp_path / "s.duckdb"
    build_sample_database(path, SampleConfig(skus=skus, seed=seed, weeks=weeks, as_of=AS_OF))
    con = duckdb.connect(str(path))
    load = production.line_utilisation_history(con, dt.date(2026, 11, 16), 52)
    speeds = con.execute("SELECT min(units_per_hour) FROM products").fetchone()[0]
    con.close()
    # No line is overloaded most of the year (new launches are sized by their selling weeks).
    typical = load[load["available_hours"] > 0].groupby("line")["utilisation"].median()
    assert (typical < 1.0).all(), typical
    assert speeds > 10


def test_new_launches_and_intermittent_items(tables, sales):
    truth = tables["sample_truth"].set_index("sku")
    history_weeks = sales.groupby("sku")["week"].nunique()
    new = truth.index[truth["pattern"] == "new"]
    assert len(new) >= 2
    assert (history_weeks[new] < 52).all()
    intermittent = truth.index[truth["pattern"] == "intermittent"]
    assert len(intermittent) >= 2
    weekly = sales[sales["sku"].isin(intermittent)].groupby(["sku", "week"])["units"].sum()
    zero_share = (weekly == 0).groupby("sku").mean()
    assert (zero_share > 0.4).all()


def test_list_prices_rise_each_january(tables):
    changes = tables["price_changes"]
    assert (changes["list_price"] > changes["previous_list_price"]).all()
    assert set(changes["effective_week"].dt.month) == {1}
    assert (changes["effective_week"] > pd.Timestamp("2026-11-16")).any(), "none announced"


def test_bigger_batches_cut_unit_cost(tables):
    products = tables["products"]
    assert (products["setup_cost_per_batch"] > 0).all()
    cost = lambda batch: products["unit_variable_cost"] + products["setup_cost_per_batch"] / batch  # noqa: E731
    assert (cost(2 * products["standard_batch_size"]) < cost(products["standard_batch_size"])).all()
    setup_share = (
        products["setup_cost_per_batch"]
        / products["standard_batch_size"]
        / cost(products["standard_batch_size"])
    )
    assert setup_share.median() > 0.03, "setup costs too small to matter"


def test_peak_season_overloads_a_line(sample_db_master: Path):
    con = duckdb.connect(str(sample_db_master))
    load = production.line_utilisation_history(con, dt.date(2026, 11, 16), 156)
    con.close()
    peak = load[load["week"].dt.month.isin([11, 12]) & (load["available_hours"] > 0)]
    assert (peak["utilisation"] > 1.0).any()
    # Outside the peak the lines mostly have room.
    calm = load[load["week"].dt.month.isin([3, 4, 9, 10])]
    assert calm["utilisation"].median() < 0.85


def test_build_is_atomic_and_refuses_to_overwrite(tmp_path: Path):
    path = tmp_path / "company.duckdb"
    config = SampleConfig(skus=10, weeks=110, as_of=AS_OF)
    counts = build_sample_database(path, config)
    assert counts["products"] == 10
    with pytest.raises(InputError, match="already exists"):
        build_sample_database(path, config)
    build_sample_database(path, SampleConfig(skus=12, weeks=110, as_of=AS_OF), force=True)
    con = duckdb.connect(str(path))
    assert con.execute("SELECT count(*) FROM products").fetchone()[0] == 12
    con.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["company.duckdb"]


def test_a_failed_build_leaves_nothing_behind(tmp_path: Path, monkeypatch):
    path = tmp_path / "company.duckdb"
    from sop_core.data import sample

    def broken_write(con, tables):
        con.execute("INSERT INTO channels VALUES ('retail', 'Retail', NULL)")
        raise RuntimeError("disk full")

    monkeypatch.setattr(sample, "write_tables", broken_write)
    with pytest.raises(RuntimeError):
        build_sample_database(path, SampleConfig(skus=10, weeks=110, as_of=AS_OF))
    assert list(tmp_path.iterdir()) == []


# ---- mixes: the same company with another kind of demand ---------------------------------------

STANDARD_DIGEST = "6571a1c12218a60e119472d9aca77d260f9fecc89fd696a2dbb5b2e7e46f639e"
"""SHA-256 of the default sample's tables as CSV, taken from the generator before mixes."""
# Tables and settings added since, derived without random draws: outside the digest.
LATER_TABLES = ("budget",)
LATER_SETTINGS = ("fiscal_start_month", "fiscal_pattern")


def _weekly(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Units and whether any channel promoted, by SKU and week."""
    sales = tables["sales_history"]
    return sales.groupby(["sku", "week"]).agg(
        units=("units", "sum"), promoted=("discount_depth", lambda d: bool((d > 0).any()))
    )


def _past_promotions(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    promotions = tables["promotions"]
    return promotions[promotions["status"] == "past"]


def _regular_price_moves(tables: dict[str, pd.DataFrame]) -> float:
    """Share of unpromoted weeks whose net-to-list price ratio moved from the one before."""
    sales = tables["sales_history"]
    regular = sales[sales["discount_depth"] == 0].sort_values("week")
    ratio = regular["net_price"] / regular["list_price"]
    return float((ratio.groupby([regular["sku"], regular["channel"]]).diff().abs() > 1e-3).mean())


@pytest.fixture(scope="module")
def mixes(tables) -> dict[str, dict[str, pd.DataFrame]]:
    other = {
        mix: generate(SampleConfig(skus=40, seed=7, as_of=AS_OF, mix=mix))
        for mix in ("promotion-heavy", "intermittent", "short-history", "plain")
    }
    return {"standard": tables, **other}


def test_the_standard_mix_is_the_company_as_it_always_was(tables):
    """The default mix is ``standard`` and draws exactly what the generator drew before mixes
    existed: every random draw in the same order."""
    explicit = generate(SampleConfig(skus=40, seed=7, as_of=AS_OF, mix="standard"))
    for name in tables:
        pd.testing.assert_frame_equal(tables[name], explicit[name])
    digest = hashlib.sha256()
    for name, frame in tables.items():
        if name in LATER_TABLES:
            continue
        if name == "company_settings":  # the fiscal calendar's rows came later
            frame = frame[~frame["key"].isin(LATER_SETTINGS)].reset_index(drop=True)
        if name == "capacity_calendar":  # later extended past the 52 weeks it covered
            end = tables["sales_history"]["week"].max() + pd.Timedelta(weeks=52)
            frame = frame[frame["week"] <= end].reset_index(drop=True)
        digest.update(name.encode())
        digest.update(frame.to_csv(index=False).encode())
    assert digest.hexdigest() == STANDARD_DIGEST


def test_an_unknown_mix_is_refused_naming_the_known_ones():
    with pytest.raises(InputError, match="standard, promotion-heavy, intermittent, short-history"):
        generate(SampleConfig(skus=10, as_of=AS_OF, mix="lumpy"))


def test_promotion_heavy_promotes_most_skus_often_deeper_with_more_support(mixes):
    standard, heavy = mixes["standard"], mixes["promotion-heavy"]
    promoted_standard = _weekly(standard)["promoted"]
    promoted_heavy = _weekly(heavy)["promoted"]
    assert promoted_heavy.mean() > max(0.3, 2 * promoted_standard.mean())
    # Most SKUs (all but the never-promoted intermittent ones) promoted in a fifth of weeks.
    assert (promoted_heavy.groupby("sku").mean() >= 0.2).mean() > 0.85
    assert (promoted_standard.groupby("sku").mean() >= 0.2).mean() < 0.2
    past_standard, past_heavy = _past_promotions(standard), _past_promotions(heavy)
    assert past_heavy["discount_depth"].mean() > past_standard["discount_depth"].mean() + 0.03
    for support in ("feature", "display"):
        assert (past_heavy[support] > 0).mean() > (past_standard[support] > 0).mean() + 0.15
    assert _regular_price_moves(heavy) > 2 * _regular_price_moves(standard)


def test_intermittent_mix_makes_two_in_five_skus_lumpy_and_small(mixes):
    def lumpy_share(tables):
        weekly = _weekly(tables)
        return float(((weekly["units"] == 0).groupby("sku").mean() >= 0.3).mean())

    assert lumpy_share(mixes["standard"]) < 0.15
    assert 0.3 <= lumpy_share(mixes["intermittent"]) <= 0.5
    truth = mixes["intermittent"]["sample_truth"].set_index("sku")
    assert (truth["pattern"] == "intermittent").mean() == pytest.approx(0.4)
    mean_units = _weekly(mixes["intermittent"])["units"].groupby("sku").mean()
    intermittent = truth["pattern"].reindex(mean_units.index) == "intermittent"
    assert mean_units[intermittent].max() < 0.1 * mean_units[~intermittent].median()


def test_short_history_mix_launches_a_third_or_more_during_the_history(mixes):
    def weeks_sold(tables):
        return tables["sales_history"].groupby("sku")["week"].nunique()

    assert weeks_sold(mixes["standard"]).between(30, 80).mean() < 0.1
    sold = weeks_sold(mixes["short-history"])
    short = sold.between(30, 80)
    assert 1 / 3 <= short.mean() <= 0.5
    assert (sold[~short] == 160).all(), "the rest keep the whole history"


def test_plain_mix_has_no_promotions_and_no_price_moves(mixes):
    plain = mixes["plain"]
    assert plain["promotions"].empty
    sales = plain["sales_history"]
    assert (sales["discount_depth"] == 0).all() and not sales["feature"].any()
    assert not mixes["standard"]["promotions"].empty

    def price_levels(sales):
        """Distinct net / list price ratios per SKU and channel (list price rises move it
        too; promotions and regular price moves add more)."""
        ratio = (sales["net_price"] / sales["list_price"]).round(9)
        return ratio.groupby([sales["sku"], sales["channel"]]).nunique()

    assert price_levels(sales).max() <= 4
    assert price_levels(mixes["standard"]["sales_history"]).mean() > 2 * price_levels(sales).mean()


@pytest.mark.parametrize("mix", ["promotion-heavy", "intermittent", "short-history", "plain"])
def test_every_mix_builds_a_database_that_holds_together(tmp_path: Path, mix):
    path = tmp_path / "s.duckdb"
    build_sample_database(path, SampleConfig(skus=20, seed=3, weeks=110, as_of=AS_OF, mix=mix))
    con = duckdb.connect(str(path))
    generated_by = con.execute(
        "SELECT value FROM company_settings WHERE key = 'generated_by'"
    ).fetchone()[0]
    load = production.line_utilisation_history(con, dt.date(2026, 11, 16), 52)
    con.close()
    assert generated_by.endswith(f"mix={mix}")
    typical = load[load["available_hours"] > 0].groupby("line")["utilisation"].median()
    assert (typical < 1.0).all(), typical
