"""ruff is part of the test command: lint and format."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("arguments", [["check", "."], ["format", "--check", "."]])
def test_ruff(arguments):
    ruff = shutil.which("ruff") or pytest.fail("ruff is not installed (requirements-dev.txt)")
    result = subprocess.run([ruff, *arguments], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
