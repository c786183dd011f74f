"""The meeting pack: what the room leaves with.

``build_pack`` writes, for a scenario (or the latest plan of record's scenario, or the
baseline), three files that show the same numbers:

- an Excel workbook finance can file: a cover (company, scenario, forecast run, plan of
  record, who made it and when), the summary figures, targets by SKU x week, production by
  SKU x line x week, capacity by line x week, decisions and assumptions, the changes made
  since the latest plan of record (from the audit trail, with who made them); numbers stored as
  numbers with number formats, headers in words, frozen and filtered (``data.workbook``);
- a self-contained HTML report that opens offline: the cover and summary, the charts as
  static SVG pictures drawn by kaleido (no plotly.js inside: about 0.15 MB, not 4.8; without
  kaleido or Chromium the interactive charts with plotly.js inline), the decisions, the
  changes since the plan of record; laid out for paper with the page size of
  ``SOP_PAPER_SIZE``, a running header and page numbers;
- where Chromium is installed, a PDF of that report.

The app's packs are made by ``pack`` jobs, each in its own folder in ``packs_folder``.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from sop_core import charts
from sop_core.charts.images import svg_images
from sop_core.charts.style import named_periods
from sop_core.data import db, formats, settings
from sop_core.data.errors import InputError
from sop_core.data.export import bucketed_frame, check_out_folder, escape_formulas, escape_text
from sop_core.data.fiscal import FiscalCalendar, checked_bucket
from sop_core.data.stores import audit, master, plans_of_record, production
from sop_core.data.workbook import Workbook
from sop_core.forecast.runs import latest_run
from sop_core.meeting.decisions import decision_log
from sop_core.meeting.plan_of_record import load_frozen
from sop_core.supply import capacity, loads
from sop_core.supply.periods import LOAD, PLAN, by_period

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
SHEETS = ("Cover", "Summary", "Targets", "Production", "Capacity", "Decisions", "Changes")
PEAK_FORMAT = "0%"  # as every page shows a peak load ("219%")
DECISION_COLUMNS = ("kind", "text", "owner", "due_date", "state")
# The changes the report lists (the workbook adds each one's values before and after).
CHANGE_COLUMNS = ("when", "who", "action", "object", "scope")
# The column a targets sheet's 80% band is around (a scenario's, a plan of record's), for its
# figures per month or quarter.
BAND_CENTRES = ("revised", "target")


@dataclass
class Figure:
    """One figure of the summary: its label, the number, how it reads (a key of
    ``formats.EXCEL_FORMATS`` or an Excel format) and a note (where a peak is)."""

    label: str
    value: float | None
    kind: str
    note: str = ""

    def shown(self) -> str:
        """The figure as the report prints it: what the workbook's format shows."""
        if self.value is None or formats.missing(self.value):
            return formats.MISSING
        if self.kind == PEAK_FORMAT:
            return f"{self.value:.0%}"
        return formats.units(self.value)


@dataclass
class PackContent:
    """What a pack holds, before it is written."""

    scenario: str
    about: list[tuple[str, Any]]  # the cover's lines on the plan: what, on which run
    figures: list[Figure]
    sheets: dict[str, pd.DataFrame]
    charts: list[go.Figure]
    first_week: pd.Timestamp
    notes: list[str] = field(default_factory=list)


def packs_folder(path: Path | str) -> Path:
    """Where the app's meeting packs go: ``<database file's stem>.packs`` next to it
    (``data/sop.packs`` for ``data/sop.duckdb``), one folder per ``pack`` job, named by its
    id. Nothing in it is needed by the app but the newest packs: old folders may be deleted."""
    path = Path(path).resolve()  # the job's process runs from elsewhere: no relative path
    return path.with_name(f"{path.stem}.packs")


