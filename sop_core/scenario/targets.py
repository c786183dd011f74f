"""Revised targets out, for production scheduling and finance.

Per SKU and week: ``sku, week, baseline, revised, lower_80, upper_80``. ``baseline`` is the
consensus (the statistical forecast with the team's overrides), ``revised`` the baseline with
a scenario's or a plan file's levers applied through the fitted driver effects: the same
maths as the Promotions & pricing page (``scenario.apply_scenario``). The targets of an
approved plan of record come out the same way, exactly as frozen.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sop_core.data import db, export
from sop_core.data.errors import InputError
from sop_core.data.export import CONTROL, escape_formulas
from sop_core.data.stores import plans_of_record
from sop_core.demand.plan_base import load_plan_base
from sop_core.forecast.runs import latest_run
from sop_core.scenario.levers import (
    Scenario,
    ScenarioResult,
    applicable,
    apply_scenario,
    checked_cannibalisation,
)
from sop_core.scenario.plan_files import PlanReport, read_plan

COLUMNS = ("sku", "week", "baseline", "revised", "lower_80", "upper_80")
FORMATS = {".csv": "csv", ".xlsx": "xlsx"}
DECIMALS = 2
DEFAULT_HORIZON = 26


@dataclass
class Targets:
    """Targets and where they come from."""

    frame: pd.DataFrame  # COLUMNS
    source: str  # "baseline", "scenario NAME", "plan FILE" or "plan of record vN"
    run_id: int | None = None
    notes: list[str] = field(default_factory=list)
    plan: PlanReport | None = None


def result_targets(result: ScenarioResult, weeks: int | None = None) -> pd.DataFrame:
    """A scenario's targets (its first ``weeks`` weeks), in ``COLUMNS``."""
    base = result.base
    span = slice(0, weeks)
    n, w = result.revised[:, span].shape
    return pd.DataFrame(
        {
            "sku": np.repeat(base.skus, w),
            "week": np.tile(pd.to_datetime(base.weeks[span]), n),
            "baseline": base.baseline[:, span].ravel(),
            "revised": result.revised[:, span].ravel(),
            "lower_80": result.lower_80[:, span].ravel(),
            "upper_80": result.upper_80[:, span].ravel(),
        }
    )


def compute_targets(
    path: Path | str,
    *,
    scenario: str | None = None,
    plan: Path | str | None = None,
    plan_of_record: int | None = None,
    mapping: dict[str, str] | None = None,
    horizon: int | None = None,
    cannibalisation: float | None = None,
    run_id: int | None = None,
) -> Targets:
    """Targets for ``horizon`` weeks (26 by default) from the current forecast (or forecast
    run ``run_id``): with the levers of the saved ``scenario``, of the ``plan`` file, or none
    (the baseline); or the frozen targets of plan of record version ``plan_of_record`` (0:
    the latest; all its weeks by default)."""
    if sum(x is not None for x in (scenario, plan, plan_of_record)) > 1:
        raise InputError("Give one of a scenario, a plan file or a plan of record, not several.")
    if horizon is not None and horizon < 1:
        raise InputError("The horizon must be at least one week.")
    if plan_of_record is not None:
        if cannibalisation is not None:
            raise InputError(
                "A plan of record's targets are frozen as approved; cannibalisation cannot "
                "change them."
            )
        return _plan_of_record(path, plan_of_record, horizon)
    horizon = horizon or DEFAULT_HORIZON
    report = None
    if plan is not None:
        report = read_plan(path, plan, mapping=mapping)
        if not report.ok:
            raise PlanFileError(report)
    with db.connect(path) as con:
        run_id = run_id or latest_run(con)
        if run_id is None:
            raise InputError(
                "There is no forecast yet: run `python -m sop_core forecast --db ...` first."
            )
        if scenario is not None:
            from sop_core.scenario.store import load_scenario

            chosen = load_scenario(con, scenario).scenario
            source = f"scenario {scenario}"
        elif report is not None:
            chosen = report.scenario(Path(plan).name)
            source = f"plan {Path(plan).name}"
        else:
            chosen, source = Scenario("Baseline"), "baseline"
        base = load_plan_base(con, run_id, horizon)
    notes = []
    if horizon > len(base.weeks):
        notes.append(
            f"The forecast covers {len(base.weeks)} weeks; the targets stop there "
            f"({horizon} asked for)."
        )
    if cannibalisation is not None:
        chosen.cannibalisation = checked_cannibalisation(cannibalisation)
    chosen, left_out = applicable(base, chosen)
    result = apply_scenario(base, chosen)
    notes += left_out + result.warnings
    return Targets(result_targets(result), source, run_id, notes, report)


class PlanFileError(InputError):
    """A plan file with errors: ``report`` has them, each with its lines."""

    def __init__(self, report: PlanReport):
        super().__init__(report.summary())
        self.report = report


def _plan_of_record(path: Path | str, version: int, horizon: int | None) -> Targets:
    with db.connect(path) as con:
        record = plans_of_record.plan_of_record(con, version or None)
        if record is None:
            raise InputError(
                f"There is no plan of record version {version}."
                if version
                else "No plan of record has been approved yet."
            )
        version = record.plan_version
        frame = plans_of_record.frozen_targets(con, version, horizon)[
            ["sku", "week", "consensus", "target", "lower_80", "upper_80"]
        ].rename(columns={"consensus": "baseline", "target": "revised"})
    weeks = frame["week"].nunique()
    notes = (
        [
            f"Plan of record v{version} froze {weeks} weeks; the targets stop there ({horizon} "
            "asked for)."
        ]
        if horizon and horizon > weeks
        else []
    )
    return Targets(frame, f"plan of record v{version}", notes=notes)


def write_targets(frame: pd.DataFrame, out: Path | str, fmt: str | None = None) -> int:
    """Write ``frame`` (``COLUMNS``) to CSV or Excel; the file appears complete or not at all.
    Return the rows written."""
    out = Path(out)
    kind = fmt or FORMATS.get(out.suffix.lower())
    if kind not in FORMATS.values():
        raise InputError(f"{out.name}: name the targets file .csv or .xlsx (or give --format).")
    export.check_out_file(out)
    temporary = out.with_name(f".{out.name}.partial")
    try:
        temporary.write_bytes(targets_bytes(frame, kind))
        temporary.replace(out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return len(frame)


def targets_bytes(frame: pd.DataFrame, kind: str) -> bytes:
    """``frame`` as the bytes of a CSV or Excel file (weeks as dates, units to 2 decimals,
    a SKU code a spreadsheet would run as a formula escaped)."""
    sku = frame["sku"].astype(str)
    risky = sku.str.match(r"[=+\-@\t\r]") | sku.str.contains(CONTROL, regex=True)
    rows = frame[list(COLUMNS)].round(DECIMALS)
    rows["sku"] = sku.mask(risky, escape_formulas(frame.loc[risky, ["sku"]])["sku"])
    rows["week"] = pd.to_datetime(frame["week"])
    if kind == "csv":
        return export.targets_csv(rows)
    buffer = io.BytesIO()
    rows.assign(week=rows["week"].dt.date).to_excel(
        buffer, sheet_name="targets", index=False, engine="openpyxl"
    )
    return buffer.getvalue()
