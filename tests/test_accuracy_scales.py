"""The MASE scales summed in DuckDB (``accuracy.history_scales``) against the pandas
computation on the weekly rows (``accuracy.history_frame``): the same numbers for every scope,
per scope and per SKU, at origins inside, before and after the history, on the sample and on a
tiny company whose family, brand and channel stop selling before the origins."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sop_core.data import db
from sop_core.demand import accuracy
from tests.test_accuracy import RUNS, WEEKS, fill, monday

TOLERANCE = {"rtol": 1e-9, "atol": 1e-9}


def both_forms(path: Path, origins) -> tuple[pd.DataFrame, accuracy.HistoryScales]:
    with db.connect(path) as con:
        return accuracy.history_frame(con), accuracy.history_scales(con, origins)


def scopes_of(history: pd.DataFrame, skus: int) -> list[tuple[str, str | None]]:
    """Every family, brand and channel of the history, the whole company, ``skus`` SKUs and
    a family that is not there."""
    scopes = [("total", None), ("family", "no such family")]
    for level in ("family", "brand", "channel"):
        scopes += [(level, value) for value in sorted(history[level].dropna().unique())]
    return scopes + [("sku", sku) for sku in sorted(history["sku"].unique())[:skus]]


def assert_same_scales(history, scales, origins, scopes) -> None:
    """Per scope and per SKU within it, the same scales from both forms (the pandas form's
    SKUs without a scale left out: a merge gives them none either way)."""
    origins = pd.to_datetime(pd.Index(origins)).unique().to_numpy()
    for level, value in scopes:
        old = accuracy.seasonal_naive_scale(history, origins, level, value)
        new = accuracy.seasonal_naive_scale(scales, origins, level, value)
        pd.testing.assert_series_equal(old, new, **TOLERANCE, obj=f"{level} {value}")
        old = accuracy._scope_scales(history, level, value, origins, ["sku"])
        new = accuracy._scope_scales(scales, level, value, origins, ["sku"])
        old = old[old["scale"].notna()].sort_values(["sku", "origin"], ignore_index=True)
        new = new.sort_values(["sku", "origin"], ignore_index=True)
        pd.testing.assert_frame_equal(
            old, new, check_dtype=False, **TOLERANCE, obj=f"SKUs of {level} {value}"
        )


def test_the_sample_has_the_same_scales_in_every_scope(sample_db: Path):
    with db.connect(sample_db) as con:
        first, last = con.execute("SELECT min(week), max(week) FROM sales_history").fetchone()
    origins = [
        first - dt.timedelta(weeks=3),  # before the history: no scale anywhere
        first + dt.timedelta(weeks=52),  # the first week a seasonal naive exists
        first + dt.timedelta(weeks=80),
        last - dt.timedelta(weeks=26),
        last - dt.timedelta(weeks=4, days=-2),  # a Wednesday: its week's scale
        last,
        last + dt.timedelta(weeks=10),  # after the history: its last week's scale
    ]
    history, scales = both_forms(sample_db, origins)
    assert_same_scales(history, scales, origins, scopes_of(history, skus=12))
    total = accuracy.seasonal_naive_scale(scales, origins)
    assert total.iloc[0] != total.iloc[0] and (total.iloc[2:] > 0).all()


def stopping(path: Path) -> None:
    """The tiny company of ``tests/test_accuracy`` and E, of a family, brand and channel of
    its own, sold weeks 0 to 62 only (before both origins), and F, a face SKU launched in week
    30 (a year of history only from week 82)."""
    db.ensure_schema(path)
    with db.transaction(path) as con:
        fill(con, RUNS)
        db.insert_frame(
            con,
            "products",
            pd.DataFrame(
                {
                    "sku": ["E", "F"],
                    "name": ["Echo", "Foxtrot"],
                    "family": ["hand", "face"],
                    "brand": ["West", "North"],
                    "list_price": [4.0, 7.0],
                    "unit_variable_cost": [1.0, 1.0],
                    "standard_batch_size": [100.0, 100.0],
                }
            ),
        )
        rows = [(monday(t), "E", "wholesale", 7.0 + t % 5 + (t >= 52) * 3) for t in range(63)]
        rows += [(monday(t), "F", "retail", 3.0 + t % 2) for t in range(30, WEEKS)]
        db.insert_frame(
            con,
            "sales_history",
            pd.DataFrame(rows, columns=["week", "sku", "channel", "units"]).assign(net_price=5.0),
        )


def test_a_scope_that_stopped_selling_is_scaled_to_its_last_week_in_both_forms(tmp_path: Path):
    path = tmp_path / "tiny.duckdb"
    stopping(path)
    with db.connect(path) as con:
        frame = accuracy.lag_frame(con)
    later = [pd.Timestamp(monday(t)) for t in (60, 62, 90)]
    origins = [*frame["origin"].unique(), *later]
    history, scales = both_forms(path, origins)
    assert_same_scales(history, scales, origins, scopes_of(history, skus=6))
    # E's family stopped at week 62: at both origins its scale is the one of week 62.
    hand = accuracy.seasonal_naive_scale(
        scales, [monday(62), monday(65), monday(67)], "family", "hand"
    )
    assert hand.nunique() == 1 and hand.iloc[0] > 0


def test_the_scores_are_the_same_from_either_form(tmp_path: Path):
    path = tmp_path / "tiny.duckdb"
    stopping(path)
    with db.connect(path) as con:
        frame = accuracy.lag_frame(con)
        history = accuracy.history_frame(con)
        scales = accuracy.history_scales(con, frame["origin"].unique())
    for level, value in [
        ("total", None),
        ("family", "hand"),
        ("family", "face"),
        ("brand", "North"),
        ("channel", "retail"),
        ("channel", "wholesale"),
        ("sku", "E"),
        ("sku", "A"),
    ]:
        for lag in (None, 1, 3):
            pd.testing.assert_frame_equal(
                accuracy.accuracy_by_sku(frame, history, lag, level, value),
                accuracy.accuracy_by_sku(frame, scales, lag, level, value),
                **TOLERANCE,
            )
            pd.testing.assert_frame_equal(
                accuracy.value_added(frame, history, level, value, lag),
                accuracy.value_added(frame, scales, level, value, lag),
                **TOLERANCE,
            )
        pd.testing.assert_frame_equal(
            accuracy.accuracy_by_lag(frame, history, level, value),
            accuracy.accuracy_by_lag(frame, scales, level, value),
            **TOLERANCE,
        )
    assert accuracy.scope_values(scales, "family") == accuracy.scope_values(history, "family")
    assert accuracy.scope_values(scales, "sku") == set("ABCDEF")


def test_scales_are_not_made_up_at_an_origin_they_were_not_computed_at(tmp_path: Path):
    path = tmp_path / "tiny.duckdb"
    stopping(path)
    _, scales = both_forms(path, [monday(65)])
    with pytest.raises(ValueError, match="no scales were computed at 2025-04-07"):
        accuracy.seasonal_naive_scale(scales, [monday(65), monday(66)])
    assert np.isfinite(accuracy.seasonal_naive_scale(scales, [monday(65)]).iloc[0])


@pytest.mark.slow
def test_the_backfilled_samples_scores_are_the_same_from_either_form(backfilled_db: Path):
    with db.connect(backfilled_db) as con:
        frame = accuracy.with_consensus(con, accuracy.lag_frame(con))
        history = accuracy.history_frame(con)
        scales = accuracy.history_scales(con, frame["origin"].unique())
    family = sorted(history["family"].unique())[0]
    sku = sorted(history["sku"].unique())[3]
    channel = sorted(history["channel"].unique())[-1]
    for level, value in [("total", None), ("family", family), ("channel", channel), ("sku", sku)]:
        pd.testing.assert_frame_equal(
            accuracy.accuracy_by_lag(frame, history, level, value),
            accuracy.accuracy_by_lag(frame, scales, level, value),
            **TOLERANCE,
        )
        pd.testing.assert_frame_equal(
            accuracy.accuracy_by_sku(frame, history, 2, level, value),
            accuracy.accuracy_by_sku(frame, scales, 2, level, value),
            **TOLERANCE,
        )
        pd.testing.assert_frame_equal(
            accuracy.value_added(frame, history, level, value),
            accuracy.value_added(frame, scales, level, value),
            **TOLERANCE,
        )
