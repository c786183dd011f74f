"""Every setting and every page is documented; the README keeps its two commands."""

from __future__ import annotations

import ast
from pathlib import Path

from sop_core.data import settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme():
    for setting in settings.SETTINGS:
        assert f"`{setting.env}`" in README, f"{setting.env} is not documented in README.md"


def _navigation_pages() -> dict[str, str]:
    """``{script path: title}`` of every ``st.Page(...)`` in the shell's navigation."""
    pages = {}
    shell = ROOT / "sop_ui" / "shell.py"
    for node in ast.walk(ast.parse(shell.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "Page":
            titles = [k.value.value for k in node.keywords if k.arg == "title"]
            pages[node.args[0].value] = titles[0]
    return pages


def test_every_page_is_in_the_navigation_and_the_readme():
    pages = _navigation_pages()
    assert sorted(pages) == sorted(f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py"))
    for title in pages.values():
        assert f"**{title}**" in README, f"page {title!r} is not described in README.md"


def test_readme_has_the_two_commands_and_ci_runs_the_same_tests():
    assert "streamlit run app.py" in README
    assert "pip install -r requirements-dev.txt && python -m pytest" in README
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -r requirements-dev.txt && python -m pytest" in ci


def test_a_bad_number_in_a_setting_falls_back_to_the_default(monkeypatch):
    monkeypatch.setenv("SOP_CACHE_TTL", "5min")
    assert settings.seconds(settings.CACHE_TTL) == 300.0
    monkeypatch.setenv("SOP_LOCK_TIMEOUT", "-4")
    assert settings.lock_timeout() == 30.0
    monkeypatch.setenv("SOP_LOCK_TIMEOUT", "2.5")
    assert settings.lock_timeout() == 2.5


def test_the_glossary_states_the_safety_stock_the_plan_keeps():
    from sop_core.data.calendar import weeks_text
    from sop_core.supply.planning import PlanSettings

    glossary = (ROOT / "docs" / "GLOSSARY.md").read_text(encoding="utf-8")
    entry = glossary[glossary.index("**Safety stock**") :].split("\n\n")[0]
    weeks = weeks_text(PlanSettings().safety_weeks)
    assert f"in weeks of average demand: {weeks}," in entry
    assert f"*SKUs under {weeks} of cover*" in entry
