"""Revised targets out, for production scheduling and finance.

Per SKU and week: ``sku, week, baseline, revised, lower_80, upper_80``, then the SKU's
``name, family, brand`` and the week's ``revenue, margin`` (``COLUMNS``; the first six
as they always were, so a program reading them by name or position keeps working).
``baseline`` is the consensus (the statistical forecast with the team's overrides),
``revised`` the baseline with a scenario's or a plan file's levers applied through the fitted
driver effects: the same maths as the Promotions & pricing page (``scenario.apply_scenario``),
whose ``revenue`` and ``margin`` per SKU and week the file carries (and whose 80% band widens
where a price or promotion lever is outside what the SKU's history has seen:
``Targets.outside_history`` lists those SKU-weeks, see ``sop_core.scenario.levers``). The
targets of an approved plan of record come out the same way, exactly as frozen. A file is
named after what it holds and its first week (``targets_file_name``:
``targets-black-friday-2026-11-30.csv``).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sop_core.data import db, export
from sop_core.data.errors import InputError
from sop_core.data.export import CONTROL, bucketed_frame, escape_formulas
from sop_core.data.fiscal import FiscalCalendar, checked_bucket
from sop_core.data.stores import plans_of_record, products
from sop_core.data.workbook import Workbook
from sop_core.demand.plan_base import load_plan_base
from sop_core.forecast.runs import latest_run
from sop_core.scenario.levers import ScenarioResult, applicable, apply_scenario
from sop_core.scenario.model import Scenario, checked_cannibalisation
from sop_core.scenario.plan_files import PlanReport, read_plan

VOLUME_COLUMNS = ("sku", "week", "baseline", "revised", "lower_80", "upper_80")
DETAIL_COLUMNS = ("name", "family", "brand", "revenue", "margin")
COLUMNS = VOLUME_COLUMNS + DETAIL_COLUMNS
TEXT_COLUMNS = ("sku", "name", "family", "brand")
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
    # The SKU-weeks where a price or promotion lever is outside history (``sku, week,
    # band_widening``: how many times as wide their 80% band is); empty for the baseline and
    # a plan of record (frozen as approved).
    outside_history: pd.DataFrame = field(default_factory=lambda: outside_frame(None))


def outside_frame(result: ScenarioResult | None, weeks: int | None = None) -> pd.DataFrame:
    """The SKU-weeks of ``result`` (its first ``weeks`` weeks) where a lever is outside
    history: ``sku, week, band_widening``."""
    if result is None or result.band_widening is None:
        return pd.DataFrame(
            {
                "sku": pd.Series(dtype=object),
                "week": pd.Series(dtype="datetime64[ns]"),
                "band_widening": pd.Series(dtype=float),
            }
        )
    widening = result.band_widening[:, slice(0, weeks)]
    rows, columns = np.nonzero(widening > 1)
    return pd.DataFrame(
        {
            "sku": result.base.skus[rows],
            "week": pd.to_datetime(result.base.weeks[columns]),
            "band_widening": widening[rows, columns],
        }
    )


def result_targets(result: ScenarioResult, weeks: int | None = None) -> pd.DataFrame:
    """A scenario's targets (its first ``weeks`` weeks), in ``COLUMNS``: revenue and margin
    are the scenario's own (``ScenarioResult.revenue``, ``.margin``)."""
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
            "name": np.repeat(base.names, w),
            "family": np.repeat(base.families, w),
            "brand": np.repeat(base.brands, w),
            "revenue": result.revenue[:, span].ravel(),
            "margin": result.margin[:, span].ravel(),
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
        # The forecast's whole horizon, cut to ``horizon`` weeks after the maths: the
        # margin spreads setup costs over the horizon's volume, as the pages, the plan of
        # record and the pack do, so a 13-week file holds their numbers.
        base = load_plan_base(con, run_id)
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
    return Targets(
        result_targets(result, horizon),
        source,
        run_id,
        notes,
        report,
        outside_frame(result, horizon),
    )


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
        frozen = plans_of_record.frozen_targets(con, version, horizon)
        labels = products.product_labels(con)
    frame = frozen.rename(columns={"consensus": "baseline", "target": "revised"}).join(
        labels, on="sku"
    )[list(COLUMNS)]
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


def bucketed_targets(frame: pd.DataFrame, bucket: str, calendar: FiscalCalendar) -> pd.DataFrame:
    """Weekly targets (``COLUMNS``) summed per SKU and fiscal month or quarter
    (``export.bucketed_frame``; "week" gives ``frame`` back): ``sku``, the period's name in a column
    named after the bucket (``month``: "Nov 2026"), then the volumes, the SKU's labels, revenue
    and margin as in the weekly file, and ``period_start`` and ``weeks`` (the weeks of the
    period the figures hold) last. Volumes, revenue and margin are sums, so every bucket has
    the same totals. The 80% band of a period is its revised volume less or plus the weekly
    half-widths combined as independent errors (square root of the sum of squares), not the
    sum of the weekly bounds, which would claim the worst week every week: the rules of a
    bucketed export (``export.bucketed_frame``), around ``revised``."""
    if checked_bucket(bucket) == "week":
        return frame
    return bucketed_frame(frame, bucket, calendar, centre="revised")[bucket_columns(bucket)]


