"""The plan of record: approving a scenario freezes its targets, versioned and never changed.

``approve`` takes the current forecast run, the consensus and the chosen scenario (or the
baseline), solves its production plan, and writes in one transaction a new version of the
plan of record: revised targets by SKU x week, production by SKU x line x week, planned hours by
line x week, with who approved it, when, the scenario's definition and the overrides in force.
Nothing here updates or deletes a version: later edits to the scenario, new overrides or a new
forecast make the next version, and every earlier one stays as it was (``verify`` proves it
with the SHA-256 stored at approval).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from sop_core.data import access, company, db
from sop_core.data.errors import ConflictError, InputError
from sop_core.data.stores import plans_of_record, scenarios
from sop_core.demand.consensus import active_overrides
from sop_core.forecast.runs import latest_run

BASELINE = "Baseline"
TABLES = plans_of_record.FROZEN_TABLES


@dataclass(frozen=True)
class Approval:
    """What an approval froze."""

    plan_version: int
    scenario: str
    weeks: int
    volume: float
    revenue: float
    margin: float
    unmet_units: float
    overtime_hours: float
    max_utilisation: float


def approve(
    path: Path | str,
    scenario_name: str | None,
    approved_by: str,
    *,
    note: str = "",
    weeks: int = 26,
    expected_version: int | None = None,
) -> Approval:
    """Freeze ``scenario_name`` (None: the baseline) as the next version of the plan of record.

    ``expected_version`` is the scenario version the approver looked at: if somebody saved the
    scenario since, nothing is frozen and ``ConflictError`` says who.
    """
    from sop_core.demand.plan_base import load_plan_base
    from sop_core.scenario.levers import apply_scenario
    from sop_core.scenario.model import Scenario
    from sop_core.scenario.store import load_scenario
    from sop_core.supply.planning import (
        PlanSettings,
        horizon_weeks,
        load_supply,
        plan_tables,
        solve_plan,
    )

    approved_by = (approved_by or "").strip()
    if not approved_by:
        raise InputError("Say who approves the plan (your name in the sidebar).")
    db.ensure_schema(path)
    access.check(path, approved_by, "approve")  # before the plan is solved; again on writing
    with db.connect(path) as con:
        run_id = latest_run(con)
        if run_id is None:
            raise InputError("There is no forecast to approve yet: make the forecast first.")
        base = load_plan_base(con, run_id)
        supply = load_supply(con, base)
        stored = load_scenario(con, scenario_name) if scenario_name else None
        overrides = [o.override_id for o in active_overrides(con)]
    scenario = stored.scenario if stored else Scenario(BASELINE)
    result = apply_scenario(base, scenario)
    w = horizon_weeks(result, min(weeks, result.revised.shape[1]))
    plan = solve_plan(result, supply, PlanSettings(), w)
    summary = plan.summary(result.available[:, :w])
    frames = _frames(result, plan_tables(plan, result, supply), w)
    digest = content_hash(frames)
    seen = expected_version if expected_version is not None else (stored and stored.version)
    try:
        with access.writing(path, approved_by, "approve") as write:
            con, approved_by = write.con, write.actor
            if stored is not None:
                _four_eyes(con, stored, approved_by)
                now = scenarios.scenario_stamp(con, stored.scenario_id)
                if now is None:
                    raise InputError(f"The scenario {scenario_name!r} was deleted meanwhile.")
                if now.version != seen:
                    raise ConflictError(
                        f"{now.updated_by} saved {scenario_name!r} at {now.updated_at:%H:%M:%S} "
                        "after you opened it; nothing was approved. Review their version and "
                        "approve again."
                    )
            version = plans_of_record.next_plan_version(con)
            totals = frames["plan_of_record_targets"]
            approval = Approval(
                version,
                scenario_name or BASELINE,
                w,
                float(totals["target"].sum()),
                float(totals["revenue"].sum()),
                float(totals["margin"].sum()),
                float(summary["unmet_units"]),
                float(summary["overtime_hours"]),
                float(summary["max_utilisation"]),
            )
            plans_of_record.record_plan_of_record(
                con,
                {
                    "plan_version": version,
                    "approved_by": approved_by,
                    "scenario": approval.scenario,
                    "scenario_version": stored.version + 1 if stored else None,
                    "definition": scenario.to_json(),
                    "run_id": run_id,
                    "overrides": json.dumps(overrides),
                    "note": note.strip() or None,
                    "weeks": w,
                    "volume": approval.volume,
                    "revenue": approval.revenue,
                    "margin": approval.margin,
                    "unmet_units": approval.unmet_units,
                    "overtime_hours": approval.overtime_hours,
                    "max_utilisation": approval.max_utilisation,
                    "content_sha256": digest,
                },
                frames,
            )
            if stored is not None:
                scenarios.mark_scenario_approved(con, stored.scenario_id, approved_by)
            write.record(
                "approve",
                f"plan of record v{version}",
                scope=approval.scenario,
                after={
                    "weeks": w,
                    "volume": approval.volume,
                    "revenue": approval.revenue,
                    "note": note.strip() or None,
                },
            )
    except duckdb.ConstraintException:
        # Another approval took the same version number at the same moment.
        raise ConflictError(
            "Someone approved a plan at the same moment; nothing of yours was frozen. "
            "Look at the plan of record versions and approve again if still needed."
        ) from None
    return approval


def _four_eyes(con: duckdb.DuckDBPyConnection, stored, approver: str) -> None:
    """With four-eyes approval asked for (``company.four_eyes``), refuse an approval by the
    scenario's owner or by whoever saved its current version."""
    if not company.four_eyes(con):
        return
    authors = {stored.owner.strip().lower(), stored.updated_by.strip().lower()}
    if approver.strip().lower() in authors:
        raise access.AccessDenied(
            f"Four-eyes approval is on: {approver} made or last saved the scenario "
            f"{stored.scenario.name!r}, so another S&OP lead approves it. Nothing was approved."
        )


