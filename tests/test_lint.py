"""ruff is part of the test command: lint and format."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("arguments", [["check", "."], ["format", "--check", "."]])
def test_ruff(arguments):
    # Through this interpreter, not PATH: a virtualenv's python works without activation, and
    # the ruff checked is the one requirements-dev.txt installed beside pytest.
    if importlib.util.find_spec("ruff") is None:
        pytest.fail("ruff is not installed (requirements-dev.txt)")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *arguments], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
