"""The shared look of every chart: the palette, the projector styling and the common traces.

Everything is sized for a projector at the back of a room: large type, few colours that stay
apart for colour-blind viewers (Okabe-Ito), thresholds drawn as lines and labelled. A family's
colour comes from ``family_colours`` alone, so it is the same on every chart and page.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

import pandas as pd
import plotly.graph_objects as go

# Okabe-Ito, colour-blind safe. Builders pick entries by position: 0 the forecast/plan blue,
# 2 green (stock, approved, increases), 5 vermilion (overload, unmet, decreases).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
FONT_SIZE = 16


def family_colours(families: Iterable[str]) -> dict[str, str]:
    """Each family's colour: the palette entry at the family's position in the sorted list.

    Pass the company's whole list of families (not only those a filter shows), so a family
    keeps its colour on every chart and page whatever else is shown; any company's families
    are coloured the same way. Past the palette's eight colours the palette starts over.
    """
    ordered = sorted(set(families))
    return {family: PALETTE[position % len(PALETTE)] for position, family in enumerate(ordered)}


def plain(text: object) -> str:
    """``text`` as plotly shows it literally: plotly renders a subset of HTML (links, bold,
    line breaks) in titles, legends and hover labels, so names people typed are escaped."""
    return html.escape(str(text), quote=False)


# A title longer than this (in characters, about 10 px each at the title's 20 px) is cut on a
# half-width chart of a 1366 px laptop: it is set on two lines.
TITLE_LINE = 44


def title_lines(title: str) -> str:
    """``title`` on two lines (plotly's ``<br>``) when it is too long for one, broken after
    its first colon, else after its last comma; plotly never wraps a title by itself."""
    if len(title) <= TITLE_LINE:
        return title
    head, separator, tail = title.partition(": ")
    if not separator:
        head, separator, tail = title.rpartition(", ")
    return f"{head}{separator.strip()}<br>{tail}" if head and tail else title


def merge(base: dict, extra: dict) -> dict:
    """``base`` with ``extra`` laid over it, nested dicts merged key by key."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def figure(
    traces: list[dict],
    title: str,
    y_title: str,
    height: int = 460,
    layout: dict | None = None,
) -> go.Figure:
    """A figure with the projector styling, built in one go from plain dicts.

    Every builder describes its traces and layout as dicts and constructs the figure once:
    plotly validates a whole spec in a few milliseconds, while ``add_trace`` and
    ``update_layout`` calls (and its default template) cost tens of milliseconds per figure,
    which a live lever move would feel. ``layout`` is merged over the common styling.
    """
    # Titles and trace names carry names people typed (scenarios, families, SKUs, lines).
    traces = [
        {**trace, "name": plain(trace["name"])} if isinstance(trace.get("name"), str) else trace
        for trace in traces
    ]
    # The title above the plot and the legend at the bottom of the figure each make their own
    # room (``automargin``; the legend's ``yref: container`` with the axes' ``automargin``), so
    # on a narrow chart a title on two lines or a legend that wraps onto more rows pushes the
    # plot in instead of running over each other or the tick labels.
    common = {
        "template": "none",
        "title": {
            "text": title_lines(plain(title)),
            "font": {"size": FONT_SIZE + 4},
            "x": 0.01,
            "xanchor": "left",
            "yref": "paper",
            "y": 1,
            "yanchor": "bottom",
            "pad": {"b": 16},
            "automargin": True,
        },
        "paper_bgcolor": "#FFFFFF",
        "plot_bgcolor": "#FFFFFF",
        "font": {"size": FONT_SIZE, "color": "#111111"},
        "height": height,
        "margin": {"l": 70, "r": 30, "t": 30, "b": 10},
        "legend": {
            "orientation": "h",
            # The figure's whole width for the legend's rows, not only the plot's.
            "xref": "container",
            "yref": "container",
            "yanchor": "bottom",
            "y": 0,
            "xanchor": "left",
            "x": 0.01,
            "traceorder": "normal",
        },
        "hoverlabel": {"font": {"size": FONT_SIZE}},
        "xaxis": {
            "showgrid": False,
            "linecolor": "#444444",
            "ticks": "outside",
            "automargin": True,
        },
        "yaxis": {
            "title": {"text": y_title},
            "gridcolor": "#E5E5E5",
            "zerolinecolor": "#BBBBBB",
            "separatethousands": True,
            "automargin": True,
        },
    }
    return go.Figure({"data": traces, "layout": merge(common, layout or {})})


def weekly_line(
    x: pd.Series,
    y: pd.Series,
    name: str,
    colour: str,
    *,
    width: int = 3,
    dash: str = "solid",
    markers: bool = False,
    label: str | None = None,
) -> dict:
    """A weekly series as a line trace whose hover says ``label 12,345`` and the week."""
    trace = {
        "type": "scatter",
        "x": x,
        "y": y,
        "mode": "lines+markers" if markers else "lines",
        "name": name,
        "line": {"color": colour, "width": width, "dash": dash},
        "hovertemplate": f"{label or name} %{{y:,.0f}}<extra>%{{x|%d %b %Y}}</extra>",
    }
    if markers:
        trace["marker"] = {"size": 6}
    return trace


def band(x: pd.Series, upper: pd.Series, lower: pd.Series, name: str, alpha: float) -> list[dict]:
    """A shaded band between ``lower`` and ``upper`` (two traces: the upper edge, then the lower
    one filled up to it), in the forecast's blue at opacity ``alpha``."""
    edge = {"type": "scatter", "x": x, "mode": "lines", "line": {"width": 0}, "hoverinfo": "skip"}
    return [
        {**edge, "y": upper, "showlegend": False, "name": f"upper {name}"},
        {
            **edge,
            "y": lower,
            "fill": "tonexty",
            "fillcolor": f"rgba(0, 114, 178, {alpha})",
            "name": f"{name} band",
        },
    ]
