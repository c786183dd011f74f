"""Present mode's styling (sop_core/charts/style.py: ``for_room``, ``ROOM_COLOURS``,
``ROOM_PALETTE``): type large enough for the back of a room and WCAG AA contrast, by the
contrast ratio's own definition."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from sop_core import charts
from sop_core.charts.style import (
    PALETTE,
    ROOM_COLOURS,
    ROOM_PALETTE,
    contrast_ratio,
    for_room,
    parse_colour,
    relative_luminance,
    title_text,
)

WHITE, BLACK = "#FFFFFF", "#000000"


def test_the_contrast_ratio_is_wcags():
    assert contrast_ratio(BLACK, WHITE) == pytest.approx(21.0)
    assert contrast_ratio(WHITE, WHITE) == pytest.approx(1.0)
    assert contrast_ratio(WHITE, BLACK) == contrast_ratio(BLACK, WHITE)
    # WCAG's own examples: #777 on white just misses AA (4.48), #767676 just makes it.
    assert contrast_ratio("#777777") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#767676") == pytest.approx(4.54, abs=0.01)
    assert relative_luminance("#fff") == pytest.approx(1.0)
    # A translucent colour counts as drawn over its background: black at 60% on white is grey.
    assert contrast_ratio("rgba(0, 0, 0, 0.6)") == pytest.approx(contrast_ratio("#666666"), 0.02)
    assert parse_colour("rgb(11, 79, 138)") == (11, 79, 138, 1.0)


def test_the_rooms_text_colours_read_aa_on_what_they_are_drawn_on():
    c = ROOM_COLOURS
    pairs = {
        "text on the page": (c["text"], c["background"]),
        "captions": (c["muted"], c["background"]),
        "a disabled button": (c["disabled"], c["background"]),
        "links": (c["accent"], c["background"]),
        "the current agenda step": (c["background"], c["accent"]),
        "text on a tile's pill": (c["text"], c["surface"]),
        "a change for the better": (c["up"], c["surface"]),
        "a change for the worse": (c["down"], c["surface"]),
        "an overdue decision": (c["alert"], c["alert_background"]),
        "text in an overdue row": (c["text"], c["alert_background"]),
    }
    ratios = {name: round(contrast_ratio(*colours), 2) for name, colours in pairs.items()}
    assert all(ratio >= 4.5 for ratio in ratios.values()), ratios


def test_the_rooms_palette_keeps_the_hues_and_every_line_reads_3_to_1():
    ratios = [round(contrast_ratio(colour), 2) for colour in ROOM_PALETTE]
    assert min(ratios) >= 3.0, ratios
    assert sorted(ratios)[1] >= 4.5, ratios  # all but sky blue read as text would
    # The colours that already read 4.5:1 stay as they are; the others only get darker.
    for before, after in zip(PALETTE, ROOM_PALETTE, strict=True):
        if contrast_ratio(before) >= 4.5:
            assert before == after
        else:
            assert relative_luminance(after) < relative_luminance(before)


def weekly(names: list[str]) -> pd.DataFrame:
    weeks = pd.date_range("2026-11-23", periods=13, freq="W-MON")
    return pd.concat(
        pd.DataFrame({"week": weeks, "scenario": name, "volume": np.linspace(1e5, 3e5, 13) + i})
        for i, name in enumerate(names)
    )


def load_frame() -> pd.DataFrame:
    weeks = pd.date_range("2026-11-23", periods=26, freq="W-MON")
    rng = np.random.default_rng(3)
    rows = []
    for line, name in (("N1", "Cream filling"), ("S1", "Fragrance filling")):
        for week in weeks:
            load = float(rng.uniform(0.2, 2.4))
            rows.append((line, name, week, load * 100, 100.0, load))
    return pd.DataFrame(
        rows,
        columns=["line", "line_name", "week", "needed_hours", "available_hours", "utilisation"],
    )


FIGURES = {
    "scenarios": lambda: charts.comparison_chart(weekly(["Baseline", "Push & rise", "Rise"])),
    "waterfall": lambda: charts.waterfall_chart(
        pd.DataFrame(
            {"cause": ["plan of record", "overrides", "plan now"], "volume": [10.0, 2.0, 12.0]}
        ),
        "volume",
        "Volume",
        "Units",
    ),
    "heatmap": lambda: charts.utilisation_heatmap(load_frame(), "Demand load", "Demand load"),
}


def type_sizes(layout: dict, data: list[dict]) -> dict[str, float]:
    """Every font size a figure sets, by where (axes, legend, annotations, cells)."""
    sizes = {"font": layout["font"]["size"], "legend": layout["legend"]["font"]["size"]}
    for key, axis in layout.items():
        if key.startswith(("xaxis", "yaxis")):
            sizes[f"{key} ticks"] = axis["tickfont"]["size"]
            sizes[f"{key} title"] = axis["title"]["font"]["size"]
    for index, note in enumerate(layout.get("annotations", [])):
        sizes[f"annotation {index}"] = note["font"]["size"]
    for index, trace in enumerate(data):
        if "textfont" in trace:
            sizes[f"trace {index} text"] = trace["textfont"]["size"]
    return sizes


@pytest.mark.parametrize("name", FIGURES)
def test_a_figure_for_the_room_has_type_of_20_px_and_lines_that_read(name):
    figure = FIGURES[name]()
    room = for_room(figure, height=600).to_plotly_json()
    layout, data = room["layout"], room["data"]
    assert layout["height"] == 600
    sizes = type_sizes(layout, data)
    assert min(sizes.values()) >= 20, sizes
    assert layout["hoverlabel"]["font"]["size"] >= 20
    background = layout.get("plot_bgcolor", WHITE)
    for trace in data:
        colours = [trace.get("line", {}).get("color"), trace.get("marker", {}).get("color")]
        colours += [
            trace.get(part, {}).get("marker", {}).get("color")
            for part in ("increasing", "decreasing", "totals")
        ]
        for colour in colours:
            if isinstance(colour, str) and trace.get("type") != "heatmap":
                assert contrast_ratio(colour, WHITE) >= 3.0, (trace.get("name"), colour)
    assert background  # the heatmap's grey (weeks without hours) is not a line
    # The builder's own figure is left as it was.
    assert figure.layout.height != 600


def test_the_rooms_heatmap_numbers_read_4_5_to_1_in_every_cell_and_keep_the_order():
    room = for_room(FIGURES["heatmap"]()).to_plotly_json()
    (heatmap,) = room["data"]
    assert heatmap["textfont"]["color"] == BLACK
    stops = [(float(stop), colour) for stop, colour in heatmap["colorscale"]]
    # Every colour plotly can paint a cell with: the scale interpolated between its stops.
    cells = []
    for (_, start), (_, end) in itertools.pairwise(stops):
        a, b = np.array(parse_colour(start)[:3]), np.array(parse_colour(end)[:3])
        for t in np.linspace(0, 1, 21):
            r, g, bl = a + (b - a) * t
            cells.append(f"rgb({r:.0f}, {g:.0f}, {bl:.0f})")
    assert min(contrast_ratio(BLACK, cell) for cell in cells) >= 4.5
    # Above 100%, darker as the overload grows; red stays red.
    overloaded = [relative_luminance(colour) for stop, colour in stops if stop > 1 / 1.5]
    assert overloaded == sorted(overloaded, reverse=True)
    r, g, b, _ = parse_colour(stops[-1][1])
    assert r > 200 and g < 60 and b < 60


def test_without_its_title_the_room_figure_leaves_it_to_the_page():
    figure = charts.comparison_chart(weekly(["A & B", "C"]), title="Options <b>& more</b>")
    room = for_room(figure, title=False).to_plotly_json()["layout"]
    assert "text" not in room.get("title", {})
    assert title_text(figure) == "Options <b>& more</b>"  # as typed, for the page to escape


def test_a_long_title_reads_on_one_line_above_the_room_figure():
    """``title_lines`` breaks a long title for plotly; the page's heading wraps by itself."""
    figure = charts.utilisation_heatmap(
        load_frame(), "Demand load: the revised targets' hours against the available hours", "x"
    )
    assert "<br>" in figure.layout.title.text
    assert title_text(figure) == (
        "Demand load: the revised targets' hours against the available hours"
    )


