"""The furniture every page uses: KPI tiles, bordered charts, tables, an import's issues,
progress bars for long work (run as jobs, ``sop_ui.jobs``), and the guard that offers to make
the first forecast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from sop_core.charts.style import named_periods
from sop_core.data import formats, settings
from sop_ui import columns, identity, loaders, periods
from sop_ui.formatting import plain

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go
    from streamlit.delta_generator import DeltaGenerator
    from streamlit.elements.lib.column_types import ColumnConfig

    from sop_core.data.importer import ImportReport
    from sop_core.scenario.plan_files import PlanReport

# The ``progress(fraction, message)`` callback the engine's long functions take.
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Kpi:
    """One tile of a KPI row.

    ``change`` is a movement, coloured (green up, red down) and described by
    ``change_label``; ``note`` is neutral context, grey and without an arrow.
    """

    label: str
    value: str
    change: str | None = None
    change_label: str = "vs last year"
    note: str | None = None
    help: str | None = None


def kpi_row(tiles: list[Kpi]) -> None:
    """A row of bordered KPI tiles that wraps onto a second row rather than cut a tile.

    A horizontal container, not columns: each tile is at least as wide as its label, value
    and note, and the tiles of a row share the rest of its width. Six tiles fit one row on a
    1920 px screen and take two on a 1366 px laptop; equal columns would cut their text.
    """
    # The shell's style makes the tiles of a row equally tall and keeps a tile alone on its
    # row from stretching across the page.
    row = st.container(horizontal=True)
    for tile in tiles:
        if tile.change is not None:
            row.metric(
                tile.label,
                tile.value,
                tile.change,
                border=True,
                help=tile.help,
                delta_description=tile.change_label or None,
            )
        else:
            row.metric(
                tile.label,
                tile.value,
                tile.note,
                border=True,
                help=tile.help,
                delta_color="off",
                delta_arrow="off",
            )


def side_by_side(key: str, *least: float) -> list[DeltaGenerator]:
    """Columns side by side while each has at least its ``least`` width (in rem: the theme's
    17 px type), one under the other on a narrower screen, each at the page's width.

    ``st.columns`` keep their ratio down to a phone's width, which cuts a table's columns or a
    chart's title on a 1366 px laptop; these wrap instead. Side by side they share the row in
    proportion to their least widths. ``key`` names the row (unique on the page).
    """
    row = st.container(horizontal=True, gap="medium", key=key)
    rules = "".join(
        f".st-key-{key} > [data-testid=stLayoutWrapper]:nth-child({position}) "
        f"{{flex: {width} 1 {width}rem; min-width: 0;}}"
        for position, width in enumerate(least, start=1)
    )
    # A style-only st.html takes no room on the page.
    st.html(f"<style>{rules}</style>")
    return [row.container() for _ in least]


PICKER_LIMIT = 200
"""The most options a picker lists at once: a selectbox of 20,000 SKUs sends them all to the
browser at every rerun and is unusable to scroll; above this the picker searches."""


def long_select(
    label: str,
    options: list[str],
    *,
    key: str,
    format_func: Callable[[str], str] = str,
    what: str = "SKUs",
    limit: int = PICKER_LIMIT,
    **selectbox: object,
) -> str | None:
    """A selectbox over ``options`` (in the order given, the most relevant first): up to
    ``limit`` of them as a plain selectbox, more behind a search box that keeps the first
    ``limit`` matches of the code or its label (the value chosen stays listed once the search
    is cleared)."""
    if len(options) <= limit:
        return st.selectbox(label, options, key=key, format_func=format_func, **selectbox)
    search = st.text_input(
        f"Find one of {len(options):,} {what}",
        key=f"{key}_search",
        placeholder="part of a code or name",
    )
    words = search.strip().lower()
    shown = [o for o in options if words in format_func(o).lower()] if words else options
    total = len(shown)
    shown = shown[:limit]
    chosen = st.session_state.get(key)
    if not words and chosen in options and chosen not in shown:
        shown = [chosen, *shown]  # found earlier (or from a link): it stays
    if total > limit:
        st.caption(f"The first {limit} of {total:,} {what}: type to find another.")
    if not shown:
        st.caption(f"No {what} match {search.strip()!r}.")
        return None
    if chosen not in shown:  # a new search: its first match, not a value it left out
        st.session_state[key] = shown[0]
    return st.selectbox(label, shown, key=key, format_func=format_func, **selectbox)


def chart(figure: go.Figure, key: str | None = None) -> None:
    """A figure in a bordered container, full width; a week axis drawn from figures per
    month or quarter (``periods.frame``) names its periods (``period_axis``)."""
    figure = by_period(figure)
    with st.container(border=True):
        # theme=None keeps the projector styling of sop_core.charts (Streamlit's theme would
        # shrink the fonts).
        st.plotly_chart(figure, key=key, theme=None, config={"displaylogo": False})


def by_period(figure: go.Figure) -> go.Figure:
    """``figure`` with its week axis naming the periods of the chosen bucket when it is drawn
    from figures per month or quarter; as it is by week (``charts.style.named_periods``).
    For a chart drawn without ``chart`` (Present mode's)."""
    return named_periods(figure, periods.bucket(), periods.calendar())


# A table's row (and header) height in pixels: Streamlit's own for one line of text at the
# theme's 17 px type (.streamlit/config.toml), given explicitly so that a fitted table's
# height is exact (a height from 35 px rows cut the last row).
ROW_HEIGHT = 37


TABLE_ROWS = 1_000
"""The most rows a table sends to the browser: at 20,000 SKUs a table of every SKU, planned
promotion or overloaded line-week has tens of thousands (megabytes at each rerun); the rest
is named in a note under it (the CLI's exports have every row)."""


def table(
    frame: pd.DataFrame,
    *,
    fit: bool = False,
    most: int = TABLE_ROWS,
    **column_config: str | ColumnConfig,
) -> None:
    """A table without its index; ``fit`` sizes it to show every row without scrolling;
    ``column_config`` names a column's label or its ``st.column_config`` by column. Only the
    first ``most`` rows are shown, with a note saying how many there are.

    A column without a config is headed in words (``formats.header``: ``line_name`` reads
    "Line name"). Missing text shows as "–". Columns of fractions configured by ``columns.share`` or
    ``columns.change`` (marked by their format) are shown in percent points as the formatting
    module writes a percent (``sop_core.data.formats``): one decimal, a change with its sign:
    ``84.5%``, ``+2.4%``, not Streamlit's ``84.50%``. The config decides, never the column's
    name.

    A frame per month or quarter (``periods.frame``) shows its period's name first, in place
    of the week, and how many weeks each period holds."""
    total = len(frame)
    frame = frame.head(most)
    frame, column_config = _periods(frame, column_config)
    frame, column_config = _percents(frame, column_config)
    # Headers in words, never a column's name.
    column_config = {
        **{str(name): formats.header(str(name)) for name in frame.columns},
        **column_config,
    }
    floats = frame.select_dtypes("float").columns
    if len(floats):
        frame = frame.assign(**{name: frame[name] + 0.0 for name in floats})  # no "-0"
    texts = [name for name in frame.columns if frame[name].dtype == object]
    if texts and frame[texts].isna().any().any():
        # A missing text shows as the formatting module's dash, never "None".
        frame = frame.assign(**{name: frame[name].fillna(formats.MISSING) for name in texts})
    # The header, the rows and the frame's two borders.
    height = ROW_HEIGHT * (len(frame) + 1) + 2 if fit else "auto"
    st.dataframe(
        frame,
        hide_index=True,
        column_config=column_config or None,
        height=height,
        row_height=ROW_HEIGHT,
    )
    if total > most:
        st.caption(f"The first {most:,} rows of {total:,}.")


def _periods(
    frame: pd.DataFrame, column_config: dict[str, str | ColumnConfig]
) -> tuple[pd.DataFrame, dict[str, str | ColumnConfig]]:
    """``frame`` with the period's name in place of the week, when it is per period."""
    chosen = periods.bucket()
    if chosen == "week" or chosen not in frame.columns or "week" not in frame.columns:
        return frame, column_config
    frame = frame.drop(columns="week")
    frame = frame[[chosen, *(name for name in frame.columns if name != chosen)]]
    configured = {name: config for name, config in column_config.items() if name != "week"}
    configured.setdefault(chosen, columns.text(chosen.title()))
    configured.setdefault("weeks", columns.number("Weeks", 1, help="Weeks of the period shown"))
    return frame, configured


def _percents(
    frame: pd.DataFrame, column_config: dict[str, str | ColumnConfig]
) -> tuple[pd.DataFrame, dict[str, str | ColumnConfig]]:
    """``frame`` with its columns of fractions (``columns.share``, ``columns.change``) in
    percent points and their configs formatting them with one decimal (a change signed)."""
    marks = {
        name: mark
        for name, config in column_config.items()
        if name in frame.columns and (mark := columns.percent_mark(config))
    }
    if not marks:
        return frame, column_config
    frame = frame.assign(**{name: frame[name] * 100 for name in marks})
    configured = dict(column_config)
    for name, mark in marks.items():
        config = dict(configured[name])  # type: ignore[arg-type]
        config["type_config"] = {
            **config["type_config"],
            "format": columns.PERCENT_POINTS[mark],
        }
        configured[name] = config
    return frame, configured


def show_issues(report: ImportReport | PlanReport) -> None:
    """An import's or a plan file's errors, warnings and notices, each with its lines."""
    errors = report.errors
    if errors:
        st.error(
            plain(report.summary())
            + "\n\n"
            + "\n".join(f"- {plain(issue.text())}" for issue in errors[:20]),
            icon=":material/error:",
        )
    for severity, show in (("warning", st.warning), ("notice", st.info)):
        found = [plain(i.text()) for i in report.issues if i.severity == severity]
        if found:
            show("\n".join(f"- {text}" for text in found))


@contextmanager
def progress_bar(label: str) -> Iterator[Progress]:
    """A progress bar for long work: yields the ``progress(fraction, message)`` callback the
    engine's functions take, and clears the bar when the work ends (or fails)."""
    bar = st.progress(0.0, text=label)
    try:
        yield lambda fraction, message: bar.progress(
            min(max(fraction, 0.0), 1.0), text=f"{label}: {message}"
        )
    finally:
        bar.empty()


def refresh_forecast_with_progress(label: str = "Refreshing the forecast") -> None:
    """Run (or reuse) the forecast as a job, following it with a progress bar, then rerun the
    page. The job outlives the page: leaving it, the sidebar of every page shows it."""
    from sop_ui import jobs

    jobs.run_with_progress("refresh", {"horizon": settings.horizon_weeks()}, label)
    st.rerun()


def backfill_with_progress(count: int, step: int = 2) -> None:
    """Make ``count`` past forecast runs (for accuracy by lag) as a job, following it with a
    progress bar, then rerun. Interrupted, it is taken up again keeping the runs it stored."""
    from sop_ui import jobs

    jobs.run_with_progress(
        "backfill", {"count": count, "step": step, "horizon": 26}, "Making past forecasts"
    )
    st.rerun()


def require_forecast() -> loaders.ForecastRun:
    """The latest forecast run; without one, offer to make it and stop the page."""
    run = loaders.latest_run()
    if run is not None:
        return run
    from sop_ui import jobs

    being_made = jobs.preparing()
    if being_made:
        # The first start's meeting (or someone's refresh) is on its way: the sidebar follows
        # it and redraws the page when it ends.
        st.info(
            plain(
                f"The forecast is being prepared. {being_made}. This page fills in when it "
                "is ready."
            ),
            icon=":material/hourglass_top:",
        )
        st.stop()
    st.info(
        "There is no demand forecast yet. Making one fits every SKU's model and backtest "
        "(about 10 seconds for the sample company).",
        icon=":material/info:",
    )
    if st.button(
        "Make the forecast now",
        type="primary",
        key="make_forecast",
        **identity.disabled("forecast"),
    ):
        refresh_forecast_with_progress("Making the forecast")
    st.stop()


# Keyboard shortcuts run in the page itself (``st.html`` with its script allowed: not an
# iframe, so the keys reach it wherever the focus is in the app). The listener is added once per
# browser tab, on ``window`` and before anything else sees the key (capture); each run only
# replaces the bindings it reads. A key does nothing while someone types in a field, with a
# modifier held (the browser's own shortcuts), or on a page without ``scope``.
_KEYS_SCRIPT = """<script>
(() => {
  window.__sopKeys = %s;
  if (window.__sopKeysListening) return;
  window.__sopKeysListening = true;
  const typing = 'input, textarea, select, [contenteditable=""], [contenteditable="true"], '
    + '[role="textbox"], [role="combobox"], [role="slider"], [role="spinbutton"]';
  const nameOf = (event) => (event.key === ' ' ? 'Space' : event.key);
  let held = null;
  window.addEventListener('keydown', (event) => {
    const {bindings, scope} = window.__sopKeys;
    const selector = bindings[nameOf(event)];
    if (!selector || event.altKey || event.ctrlKey || event.metaKey || event.isComposing) return;
    if (!document.querySelector(scope)) return;
    const target = event.target instanceof Element ? event.target : null;
    if (target && target.closest(typing)) return;
    // Ours alone: no scrolling, no button pressed a second time by its own Space or Enter.
    event.preventDefault();
    event.stopPropagation();
    held = nameOf(event);
    if (event.repeat) return;
    const element = document.querySelector(selector);
    if (element && !element.disabled) element.click();
  }, true);
  window.addEventListener('keyup', (event) => {
    if (held !== null && nameOf(event) === held) {
      event.preventDefault();
      event.stopPropagation();
      held = null;
    }
  }, true);
})();
</script>"""


def keyboard(bindings: dict[str, str], scope: str) -> None:
    """Keyboard shortcuts: pressing a key (``event.key``: ``"ArrowRight"``, ``"PageDown"``,
    ``"Home"``, ``"Escape"``; ``"Space"`` for the space bar) clicks the first element its CSS
    selector finds, as a click of the mouse would, while ``scope`` (a selector) is in the page.

    Streamlit has no key events: this is a small script in the page, never an element of the
    layout (it takes no room), and it leaves typing in fields alone."""
    import json

    script = _KEYS_SCRIPT % json.dumps({"bindings": bindings, "scope": scope})
    st.html(script, unsafe_allow_javascript=True)
