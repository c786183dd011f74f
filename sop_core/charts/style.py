"""The shared look of every chart: the palette, the projector styling and the common traces.

Everything is sized for a projector at the back of a room: large type, few colours that stay
apart for colour-blind viewers (Okabe-Ito), thresholds drawn as lines and labelled. A family's
colour comes from ``family_colours`` alone, so it is the same on every chart and page.
"""

from __future__ import annotations

import colorsys
import html
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from sop_core.data import formats
from sop_core.data.fiscal import FiscalCalendar

# Okabe-Ito, colour-blind safe. Builders pick entries by position: 0 the forecast/plan blue,
# 2 green (stock, approved, increases), 5 vermilion (overload, unmet, decreases).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
FONT_SIZE = 16

WEEK_HOVER = "W%V \u00b7 %-d %b %Y"
"""``formats.week(day, year=True)`` ("W48 \u00b7 23 Nov 2026") as a d3 date format, for a week
in a hover label or an axis' ``hoverformat`` (``%V`` the ISO week, ``%-d`` the day unpadded);
read on a week's Monday, the key of every weekly row. Python's ``strftime`` reads it the same
way, which is how the tests hold it to ``formats``."""
WEEK_X = f"%{{x|{WEEK_HOVER}}}"
"""A hover template's week: the point's x (a week's Monday) as ``WEEK_HOVER`` says."""
# Steps between labelled weeks, tried in turn until the labels fit; beyond them, months.
_WEEK_STEPS = (1, 2, 4, 8)
COLUMN_TICKS = 7
"""Most week labels on a chart drawn in a page column (half or two thirds of the width):
at 1366 px the two-line labels of 13 weeks run into each other there."""
_MONTH_STEPS = (1, 2, 3, 6, 12)


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


def week_ticks(weeks: Iterable, most: int = 13, window: int | None = None) -> dict:
    """A date axis labelled at the weeks' Mondays (the keys of the weekly rows), never between
    two weeks: the ISO week and its Monday as ``formats.week`` writes them, on two lines
    ("W48<br>23 Nov"), the year under the first label and where the year turns. Every week up
    to ``most`` weeks, else every second, fourth or eighth week, whichever first keeps the
    labels to ``most``; past that (a history of years) the first Monday of every month,
    second, third, sixth or twelfth month, labelled with the month ("Nov<br>2026", "Feb").

    ``window`` is the number of weeks the chart opens on when that is fewer than it holds
    (the demand picture, its last ``window`` weeks): the density suits it, the labels run
    across all the weeks, and the first label in it carries the year too. The
    hover reads a week as ``WEEK_HOVER`` (also the header of an ``x unified`` hover)."""
    axis = {
        "type": "date",
        "tickangle": 0,
        "tickfont": {"size": 13},
        "automargin": True,
        "hoverformat": WEEK_HOVER,
    }
    days = pd.DatetimeIndex(pd.to_datetime(pd.Series(list(weeks)), errors="coerce"))
    days = days.dropna().unique().sort_values()
    if days.empty:
        return axis
    count = window or len(days)
    step = next((step for step in _WEEK_STEPS if np.ceil(count / step) <= most), None)
    if step is not None:
        shown = days[::step]
        text = [formats.week(day).replace(formats.WEEK_SEPARATOR, "<br>") for day in shown]
    else:
        # The first week starting in each month, every ``months`` months from January.
        month = pd.Series(days.to_period("M"))
        first = days[month.ne(month.shift()).to_numpy()]
        first = first[first.day <= 7]  # a month the rows start in mid-way has no label
        months = next(
            (m for m in _MONTH_STEPS if np.ceil(count / 4.35 / m) <= most), _MONTH_STEPS[-1]
        )
        shown = first[(first.month - 1) % months == 0]
        text = [f"{day:%b}" for day in shown]
    # The year under the first label the chart opens on, and where the year turns.
    opens = days[-count] if count < len(days) else days[0]
    first_shown = next((day for day in shown if day >= opens), None)
    years = [None, *(day.year for day in shown[:-1])]
    text = [
        label + (f"<br>{day:%Y}" if day.year != before or day == first_shown else "")
        for label, day, before in zip(text, shown, years, strict=True)
    ]
    return {**axis, "tickmode": "array", "tickvals": list(shown), "ticktext": text}


def is_weekly(figure: go.Figure) -> bool:
    """Whether ``figure``'s x axis is a week axis (``week_ticks``'s)."""
    return figure.layout.xaxis.hoverformat == WEEK_HOVER