def build_pack(
    path: Path | str,
    out: Path | str,
    scenario_name: str | None = None,
    *,
    weeks: int = 26,
    pdf: bool = True,
    progress: Callable[[float, str], None] | None = None,
    author: str | None = None,
    bucket: str = "week",
) -> dict[str, Path]:
    """Write the pack into the folder ``out``; return the files written by kind (``xlsx``,
    ``html`` and, with Chromium, ``pdf``). Without ``scenario_name`` the pack is the latest
    plan of record exactly as frozen (the baseline planned today when nothing is approved);
    with it, that scenario planned on today's forecast. ``author`` is who made it (on the
    cover). With ``bucket`` "month" or "quarter" the workbook's targets, production and
    capacity are per fiscal period (``export.bucketed_frame``: the rules of a bucketed
    export), and the bucket is on the cover and in the files' names."""
    checked_bucket(bucket)
    report = progress or (lambda fraction, message: None)
    out = check_out_folder(out)
    report(0.05, "Reading the plan")
    db.ensure_schema(path)
    with db.connect(path) as con:
        company = master.company_settings(con)
        decisions = decision_log(con)
        approved = plans_of_record.plan_of_record(con)
        changes = changes_since(con, approved)
        currency = company.get("currency", "EUR")
        calendar = master.fiscal_calendar(con)
        periods = Periods(bucket, calendar)
        report(0.2, "Planning production" if scenario_name or not approved else "Reading it")
        if scenario_name or approved is None:
            content = _planned(con, scenario_name, weeks, currency, approved, periods)
        else:
            content = _frozen(con, approved, currency, periods)
    made = dt.datetime.now().replace(second=0, microsecond=0)
    cover = [
        ("Company", company.get("company_name", "")),
        ("Scenario", content.scenario),
        *content.about,
        ("Figures by", f"{bucket} ({calendar.describe()})"),
        ("Made by", author or formats.MISSING),
        ("Made at", made),
    ]
    sheets = {
        **{
            sheet: bucketed_frame(
                frame, bucket, calendar, next((c for c in BAND_CENTRES if c in frame), None)
            )
            for sheet, frame in content.sheets.items()
        },
        "Decisions": decisions.drop(columns=["version"], errors="ignore"),
        "Changes": changes,
    }
    by = "" if bucket == "week" else f"-by-{bucket}"
    stem = f"sop-pack-{content.first_week:%Y-%m-%d}-{_slug(content.scenario)}{by}"
    files = {"xlsx": out / f"{stem}.xlsx", "html": out / f"{stem}.html"}

    report(0.45, "Writing the workbook")
    partial = files["xlsx"].with_name(f".{files['xlsx'].name}.partial")
    try:
        with Workbook(partial) as book:
            book.cover(
                escape_text(f"S&OP meeting pack: {content.scenario}"),
                [(label, escape_text(value)) for label, value in cover],
            )
            book.key_values(
                "Summary",
                ["Figure", "Value", "Where"],
                [(f.label, f.value, f.kind, escape_text(f.note)) for f in content.figures],
            )
            for sheet, frame in sheets.items():
                book.frame(sheet, escape_formulas(frame), header=formats.header)
        partial.replace(files["xlsx"])
    finally:
        partial.unlink(missing_ok=True)

    report(0.6, "Drawing the charts")
    images = svg_images(content.charts)
    report(0.75, "Writing the report")
    partial = files["html"].with_name(f".{files['html'].name}.partial")
    try:
        partial.write_text(
            report_html(content, cover, decisions, images, settings.paper_size(), changes=changes),
            encoding="utf-8",
        )
        partial.replace(files["html"])  # whole or absent: a download never gets half a file
    finally:
        partial.unlink(missing_ok=True)
    if pdf:
        report(0.85, "Printing the PDF")
        printed = print_pdf(files["html"], out / f"{stem}.pdf")
        if printed:
            files["pdf"] = printed
    report(1.0, "Done")
    return files


