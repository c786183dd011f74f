"""Numbers, filters and user text as the pages print them: compact money and units for KPI
tiles and a relative change (from ``sop_core.data.formats``, the one formatting module), the
scope caption, and ``plain`` for names and text people typed. Pure functions, no streamlit."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sop_core.data import formats

if TYPE_CHECKING:
    import pandas as pd

    from sop_core.data.stores.sales import Scope

# Every ASCII punctuation character may be backslash-escaped in (GitHub-flavoured) Markdown and
# then shows as itself. Escaping every one that can mean something (quotes, commas and the like
# never do, and stay as typed so messages read the same in tests), also covers what Streamlit
# adds on top: directives (``:red[...]``), ``:material/icon:`` (Streamlit rewrites the raw text
# ``:material/`` before parsing, hence ``/``), maths (``$``), HTML tags and entities (``<``,
# ``&``), autolinks (``www.``, ``http://``, ``a@b.c``), tables (``|``) and strikethrough (``~``).
_PUNCTUATION = re.compile(r"([!#$&()*+\\\-./:<=>@\[\]^_`{|}~])")
# A line break in a name would start a new block (a heading, a list, a quote, code).
_LINE_BREAKS = re.compile(r"\s*[\r\n\v\f\u2028\u2029]+\s*")
ELLIPSIS = "\u2026"
# The longest user text a button, tab or expander label shows; longer is cut with an ellipsis.
LABEL_LIMIT = 60


# The forecast's models as a planner reads them (``forecast_models.model``).
MODEL_LABELS = {
    "prophet": "Prophet with drivers",
    "theta": "Theta",
    "ets": "ETS",
    "seasonal_naive_adjusted": "seasonal naive, adjusted for promotions",
    "gbm": "global LightGBM",
    "median": "median of the models",
    "combination": "combination",
    "seasonal_naive": "seasonal naive",
    "croston_sba": "Croston (intermittent)",
    "family_share": "family share (new items)",
    "recent_mean": "recent average (new items)",
    "zero": "no sales",
    "flat": "flat",
}


def plain(text: object, limit: int | None = None) -> str:
    """``text`` (a name, a description, a reason, a message quoting them) made safe for a
    Markdown context (``st.markdown``, captions, alerts, labels, help, ``st.table`` cells): every
    Markdown character escaped, so links, images, HTML tags and Streamlit's directives show as
    the text that was typed. Line breaks become spaces; right-to-left text and emoji stay.

    Parameters
    ----------
    text
        The text as stored (anything ``str`` accepts; None is the empty text).
    limit
        Cut to this many characters, the last an ellipsis, where the layout cannot take more
        (a tab or button label); None shows the text whole.

    Returns
    -------
    str
        Markdown that renders as ``text``.
    """
    value = "" if text is None else str(text)
    value = _LINE_BREAKS.sub(" ", value)
    if limit is not None and len(value) > limit:
        value = value[: max(limit - 1, 0)].rstrip() + ELLIPSIS
    return _PUNCTUATION.sub(r"\\\1", value)


def plain_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell through ``plain``, for ``st.table`` (whose cells are
    Markdown; ``st.dataframe``'s are plain text and need nothing)."""
    shown = frame.copy()
    for column in shown.columns:
        if shown[column].dtype == object:
            shown[column] = shown[column].map(lambda v: plain(v) if isinstance(v, str) else v)
    return shown


def scope_caption(current: Scope, channels: bool = True) -> str:
    """``Showing fragrance; all channels.`` for the page's caption, names as Markdown-safe text."""
    families = ", ".join(map(plain, current.families)) if current.families else "all families"
    if not channels:
        return f"Showing {families}."
    chosen = ", ".join(map(plain, current.channels)) if current.channels else "all channels"
    return f"Showing {families}; {chosen}."


def money(value: float, currency: str = "EUR", *, signed: bool = False) -> str:
    """Compact money for KPI tiles: 1.2M EUR, 85k EUR; a ``signed`` change +1.2M EUR
    (``sop_core.data.formats``)."""
    return formats.money(value, currency, signed=signed)


def units(value: float, *, signed: bool = False) -> str:
    """Compact units for KPI tiles: 2.5M, 830k; a ``signed`` change +830k, -12.5k
    (``sop_core.data.formats``)."""
    return formats.compact(value, signed=signed)


def change(current: float, previous: float) -> str | None:
    """A relative change such as ``+4.2%`` (None without a base)."""
    return formats.relative_change(current, previous)


def compact_json(text: str | None, limit: int = 160) -> str | None:
    """A value the audit trail stored as JSON, as one short line: ``{"roles": ["admin"]}``
    reads ``roles: admin``; a list reads its items joined by commas; longer than ``limit``
    is cut with an ellipsis. None stays None (the table shows its dash)."""
    import json

    if text is None or (isinstance(text, float) and text != text):
        return None
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        value = text

    def shown(item: object) -> str:
        if isinstance(item, dict):
            return "; ".join(f"{key}: {shown(inner)}" for key, inner in item.items())
        if isinstance(item, list | tuple):
            return ", ".join(shown(inner) for inner in item)
        if isinstance(item, bool):
            return "yes" if item else "no"
        return formats.MISSING if item is None else str(item)

    line = " ".join(shown(value).split())
    return line if len(line) <= limit else line[: limit - 1] + ELLIPSIS
