"""Accuracy benchmark: the engine's holdout accuracy on five kinds of demand.

The engine's forecast against seasonal naive and a default Prophet, on the default sample and
on four other kinds of demand.

Data: the default sample (40 SKUs, 160 weeks, seed 7, as of 2026-11-25) and four mixes of the
same company (``init --mix``), each with its own seed: ``promotion-heavy`` (most SKUs promoted
often, deep discounts, feature and display), ``intermittent`` (about 40% of SKUs lumpy),
``short-history`` (about 40% launched during the history) and ``plain`` (no promotions, no price
moves: seasons and holiday peaks only, like a store department's weekly sales). Each is built
into a temporary folder and scored by ``python -m sop_core evaluate --db DB --holdout 26
--json`` (a subprocess): the last 26 weeks are held out, the engine forecasts them from the
weeks before, and every model is scored by WAPE, bias and MASE.

Peers: seasonal naive (each week as the same week a year before) and a default-settings
``prophet.Prophet()`` fit per SKU (``prophet_default``), both scored by ``evaluate`` on the
same holdout. Targets, per sample: (1) the selected forecast's WAPE is at least 20% below
seasonal naive's; (2) it is below the default Prophet's; (3) no single candidate model beats
it overall (combinations, and the two peers, are not candidates).

Run: ``python benchmarks/bench_accuracy.py [--json] [--quick] [--skus N] [--holdout 26]``.
``--quick`` runs the default sample and the promotion-heavy one only; ``--skus N`` gives every
sample N SKUs; ``--json`` prints each sample's evaluation and the targets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sop_core.data.sample import SampleConfig, build_sample_database

AS_OF = dt.date(2026, 11, 25)
HOLDOUT = 26
SELECTED = "selected"
PEERS = ("seasonal_naive", "prophet_default")
NAIVE_IMPROVEMENT = 0.20  # target (1): selected WAPE at least 20% below seasonal naive's


@dataclass(frozen=True)
class Sample:
    name: str
    mix: str
    skus: int
    seed: int


SAMPLES = (
    Sample("default", "standard", 40, 7),
    Sample("promotion-heavy", "promotion-heavy", 50, 11),
    Sample("intermittent", "intermittent", 50, 12),
    Sample("short-history", "short-history", 60, 13),
    Sample("plain", "plain", 50, 14),
)
QUICK = ("default", "promotion-heavy")


def is_candidate(name: str) -> bool:
    """A single model the engine could have selected: not the selection itself, not a peer,
    not a combination of models."""
    return name != SELECTED and name not in PEERS and "combination" not in name


def build(sample: Sample, folder: Path) -> Path:
    path = folder / f"{sample.name}.duckdb"
    config = SampleConfig(skus=sample.skus, seed=sample.seed, as_of=AS_OF, mix=sample.mix)
    build_sample_database(path, config)
    return path


def evaluate(path: Path, holdout: int) -> dict:
    """``python -m sop_core evaluate --db PATH --holdout N --json``, parsed; ``{"error": ...}``
    when it fails."""
    command = [sys.executable, "-m", "sop_core", "evaluate", "--db", str(path)]
    command += ["--holdout", str(holdout), "--json"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
        return {"error": f"evaluate exited with {result.returncode}: {last}"}
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as error:
        return {"error": f"evaluate printed no JSON ({error}): {result.stdout[:200]!r}"}


def _wape(overall: dict, name: str) -> float | None:
    value = (overall.get(name) or {}).get("wape")
    return None if value is None else float(value)


def targets(evaluation: dict) -> dict:
    """The three targets on one sample's ``overall`` figures: each ``met`` (True, False, or
    None when a figure is missing) with the numbers behind it."""
    overall = evaluation.get("overall") or {}
    selected = _wape(overall, SELECTED)
    naive = _wape(overall, "seasonal_naive")
    prophet = _wape(overall, "prophet_default")
    candidates = {
        name: _wape(overall, name)
        for name in overall
        if is_candidate(name) and _wape(overall, name) is not None
    }
    best = min(candidates, key=candidates.get) if candidates else None
    best_wape = candidates[best] if best else None

    def both(a: float | None, b: float | None) -> bool:
        return a is not None and b is not None

    improvement = 1 - selected / naive if both(selected, naive) and naive > 0 else None
    return {
        "beats_seasonal_naive_by_20pct": {
            "met": None if improvement is None else improvement >= NAIVE_IMPROVEMENT,
            "selected_wape": selected,
            "seasonal_naive_wape": naive,
            "improvement": improvement,
        },
        "beats_prophet_default": {
            "met": selected < prophet if both(selected, prophet) else None,
            "selected_wape": selected,
            "prophet_default_wape": prophet,
        },
        "no_candidate_beats_selected": {
            "met": selected <= best_wape if both(selected, best_wape) else None,
            "selected_wape": selected,
            "best_candidate": best,
            "best_candidate_wape": best_wape,
        },
    }


def run(samples: list[Sample], holdout: int, folder: Path) -> list[dict]:
    results = []
    for sample in samples:
        started = time.perf_counter()
        path = build(sample, folder)
        built = time.perf_counter()
        evaluation = evaluate(path, holdout)
        results.append(
            {
                **asdict(sample),
                "as_of": str(AS_OF),
                "build_seconds": round(built - started, 2),
                "evaluate_seconds": round(time.perf_counter() - built, 2),
                "evaluation": evaluation,
                "targets": targets(evaluation),
            }
        )
    return results


# ---- the report --------------------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "n/a"}[met]


def print_table(result: dict) -> None:
    evaluation = result["evaluation"]
    print(
        f"\n{result['name']} (mix {result['mix']}, {result['skus']} SKUs, seed "
        f"{result['seed']}; built in {result['build_seconds']:.1f} s, evaluated in "
        f"{result['evaluate_seconds']:.1f} s)"
    )
    if "error" in evaluation:
        print(f"  {evaluation['error']}")
        return
    overall = evaluation.get("overall") or {}
    rows = sorted(
        overall.items(),
        key=lambda kv: (kv[1].get("wape") is None, kv[1].get("wape") or 0.0),
    )
    width = max([len(name) for name in overall] + [5])
    print(f"  {'model':<{width}} {'WAPE':>8} {'bias':>8} {'MASE':>6}")
    for name, scores in rows:
        role = " (peer)" if name in PEERS else ""
        print(
            f"  {name:<{width}} {_percent(scores.get('wape')):>8} "
            f"{_percent(scores.get('bias')):>8} {_number(scores.get('mase')):>6}{role}"
        )
    families = [
        f"{row.get('family')} {_percent((row.get(SELECTED) or {}).get('wape'))} / "
        f"{_percent((row.get('seasonal_naive') or {}).get('wape'))}"
        for row in evaluation.get("by_family") or []
    ]
    if families:
        print("  by family, WAPE selected / seasonal naive: " + ", ".join(families))


def print_targets(results: list[dict]) -> None:
    print("\nTargets")
    for result in results:
        if "error" in result["evaluation"]:
            print(f"  {result['name']}: not evaluated")
            continue
        t = result["targets"]
        naive, prophet, single = (
            t["beats_seasonal_naive_by_20pct"],
            t["beats_prophet_default"],
            t["no_candidate_beats_selected"],
        )
        improvement = naive["improvement"]
        print(f"  {result['name']}:")
        print(
            f"    (1) selected WAPE {_percent(naive['selected_wape'])} vs seasonal naive "
            f"{_percent(naive['seasonal_naive_wape'])}: "
            + ("-" if improvement is None else f"{improvement:.0%} better")
            + f" (target 20%) - {_verdict(naive['met'])}"
        )
        print(
            f"    (2) selected {_percent(prophet['selected_wape'])} vs default Prophet "
            f"{_percent(prophet['prophet_default_wape'])} - {_verdict(prophet['met'])}"
        )
        print(
            f"    (3) best single candidate {single['best_candidate'] or '-'} "
            f"{_percent(single['best_candidate_wape'])} vs selected "
            f"{_percent(single['selected_wape'])} - {_verdict(single['met'])}"
        )
    for key, label in (
        ("beats_seasonal_naive_by_20pct", "(1) beats seasonal naive by 20%"),
        ("beats_prophet_default", "(2) beats the default Prophet"),
        ("no_candidate_beats_selected", "(3) no single candidate beats selected"),
    ):
        verdicts = [r["targets"][key]["met"] for r in results]
        met = sum(v is True for v in verdicts)
        judged = sum(v is not None for v in verdicts)
        unjudged = len(verdicts) - judged
        print(
            f"  {label}: met on {met} of {judged} samples"
            + (f" ({unjudged} without the figures)" if unjudged else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--quick", action="store_true", help="the default sample and one variant only"
    )
    parser.add_argument(
        "--skus", type=int, default=None, help="SKUs in every sample (default 40 to 60)"
    )
    parser.add_argument("--holdout", type=int, default=HOLDOUT, help=f"weeks held out ({HOLDOUT})")
    args = parser.parse_args()
    samples = [s for s in SAMPLES if not args.quick or s.name in QUICK]
    if args.skus is not None:
        samples = [Sample(s.name, s.mix, args.skus, s.seed) for s in samples]
    folder = Path(tempfile.mkdtemp(prefix="sop-bench-accuracy-"))
    try:
        results = run(samples, args.holdout, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(
            json.dumps(
                {
                    "machine": {"cores": os.cpu_count()},
                    "holdout_weeks": args.holdout,
                    "samples": results,
                },
                indent=2,
            )
        )
    else:
        print(f"Holdout accuracy, last {args.holdout} weeks (sorted by WAPE)")
        for result in results:
            print_table(result)
        print_targets(results)
    if any("error" in r["evaluation"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
