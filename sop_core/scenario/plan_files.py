"""Marketing's promotion and price plan, from a spreadsheet into a scenario's levers.

A plan file (CSV or Excel) has a row per week and scope:

- ``week``: any date in the week (it counts for the week that contains it);
- one scope column: ``sku``, ``family``, ``brand`` or ``channel`` (none: everything);
- ``discount``: the promotion's depth, 0 to 0.9 (0.2 = 20% off);
- ``share`` (optional): the share of the distribution the discount runs in, above 0 to 1
  (default 1: everywhere);
- ``feature`` and ``display``: 0/1, or the share of stores taking part, 0 to 1;
- ``price`` (optional, SKU rows only): the net price. With a discount it must agree with the
  week's list price less the discount (a plan that contradicts itself is reported, not
  fixed); without one it is a price change against that week's list price.

Other column names map with ``target=source`` as in the importer, whose checks the file
goes through first (types, ranges, dates, every problem with its line). Consecutive weeks
with the same values become one lever, so a two-week promotion has one post-promotion dip.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import pandas as pd

from sop_core.data import db
from sop_core.data.errors import InputError
from sop_core.data.importer import (
    SHARE,
    SKU,
    WEEK,
    Column,
    ImportReport,
    Issue,
    TableSpec,
    read_file,
)
from sop_core.data.stores import forecast_runs, sales, scenarios
from sop_core.forecast.runs import latest_run
from sop_core.scenario.levers import Lever, Scenario, checked_cannibalisation

SCOPE_COLUMNS = ("sku", "family", "brand", "channel")  # most specific first
PRICE_TOLERANCE = 0.02  # a net price within 2% (or a cent) of list less discount agrees
PLAN_SPEC = TableSpec(
    (
        Column("week", "date", required=True, aliases=WEEK),
        Column("sku", "text", aliases=SKU),
        Column("family", "text", aliases=("category",)),
        Column("brand", "text"),
        Column("channel", "text", aliases=("customer", "market")),
        Column(
            "discount",
            "number",
            minimum=0,
            maximum=0.9,
            aliases=("discount_depth", "depth", "promo_depth"),
        ),
        Column(
            "share",
            "number",
            default=1.0,
            minimum=0,
            maximum=1,
            above=True,
            aliases=("coverage", "participation", "distribution_share"),
        ),
        Column("feature", "number", default=0.0, **SHARE),
        Column("display", "number", default=0.0, **SHARE),
        Column("price", "number", minimum=0, above=True, aliases=("net_price", "promo_price")),
    ),
    ("week",),
    "plan rows",
)


@dataclass
class PlanReport:
    """What reading a plan file found, and the levers it makes."""

    report: ImportReport
    scope: str = "all"
    levers: list[Lever] = field(default_factory=list)
    rows_used: int = 0

    @property
    def ok(self) -> bool:
        return self.report.ok

    @property
    def issues(self) -> list[Issue]:
        return self.report.issues

    @property
    def errors(self) -> list[Issue]:
        return self.report.errors

    def summary(self) -> str:
        if not self.ok:
            return self.report.summary()
        where = "for the total" if self.scope == "all" else f"by {self.scope}"
        return (
            f"{self.report.file_name}: {self.rows_used:,} plan row(s) {where} make "
            f"{len(self.levers):,} lever(s)."
        )

    def scenario(self, name: str, cannibalisation: float | None = None) -> Scenario:
        """A scenario with the plan's levers."""
        if not self.ok:
            raise InputError(self.report.summary())
        scenario = Scenario(name=name, levers=list(self.levers))
        if cannibalisation is not None:
            scenario.cannibalisation = checked_cannibalisation(cannibalisation)
        return scenario


def read_plan(
    path: Path | str,
    source: Path | str,
    *,
    file_name: str | None = None,
    mapping: dict[str, str] | None = None,
) -> PlanReport:
    """Check the plan file ``source`` against the database ``path`` (its SKUs, families,
    brands, channels and list prices) and turn it into levers. Bad input never raises: it
    comes back as the report's errors, each with its lines. Nothing is written."""
    source = Path(source)
    report = ImportReport("promotion plan", file_name or source.name, "")
    plan = PlanReport(report)
    if not source.is_file():
        report.issues.append(Issue("error", f"There is no file at {source}."))
        return plan

    report.sha256 = hashlib.sha256(source.read_bytes()).hexdigest()
    with db.connect(path) as con:
        if not read_file(con, PLAN_SPEC, source, report, mapping):
            return plan
        plan.scope = _scope(report)
        _check_rows(con, plan)
        if not plan.ok:
            return plan
        rows = _rows(con, plan.scope)
        _horizon_notice(con, rows, report)
        _calendar_overlap(con, plan.scope, report)
    plan.rows_used = len(rows)
    plan.levers = levers_from_rows(rows, plan.scope)
    return plan