def test_the_rooms_week_axis_names_fewer_weeks_and_keeps_every_year():
    """At 22 px, 13 two-line week labels under a 26-week chart ran into each other on a
    1366 px screen: the room keeps at most ``week_labels`` (7 by default) of them, evenly
    spaced from the first, and a year a dropped label carried goes under the next kept one."""
    from sop_core.charts.style import week_ticks

    weeks = pd.date_range("2026-11-23", periods=26, freq="7D")
    shown = week_ticks(weeks)
    assert len(shown["tickvals"]) == 13
    for most, expected in [(7, 7), (4, 4), (13, 13)]:
        axis = for_room(
            charts.style.figure(
                [{"type": "scatter", "x": weeks, "y": np.ones(26)}], "t", "u"
            ).update_layout(xaxis=shown),
            week_labels=most,
        ).layout.xaxis
        assert len(axis.tickvals) == expected
        assert pd.Timestamp(axis.tickvals[0]) == weeks[0]
        steps = np.diff(pd.to_datetime(list(axis.tickvals)).asi8)
        assert len(set(steps)) <= 1  # evenly spaced
        text = list(axis.ticktext)
        assert text[0].endswith("2026")
        # 2027 starts at W01 (4 Jan), dropped when every fourth week is kept: the next label
        # says the year instead, and only that one.
        assert sum(label.endswith("2027") for label in text) == 1
        assert all(label.startswith("W") for label in text)
    # Not a week axis: left as it was.
    other = for_room(charts.style.figure([{"type": "bar", "x": ["a", "b"], "y": [1, 2]}], "t", "u"))
    assert other.layout.xaxis.tickvals is None