def _frames(result, tables: dict[str, pd.DataFrame], weeks: int) -> dict[str, pd.DataFrame]:
    base = result.base
    n = len(base.skus)
    span = slice(0, weeks)
    week_keys = pd.to_datetime(base.weeks[span])
    targets = pd.DataFrame(
        {
            "sku": np.repeat(base.skus, weeks),
            "week": np.tile(week_keys, n),
            "statistical": base.statistical[:, span].ravel(),
            "consensus": base.baseline[:, span].ravel(),
            "target": result.revised[:, span].ravel(),
            "lower_80": result.lower_80[:, span].ravel(),
            "upper_80": result.upper_80[:, span].ravel(),
            "revenue": result.revenue[:, span].ravel(),
            "margin": result.margin[:, span].ravel(),
        }
    )
    return {
        "plan_of_record_targets": targets,
        "plan_of_record_production": tables["plan_rows"],
        "plan_of_record_capacity": tables["plan_lines"],
    }


def content_hash(frames: dict[str, pd.DataFrame]) -> str:
    """SHA-256 over the frozen rows, in key order, numbers rounded to 1e-6."""
    digest = hashlib.sha256()
    for table in TABLES:
        frame = frames[table].drop(columns="plan_version", errors="ignore")
        keys = [c for c in ("sku", "line", "week") if c in frame.columns]
        frame = frame.sort_values(keys).reset_index(drop=True)
        frame["week"] = pd.to_datetime(frame["week"]).dt.strftime("%Y-%m-%d")
        digest.update(table.encode())
        digest.update(frame.round(6).to_csv(index=False).encode())
    return digest.hexdigest()


def load_frozen(con: duckdb.DuckDBPyConnection, version: int) -> dict[str, pd.DataFrame]:
    """The rows of plan of record ``version``."""
    return plans_of_record.frozen_rows(con, version)


def verify(con: duckdb.DuckDBPyConnection, version: int) -> bool:
    """Whether plan of record ``version`` is exactly as it was approved."""
    record = plans_of_record.plan_of_record(con, version)
    if record is None:
        raise InputError(f"There is no plan of record version {version}.")
    return content_hash(load_frozen(con, version)) == record.content_sha256