def _scope(report: ImportReport) -> str:
    """The plan's scope: its most specific scope column (a SKU's family or brand column is
    only there for reading); a channel does not combine with another scope."""
    present = [c for c in SCOPE_COLUMNS if c in report.columns]
    if "channel" in present and len(present) > 1:
        others = ", ".join(c for c in present if c != "channel")
        report.issues.append(
            Issue(
                "error",
                f"The plan has a channel column and a {others} column; a plan row applies to "
                "one scope: SKUs, a family, a brand or a channel. Split the plan by scope.",
            )
        )
        return "channel"
    if len(present) > 1:
        report.issues.append(
            Issue(
                "notice",
                f"Each row is for its {present[0]}; the {', '.join(present[1:])} column(s) "
                "are not used.",
            )
        )
    return present[0] if present else "all"


def _flag(report: ImportReport, severity: str, message: str, found: scenarios.Found) -> None:
    """Report the rows a check found (nothing when it found none)."""
    count, lines = found
    if count:
        report.issues.append(Issue(severity, message, lines, count))


def _check_rows(con: duckdb.DuckDBPyConnection, plan: PlanReport) -> None:
    report, scope = plan.report, plan.scope
    if scope != "all":
        _flag(report, "error", f"{scope} is empty", scenarios.plan_rows_without_scope(con, scope))
        _flag(
            report,
            "error",
            f"unknown {scope} (not in the database; check the spelling)",
            scenarios.plan_rows_unknown_scope(con, scope),
        )
    _flag(
        report,
        "error",
        f"the same week{'' if scope == 'all' else ' and ' + scope} appears more than once",
        scenarios.plan_rows_repeated(con, scope),
    )
    if scope != "sku":
        _flag(
            report,
            "error",
            "a net price needs a sku column (the SKUs of a family, brand or channel have "
            "different list prices); give the discount instead",
            scenarios.plan_rows_with_price(con),
        )
    if not report.ok:
        return
    scenarios.price_plan_rows(con, scope)
    example = scenarios.first_price_disagreement(con, PRICE_TOLERANCE)
    if example:
        line, price, listed, discount = example
        _flag(
            report,
            "error",
            "the net price disagrees with the list price less the discount (line "
            f"{line}: {price:.2f}, where {listed:.2f} less {discount:.0%} is "
            f"{listed * (1 - discount):.2f}); correct the price or the discount, or leave "
            "one of them empty",
            scenarios.price_disagreements(con, PRICE_TOLERANCE),
        )
    _flag(
        report,
        "error",
        "the net price without a discount is a price change, and it is below a tenth or "
        "above four times that week's list price, or the SKU has no list price",
        scenarios.implausible_price_changes(con),
    )


def _rows(con: duckdb.DuckDBPyConnection, scope: str) -> pd.DataFrame:
    """The plan's rows that change something: ``week, target, discount, share, feature,
    display, change`` (``change``: a price change, NaN where none)."""
    return scenarios.plan_changes(con, scope)


def _horizon_notice(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame, report) -> None:
    span = forecast_runs.forecast_span(con, latest_run(con))
    if rows.empty:
        report.issues.append(
            Issue("warning", "The plan has no promotion, support or price in any row.")
        )
        return
    if span[0] is None:
        return
    weeks = pd.to_datetime(rows["week"])
    outside = int(((weeks < pd.Timestamp(span[0])) | (weeks > pd.Timestamp(span[1]))).sum())
    if outside:
        report.issues.append(
            Issue(
                "notice",
                f"{outside:,} row(s) fall outside the forecast's weeks ({span[0]:%d %b %Y} to "
                f"{span[1]:%d %b %Y}); they change nothing until a forecast covers them.",
            )
        )


def _calendar_overlap(con: duckdb.DuckDBPyConnection, scope: str, report) -> None:
    """Plan rows on weeks the promotions calendar already holds for their SKUs: the forecast
    counts those promotions already, and the plan's lever comes on top."""
    _flag(
        report,
        "warning",
        "the promotions calendar already has a promotion for these SKUs and weeks; "
        "the forecast counts it, and the plan's promotion comes on top of it",
        scenarios.plan_rows_on_calendar_promotions(con, scope),
    )