@dataclass(frozen=True)
class Periods:
    """The pack's bucket: its charts drawn per fiscal month or quarter as the pages draw them
    (``supply.periods.by_period``, then ``period_axis``)."""

    bucket: str
    calendar: FiscalCalendar

    def frame(self, weekly: pd.DataFrame, **rules: Any) -> pd.DataFrame:
        return by_period(weekly, self.bucket, self.calendar, **rules)

    def chart(self, figure: go.Figure) -> go.Figure:
        return named_periods(figure, self.bucket, self.calendar)


WEEKLY = Periods("week", FiscalCalendar())


def _frozen(
    con: duckdb.DuckDBPyConnection,
    approved: plans_of_record.PlanOfRecord,
    currency: str,
    periods: Periods = WEEKLY,
) -> PackContent:
    """The plan of record as frozen: its own rows, nothing recomputed."""
    frozen = load_frozen(con, approved.plan_version)
    targets = frozen["plan_of_record_targets"]
    capacity_rows = frozen["plan_of_record_capacity"].merge(
        production.line_names(con).rename(columns={"name": "line_name"}), on="line", how="left"
    )
    weekly = targets.groupby("week", as_index=False)[
        ["consensus", "target", "lower_80", "upper_80"]
    ].sum()
    made = frozen["plan_of_record_production"].groupby("week")["production"].sum()
    lines = pd.concat(
        [
            weekly[["week"]].assign(scenario="revised target", volume=weekly["target"]),
            weekly[["week"]].assign(
                scenario="production", volume=weekly["week"].map(made).fillna(0.0).to_numpy()
            ),
        ],
        ignore_index=True,
    )
    load = capacity_rows.assign(
        needed_hours=capacity_rows["hours"],
        utilisation=loads.load_ratio(
            capacity_rows["hours"].to_numpy(), capacity_rows["available_hours"].to_numpy()
        ),
    )
    first_week = pd.Timestamp(targets["week"].min())
    about = [
        (
            "Plan of record",
            f"v{approved.plan_version}, approved by {approved.approved_by} on "
            f"{formats.date(approved.approved_at)} {approved.approved_at:%H:%M}",
        ),
        ("Forecast run", approved.run_id),
        ("Targets", "as frozen at approval"),
        ("Weeks", approved.weeks),
        ("First week", first_week.date()),
    ]
    figures = [
        Figure("Revised target (units)", round(approved.volume), "units"),
        Figure(f"Revenue ({currency})", round(approved.revenue), "money"),
        Figure(f"Gross margin ({currency})", round(approved.margin), "money"),
        Figure("Unmet demand (units)", round(approved.unmet_units), "units"),
        Figure("Overtime (hours)", round(approved.overtime_hours), "hours"),
        Figure(
            loads.peak_label(loads.PLANNED_LOAD, approved.weeks, "the plan of record's"),
            approved.max_utilisation,
            PEAK_FORMAT,
        ),
    ]
    by = periods.bucket
    pictures = [
        charts.comparison_chart(
            periods.frame(lines),
            title="Revised targets and planned production",
            period=by,
        ),
        charts.scenario_chart(
            periods.frame(
                weekly.rename(columns={"consensus": "baseline", "target": "revised"}),
                centre="revised",
            ),
            title=f"{approved.scenario}: revised targets against the baseline",
        ),
        charts.utilisation_heatmap(
            periods.frame(load, ratios={"utilisation": ("needed_hours", "available_hours")}),
            f"{loads.PLANNED_LOAD} by line and {by}: the plan of record's hours",
            loads.PLANNED_LOAD,
            hours="planned",
            period=by,
        ),
    ]
    pictures = [periods.chart(picture) for picture in pictures]
    sheets = {
        "Targets": targets,
        "Production": frozen["plan_of_record_production"],
        "Capacity": frozen["plan_of_record_capacity"],
    }
    return PackContent(approved.scenario, about, figures, sheets, pictures, first_week)


