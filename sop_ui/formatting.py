"""Numbers and filters as the pages print them: compact money and units for KPI tiles, a
relative change, the scope caption. Pure functions, no streamlit."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sop_core.data.stores.sales import Scope


def scope_caption(current: Scope, channels: bool = True) -> str:
    """``Showing fragrance; all channels.`` for the page's caption."""
    families = ", ".join(current.families) if current.families else "all families"
    if not channels:
        return f"Showing {families}."
    chosen = ", ".join(current.channels) if current.channels else "all channels"
    return f"Showing {families}; {chosen}."


def money(value: float, currency: str = "EUR") -> str:
    """Compact money for KPI tiles: 1.2M EUR, 85k EUR."""
    for limit, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:,.1f}{suffix} {currency}"
    return f"{value:,.0f} {currency}"


def units(value: float) -> str:
    """Compact units for KPI tiles: 2.5M, 830k."""
    for limit, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:,.1f}{suffix}"
    return f"{value:,.0f}"


def change(current: float, previous: float) -> str | None:
    """A relative change such as ``+4.2%`` (None without a base)."""
    if not previous:
        return None
    ratio = round(current / previous - 1, 4) + 0.0  # + 0.0: no "-0.0%" from rounding noise
    return f"{ratio:+.1%}"
