"""Marketing's promotion and price plan, from a spreadsheet into a scenario's levers.

A plan file (CSV or Excel) has a row per week and scope:

- ``week``: any date in the week (it counts for the week that contains it);
- the scope columns ``sku``, ``family``, ``brand`` and ``channel``: each row is for its most
  specific non-empty one (a SKU, then a family or brand, then a channel; all empty: every
  SKU), so one file holds family-wide promotions and SKU price changes side by side. A row
  with a SKU may carry its family or brand for reading; a row with a channel and a SKU,
  family or brand is refused (a lever is one SKU in every channel, or every SKU in one);
- ``discount``: the promotion's depth, 0 to 0.9 (0.2 = 20% off);
- ``share`` (optional): the share of the distribution the discount runs in, above 0 to 1
  (default 1: everywhere);
- ``feature`` and ``display``: 0/1, or the share of stores taking part, 0 to 1;
- ``price`` (optional, SKU rows only): the net price. With a discount it must agree with the
  week's list price less the discount (a plan that contradicts itself is reported, not
  fixed). Without one it is a price change: it sets the SKU's net price from its week until
  the SKU's next price row, or until its ``until`` week (included) if that comes first, or
  else to the end of the horizon, as the Promotions page's price lever does; where the list
  price changes in between, the change against list follows it so the net price holds;
- ``until`` (optional, price rows only): the last week of the price change.

Where rows of different scopes put a promotion on the same SKU-week (a family promotion
and one of its SKUs at another depth, or left out with a discount of 0), the more specific
row wins there, and the report lists each overlap (``PlanReport.overlaps``). A channel's
promotion cannot leave out some SKUs, so a channel row that meets a SKU, family or brand
row in the same week is refused, as are a family and a brand row that both reach a SKU-week.

Other column names map with ``target=source`` as in the importer, whose checks the file
goes through first (types, ranges, dates, every problem with its line). Consecutive weeks
with the same values become one lever, so a two-week promotion has one post-promotion dip.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import numpy as np
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
    source_found,
)
from sop_core.data.stores import forecast_runs, master, products, sales, scenarios
from sop_core.forecast.runs import latest_run
from sop_core.scenario.model import Lever, Scenario, checked_cannibalisation

SCOPE_COLUMNS = ("sku", "family", "brand", "channel")  # most specific first
SCOPES = ("sku", "family", "brand", "channel", "all")
# How specific a row's scope is: where rows meet on a SKU-week, the higher wins.
SPECIFICITY = {"sku": 3, "family": 2, "brand": 2, "channel": 1, "all": 0}
PRICE_TOLERANCE = 0.02  # a net price within 2% (or a cent) of list less discount agrees
OVERLAPS_NAMED = 5  # overlaps the report's notice names (the report keeps them all)
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
        Column("until", "date", aliases=("until_week", "price_until", "last_week")),
    ),
    ("week",),
    "plan rows",
)


@dataclass(frozen=True)
class Overlap:
    """Two rows that put a promotion on the same SKU-weeks: the more specific one won them.
    ``target`` is None for a row for everything."""

    week: dt.date
    line: int  # the row that won
    scope: str
    target: str | None
    over_line: int  # the row it won over
    over_scope: str
    over_target: str | None
    sku_weeks: int  # SKU-weeks (in a channel, for a channel row over everything) it won

    def as_dict(self) -> dict:
        return {
            "week": self.week.isoformat(),
            "won": {"line": self.line, "scope": self.scope, "target": self.target},
            "over": {"line": self.over_line, "scope": self.over_scope, "target": self.over_target},
            "sku_weeks": self.sku_weeks,
        }

    def text(self) -> str:
        def row(line: int, scope: str, target: str | None) -> str:
            return f"line {line} ({'everything' if scope == 'all' else f'{scope} {target}'})"

        won = row(self.line, self.scope, self.target)
        over = row(self.over_line, self.over_scope, self.over_target)
        return (
            f"week of {self.week:%d %b %Y}: {won} wins {self.sku_weeks:,} SKU-week(s) over {over}"
        )


@dataclass
class PlanReport:
    """What reading a plan file found, and the levers it makes."""

    report: ImportReport
    scope: str = "all"  # the rows' scope; "mixed" when they have more than one
    levers: list[Lever] = field(default_factory=list)
    rows_used: int = 0
    rows_by_scope: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SCOPES, 0))
    overlaps: list[Overlap] = field(default_factory=list)

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
        if self.scope == "mixed":
            parts = [
                f"{count:,} {'for the total' if scope == 'all' else f'by {scope}'}"
                for scope, count in self.rows_by_scope.items()
                if count
            ]
            where = f"({', '.join(parts)})"
        else:
            where = "for the total" if self.scope == "all" else f"by {self.scope}"
        overlaps = f"; {len(self.overlaps):,} overlap(s), the more specific row won" * bool(
            self.overlaps
        )
        return (
            f"{self.report.file_name}: {self.rows_used:,} plan row(s) {where} make "
            f"{len(self.levers):,} lever(s){overlaps}."
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
    if not source_found(source, report):
        return plan

    with db.connect(path) as con:
        if not read_file(con, PLAN_SPEC, source, report, mapping):
            return plan
        _check_rows(con, plan)
        if not plan.ok:
            return plan
        promotions = scenarios.plan_promotions(con)
        prices = scenarios.plan_price_spans(con)
        groups = products.product_groups(con)
        channels = [str(c) for c in _channels(con)]
        rows, lines_used = _resolved(promotions, groups, channels, plan)
        if not plan.ok:
            return plan
        _horizon_notice(con, promotions, prices, report)
        _calendar_overlap(con, report)
    lines_used |= set(prices["line"].astype(int))
    scope_of = dict(zip(promotions["line"], promotions["scope"], strict=True))
    used = pd.Series([scope_of.get(line, "sku") for line in lines_used], dtype=object)
    plan.rows_by_scope = {scope: int((used == scope).sum()) for scope in SCOPES}
    plan.rows_used = len(lines_used)
    plan.levers = _sorted(levers_from_rows(rows) + price_levers(prices))
    return plan


def _channels(con: duckdb.DuckDBPyConnection) -> list[str]:
    return list(master.company_facts(con)["channels"])


def _check_rows(con: duckdb.DuckDBPyConnection, plan: PlanReport) -> None:
    report = plan.report
    counts = scenarios.scope_plan_rows(con)
    present = [scope for scope in SCOPES if counts.get(scope)]
    plan.scope = present[0] if len(present) == 1 else "mixed"
    _flag(
        report,
        "error",
        "the row has a channel and a sku, family or brand; a plan row applies to one scope "
        "(a SKU, a family or a brand in every channel, or every SKU in one channel): leave "
        "the channel empty, or the others",
        scenarios.plan_rows_in_two_scopes(con),
    )
    for scope, others in (("sku", ("family", "brand")), ("family", ("brand",))):
        unused = [c for c in others if scenarios.plan_rows_with_unused_column(con, scope, c)[0]]
        if unused:
            report.issues.append(
                Issue(
                    "notice",
                    f"Each row with a {scope} is for its {scope}; on those rows the "
                    f"{', '.join(unused)} column(s) are not used.",
                )
            )
    if counts.get("all") and any(c in report.columns for c in SCOPE_COLUMNS):
        _flag(
            report,
            "notice",
            "the row names no sku, family, brand or channel, so it is for every SKU",
            scenarios._found(con, "_typed", "_scope = 'all'"),
        )
    for scope in SCOPES:
        if not counts.get(scope):
            continue
        if scope != "all":
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
    _flag(
        report,
        "error",
        "a net price needs a sku column (the SKUs of a family, brand or channel have "
        "different list prices); give the discount instead",
        scenarios.plan_rows_with_price(con),
    )
    _flag(
        report,
        "error",
        "until is the last week of a price change (a net price without a discount); a "
        "promotion runs the weeks it has rows for, so leave until empty on this row",
        scenarios.plan_rows_until_without_price_change(con),
    )
    _flag(
        report,
        "error",
        "until is before the row's week",
        scenarios.plan_rows_until_before_week(con),
    )
    if not report.ok:
        return
    scenarios.price_plan_rows(con)
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


def _flag(report: ImportReport, severity: str, message: str, found: scenarios.Found) -> None:
    """Report the rows a check found (nothing when it found none)."""
    count, lines = found
    if count:
        report.issues.append(Issue(severity, message, lines, count))


PROMOTION_VALUES = ["discount", "share", "feature", "display"]


def _resolved(
    rows: pd.DataFrame, groups: pd.DataFrame, channels: list[str], plan: PlanReport
) -> tuple[pd.DataFrame, set[int]]:
    """The promotion rows after overlaps are settled (the more specific row wins each
    SKU-week), as rows for levers: ``week, scope, target`` and the promotion's values; and
    the lines that count (a promotion, or a row that won an overlap). A run of a row's
    consecutive weeks that loses some SKU-weeks is given SKU by SKU (by family, for a row for
    everything; by channel, where channel rows won), so it keeps one dip at its end.
    Overlaps no lever can hold are the report's errors."""
    report = plan.report
    rows = rows.assign(
        week=pd.to_datetime(rows["week"]), level=rows["scope"].map(SPECIFICITY).astype(int)
    )
    effect = (rows["discount"] > 0) | (rows["feature"] > 0) | (rows["display"] > 0)
    scopes = rows.groupby("week")["scope"].nunique()
    mixed = rows[rows["week"].isin(scopes.index[scopes > 1])]
    if mixed.empty:
        return rows[effect], set(rows.loc[effect, "line"].astype(int))

    skus = groups.index.to_numpy(dtype=object)
    members_of = {
        "family": groups.groupby("family").groups,
        "brand": groups.groupby("brand").groups,
    }

    def members(scope: str, target: str | None) -> np.ndarray:
        if scope == "sku":
            return np.array([target], dtype=object)
        if scope in members_of:
            return np.asarray(members_of[scope][target], dtype=object)
        return skus

    # Every (week, SKU) each non-channel row of a mixed week reaches, and its winner.
    finer = mixed[mixed["scope"] != "channel"]
    cover = pd.DataFrame(
        [
            (row.line, row.week, sku, row.level)
            for row in finer.itertuples(index=False)
            for sku in members(row.scope, row.target)
        ],
        columns=["line", "week", "sku", "level"],
    )
    top = cover.groupby(["week", "sku"])["level"].transform("max")
    winners = cover[cover["level"] == top]
    ties = winners[winners.duplicated(["week", "sku"], keep=False)]
    if not ties.empty:  # a family and a brand row on the same SKU-week
        _lines_error(
            report,
            "a family row and a brand row put a promotion on the same SKU-weeks, and neither "
            "is more specific; give those SKUs their own rows, or move one of them",
            ties["line"],
        )
    channel_rows = mixed[mixed["scope"] == "channel"]
    clash = mixed[mixed["week"].isin(channel_rows["week"]) & mixed["level"].between(2, 3)]
    if not clash.empty:
        _lines_error(
            report,
            "a channel row and a sku, family or brand row put a promotion on the same week; "
            "a channel's promotion reaches every SKU in it and cannot leave some out: give the "
            "channel's promotion by family or SKU, or put it in another week",
            pd.concat(
                [clash["line"], channel_rows.loc[channel_rows["week"].isin(clash["week"]), "line"]]
            ),
        )
    if not report.ok:
        return rows.iloc[:0], set()

    by_line = rows.set_index("line")
    overlaps: list[Overlap] = []
    winner = winners.set_index(["week", "sku"])["line"]
    lost = cover[cover["level"] < top].assign(
        won_by=lambda f: winner.reindex(pd.MultiIndex.from_frame(f[["week", "sku"]])).to_numpy()
    )
    for (line, won_by), part in lost.groupby(["line", "won_by"]):
        overlaps.append(_overlap(by_line, int(won_by), int(line), len(part)))
    for row in channel_rows.itertuples(index=False):
        for other in mixed[(mixed["week"] == row.week) & (mixed["scope"] == "all")].itertuples():
            overlaps.append(_overlap(by_line, int(row.line), int(other.line), len(skus)))
    plan.overlaps = sorted(overlaps, key=lambda o: (o.week, o.line, o.over_line))
    if overlaps:
        named = "; ".join(o.text() for o in plan.overlaps[:OVERLAPS_NAMED])
        more = len(overlaps) - OVERLAPS_NAMED
        report.issues.append(
            Issue(
                "notice",
                f"{len(overlaps):,} overlap(s) where rows of different scopes give the same "
                f"SKU-weeks a promotion; the more specific row wins: {named}"
                + (f"; and {more:,} more." if more > 0 else "."),
            )
        )

    # Runs of consecutive weeks per row scope and target: a run that lost SKU-weeks (or, for
    # a row for everything, channels) is given finer.
    rows = rows.sort_values(["scope", "target", "week"], na_position="first")
    key = rows["scope"] + "|" + rows["target"].fillna("")
    run = ((rows["week"].diff() != pd.Timedelta(days=7)) | key.ne(key.shift())).cumsum()
    rows = rows.assign(run=run)
    lost_lines = set(lost["line"].astype(int))
    channel_weeks = set(channel_rows["week"])
    promoting = rows.loc[effect.reindex(rows.index), "line"].astype(int)
    lines_used = set(promoting) | {overlap.line for overlap in overlaps}
    parts = []
    lost_set = set(zip(lost["line"], lost["sku"], strict=True))
    lost_families = {(line, groups.at[sku, "family"]) for line, sku in lost_set}
    for _, part in rows.groupby("run", sort=False):
        first = part.iloc[0]
        cut_lines = set(part["line"].astype(int)) & lost_lines
        by_channel = first["scope"] == "all" and bool(set(part["week"]) & channel_weeks)
        if by_channel and cut_lines:
            _lines_error(
                report,
                "a row for everything loses weeks to channel rows and to sku, family or brand "
                "rows in one run of weeks; split it into rows by channel",
                part["line"],
            )
            continue
        if by_channel:
            for row in part.itertuples(index=False):
                taken = set(channel_rows.loc[channel_rows["week"] == row.week, "target"])
                parts += [
                    {**row._asdict(), "scope": "channel", "target": c}
                    for c in channels
                    if c not in taken
                ]
            continue
        if not cut_lines:
            parts += part.to_dict("records")
            continue
        # Given SKU by SKU (a row for everything: whole families where it lost none).
        run_lines = set(part["line"].astype(int))
        cut_families = {fam for line, fam in lost_families if line in run_lines}
        for row in part.itertuples(index=False):
            reached = members(row.scope, row.target)
            for family, skus_of in groups.loc[reached].groupby("family").groups.items():
                if row.scope == "all" and family not in cut_families:
                    parts.append({**row._asdict(), "scope": "family", "target": family})
                    continue
                parts += [
                    {**row._asdict(), "scope": "sku", "target": sku}
                    for sku in skus_of
                    if (row.line, sku) not in lost_set
                ]
    resolved = pd.DataFrame(parts, columns=[*rows.columns])
    keep = (resolved["discount"] > 0) | (resolved["feature"] > 0) | (resolved["display"] > 0)
    return resolved[keep], lines_used