def _planned(
    con: duckdb.DuckDBPyConnection,
    scenario_name: str | None,
    weeks: int,
    currency: str,
    approved: plans_of_record.PlanOfRecord | None,
    periods: Periods = WEEKLY,
) -> PackContent:
    """A scenario (or the baseline) planned on today's forecast, lines and stock."""
    from sop_core.demand.plan_base import load_plan_base
    from sop_core.scenario.levers import applicable, apply_scenario
    from sop_core.scenario.model import Scenario
    from sop_core.scenario.store import load_scenario
    from sop_core.supply.planning import (
        PlanSettings,
        load_supply,
        plan_frames,
        plan_tables,
        solve_plan,
    )

    run_id = latest_run(con)
    if run_id is None:
        raise InputError("There is no forecast yet: make the forecast before the pack.")
    base = load_plan_base(con, run_id)
    supply = load_supply(con, base)
    scenario = load_scenario(con, scenario_name).scenario if scenario_name else Scenario("Baseline")
    scenario, notes = applicable(base, scenario)
    result = apply_scenario(base, scenario)
    horizon = result.revised.shape[1]
    w = min(weeks, horizon)
    # The plan behind the planned load: as on the pages, at least 26 weeks, read over ``w``.
    plan = solve_plan(result, supply, PlanSettings(), loads.plan_weeks(w, horizon))
    tables = plan_tables(plan, result, supply)
    targets = result.targets()
    end = pd.Timestamp(base.weeks[w]) if w < len(base.weeks) else None
    load = capacity.load_view(result).frame()
    if end is not None:
        targets = targets[targets["week"] < end]
        load = load[load["week"] < end]
        tables = {name: frame[frame["week"] < end] for name, frame in tables.items()}
    name = scenario_name or "Baseline"
    first_week = pd.Timestamp(base.weeks[0])
    about = [
        (
            "Plan of record",
            f"v{approved.plan_version} ({approved.scenario}), approved by {approved.approved_by}"
            if approved
            else "none approved yet",
        ),
        ("Forecast run", base.run_id),
        ("Targets", f"planned today on forecast run {base.run_id} (not frozen)"),
        ("Weeks", w),
        ("First week", first_week.date()),
        ("Left out", " ".join(notes) or "nothing"),
    ]
    figures = [
        Figure("Revised target (units)", round(float(result.revised[:, :w].sum())), "units"),
        Figure(f"Revenue ({currency})", round(float(result.revenue[:, :w].sum())), "money"),
        Figure(f"Gross margin ({currency})", round(float(result.margin[:, :w].sum())), "money"),
        Figure("Unmet demand (units)", round(float(plan.unmet[:, :w].sum())), "units"),
        Figure("Overtime (hours)", round(float(plan.overtime[:, :w].sum())), "hours"),
        *_peaks(result, plan, sorted({min(loads.KPI_WEEKS, w), w})),
    ]
    by = periods.bucket
    pictures = [
        charts.plan_chart(
            periods.frame(plan_frames(plan, result)["weekly"].head(w), **PLAN),
            title="Revised target and what the lines can make",
            period=by,
        ),
        charts.scenario_chart(
            periods.frame(result.weekly().head(w), centre="revised"),
            title=f"{name}: revised targets against the baseline",
        ),
        charts.utilisation_heatmap(
            periods.frame(load, **LOAD),
            f"{loads.DEMAND_LOAD} by line and {by}: the revised targets' hours",
            loads.DEMAND_LOAD,
            period=by,
        ),
    ]
    pictures = [periods.chart(picture) for picture in pictures]
    sheets = {
        "Targets": targets,
        "Production": tables["plan_rows"],
        "Capacity": tables["plan_lines"],
    }
    return PackContent(name, about, figures, sheets, pictures, first_week)


def _peaks(result, plan, windows: list[int]) -> list[Figure]:
    """The summary's load rows: both measures' peaks over each window of weeks, labelled by
    ``loads.peak_label`` ("Peak demand load, next 13 weeks": 2.19, "L3, week of 07 Dec")."""
    rows = []
    for weeks in windows:
        for key, peak in loads.peaks(result, plan.hours, plan.overtime, weeks).items():
            if peak.week is None:
                rows.append(Figure(peak.label, None, PEAK_FORMAT))
                continue
            where = peak.where
            if key == "planned_load":
                where += f"; {peak.overtime_hours:,.0f} h overtime in these weeks"
            rows.append(Figure(peak.label, peak.value, PEAK_FORMAT, where))
    return rows


