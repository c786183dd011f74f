"""Worker processes for work in parts (``sop_core.data.workers.run_parts``): every part once,
and a pool that breaks finishes its parts in this process."""

from __future__ import annotations

import os

from sop_core.data.workers import run_parts

IN_PARENT = "SOP_TEST_IN_PARENT"


def _times(part: int, factor: int) -> int:
    """The part times ``factor``; part 3 kills its worker process unless run in the parent."""
    if part == 3 and not os.environ.get(IN_PARENT):
        os._exit(9)
    return part * factor


def test_every_part_comes_back_once_in_worker_processes():
    got: dict[int, list[int]] = {}
    run_parts(_times, [1, 2, 4, 5, 6], (10,), 2, lambda i, r: got.setdefault(i, []).append(r))
    assert got == {0: [10], 1: [20], 2: [40], 3: [50], 4: [60]}


def test_a_broken_pool_finishes_its_parts_here(monkeypatch):
    monkeypatch.delenv(IN_PARENT, raising=False)
    got: dict[int, list[int]] = {}
    told = []

    def broken() -> None:  # from here on the parts run in this process
        told.append(True)
        monkeypatch.setenv(IN_PARENT, "1")

    parts = list(range(8))
    run_parts(_times, parts, (10,), 2, lambda i, r: got.setdefault(i, []).append(r), broken)
    assert told == [True]
    assert got == {i: [i * 10] for i in parts}