def _overlap(rows: pd.DataFrame, line: int, over: int, count: int) -> Overlap:
    won, lost = rows.loc[line], rows.loc[over]
    return Overlap(
        week=pd.Timestamp(won["week"]).date(),
        line=line,
        scope=won["scope"],
        target=None if won["scope"] == "all" else str(won["target"]),
        over_line=over,
        over_scope=lost["scope"],
        over_target=None if lost["scope"] == "all" else str(lost["target"]),
        sku_weeks=count,
    )


def _lines_error(report: ImportReport, message: str, lines: pd.Series) -> None:
    found = sorted({int(line) for line in lines})
    report.issues.append(Issue("error", message, found[:20], len(found)))


def _horizon_notice(
    con: duckdb.DuckDBPyConnection, promotions: pd.DataFrame, prices: pd.DataFrame, report
) -> None:
    span = forecast_runs.forecast_span(con, latest_run(con))
    promoted = promotions[
        (promotions["discount"] > 0) | (promotions["feature"] > 0) | (promotions["display"] > 0)
    ]
    if promoted.empty and prices.empty:
        report.issues.append(
            Issue("warning", "The plan has no promotion, support or price in any row.")
        )
        return
    if span[0] is None:
        return
    first, last = pd.Timestamp(span[0]), pd.Timestamp(span[1])
    weeks = pd.to_datetime(promoted["week"])
    outside = int(((weeks < first) | (weeks > last)).sum())
    ends = pd.to_datetime(prices["end_week"])
    outside += int(
        prices.assign(starts=pd.to_datetime(prices["week"]), ends=ends)
        .pipe(lambda f: (f["starts"] > last) | (f["ends"].notna() & (f["ends"] < first)))
        .groupby(prices["line"])
        .all()
        .sum()
    )
    if outside:
        report.issues.append(
            Issue(
                "notice",
                f"{outside:,} row(s) fall outside the forecast's weeks ({span[0]:%d %b %Y} to "
                f"{span[1]:%d %b %Y}); they change nothing until a forecast covers them.",
            )
        )