def changes_since(
    con: duckdb.DuckDBPyConnection, approved: plans_of_record.PlanOfRecord | None
) -> pd.DataFrame:
    """What was changed after the plan of record ``approved`` was approved (every recorded
    change when there is none yet), oldest first: ``when, who, action, object, scope, before,
    after``. ``attrs["since"]`` is the approval's time (None without a plan of record)."""
    since = None if approved is None else pd.Timestamp(approved.approved_at)
    approval = None
    if approved is not None:  # recorded with the approval, in its transaction
        approval = audit.last_entry(con, "approve", f"plan of record v{approved.plan_version}")
    if approval is not None:
        entries = audit.entries(con, after_entry=approval)
    else:  # approved before the audit trail was kept: by the time
        entries = audit.entries(con, since=None if since is None else since.to_pydatetime())
        if since is not None:
            # The approval's own entry shares its transaction's time: not a change since.
            entries = entries[pd.to_datetime(entries["changed_at"]) > since]
    changes = entries.rename(columns={"changed_at": "when"}).reset_index(drop=True)
    changes.attrs["since"] = since
    return changes


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "plan"


def report_html(
    content: PackContent,
    cover: list[tuple[str, Any]],
    decisions: pd.DataFrame,
    images: list[str] | None,
    paper: str = "A4",
    changes: pd.DataFrame | None = None,
) -> str:
    """The report: cover and summary, the charts (``images``: SVG pictures; None: the
    interactive charts with plotly.js inline), the decisions, the ``changes`` since the plan of
    record (``changes_since``; None: no such section); laid out for ``paper``."""
    about = "".join(
        f"<tr><th>{_text(label)}</th><td>{_text(_cell(value))}</td></tr>" for label, value in cover
    )
    noted = any(f.note for f in content.figures)
    figures = "<tr><th>Figure</th><th>Value</th>" + ("<th>Where</th>" if noted else "") + "</tr>"
    figures += "".join(
        f"<tr><th>{_text(f.label)}</th><td class=num>{_text(f.shown())}</td>"
        + (f"<td>{_text(f.note)}</td>" if noted else "")
        + "</tr>"
        for f in content.figures
    )
    titles = [_title(figure) for figure in content.charts]
    if images is not None:
        pictures = "".join(
            f'<figure class="chart"><img alt="{_text(title)}" '
            f'src="data:image/svg+xml;base64,{base64.b64encode(svg.encode()).decode()}">'
            "</figure>"
            for title, svg in zip(titles, images, strict=True)
        )
    else:
        pictures = "".join(
            '<figure class="chart">'
            + pio.to_html(
                figure,
                full_html=False,
                include_plotlyjs=index == 0,  # plotly.js once, inline: the file opens offline
                config={"staticPlot": True, "displayModeBar": False},
            )
            + "</figure>"
            for index, figure in enumerate(content.charts)
        )
    log = _decisions_html(decisions)
    changed = "" if changes is None else _changes_html(changes)
    company = dict(cover).get("Company", "")
    made = dict(cover).get("Made at")
    title = f"S&OP meeting pack: {content.scenario}"
    running = f"{company} \u00b7 {title}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_text(title)}</title>
