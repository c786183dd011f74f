"""The meeting pack: what the room leaves with.

``build_pack`` writes, for a scenario (or the latest plan of record's scenario, or the
baseline), an Excel workbook (summary, targets by SKU x week, production by SKU x line x week,
capacity by line x week, decisions and assumptions) and a self-contained HTML report with the
interactive charts (plotly.js inside: it opens offline), and, where Chromium is installed, a
PDF of that report printed by Chromium. The app's packs are made by ``pack`` jobs, each in its
own folder in ``packs_folder``.
"""

from __future__ import annotations

import datetime as dt
import html
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import plotly.io as pio

from sop_core import charts
from sop_core.data import db
from sop_core.data.errors import InputError
from sop_core.data.export import check_out_folder, escape_formulas
from sop_core.data.stores import master, plans_of_record, production
from sop_core.forecast.runs import latest_run
from sop_core.meeting.decisions import decision_log
from sop_core.meeting.plan_of_record import load_frozen
from sop_core.supply import capacity, loads

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
SHEETS = ("Summary", "Targets", "Production", "Capacity", "Decisions")


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
) -> dict[str, Path]:
    """Write the pack into the folder ``out``; return the files written by kind (``xlsx``,
    ``html`` and, with Chromium, ``pdf``). Without ``scenario_name`` the pack is the latest
    plan of record exactly as frozen (the baseline planned today when nothing is approved);
    with it, that scenario planned on today's forecast."""
    report = progress or (lambda fraction, message: None)
    out = check_out_folder(out)
    report(0.05, "Reading the plan")
    db.ensure_schema(path)
    with db.connect(path) as con:
        company = master.company_facts(con)
        decisions = decision_log(con)
        approved = plans_of_record.plan_of_record(con)
        currency = company.get("currency", "EUR")
        report(0.2, "Planning production" if scenario_name or not approved else "Reading it")
        if scenario_name or approved is None:
            content = _planned(con, scenario_name, weeks, currency, approved)
        else:
            content = _frozen(con, approved, currency)
    kpis, sheets, figures, first_week = content
    kpis = {"Company": company.get("company_name", ""), **kpis}
    kpis["Made"] = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    sheets = {
        "Summary": pd.DataFrame({"item": list(kpis), "value": list(kpis.values())}),
        **sheets,
        "Decisions": decisions.drop(columns=["version"], errors="ignore"),
    }
    stem = f"sop-pack-{first_week:%Y-%m-%d}-{_slug(str(kpis['Scenario']))}"
    files = {"xlsx": out / f"{stem}.xlsx", "html": out / f"{stem}.html"}

    report(0.45, "Writing the workbook")
    partial = files["xlsx"].with_name(f".{files['xlsx'].name}.partial")
    try:
        with pd.ExcelWriter(partial, engine="openpyxl") as writer:
            for sheet, frame in sheets.items():
                escape_formulas(frame).to_excel(writer, sheet_name=sheet, index=False)
        partial.replace(files["xlsx"])
    finally:
        partial.unlink(missing_ok=True)

    report(0.7, "Writing the report")
    partial = files["html"].with_name(f".{files['html'].name}.partial")
    try:
        partial.write_text(_report_html(kpis, figures, decisions, currency), encoding="utf-8")
        partial.replace(files["html"])
    finally:
        partial.unlink(missing_ok=True)
    if pdf:
        report(0.85, "Printing the PDF")
        printed = print_pdf(files["html"], out / f"{stem}.pdf")
        if printed:
            files["pdf"] = printed
    report(1.0, "Done")
    return files


def _frozen(
    con: duckdb.DuckDBPyConnection, approved: plans_of_record.PlanOfRecord, currency: str
) -> tuple:
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
    kpis = {
        "Scenario": approved.scenario,
        "Plan of record": f"v{approved.plan_version}, approved by {approved.approved_by} on "
        f"{approved.approved_at:%Y-%m-%d %H:%M}",
        "Forecast run": approved.run_id,
        "Weeks": approved.weeks,
        "First week": pd.Timestamp(targets["week"].min()).date(),
        "Revised target (units)": round(approved.volume),
        f"Revenue ({currency})": round(approved.revenue),
        f"Gross margin ({currency})": round(approved.margin),
        "Unmet demand (units)": round(approved.unmet_units, 1),
        "Overtime (hours)": round(approved.overtime_hours, 1),
        loads.peak_label(
            loads.PLANNED_LOAD, approved.weeks, "the plan of record's"
        ): f"{approved.max_utilisation:.0%}",
        "Targets": "as frozen at approval",
    }
    figures = [
        charts.comparison_chart(lines, title="Revised targets and planned production"),
        charts.scenario_chart(
            weekly.rename(columns={"consensus": "baseline", "target": "revised"}),
            title=f"{approved.scenario}: revised targets against the baseline",
        ),
        charts.utilisation_heatmap(
            load,
            f"{loads.PLANNED_LOAD} by line and week: the plan of record's hours",
            loads.PLANNED_LOAD,
            hours="planned",
        ),
    ]
    sheets = {
        "Targets": targets,
        "Production": frozen["plan_of_record_production"],
        "Capacity": frozen["plan_of_record_capacity"],
    }
    return kpis, sheets, figures, pd.Timestamp(targets["week"].min())