def period_axis(
    figure: go.Figure, label: Callable[[pd.Timestamp], str], bucket: str | None = None
) -> go.Figure:
    """A weekly chart drawn from figures per fiscal month or quarter (each x the first day of
    its period, ``export.bucketed_frame``) with the periods' names on its x axis: every trace's x
    becomes ``label(x)`` ("Nov 2026", "Q4 2026") on a category axis in time order, hovers
    name the period instead of a week, and a shape drawn across weeks (a holiday, the
    forecast's start) covers the periods those weeks fall in; a note at a week stands over its
    period. With ``bucket`` ("month"), titles that say "per week" or "Weekly" say it of the
    bucket."""
    seen: dict[str, pd.Timestamp] = {}

    def name(value: object) -> object:
        day = pd.to_datetime(value, errors="coerce")
        if pd.isna(day):
            return value
        text = label(day)
        seen[text] = min(seen.get(text, day), day)
        return text

    for trace in figure.data:
        if getattr(trace, "x", None) is None:
            continue
        trace.x = [name(x) for x in trace.x]
        if getattr(trace, "hovertemplate", None):
            trace.hovertemplate = trace.hovertemplate.replace(WEEK_X, "%{x}")
    order = sorted(seen, key=seen.get)
    position = {text: i for i, text in enumerate(order)}
    shapes = []
    for shape in figure.layout.shapes:
        if shape.xref in (None, "x") and shape.x0 is not None and shape.x1 is not None:
            first, last = name(shape.x0), name(shape.x1)
            if first in position and last in position:
                shape = go.layout.Shape(shape).update(
                    x0=position[first] - 0.5, x1=position[last] + 0.5
                )
        shapes.append(shape)
    annotations = []
    for note in figure.layout.annotations:
        if note.xref in (None, "x") and note.x is not None and name(note.x) in position:
            note = go.layout.Annotation(note).update(x=position[name(note.x)])
        annotations.append(note)
    figure.update_layout(shapes=shapes, annotations=annotations)
    if bucket:
        for holder in (figure.layout.title, figure.layout.yaxis.title):
            if holder.text:
                holder.text = holder.text.replace("per week", f"per {bucket}").replace(
                    "Weekly", f"{bucket.title()}ly"
                )
    figure.update_xaxes(
        type="category",
        categoryorder="array",
        categoryarray=order,
        tickmode="auto",
        tickvals=None,
        ticktext=None,
        hoverformat=None,
    )
    return figure


def named_periods(figure: go.Figure, bucket: str, calendar: FiscalCalendar) -> go.Figure:
    """``figure`` with its week axis naming the periods of ``bucket`` when it is drawn from
    figures per month or quarter (``supply.periods.by_period``, then ``period_axis``); as it
    is by week, or when its axis is not one of weeks. The pages and the pack both use it."""
    if bucket == "week" or not is_weekly(figure):
        return figure
    return period_axis(figure, lambda day: calendar.period_label(day, bucket), bucket)


