"""Consensus overrides from a spreadsheet (demand planners keep them in one too): a file in,
overrides checked row by row, then stored all together or not at all.

An overrides file (CSV or Excel) has a row per override:

- ``sku`` or ``family``: the scope; a row's most specific non-empty one (a SKU row's family
  column is only there for reading);
- ``first_week`` (or ``week``) and optional ``last_week`` (default: the first week): any date
  in the week, which counts for the week that contains it;
- one change: ``percent`` (+10 = +10%), ``units`` (units per week to add, or take away) or
  ``set_units`` (``set``: the volume per week to set);
- ``reason``: required, as on the Demand review.

The file goes through the importer's checks first (types, dates, every problem with its
lines), then each row through the Demand review's (``consensus.check_override``, the scope's
volume not below zero with the rows before it applied, a move of more than half the scope's
volume only when confirmed). Every bad row is reported with its line; nothing is written by
reading.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sop_core.data import db
from sop_core.data.errors import InputError
from sop_core.data.importer import (
    SKU,
    Column,
    ImportReport,
    Issue,
    TableSpec,
    read_file,
    source_found,
)
from sop_core.data.stores import overrides as override_store
from sop_core.demand.consensus import (
    LARGE_CHANGE,
    Override,
    apply_override,
    check_override,
    large_change,
    scope_change,
)
from sop_core.demand.plan_base import PlanBase

OVERRIDES_SPEC = TableSpec(
    (
        Column("sku", "text", aliases=SKU),
        Column("family", "text", aliases=("category",)),
        Column(
            "first_week",
            "date",
            required=True,
            aliases=("week", "from", "start_week", "week_start", "first", "date"),
        ),
        Column("last_week", "date", aliases=("to", "until", "end_week", "last")),
        Column("percent", "number", aliases=("pct", "percent_change", "change_percent")),
        Column("units", "number", aliases=("units_per_week", "add_units")),
        Column("set_units", "number", minimum=0, aliases=("set", "set_to", "volume")),
        Column("reason", "text", aliases=("why", "comment")),
    ),
    ("first_week",),
    "override rows",
)
CHANGES = {"percent": "percent", "units": "units", "set_units": "set"}
"""The file's change columns and the override mode each is."""


@dataclass
class OverridesFile:
    """What reading an overrides file found: the report (its issues with their lines), the
    overrides in the file's order, and each one's scope volume before and after."""

    report: ImportReport
    overrides: list[Override] = field(default_factory=list)
    changes: list[tuple[float, float]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.report.ok

    def summary(self) -> str:
        if not self.ok:
            return self.report.summary()
        return f"{self.report.file_name}: {len(self.overrides):,} override(s), every row checked."


def read_overrides(
    path: Path | str,
    source: Path | str,
    base: PlanBase,
    author: str,
    *,
    mapping: dict[str, str] | None = None,
    confirmed: bool = False,
) -> OverridesFile:
    """Check the overrides file ``source`` against the database ``path`` and the forecast
    of ``base`` (its SKUs, families, weeks and consensus), as made by ``author``. A move of
    more than ``LARGE_CHANGE`` of a scope's volume is an error unless ``confirmed``. Bad input
    never raises: it comes back as the report's errors, each with its line."""
    source = Path(source)
    report = ImportReport("consensus overrides", source.name, "")
    found = OverridesFile(report)
    if not source_found(source, report):
        return found
    with db.connect(path) as con:
        if not read_file(con, OVERRIDES_SPEC, source, report, mapping):
            return found
        rows = override_store.file_rows(con)
    report.rows_in_file = len(rows)
    if rows.empty:
        report.issues.append(Issue("error", "The file has no override rows."))
        return found
    statistical = base.statistical_by_channel
    current = base.consensus_by_channel
    for row in rows.to_dict("records"):
        line = int(row["_line"])
        try:
            override = check_override(base, _override(row, author))
            before, after = scope_change(base, statistical, current, override)
            if not confirmed and large_change(before, after):
                raise InputError(
                    f"{override.describe()} moves the {override.scope_text().lower()}'s volume "
                    f"over those weeks by more than {LARGE_CHANGE:.0%} ({before:,.0f} to "
                    f"{after:,.0f} units); check it, and confirm it if it is meant"
                )
        except InputError as error:
            report.issues.append(Issue("error", str(error).rstrip("."), [line], 1))
            continue
        current, _ = apply_override(current, statistical, base, override)
        found.overrides.append(override)
        found.changes.append((before, after))
    report.rows_to_write = len(found.overrides) if report.ok else 0
    return found


def _override(row: dict, author: str) -> Override:
    """One file row as an override (``InputError`` saying what is wrong with it)."""
    given = [name for name in CHANGES if _present(row[name])]
    if len(given) != 1:
        found = "none" if not given else " and ".join(given)
        raise InputError(f"Give one change per row: percent, units or set_units (found {found})")
    if _present(row["sku"]):
        level, target = "sku", str(row["sku"])
    elif _present(row["family"]):
        level, target = "family", str(row["family"])
    else:
        raise InputError("sku and family are both empty: an override is for a SKU or a family")
    first = row["first_week"]
    last = row["last_week"] if _present(row["last_week"]) else first
    reason = str(row["reason"]) if _present(row["reason"]) else ""
    mode = CHANGES[given[0]]
    return Override(level, target, _day(first), _day(last), mode, float(row[given[0]]), reason,
                    author)  # fmt: skip


def _present(value: object) -> bool:
    """Whether a cell holds something (not empty, not NaN, not NaT)."""
    return value is not None and not pd.isna(value) and str(value).strip() != ""


def _day(value: object) -> dt.date:
    return pd.Timestamp(value).date()