def _calendar_overlap(con: duckdb.DuckDBPyConnection, report) -> None:
    """Plan rows on weeks the promotions calendar already holds for their SKUs: the forecast
    counts those promotions already, and the plan's lever comes on top."""
    _flag(
        report,
        "warning",
        "the promotions calendar already has a promotion for these SKUs and weeks; "
        "the forecast counts it, and the plan's promotion comes on top of it",
        scenarios.plan_rows_on_calendar_promotions(con),
    )


def levers_from_rows(rows: pd.DataFrame, scope: str | None = None) -> list[Lever]:
    """One promotion lever per run of consecutive weeks with the same values and the same
    scope and target (``rows``: ``week, target, discount, share, feature, display`` and a
    ``scope`` column, or ``scope`` for all of them)."""
    if rows.empty:
        return []
    part = rows.assign(week=pd.to_datetime(rows["week"]))
    if scope is not None:
        part = part.assign(scope=scope)
    part = part[(part["discount"] > 0) | (part["feature"] > 0) | (part["display"] > 0)]
    part = part.assign(key=part["scope"] + "|" + part["target"].fillna("").astype(str))
    part = part.sort_values(["key", "week"])
    # A new lever where the scope, its target or a value changes, or a week is missing.
    changed = part["week"].diff() != pd.Timedelta(days=7)
    for column in ("key", *PROMOTION_VALUES):
        changed |= part[column].ne(part[column].shift())
    spans = part.groupby(changed.cumsum(), sort=False).agg(
        scope=("scope", "first"),
        target=("target", "first"),
        start=("week", "min"),
        end=("week", "max"),
        **{v: (v, "first") for v in PROMOTION_VALUES},
    )
    return [
        Lever(
            kind="promotion",
            scope=item.scope,
            target=None if item.scope == "all" else str(item.target),
            start_week=item.start.date(),
            end_week=item.end.date(),
            discount=round(float(item.discount), 6),
            share=round(float(item.share), 6),
            feature=round(float(item.feature), 6),
            display=round(float(item.display), 6),
        ).validated()
        for item in spans.itertuples(index=False)
    ]


def price_levers(spans: pd.DataFrame) -> list[Lever]:
    """One price lever per SKU and run of weeks at one change against list
    (``scenarios.plan_price_spans``): adjacent spans with the same change join, and a span
    back at the list price (no change) makes none."""
    levers: list[Lever] = []
    for sku, part in spans.sort_values(["target", "week"]).groupby("target", sort=False):
        current: list = []  # [start, end, change]
        for row in part.itertuples(index=False):
            start = pd.Timestamp(row.week).date()
            end = None if pd.isna(row.end_week) else pd.Timestamp(row.end_week).date()
            change = round(float(row.change), 6)
            if (
                current
                and current[1] is not None
                and current[1] + dt.timedelta(days=7) == start
                and current[2] == change
            ):
                current[1] = end
                continue
            if current:
                levers.append(_price_lever(str(sku), *current))
            current = [start, end, change]
        if current:
            levers.append(_price_lever(str(sku), *current))
    return [lever for lever in levers if lever is not None]


def _price_lever(sku: str, start: dt.date, end: dt.date | None, change: float) -> Lever | None:
    if abs(change) <= 1e-9:
        return None
    return Lever("price", "sku", sku, start, end, change=change).validated()


def _sorted(levers: list[Lever]) -> list[Lever]:
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
