"""The code's shape, read from its source with ``ast`` (nothing is imported, so it is fast and
cannot be fooled by import side effects):

- no import cycles among app.py, pages/, sop_ui and sop_core (imports inside functions too);
- sop_core's rooms import one way: data <- forecast <- demand <- scenario <- supply <- meeting
  <- jobs;
  charts only data; meeting may draw charts; cli may import any room; sop_core never imports
  cli, sop_ui, app, pages or streamlit;
- SQL only in sop_core/data: nowhere else a string literal that is SQL, nor ``.execute(``,
  ``.sql(`` or ``.executemany(`` on anything;
- nothing at the top of sop_core but ``__init__.py`` and ``__main__.py``;
- every package under sop_core starts with a docstring saying what it owns.

Each check returns its findings as ``path:line: what`` lines, and the test prints them.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The meeting steps, in the one direction imports may run: a room imports only rooms before it.
ROOMS = ("data", "forecast", "demand", "scenario", "supply", "meeting", "jobs")
# Rooms beside the chain: what each may import besides itself.
SIDE_ROOMS = {"charts": {"data"}, "cli": {*ROOMS, "charts"}}
# Besides the chain: the meeting pack draws figures.
ALSO_ALLOWED = {"meeting": {"charts"}}
# What the domain library never imports.
NEVER_IN_SOP_CORE = {"streamlit", "sop_ui", "app", "pages"}

# SQL a string can hold (any case; an f-string's fields read as "{}"; a fragment that ends at
# FROM, to be joined to a table name, counts). Prose such as "Select a family from the list"
# is not SQL: an article or the like after SELECT or FROM rules it out.
_WORDS = r"(?:a|an|the|one|some|any|this|that|these|those|your|which|what|each|every)\s"
SQL = re.compile(
    "|".join(
        [
            rf"\bSELECT\s+(?!{_WORDS})[\s\S]*?\bFROM(?:\s+(?!{_WORDS})[\w\"'({{]|\s*$)",
            r"\bFROM\s*\(\s*SELECT\b",
            r"\bINSERT\s+(?:OR\s+\w+\s+)?INTO\b",
            r"\bUPDATE\s+[\w\"{}.]+\s+SET\b",
            r"\bDELETE\s+FROM\b",
            r"\b(?:CREATE|DROP)\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?"
            r"(?:TABLE|VIEW|INDEX|SEQUENCE|SCHEMA)\b",
            r"\bALTER\s+TABLE\b",
            r"\bCOPY\s+[\s\S]*?\b(?:TO|FROM)\s+['\"{]",
        ]
    ),
    re.IGNORECASE,
)
SQL_CALLS = {"execute", "executemany", "sql"}


@dataclass(frozen=True)
class Module:
    """A module of the app: its dotted name, its file, whether it is a package."""

    name: str
    path: Path
    package: bool


def find_modules(root: Path) -> dict[str, Module]:
    """app.py, pages/*.py, sop_ui (a module or a package) and everything in sop_core/."""
    paths = [root / "app.py", root / "sop_ui.py", *sorted((root / "pages").glob("*.py"))]
    for package in ("sop_ui", "sop_core"):
        if (root / package).is_dir():
            paths += sorted((root / package).rglob("*.py"))
    modules = {}
    for path in paths:
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(root).with_suffix("").parts)
        package = parts[-1] == "__init__"
        if package:
            parts.pop()
        name = ".".join(parts)
        modules[name] = Module(name, path, package)
    return modules


def _where(module: Module, root: Path, line: int) -> str:
    return f"{module.path.relative_to(root).as_posix()}:{line}"


def _in_file_order(findings: list[str]) -> list[str]:
    """``path:line: what`` findings by path, then line."""

    def key(finding: str) -> tuple[str, int, str]:
        path, line, what = finding.split(":", 2)
        return path, int(line) if line.isdigit() else 0, what

    return sorted(findings, key=key)


def _parse(module: Module) -> ast.Module:
    return ast.parse(module.path.read_text(encoding="utf-8"), str(module.path))


def imported_names(module: Module) -> list[tuple[str, int]]:
    """Every name the module imports, anywhere in it (functions too), with its line: ``a.b``
    for ``import a.b``, ``a.b.c`` for ``from a.b import c`` (``c`` may be a module or a name
    in ``a.b``); relative imports made absolute."""
    package = module.name if module.package else module.name.rpartition(".")[0]
    names = []
    for node in ast.walk(_parse(module)):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            names += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return names


def import_graph(root: Path) -> tuple[dict[str, Module], dict[str, dict[str, int]]]:
    """The modules, and for each the modules of the app it imports (with the first line)."""
    modules = find_modules(root)
    graph: dict[str, dict[str, int]] = {name: {} for name in modules}
    for name, module in modules.items():
        for imported, line in imported_names(module):
            # The module itself, else the package it is in (``from pkg import function``).
            target = imported
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name][target] = min(line, graph[name].get(target, line))
    return modules, graph


def _strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that import each other, round and round."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [group for group in groups if len(group) > 1]


def import_cycles(root: Path) -> list[str]:
    """One finding per import of a module that is part of a cycle."""
    modules, graph = import_graph(root)
    findings = []
    for group in _strongly_connected(graph):
        members = set(group)
        findings += [
            f"{_where(modules[name], root, line)}: {name} imports {target} "
            f"(cycle: {' <-> '.join(group)})"
            for name in group
            for target, line in sorted(graph[name].items())
            if target in members
        ]
    return _in_file_order(findings)


def _room(name: str) -> str | None:
    """``data`` for ``sop_core.data.db``; None for sop_core's own ``__init__``/``__main__``
    (the package and the ``python -m sop_core`` entry, which stand above the rooms)."""
    parts = name.split(".")
    if parts[0] != "sop_core" or len(parts) < 2 or parts[1] == "__main__":
        return None
    return parts[1]


def upward_imports(root: Path) -> list[str]:
    """Imports in sop_core against the direction of the rooms, and of what it never imports."""
    modules, graph = import_graph(root)
    findings = []
    for name, module in modules.items():
        if not name.startswith("sop_core"):
            continue
        for imported, line in imported_names(module):
            if imported.split(".")[0] in NEVER_IN_SOP_CORE:
                findings.append(f"{_where(module, root, line)}: {name} imports {imported}")
        room = _room(name)
        for target, line in sorted(graph[name].items()):
            target_room = _room(target)
            if room is None or target_room is None or target_room == room:
                continue
            where = f"{_where(module, root, line)}: {name} imports {target}"
            if room not in ROOMS and room not in SIDE_ROOMS:
                findings.append(f"{where} (sop_core/{room} is no room this test knows)")
            elif target_room not in ROOMS and target_room not in SIDE_ROOMS:
                findings.append(f"{where} (sop_core/{target_room} is no room this test knows)")
            elif room in SIDE_ROOMS:
                if target_room not in SIDE_ROOMS[room]:
                    findings.append(f"{where} ({room} may import only {sorted(SIDE_ROOMS[room])})")
            elif target_room in ROOMS:
                if ROOMS.index(target_room) > ROOMS.index(room):
                    findings.append(f"{where} ({target_room} comes after {room})")
            elif target_room not in ALSO_ALLOWED.get(room, set()):
                findings.append(f"{where} ({room} may not import {target_room})")
    return _in_file_order(findings)


def _docstrings(tree: ast.Module) -> set[int]:
    """The ids of the string constants that are docstrings (text, not code)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _text(node: ast.AST) -> str | None:
    """The text of a string literal; an f-string's fields read as ``{}``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
        )
    return None


def sql_outside_the_data_layer(root: Path) -> list[str]:
    """String literals that are SQL, and ``.execute(``/``.sql(``/``.executemany(`` calls, in
    every module but sop_core/data."""
    findings = []
    for name, module in find_modules(root).items():
        if name == "sop_core.data" or name.startswith("sop_core.data."):
            continue
        tree = _parse(module)
        docstrings = _docstrings(tree)
        inside_fstrings = {
            id(part)
            for node in ast.walk(tree)
            if isinstance(node, ast.JoinedStr)
            for part in node.values
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in SQL_CALLS:
                    findings.append(f"{_where(module, root, node.lineno)}: .{node.func.attr}( call")
                continue
            text = _text(node)
            if text is None or id(node) in docstrings or id(node) in inside_fstrings:
                continue
            match = SQL.search(text)
            if match:
                sql = " ".join(match.group(0).split())[:60]
                findings.append(f"{_where(module, root, node.lineno)}: SQL {sql!r}")
    return _in_file_order(findings)


def loose_top_level_modules(root: Path) -> list[str]:
    """Modules at the top of sop_core/ other than ``__init__.py`` and ``__main__.py``."""
    return [
        f"{path.relative_to(root).as_posix()}: belongs in a room (sop_core/<room>/)"
        for path in sorted((root / "sop_core").glob("*.py"))
        if path.name not in ("__init__.py", "__main__.py")
    ]


def packages_without_a_docstring(root: Path) -> list[str]:
    """Packages under sop_core/ whose ``__init__.py`` does not start with a docstring, and
    folders of modules that are no package."""
    findings = []
    for folder in sorted([root / "sop_core", *(root / "sop_core").rglob("*")]):
        if not folder.is_dir() or folder.name == "__pycache__":
            continue
        init = folder / "__init__.py"
        where = folder.relative_to(root).as_posix()
        if not init.exists():
            if any(folder.glob("*.py")):
                findings.append(f"{where}/: modules in a folder without __init__.py")
        elif not ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))):
            findings.append(f"{where}/__init__.py:1: no docstring saying what the package owns")
    return findings


CHECKS = {
    "import cycles": import_cycles,
    "imports against the direction of the rooms": upward_imports,
    "SQL outside sop_core/data": sql_outside_the_data_layer,
    "modules at the top of sop_core": loose_top_level_modules,
    "packages without a docstring": packages_without_a_docstring,
}


def _assert_none(check: str) -> None:
    findings = CHECKS[check](ROOT)
    assert not findings, f"{check} ({len(findings)}):\n" + "\n".join(findings)


def test_no_import_cycles():
    _assert_none("import cycles")


def test_rooms_import_one_way():
    _assert_none("imports against the direction of the rooms")


def test_sql_only_in_the_data_layer():
    _assert_none("SQL outside sop_core/data")


def test_nothing_loose_at_the_top_of_sop_core():
    _assert_none("modules at the top of sop_core")


def test_every_package_says_what_it_owns():
    _assert_none("packages without a docstring")


# ---- the checker on a made-up tree: each rule catches what it is for ----------------------

GOOD = {
    "app.py": "import sop_ui\nfrom sop_core.meeting import cockpit\n",
    "sop_ui.py": "import streamlit as st\nfrom sop_core.data import db\n",
    "pages/overview.py": (
        "import sop_ui\nfrom sop_core import charts\nHELP = 'Select a family from the list'\n"
    ),
    "sop_core/__init__.py": '"""The library."""\n',
    "sop_core/__main__.py": "from sop_core.cli import main\n",
    "sop_core/cli/__init__.py": '"""The CLI."""\nfrom sop_core.meeting import cockpit\n',
    "sop_core/charts/__init__.py": '"""Figures."""\nfrom sop_core.data.db import connect\n',
    "sop_core/data/__init__.py": '"""Data."""\n',
    "sop_core/data/db.py": ("def connect(con, t):\n    return con.execute(f'SELECT * FROM {t}')\n"),
    "sop_core/forecast/__init__.py": '"""Forecast."""\n',
    "sop_core/forecast/engine.py": "from ..data import db\n",
    "sop_core/meeting/__init__.py": '"""Meeting."""\n',
    "sop_core/meeting/cockpit.py": (
        "from sop_core import charts\nfrom sop_core.forecast import engine\n"
        "def later():\n    from sop_core.meeting import pack\n"
    ),
    "sop_core/meeting/pack.py": '"""The pack: reads ``SELECT * FROM x`` in a docstring."""\n',
}


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_the_checker_passes_a_tree_of_the_intended_shape(tmp_path):
    root = _tree(tmp_path, GOOD)
    assert {check: CHECKS[check](root) for check in CHECKS} == {check: [] for check in CHECKS}


def test_the_checker_catches_each_broken_rule(tmp_path):
    root = _tree(
        tmp_path,
        {
            **GOOD,
            # A cycle through an import inside a function.
            "sop_core/meeting/pack.py": '"""Pack."""\ndef draw():\n    from . import cockpit\n',
            # An upward import, a forbidden side import and streamlit in the library.
            "sop_core/forecast/engine.py": "from sop_core.supply.capacity import hours\n",
            "sop_core/supply/capacity.py": "hours = 1\n",
            "sop_core/charts/__init__.py": '"""Figures."""\nfrom sop_core.demand import cube\n',
            "sop_core/demand/__init__.py": '"""Demand."""\n',
            "sop_core/demand/cube.py": "import streamlit as st\n",
            # SQL in a page (an f-string) and a query run from sop_ui.
            "pages/overview.py": "import sop_ui\nQUERY = f'''select sku\n  from {'sales'}'''\n",
            "sop_ui.py": "def rows(con):\n    return con.sql('SHOW TABLES')\n",
            # A loose module and a package without its docstring.
            "sop_core/helpers.py": "",
            "sop_core/supply/__init__.py": "from __future__ import annotations\n",
        },
    )
    assert import_cycles(root) == [
        "sop_core/meeting/cockpit.py:4: sop_core.meeting.cockpit imports sop_core.meeting.pack"
        " (cycle: sop_core.meeting.cockpit <-> sop_core.meeting.pack)",
        "sop_core/meeting/pack.py:3: sop_core.meeting.pack imports sop_core.meeting.cockpit"
        " (cycle: sop_core.meeting.cockpit <-> sop_core.meeting.pack)",
    ]
    assert upward_imports(root) == [
        "sop_core/charts/__init__.py:2: sop_core.charts imports sop_core.demand.cube"
        " (charts may import only ['data'])",
        "sop_core/demand/cube.py:1: sop_core.demand.cube imports streamlit",
        "sop_core/forecast/engine.py:1: sop_core.forecast.engine imports sop_core.supply.capacity"
        " (supply comes after forecast)",
    ]
    assert sql_outside_the_data_layer(root) == [
        "pages/overview.py:2: SQL 'select sku from {'",
        "sop_ui.py:2: .sql( call",
    ]
    assert loose_top_level_modules(root) == [
        "sop_core/helpers.py: belongs in a room (sop_core/<room>/)"
    ]
    assert packages_without_a_docstring(root) == [
        "sop_core/supply/__init__.py:1: no docstring saying what the package owns"
    ]