def unit_ticks(*values: Iterable) -> dict:
    """A units (or money) axis with round ticks written short: plotly's own steps (1, 2 or 5
    x 10^n) in d3's trimmed SI format, "100k", "250k", "1.5M", never "381k" or "1.23M"; an
    axis that stays under a thousand keeps plotly's plain numbers (SI writes 0.5 as "500m")."""
    numbers = [np.asarray(pd.to_numeric(pd.Series(list(v)), errors="coerce")) for v in values]
    top = max((float(np.nanmax(np.abs(n))) for n in numbers if np.isfinite(n).any()), default=0)
    return {"tickformat": "~s"} if top >= 1000 else {}


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
    """A weekly series as a line trace whose hover says ``label 12,345`` and the week
    ("W48 · 23 Nov 2026")."""
    trace = {
        "type": "scatter",
        "x": x,
        "y": y,
        "mode": "lines+markers" if markers else "lines",
        "name": name,
        "line": {"color": colour, "width": width, "dash": dash},
        "hovertemplate": f"{label or name} %{{y:,.0f}}<extra>{WEEK_X}</extra>",
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


# ---- Present mode: a room with a projector --------------------------------------------------

ROOM_TEXT_PX = 24
"""Present mode's body text on a 1920 x 1080 screen (1.5rem); chart type is sized from it."""
ROOM_COLOURS = {
    "text": "#000000",
    "muted": "#333333",  # captions and notes
    "disabled": "#595959",  # a button that does nothing here (Previous on the first step)
    "background": "#FFFFFF",
    "accent": "#0B4F8A",  # the current agenda step, links
    "surface": "#F0F2F6",  # tiles' and pills' background
    "up": "#00642F",  # a change for the better
    "down": "#A1000E",  # a change for the worse
    "alert": "#7A0010",  # an overdue item's text...
    "alert_background": "#FDE0E0",  # ...on this
}
"""The colours Present mode's page styles its text and controls with: every text colour reads
at least 4.5:1 on the background it is drawn on (WCAG AA)."""
ROOM_PALETTE = (
    "#0072B2",
    "#9E6A00",
    "#007A5A",
    "#A8437A",
    "#2B88C8",
    "#C05100",
    "#7A6F00",
    "#000000",
)
"""``PALETTE`` for Present mode: each colour under 4.5:1 on white darkened, at the same hue
(a family keeps its colour), to 4.5:1 or more; sky blue to 3.85:1 only (3:1 is what a
chart's lines need), so it stays lighter than the blue it is told apart from."""
_ROOM_REPLACES = {
    **{old.upper(): new for old, new in zip(PALETTE, ROOM_PALETTE, strict=True)},
    "#999999": "#6C6C6C",  # waterfall connectors
    "#7F7F7F": "#6C6C6C",  # seasonal naive
    "#BBBBBB": "#6C6C6C",
}


def parse_colour(colour: str) -> tuple[float, float, float, float]:
    """``#rgb``, ``#rrggbb``, ``rgb(r, g, b)`` or ``rgba(r, g, b, a)`` as (r, g, b, alpha),
    the channels 0-255 and alpha 0-1."""
    text = colour.strip().lower()
    if text.startswith("#"):
        digits = text[1:]
        if len(digits) == 3:
            digits = "".join(d * 2 for d in digits)
        return (*(float(int(digits[i : i + 2], 16)) for i in (0, 2, 4)), 1.0)
    if text.startswith("rgb"):
        parts = [p.strip() for p in text[text.index("(") + 1 : text.rindex(")")].split(",")]
        alpha = float(parts[3]) if len(parts) > 3 else 1.0
        return float(parts[0]), float(parts[1]), float(parts[2]), alpha
    raise ValueError(f"Not a colour this reads: {colour!r}")


def relative_luminance(colour: str) -> float:
    """WCAG 2's relative luminance of an opaque colour (0 black to 1 white)."""
    r, g, b, _ = parse_colour(colour)

    def linear(channel: float) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def over(colour: str, background: str) -> str:
    """``colour`` drawn over an opaque ``background``: its alpha composited away."""
    r, g, b, alpha = parse_colour(colour)
    br, bg, bb, _ = parse_colour(background)
    mixed = (alpha * c + (1 - alpha) * d for c, d in ((r, br), (g, bg), (b, bb)))
    return "#" + "".join(f"{round(c):02x}" for c in mixed)


def contrast_ratio(foreground: str, background: str = "#FFFFFF") -> float:
    """WCAG 2's contrast ratio (1 to 21) of ``foreground`` drawn on ``background`` (a
    translucent foreground is composited over the background first). AA asks 4.5 for text,
    3 for large text and for the lines and marks a chart is read by."""
    lighter, darker = sorted(
        (relative_luminance(over(foreground, background)), relative_luminance(background)),
        reverse=True,
    )
    return (lighter + 0.05) / (darker + 0.05)


def _readable_under_black(colour: str, ratio: float = 4.5) -> str:
    """A heatmap cell's ``colour`` made light enough that black type reads ``ratio``:1 on it,
    keeping the cells' order: luminances 0-1 are mapped onto the readable range (from the
    luminance black reads ``ratio``:1 on, up to 1), the lightness raised at the same hue and
    saturation to reach it. Darker cells stay darker, and reds stay red, not pink."""
    floor = ratio * 0.05 - 0.05 + 0.005
    target = floor + relative_luminance(colour) * (1 - floor)
    r, g, b, _ = parse_colour(colour)
    hue, lightness, saturation = colorsys.rgb_to_hls(r / 255, g / 255, b / 255)

    def shade(light: float) -> str:
        channels = colorsys.hls_to_rgb(hue, light, saturation)
        return "#" + "".join(f"{round(c * 255):02x}" for c in channels)

    low, high = lightness, 1.0
    if relative_luminance(shade(low)) >= target:
        return colour
    for _ in range(30):
        middle = (low + high) / 2
        low, high = (middle, high) if relative_luminance(shade(middle)) < target else (low, middle)
    return shade(high)


def for_room(
    fig: go.Figure,
    text_px: int = ROOM_TEXT_PX,
    height: int | None = None,
    title: bool = True,
    week_labels: int = COLUMN_TICKS,
) -> go.Figure:
    """``fig`` restyled for Present mode: type sized from the page's ``text_px`` (ticks,
    legend, annotations, hover and numbers in cells at 0.9 of it and at least 20 px, axis
    titles at it, the title above it) and the high-contrast colours (``ROOM_PALETTE`` for
    lines and marks, black type; a heatmap's cells made light enough for its numbers in
    black to read 4.5:1, in the same order of darkness). A new figure; ``height`` replaces
    the figure's own when given.

    ``title=False`` leaves the title out, for a page that writes it above the chart
    (``title_text``): plotly places a title in the top margin whatever the legend above the
    plot needs, so with large type a legend of several rows runs into it."""
    small = max(20, round(text_px * 0.9))
    ink = ROOM_COLOURS["text"]
    layout = fig.layout.to_plotly_json()
    room = {
        "font": {"size": small, "color": ink},
        "title": {"font": {"size": round(text_px * 1.15), "color": ink}},
        "legend": {"font": {"size": small, "color": ink}},
        "hoverlabel": {"font": {"size": small}},
    }
    if height is not None:
        room["height"] = height
    if not title:
        layout.pop("title", None)
        room.pop("title")
        room["margin"] = {"t": 20}  # the legend above the plot pushes it as far as it needs
    for key in layout:
        if key.startswith(("xaxis", "yaxis")):
            room[key] = {
                "tickfont": {"size": small, "color": ink},
                "title": {"font": {"size": text_px, "color": ink}},
                "automargin": True,
                "linecolor": ink,
                **_room_week_ticks(layout[key], week_labels),
            }
    if "annotations" in layout:
        room["annotations"] = [
            merge(note, {"font": {"size": max(small, note.get("font", {}).get("size", 0))}})
            for note in layout["annotations"]
        ]
    data = [_trace_for_room(trace.to_plotly_json(), small) for trace in fig.data]
    return go.Figure({"data": data, "layout": merge(layout, room)})


def _room_week_ticks(axis: dict, most: int) -> dict:
    """A week axis' labels (``week_ticks``) thinned for the room's larger type: at most
    ``most`` of them where the axis opens (its ``range``, else all), every second,
    fourth... label kept, and a year a dropped label carried written under the next kept one.
    At 22 px, 13 labels of a 26-week heatmap ran into each other on a 1366 px screen. Other
    axes: nothing to change."""
    values, text = axis.get("tickvals"), axis.get("ticktext")
    if axis.get("hoverformat") != WEEK_HOVER or not values or not text:
        return {}
    days = pd.to_datetime(pd.Series(list(values)))
    shown = days
    if axis.get("range"):
        first, last = pd.to_datetime(pd.Series(list(axis["range"])))
        shown = days[(days >= first) & (days <= last)]
    every = int(np.ceil(max(len(shown), 1) / most))
    if every <= 1:
        return {}
    start = int(shown.index[0]) % every if len(shown) else 0
    kept_values, kept_text, year_dropped = [], [], False
    for index, (value, label) in enumerate(zip(values, text, strict=True)):
        has_year = label[-4:].isdigit()  # "W01<br>4 Jan<br>2027", "Jan<br>2027"
        if (index - start) % every:
            year_dropped = year_dropped or has_year
            continue
        if year_dropped and not has_year:
            label = f"{label}<br>{days[index]:%Y}"
        kept_values.append(value)
        kept_text.append(label)
        year_dropped = False
    return {"tickvals": kept_values, "ticktext": kept_text}


def title_text(fig: go.Figure) -> str:
    """The figure's title as plain text (``figure`` escapes the names in it for plotly), on
    one line: the break ``title_lines`` put in a long one is a space (a page wraps it)."""
    return html.unescape((fig.layout.title.text or "").replace("<br>", " "))


def _room_colour(colour: object) -> object:
    if isinstance(colour, str):
        return _ROOM_REPLACES.get(colour.upper(), colour)
    return colour


def _trace_for_room(trace: dict, small: int) -> dict:
    """One trace's colours and type for the room (see ``for_room``)."""
    trace = dict(trace)
    for part in ("line", "marker"):
        if isinstance(trace.get(part), dict) and "color" in trace[part]:
            trace[part] = {**trace[part], "color": _room_colour(trace[part]["color"])}
    for part in ("increasing", "decreasing", "totals"):
        marker = trace.get(part, {}).get("marker")
        if marker and "color" in marker:
            trace[part] = merge(trace[part], {"marker": {"color": _room_colour(marker["color"])}})
    if "connector" in trace:
        colour = trace["connector"].get("line", {}).get("color")
        trace["connector"] = merge(trace["connector"], {"line": {"color": _room_colour(colour)}})
    if "text" in trace or "texttemplate" in trace:
        size = max(small, trace.get("textfont", {}).get("size", 0))
        trace["textfont"] = {**trace.get("textfont", {}), "size": size}
    if trace.get("type") == "heatmap" and "texttemplate" in trace:
        ink = ROOM_COLOURS["text"]
        trace["textfont"] = {**trace["textfont"], "color": ink}
        trace["colorscale"] = [
            [stop, _readable_under_black(colour)] for stop, colour in trace.get("colorscale", [])
        ]
    if isinstance(trace.get("colorbar"), dict):
        trace["colorbar"] = merge(
            trace["colorbar"], {"tickfont": {"size": small}, "title": {"font": {"size": small}}}
        )
    return trace