<style>
@page {{
  size: {paper};
  margin: 18mm 14mm 16mm 14mm;
  @top-left {{ content: "{_css(running)}"; font: 9pt sans-serif; color: #444; }}
  @top-right {{ content: "{_css(_cell(made))}"; font: 9pt sans-serif; color: #444; }}
  @bottom-right {{
    content: "Page " counter(page) " of " counter(pages); font: 9pt sans-serif; color: #444;
  }}
}}
body {{ font-family: sans-serif; color: #111; font-size: 11pt; margin: 0 auto;
  max-width: 190mm; }}
@media screen {{ body {{ margin: 2rem auto; padding: 0 1rem; }} }}
h1 {{ font-size: 18pt; margin: 0 0 0.5rem; }} h2 {{ font-size: 13pt; margin: 1.2rem 0 0.4rem; }}
table {{ border-collapse: collapse; margin: 0.4rem 0 0.8rem; width: 100%; }}
th, td {{ border: 1px solid #bbb; padding: 0.25rem 0.5rem; text-align: left;
  vertical-align: top; }}
th {{ background: #eef2f6; font-weight: 600; }} td.num {{ text-align: right; }}
tr {{ break-inside: avoid; }}
.chart {{ margin: 0.6rem 0; break-inside: avoid; }}
.chart img {{ width: 100%; height: auto; display: block; }}
</style></head><body>
<h1>{_text(title)}</h1>
<table class="cover">{about}</table>
<h2>Summary</h2>
<table class="summary">{figures}</table>
{pictures}
<h2>Decisions and assumptions</h2>
{log}
{changed}
</body></html>
"""


def _decisions_html(decisions: pd.DataFrame) -> str:
    if decisions.empty:
        return "<p>No decisions recorded.</p>"
    shown = decisions[list(DECISION_COLUMNS)]
    head = "".join(f"<th>{_text(formats.header(c))}</th>" for c in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_text(_cell(v))}</td>" for v in row) + "</tr>"
        for row in shown.itertuples(index=False, name=None)
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _changes_html(changes: pd.DataFrame) -> str:
    since = changes.attrs.get("since")
    if since is None:
        title = "Changes recorded (no plan of record yet)"
        empty = "No change recorded yet."
    else:
        title = "Changes since the last plan of record"
        empty = f"None: nothing was changed after its approval ({_cell(since)} UTC)."
    if changes.empty:
        return f"<h2>{_text(title)}</h2>\n<p>{_text(empty)}</p>"
    note = "" if since is None else f"<p>After its approval ({_text(_cell(since))} UTC).</p>"
    head = "".join(f"<th>{_text(formats.header(c))}</th>" for c in CHANGE_COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{_text(_cell(v))}</td>" for v in row) + "</tr>"
        for row in changes[list(CHANGE_COLUMNS)].itertuples(index=False, name=None)
    )
    return f"<h2>{_text(title)}</h2>\n{note}<table><tr>{head}</tr>{body}</table>"


def _title(figure: go.Figure) -> str:
    return str(figure.layout.title.text or "chart")


def _cell(value: Any) -> str:
    """A cover or table value as the report prints it (dates, times, numbers, missing)."""
    if formats.missing(value):
        return formats.MISSING
    if isinstance(value, dt.datetime | pd.Timestamp):
        stamp = pd.Timestamp(value)
        if stamp == stamp.normalize():
            return formats.date(stamp)
        return f"{formats.date(stamp)} {stamp:%H:%M}"
    if isinstance(value, dt.date):
        return formats.date(value)
    return formats.text(value)


def _text(value: Any) -> str:
    return html.escape(str(value))


def _css(text: str) -> str:
    """``text`` inside a CSS string: quotes and backslashes escaped, no line breaks, no
    closing of the style element."""
    clean = " ".join(str(text).split()).replace("\\", "\\\\").replace('"', '\\"')
    return clean.replace("<", "\\3C ")


def print_pdf(report: Path, pdf: Path, timeout: float = 90) -> Path | None:
    """Print the HTML report to PDF with Chromium (None where Chromium is not installed or
    fails: the HTML report is the pack then)."""
    browser = next((shutil.which(name) for name in CHROMIUM_NAMES if shutil.which(name)), None)
    if browser is None:
        return None
    try:
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--run-all-compositor-stages-before-draw",
                "--virtual-time-budget=10000",
                f"--print-to-pdf={pdf}",
                "--no-pdf-header-footer",
                report.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return pdf if pdf.exists() and pdf.stat().st_size > 0 else None
