"""The company's settings an admin changes (the fiscal calendar, four-eyes approval), each
change checked (``access.require``) and audited in the transaction that makes it."""

from __future__ import annotations

from pathlib import Path

import duckdb

from sop_core.data import access
from sop_core.data.fiscal import FiscalCalendar
from sop_core.data.stores import master

FOUR_EYES = "four_eyes"  # "on": the author of a scenario alone may not approve it


def four_eyes(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether approving a plan of record takes someone other than the scenario's author."""
    return master.company_settings(con).get(FOUR_EYES, "off") == "on"


def save_fiscal_calendar(path: Path | str, calendar: FiscalCalendar, who: str) -> None:
    """Make ``calendar`` the company's fiscal calendar (an admin's change)."""
    with access.writing(path, who, "settings") as write:
        before = master.fiscal_calendar(write.con).settings()
        master.set_fiscal_calendar(write.con, calendar)
        write.record("settings", "fiscal calendar", before=before, after=calendar.settings())


def set_four_eyes(path: Path | str, on: bool, who: str) -> None:
    """Ask (``on``) or stop asking for four eyes on approvals (an admin's change)."""
    with access.writing(path, who, "settings") as write:
        before = four_eyes(write.con)
        master.set_company_setting(write.con, FOUR_EYES, "on" if on else "off")
        write.record("settings", "four-eyes approval", before=before, after=on)