def bucket_columns(bucket: str) -> list[str]:
    """The columns of targets in ``bucket``: ``COLUMNS`` with the period for the week, and
    ``period_start`` and ``weeks`` after them when the bucket is not the week."""
    if bucket == "week":
        return list(COLUMNS)
    return [bucket if c == "week" else c for c in COLUMNS] + ["period_start", "weeks"]


def targets_file_name(
    label: str, first_week: object, kind: str = "csv", bucket: str = "week"
) -> str:
    """The file name of targets: ``targets-<what they are>-<first week>.<kind>``, e.g.
    ``targets-black-friday-2026-11-30.csv`` (the first week as in the meeting pack's name);
    by month or quarter the bucket is named: ``targets-black-friday-2026-11-30-by-month.csv``."""
    slug = "".join(c if c.isalnum() else "-" for c in str(label).lower())
    slug = "-".join(part for part in slug.split("-") if part) or "baseline"
    by = "" if bucket == "week" else f"-by-{bucket}"
    return f"targets-{slug}-{pd.Timestamp(first_week):%Y-%m-%d}{by}.{kind}"


def targets_label(targets: Targets) -> str:
    """What ``targets`` are, for their file name: the scenario's name, the plan file's
    name, ``plan of record vN`` or ``baseline``."""
    source = targets.source
    if source.startswith("scenario "):
        return source.removeprefix("scenario ")
    if source.startswith("plan ") and not source.startswith("plan of record"):
        return Path(source.removeprefix("plan ")).stem
    return source


def targets_cover(
    path: Path | str,
    source: str,
    run_id: int | None,
    author: str | None,
    bucket: str = "week",
) -> list[tuple[str, object]]:
    """The cover sheet of a targets workbook: company, what the targets are, the forecast
    run, the plan of record in force, the bucket and fiscal calendar, who made the file and
    when."""
    from sop_core.data.formats import MISSING, date
    from sop_core.data.stores import master

    with db.connect(path) as con:
        company = master.company_settings(con)
        record = plans_of_record.plan_of_record(con)
        calendar = master.fiscal_calendar(con)
    return [
        ("Company", company.get("company_name", "")),
        ("Scenario", source.removeprefix("scenario ")),
        ("Forecast run", run_id if run_id is not None else MISSING),
        (
            "Plan of record",
            f"v{record.plan_version} ({record.scenario}), approved by {record.approved_by} on "
            f"{date(record.approved_at)}"
            if record is not None
            else "none approved yet",
        ),
        ("Figures by", f"{bucket} ({calendar.describe()})"),
        ("Made by", author or MISSING),
        ("Made at", dt.datetime.now().replace(microsecond=0)),
        ("Currency", company.get("currency", "")),
    ]


def write_targets(
    frame: pd.DataFrame,
    out: Path | str,
    fmt: str | None = None,
    cover: list[tuple[str, object]] | None = None,
) -> int:
    """Write ``frame`` (``COLUMNS``) to CSV or Excel (with ``cover`` as its cover sheet);
    the file appears complete or not at all. Return the rows written."""
    out = Path(out)
    kind = fmt or FORMATS.get(out.suffix.lower())
    if kind not in FORMATS.values():
        raise InputError(f"{out.name}: name the targets file .csv or .xlsx (or give --format).")
    export.check_out_file(out)
    temporary = out.with_name(f".{out.name}.partial")
    try:
        temporary.write_bytes(targets_bytes(frame, kind, cover))
        temporary.replace(out)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return len(frame)


def targets_bytes(
    frame: pd.DataFrame, kind: str, cover: list[tuple[str, object]] | None = None
) -> bytes:
    """``frame`` as the bytes of a CSV or Excel file (weeks as dates, figures to 2
    decimals, text a spreadsheet would run as a formula escaped). A workbook keeps the
    column names as they are (programs read them), with number formats, a frozen header
    and filters, and ``cover`` as a cover sheet after the targets."""
    bucket = next((b for b in ("week", "month", "quarter") if b in frame.columns), "week")
    rows = frame[bucket_columns(bucket)].round(DECIMALS)
    for column in TEXT_COLUMNS:
        text = rows[column].astype(str).where(rows[column].notna(), None)
        risky = text.str.match(r"[=+\-@\t\r]", na=False) | text.str.contains(
            CONTROL, regex=True, na=False
        )
        rows[column] = text.mask(risky, escape_formulas(text[risky].to_frame())[column])
    if bucket == "week":
        rows["week"] = pd.to_datetime(frame["week"])
    else:
        rows["period_start"] = pd.to_datetime(frame["period_start"])
    if kind == "csv":
        if bucket != "week":  # a date, as the weeks are written
            rows["period_start"] = rows["period_start"].dt.strftime("%Y-%m-%d")
        return export.targets_csv(rows)
    with tempfile.TemporaryDirectory(prefix="sop-targets-") as folder:
        out = Path(folder) / "targets.xlsx"
        with Workbook(out) as book:
            book.frame("targets", rows)
            if cover:
                book.cover(f"Revised targets by SKU and {bucket}", cover)
        return out.read_bytes()
