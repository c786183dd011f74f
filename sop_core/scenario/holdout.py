"""The proof that a promotion plan improves the targets: a holdout on the company's history.

Hold out the last ``weeks`` weeks of sales, forecast from what came before with a promotion
calendar that knows nothing of those weeks, hand the engine the promotions that really ran as
a plan file, and compare the targets with what was sold: the baseline (forecast alone) and
the revised targets (baseline + the plan's levers through the fitted driver effects), on the
SKU-weeks the plan promotes and on the others. WAPE = sum |target - actual| / sum actual.

Everything runs on a copy of the database; the original is only read.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from sop_core.data import db
from sop_core.data.errors import InputError
from sop_core.data.stores import overrides, sales
from sop_core.forecast.engine import ForecastSettings
from sop_core.forecast.evaluation import holdout_cutoff
from sop_core.forecast.runs import refresh_forecast
from sop_core.scenario.plan_files import holdout_plan
from sop_core.scenario.targets import compute_targets


def plan_holdout(
    path: Path | str,
    workdir: Path | str,
    weeks: int = 26,
    *,
    cannibalisation: float | None = None,
    settings: ForecastSettings | None = None,
    jobs: int | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> dict:
    """Run the holdout (see the module) in ``workdir``; return its figures: ``weeks``,
    ``skus``, ``plan_rows``, ``levers``, ``promoted_sku_weeks``, ``unpromoted_sku_weeks``,
    ``wape_promoted_baseline``, ``wape_promoted_revised``, ``promoted_reduction`` (1 -
    revised / baseline), and the same three for ``unpromoted``; ``plan_file`` is the plan the
    engine was given."""
    told = progress or (lambda fraction, message: None)
    workdir = Path(workdir)
    copy = workdir / "holdout.duckdb"
    with db.connect(path) as con:
        cutoff = holdout_cutoff(con, weeks)
        last = cutoff + dt.timedelta(weeks=weeks)
    shutil.copyfile(path, copy)
    told(0.05, "Copying the database and forgetting the held-out promotions")
    with db.connect(copy) as con:
        # The calendar must not know the held-out weeks: the plan file brings them; the
        # baseline is the forecast alone.
        sales.delete_promotions_ending_after(con, cutoff)
        overrides.delete_all_overrides(con)
        plan = holdout_plan(con, cutoff + dt.timedelta(weeks=1), last)
        actual = sales.units_by_sku_week_after(con, cutoff)
    plan_file = workdir / "holdout_plan.csv"
    plan.to_csv(plan_file, index=False)
    told(0.1, f"Forecasting from the history up to {cutoff:%d %b %Y}")
    if plan.empty:
        raise InputError(
            f"The {weeks} held-out weeks have no promotion in the sales history: there is no "
            "plan to test."
        )
    run = refresh_forecast(
        copy,
        settings or ForecastSettings(horizon=weeks),
        jobs=jobs,
        history_end=cutoff,
        progress=lambda fraction, message: told(0.1 + 0.8 * fraction, message),
    )
    told(0.9, "Applying the plan and scoring the targets")
    # The run just made (the copy may hold later ones: the database's own forecast).
    targets = compute_targets(
        copy, plan=plan_file, horizon=weeks, cannibalisation=cannibalisation, run_id=run.run_id
    )
    frame = targets.frame.assign(week=lambda f: pd.to_datetime(f["week"]))
    frame = frame.merge(
        actual.assign(week=lambda f: pd.to_datetime(f["week"])), on=["sku", "week"], how="left"
    ).fillna({"units": 0.0})
    promoted_keys = plan.assign(week=lambda f: pd.to_datetime(f["week"]))[["sku", "week"]]
    frame = frame.merge(promoted_keys.assign(promoted=True), on=["sku", "week"], how="left")
    promoted = frame["promoted"].notna().to_numpy()
    figures: dict = {
        "weeks": weeks,
        "history_end": cutoff.isoformat(),
        "skus": int(frame["sku"].nunique()),
        "plan_rows": len(plan),
        "levers": len(targets.plan.levers) if targets.plan else 0,
        "plan_file": str(plan_file),
    }
    for name, mask in (("promoted", promoted), ("unpromoted", ~promoted)):
        part = frame[mask]
        actual_sum = float(part["units"].sum())
        if actual_sum <= 0:
            raise InputError(f"Nothing was sold on the held-out {name} SKU-weeks to compare with.")
        baseline = float(np.abs(part["baseline"] - part["units"]).sum()) / actual_sum
        revised = float(np.abs(part["revised"] - part["units"]).sum()) / actual_sum
        figures[f"{name}_sku_weeks"] = int(mask.sum())
        figures[f"wape_{name}_baseline"] = round(baseline, 4)
        figures[f"wape_{name}_revised"] = round(revised, 4)
        figures[f"{name}_reduction"] = round(1 - revised / baseline, 4)
    told(1.0, "Done")
    return figures