def _planned(
    con: duckdb.DuckDBPyConnection,
    scenario_name: str | None,
    weeks: int,
    currency: str,
    approved: plans_of_record.PlanOfRecord | None,
) -> tuple:
    """A scenario (or the baseline) planned on today's forecast, lines and stock."""
    from sop_core.demand.plan_base import load_plan_base
    from sop_core.scenario.levers import Scenario, applicable, apply_scenario
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
    shown = _peaks(result, plan, sorted({min(loads.KPI_WEEKS, w), w}))
    name = scenario_name or "Baseline"
    kpis = {
        "Scenario": name,
        "Plan of record": f"v{approved.plan_version} ({approved.scenario}), approved by "
        f"{approved.approved_by}"
        if approved
        else "none approved yet",
        "Forecast run": base.run_id,
        "Weeks": w,
        "First week": pd.Timestamp(base.weeks[0]).date(),
        "Revised target (units)": round(float(result.revised[:, :w].sum())),
        f"Revenue ({currency})": round(float(result.revenue[:, :w].sum())),
        f"Gross margin ({currency})": round(float(result.margin[:, :w].sum())),
        "Unmet demand (units)": round(float(plan.unmet[:, :w].sum()), 1),
        "Overtime (hours)": round(float(plan.overtime[:, :w].sum()), 1),
        **shown,
        "Targets": f"planned today on forecast run {base.run_id} (not frozen)",
        "Left out": " ".join(notes) or "nothing",
    }
    figures = [
        charts.plan_chart(
            plan_frames(plan, result)["weekly"].head(w),
            title="Revised target and what the lines can make",
        ),
        charts.scenario_chart(
            result.weekly().head(w), title=f"{name}: revised targets against the baseline"
        ),
        charts.utilisation_heatmap(
            load,
            f"{loads.DEMAND_LOAD} by line and week: the revised targets' hours",
            loads.DEMAND_LOAD,
        ),
    ]
    sheets = {
        "Targets": targets,
        "Production": tables["plan_rows"],
        "Capacity": tables["plan_lines"],
    }
    return kpis, sheets, figures, pd.Timestamp(base.weeks[0])


def _peaks(result, plan, windows: list[int]) -> dict[str, str]:
    """The summary's load rows: both measures' peaks over each window of weeks, labelled by
    ``loads.peak_label`` ("Peak demand load, next 13 weeks": "219% (L3, week of 07 Dec)")."""
    rows = {}
    for weeks in windows:
        for key, peak in loads.peaks(result, plan.hours, plan.overtime, weeks).items():
            where = peak.where
            if key == "planned_load":
                where += f"; {peak.overtime_hours:,.0f} h overtime in these weeks"
            rows[peak.label] = f"{peak.shown} ({where})" if peak.week is not None else "n/a"
    return rows


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "plan"


def _report_html(kpis: dict, figures: list, decisions: pd.DataFrame, currency: str) -> str:
    parts = []
    for index, figure in enumerate(figures):
        parts.append(
            pio.to_html(
                figure,
                full_html=False,
                include_plotlyjs=index == 0,  # plotly.js once, inline: the file opens offline
                config={"displaylogo": False},
            )
        )
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_show(v))}</td></tr>"
        for k, v in kpis.items()
    )
    shown = decisions[["kind", "text", "owner", "due_date", "state"]] if len(decisions) else None
    log = (
        shown.to_html(index=False, escape=True, na_rep="")
        if shown is not None
        else "<p>No decisions recorded.</p>"
    )
    title = f"S&amp;OP meeting pack: {html.escape(str(kpis['Scenario']))}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 2rem; color: #111; font-size: 16px; }}
h1 {{ font-size: 2rem; }} table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.35rem 0.7rem; text-align: left; }}
th {{ background: #f3f3f3; }} .chart {{ page-break-inside: avoid; margin: 1.5rem 0; }}
</style></head><body>
<h1>{title}</h1>
<table>{rows}</table>
{"".join(f'<div class="chart">{part}</div>' for part in parts)}
<h2>Decisions and assumptions</h2>
{log}
</body></html>
"""


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


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
