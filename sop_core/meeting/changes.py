"""What changed since the plan of record: the change of volume and revenue by cause.

The plan of record froze, per SKU and week, the statistical forecast, the consensus and the
targets. Today's plan is the chosen scenario on today's forecast and consensus. Over the weeks
both cover, the change splits exactly into:

- **new actuals and forecast refresh**: today's statistical forecast against the frozen one;
- **overrides**: the change in what the team's overrides add;
- **promotions**, **pricing**, **campaigns and distribution**: today's levers of each kind
  (applied one kind after the other on today's consensus) against the approved scenario's
  levers of that kind (applied the same way on today's consensus);
- **levers on the new baseline**: what the approved levers do on today's consensus against
  what they did when approved (the same levers on a different baseline);
- for revenue, **prices and mix**: what is left once volumes are valued at today's prices.

Capacity changes move production and unmet demand, not the targets: they show on the supply
side, not here.
"""

from __future__ import annotations

from dataclasses import replace

import duckdb
import numpy as np
import pandas as pd

from sop_core.data.stores import plans_of_record
from sop_core.demand.plan_base import PlanBase
from sop_core.scenario.levers import applicable, apply_scenario
from sop_core.scenario.model import Scenario

KINDS = (
    ("promotions", ("promotion",)),
    ("pricing", ("price",)),
    ("campaigns and distribution", ("campaign", "distribution")),
)


def _by_kind(base: PlanBase, scenario: Scenario, weeks: np.ndarray) -> dict[str, tuple]:
    """Volume and revenue each lever kind adds, applied one kind after the other."""
    effects = {}
    levers: list = []
    previous = apply_scenario(base, replace(scenario, levers=[]))
    for label, kinds in KINDS:
        levers = levers + [lever for lever in scenario.levers if lever.kind in kinds]
        result = apply_scenario(base, replace(scenario, levers=levers))
        effects[label] = (
            float(result.revised[:, weeks].sum() - previous.revised[:, weeks].sum()),
            float(result.revenue[:, weeks].sum() - previous.revenue[:, weeks].sum()),
        )
        previous = result
    return effects, previous


def what_changed(
    con: duckdb.DuckDBPyConnection, base: PlanBase, scenario: Scenario
) -> pd.DataFrame | None:
    """The waterfall from the latest plan of record to ``scenario`` on ``base``: rows
    ``cause, volume, revenue`` from ``approved`` to ``now`` (None when nothing is approved or
    the two share no week)."""
    record = plans_of_record.plan_of_record(con)
    if record is None:
        return None
    version, definition, name = record.plan_version, record.definition, record.scenario
    frozen = plans_of_record.frozen_targets(con, version)
    weeks = np.flatnonzero(np.isin(base.weeks, frozen["week"].to_numpy("datetime64[D]")))
    if not len(weeks):
        return None
    first, last = pd.Timestamp(base.weeks[weeks[0]]), pd.Timestamp(base.weeks[weeks[-1]])
    frozen = frozen[(frozen["week"] >= first) & (frozen["week"] <= last)]
    then = frozen[["statistical", "consensus", "target", "revenue"]].sum()
    scenario, notes = applicable(base, scenario)
    approved, left_out = applicable(base, Scenario.from_json(name, definition))
    notes += left_out

    statistical_now = float(base.statistical[:, weeks].sum())
    consensus_now = float(base.baseline[:, weeks].sum())
    now_effects, now = _by_kind(base, scenario, weeks)
    then_effects, then_today = _by_kind(base, approved, weeks)
    target_now = float(now.revised[:, weeks].sum())
    revenue_now = float(now.revenue[:, weeks].sum())
    # Today's price of a unit of consensus, to value the forecast and override changes.
    consensus_revenue = float(base.revenue_base[:, weeks].sum())
    unit_price = consensus_revenue / consensus_now if consensus_now else 0.0

    rows = [("plan of record", float(then["target"]), float(then["revenue"]))]
    refresh = statistical_now - float(then["statistical"])
    overrides = (consensus_now - statistical_now) - float(then["consensus"] - then["statistical"])
    rows.append(("new actuals and forecast refresh", refresh, refresh * unit_price))
    rows.append(("overrides", overrides, overrides * unit_price))
    for label, _ in KINDS:
        volume = now_effects[label][0] - then_effects[label][0]
        revenue = now_effects[label][1] - then_effects[label][1]
        rows.append((label, volume, revenue))
    approved_today = float(then_today.revised[:, weeks].sum()) - consensus_now
    approved_then = float(then["target"] - then["consensus"])
    rows.append(("levers on the new baseline", approved_today - approved_then, 0.0))
    explained = sum(r[1] for r in rows)
    explained_revenue = sum(r[2] for r in rows)
    # Volumes add up by construction (the last line closes rounding); revenue is closed by
    # prices and mix.
    rows[-1] = (rows[-1][0], rows[-1][1] + (target_now - explained), 0.0)
    rows.append(("prices and mix", 0.0, revenue_now - explained_revenue))
    rows.append(("plan now", target_now, revenue_now))
    frame = pd.DataFrame(rows, columns=["cause", "volume", "revenue"])
    frame.attrs.update(version=version, scenario=name, first=first, last=last, notes=notes)
    return frame
