"""What the role check and the audit trail cost a write: ours (``access.writing``: the
schema check, the user's roles read and checked, the change and its audit row in one
transaction) against the same change written straight with DuckDB (what a Streamlit demo
does: no check, no trail), in one run, taking turns.

Writes timed, on the default sample (40 SKUs) with one user per role:
- ``decision``: a decision added to the log (``meeting.decisions.add_item``) against a plain
  ``INSERT INTO decisions``;
- ``scenario``: a saved scenario's levers saved again (``scenario.store.save_scenario``, with
  its version check) against a plain ``UPDATE scenarios``.

Medians over ``--repeats`` writes each, ours and the peer's alternating; the ratio is ours over
the peer's. Run: ``python benchmarks/bench_access.py [--repeats 40] [--json]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb

from sop_core.data import access
from sop_core.data.sample import SampleConfig, build_sample_database
from sop_core.meeting import decisions
from sop_core.scenario import store
from sop_core.scenario.model import Scenario

AS_OF = dt.date(2026, 11, 25)
ADMIN, MARKETING, LEAD = "ada@example.com", "ana@example.com", "lee@example.com"


def alternate(ours: Callable[[int], object], peer: Callable[[int], object], repeats: int):
    """Median seconds of ``ours`` and ``peer``, called in turn ``repeats`` times each."""
    times: dict[str, list[float]] = {"ours": [], "peer": []}
    for n in range(repeats):
        for name, function in (("ours", ours), ("peer", peer)):
            started = time.perf_counter()
            function(n)
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    path = Path(tempfile.mkdtemp(prefix="bench_access_")) / "sop.duckdb"
    build_sample_database(path, SampleConfig(skus=40, as_of=AS_OF))
    access.add_user(path, ADMIN, "admin", "setup")
    access.add_user(path, MARKETING, "marketing", ADMIN)
    access.add_user(path, LEAD, "sop_lead", ADMIN)

    def peer_decision(n: int) -> None:
        with duckdb.connect(str(path)) as con:
            con.execute(
                "INSERT INTO decisions (kind, text, owner, due_date, scenario, created_by, "
                "updated_by) VALUES ('decision', ?, 'Ops', NULL, NULL, ?, ?)",
                [f"peer {n}", LEAD, LEAD],
            )

    decision = alternate(
        lambda n: decisions.add_item(path, "decision", f"ours {n}", "Ops", LEAD),
        peer_decision,
        args.repeats,
    )

    stored = store.create_scenario(path, Scenario("Spring"), MARKETING, None)
    state = {"stored": stored}

    def ours_scenario(n: int) -> None:
        changed = Scenario("Spring", cannibalisation=0.3 + (n % 5) / 100)
        state["stored"] = store.save_scenario(path, state["stored"], changed, MARKETING, None)

    def peer_scenario(n: int) -> None:
        with duckdb.connect(str(path)) as con:
            con.execute(
                "UPDATE scenarios SET definition = ?, updated_by = ?, "
                "updated_at = current_timestamp WHERE name = 'Spring (peer)'",
                [Scenario("Spring (peer)", cannibalisation=0.3 + (n % 5) / 100).to_json(),
                 MARKETING],
            )  # fmt: skip

    store.create_scenario(path, Scenario("Spring (peer)"), MARKETING, None)
    scenario = alternate(ours_scenario, peer_scenario, args.repeats)

    results = {
        name: {
            "ours_ms": round(timed["ours"] * 1000, 1),
            "peer_ms": round(timed["peer"] * 1000, 1),
            "ratio": round(timed["ours"] / timed["peer"], 2),
        }
        for name, timed in (("decision", decision), ("scenario", scenario))
    }
    if args.json:
        print(json.dumps(results))
        return
    for name, figures in results.items():
        print(
            f"{name:<9} ours {figures['ours_ms']:6.1f} ms  peer {figures['peer_ms']:6.1f} ms  "
            f"ratio {figures['ratio']:.2f}"
        )


if __name__ == "__main__":
    main()