def levers_from_rows(rows: pd.DataFrame, scope: str) -> list[Lever]:
    """One lever per run of consecutive weeks with the same values: promotions (discount,
    share, feature, display) and price changes apart."""
    levers: list[Lever] = []
    week = pd.to_datetime(rows["week"])
    promoted = (rows["discount"] > 0) | (rows["feature"] > 0) | (rows["display"] > 0)
    for kind, part, values in (
        ("promotion", rows[promoted], ["discount", "share", "feature", "display"]),
        ("price", rows[rows["change"].notna()], ["change"]),
    ):
        if part.empty:
            continue
        part = part.assign(week=week[part.index]).sort_values(
            ["target", "week"], na_position="first"
        )
        # A new lever where the scope or a value changes, or a week is missing.
        changed = part["week"].diff() != pd.Timedelta(days=7)
        for column in ("target", *values):
            changed |= part[column].ne(part[column].shift())
        run = changed.cumsum()
        spans = part.groupby(run, sort=False).agg(
            target=("target", "first"),
            start=("week", "min"),
            end=("week", "max"),
            **{v: (v, "first") for v in values},
        )
        for item in spans.itertuples(index=False):
            common = {
                "kind": kind,
                "scope": scope,
                "target": None if scope == "all" else str(item.target),
                "start_week": item.start.date(),
                "end_week": item.end.date(),
            }
            if kind == "promotion":
                lever = Lever(
                    **common,
                    discount=round(float(item.discount), 6),
                    share=round(float(item.share), 6),
                    feature=round(float(item.feature), 6),
                    display=round(float(item.display), 6),
                )
            else:
                lever = Lever(**common, change=round(float(item.change), 6))
            levers.append(lever.validated())
    return sorted(levers, key=lambda lever: (lever.start_week or dt.date.min, lever.kind))


PERCENTS = ("discount", "share", "feature", "display", "change")
DATES = ("start_week", "end_week")


def lever_table(levers: list[Lever]) -> pd.DataFrame:
    """Levers as a table to read and edit: ``kind``, ``applies_to``, ``start_week``,
    ``end_week`` and the values in percent (``discount``, ``share``, ``feature`` and
    ``display`` for promotions, ``change`` for the others; empty where they do not apply)."""
    promotion = [lever.kind == "promotion" for lever in levers]
    return pd.DataFrame(
        {
            "kind": [lever.kind for lever in levers],
            "applies_to": [
                "the total" if lever.scope == "all" else f"{lever.scope} {lever.target}"
                for lever in levers
            ],
            **{name: [getattr(lever, name) for lever in levers] for name in DATES},
            **{
                name: [
                    round(getattr(lever, name) * 100, 1) if promoted == (name != "change") else None
                    for lever, promoted in zip(levers, promotion, strict=True)
                ]
                for name in PERCENTS
            },
        },
        columns=["kind", "applies_to", *DATES, *PERCENTS],
    )


def edited_levers(levers: list[Lever], changes: dict) -> list[Lever]:
    """``levers`` after a table's edits (``edited_rows``: row -> {column: value}, values in
    percent, dates as ISO text) and deletions (``deleted_rows``). A value a lever cannot take
    raises ``InputError`` with the lever's own message, and nothing changes."""
    levers = list(levers)
    for index, edit in (changes.get("edited_rows") or {}).items():
        row = int(index)
        try:
            values = {}
            for column, value in edit.items():
                if column in PERCENTS:
                    values[column] = 0.0 if value is None else float(value) / 100
                elif column in DATES:
                    values[column] = dt.date.fromisoformat(str(value)[:10]) if value else None
            levers[row] = replace(levers[row], **values).validated()
        except (InputError, TypeError, ValueError) as error:
            raise InputError(f"Lever {row + 1}: {error}") from None
    deleted = {int(i) for i in changes.get("deleted_rows") or []}
    return [lever for i, lever in enumerate(levers) if i not in deleted]


def holdout_plan(con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date) -> pd.DataFrame:
    """The promotions the sales history records from week ``first`` to ``last``, as a plan
    file per SKU and week: the depth where the SKU was on promotion, the share of its volume
    (by channel, over its history, as the forecast weighs channels) that was, and the feature
    and display shares weighted the same way. How the holdout proof hands the engine the true
    plan."""
    return sales.promotions_as_plan(con, first, last)
