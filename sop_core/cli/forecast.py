"""The forecast commands: ``forecast`` (refresh, backfill), ``backtest``, ``accuracy`` (by
forecast lag, from the past forecasts) and ``drivers`` (price and promotion effects).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from sop_core.cli.common import (
    WEEKS_AHEAD,
    add_as_option,
    add_engine_options,
    author,
    iso_date,
    print_wait,
    progress_bar,
    whole_number,
)
from sop_core.data import db, schema
from sop_core.data.errors import InputError
from sop_core.data.export import check_out_file, write_csv
from sop_core.data.stores import forecast_runs
from sop_core.forecast.engine import ForecastSettings
from sop_core.forecast.runs import (
    ENGINES,
    RunSummary,
    backtest_report,
    driver_report,
    forecast_frame,
    refresh_forecast,
)


def _current_run(args: argparse.Namespace) -> RunSummary:
    """Refresh the forecast (reusing the stored run when nothing changed). ``backtest`` and
    ``drivers`` keep the horizon of the latest run, so they never refit just for that."""
    horizon = getattr(args, "horizon_weeks", None)
    if horizon is None:
        latest = None
        if Path(args.db).exists():
            with db.connect(args.db, on_wait=print_wait) as con:
                if "forecast_runs" in schema.table_columns(con):
                    latest = forecast_runs.latest_forecast_run(con)
        horizon = latest["horizon"] if latest else 26
    settings = ForecastSettings(horizon=horizon)
    with progress_bar(args.quiet) as progress:
        return refresh_forecast(
            args.db,
            settings,
            jobs=args.jobs,
            progress=progress,
            on_wait=print_wait,
            reuse=not getattr(args, "force", False),
            history_end=getattr(args, "history_end", None),
            who=author(args),
            engine=getattr(args, "engine", "local"),
            scheduler=getattr(args, "scheduler", None) or "",
            history=getattr(args, "history", None),
        )


def _backfill_job(args: argparse.Namespace) -> dict:
    """``--backfill``: the past forecasts as a job (the dashboard's "Make past forecasts"),
    run in this process; the same job already running elsewhere is followed instead, and one
    that was interrupted is taken up again, keeping the runs it stored."""
    from sop_core.jobs import control
    from sop_core.jobs.worker import run_job

    if not Path(args.db).exists():
        raise InputError(f"There is no database at {args.db}.")
    parameters = {"count": args.backfill, "step": args.backfill_step, "horizon": args.horizon}
    job_id, ours = control.start(args.db, "backfill", parameters, author(args), launch=False)
    with progress_bar(args.quiet) as progress:
        if ours:
            view = run_job(args.db, job_id, echo=progress, workers=args.jobs)
        else:
            view = control.wait(args.db, job_id, on_progress=progress)
    if view.state != "done" or not view.result:
        raise InputError(f"The past forecasts (job {job_id}) did not finish: {view.error}.")
    return view.result


def command_forecast(args: argparse.Namespace) -> int:
    if args.out:
        check_out_file(args.out)  # before the fit, so a typo costs no refit and stores nothing
    args.horizon_weeks = args.horizon
    if args.backfill:
        past = _backfill_job(args)
        if not args.json:
            print(
                f"Past forecasts (runs {', '.join(map(str, past['run_ids']))}) with history "
                f"ends {past['history_ends'][0]} to {past['history_ends'][-1]}."
            )
    summary = _current_run(args)
    if args.out:
        with db.connect(args.db, on_wait=print_wait) as con:
            frame = forecast_frame(con, summary.run_id)
        write_csv(frame, args.out, date_format="%Y-%m-%d")
    if args.json:
        print(json.dumps({**summary.__dict__, "out": str(args.out) if args.out else None}))
        return 0
    how = (
        "reused, data and parameters unchanged"
        if summary.reused
        else (f"{summary.skus_refit} of {summary.skus} SKUs fitted")
    )
    models = ", ".join(f"{model} {count}" for model, count in summary.models.items())
    print(
        f"Forecast run {summary.run_id} ({how}) in {summary.seconds:.1f} s; history end "
        f"{summary.history_end}. Models: {models}."
    )
    if summary.fallbacks:
        print(f"Fallbacks: {len(summary.fallbacks)} SKU(s) where a candidate failed:")
        for item in summary.fallbacks:
            print(f"  {item['sku']}: {item['error']}; served by {item['served']}")
    if args.out:
        print(f"Wrote {args.out}")
    return 0


def command_backtest(args: argparse.Namespace) -> int:
    summary = _current_run(args)
    with db.connect(args.db, on_wait=print_wait) as con:
        report = backtest_report(con, summary.run_id, args.horizon)
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"Backtest of forecast run {summary.run_id}, {args.horizon}-week horizon "
        f"(refits at earlier history ends; the same SKUs for every model):"
    )
    print(f"  {'model':<16}{'WAPE':>8}{'bias':>9}{'MASE':>8}{'SKUs':>7}")
    for model, metrics in sorted(report["overall"].items(), key=lambda kv: kv[1]["wape"]):
        print(
            f"  {model:<16}{metrics['wape']:>8.1%}{metrics['bias']:>+9.1%}"
            f"{metrics['mase']:>8.2f}{metrics['skus']:>7}"
        )
    return 0


def command_accuracy(args: argparse.Namespace) -> int:
    from sop_core.demand import accuracy

    with db.connect(args.db, on_wait=print_wait) as con:
        frame = accuracy.with_consensus(con, accuracy.lag_frame(con))
        if frame.empty:
            raise InputError(
                "No stored forecast has reached a closed week yet. Make past forecasts with "
                "`python -m sop_core forecast --db PATH --backfill 8`."
            )
        # The MASE scales at the scored origins, summed in DuckDB (not the weekly rows).
        history = accuracy.history_scales(con, frame["origin"].unique())
    if args.level != "total" and args.value not in accuracy.scope_values(history, args.level):
        raise InputError(f"There is no {args.level} called {args.value!r} in the sales history.")
    by_lag = accuracy.accuracy_by_lag(frame, history, args.level, args.value)
    steps = accuracy.value_added(frame, history, args.level, args.value, args.lag)
    exceptions = accuracy.accuracy_by_sku(frame, history, args.lag, args.level, args.value)
    report = {
        "scope": {"level": args.level, "value": args.value, "lag": args.lag},
        "origins": int(frame["origin"].nunique()),
        "by_lag": _records(by_lag),
        "value_added": _records(steps),
        "exceptions": _records(exceptions.head(args.top)),
    }
    if args.json:
        print(json.dumps(report))
        return 0
    scope = args.level if args.value is None else f"{args.level} {args.value}"
    print(f"Accuracy of {scope} from {report['origins']} past forecast(s), on closed weeks:")
    print(f"  {'lag':>4}{'WAPE':>8}{'bias':>9}{'MASE':>7}{'seasonal naive WAPE':>21}{'weeks':>7}")
    for row in by_lag.itertuples():
        print(
            f"  {row.lag:>4}{row.wape:>8.1%}{row.bias:>+9.1%}{row.mase:>7.2f}"
            f"{row.naive_wape:>21.1%}{row.weeks:>7}"
        )
    lag = "every lag" if args.lag is None else f"lag {args.lag}"
    print(
        f"Forecast value added ({lag}): "
        + ", ".join(
            f"{STEP_NAMES.get(row.step, row.step)} {row.wape:.1%}" for row in steps.itertuples()
        )
    )
    print(f"Exceptions ({lag}), by absolute error x price:")
    for row in exceptions.head(args.top).itertuples():
        print(f"  {row.sku:<12}{row.model:<14}WAPE {row.wape:>6.1%}  impact {row.impact:>12,.0f}")
    return 0


# The value-added steps as planners name them (the JSON keeps ``naive``).
STEP_NAMES = {"naive": "seasonal naive"}


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts (NaN as null, dates as ISO text)."""
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def command_drivers(args: argparse.Namespace) -> int:
    summary = _current_run(args)
    with db.connect(args.db, on_wait=print_wait) as con:
        report = driver_report(con, summary.run_id)
    if args.json:
        print(json.dumps(report))
        return 0

    def show(value: float | None, pattern: str) -> str:
        return "unknown" if value is None else format(value, pattern)

    print(
        f"{'sku':<12}{'elasticity':>11}{'95% interval':>18}{'uplift per 10% discount':>25}"
        f"{'feature':>9}{'display':>9}  confidence"
    )
    for row in report:
        interval = (
            ""
            if row["price_elasticity"] is None
            else f"{row['price_elasticity_lower']:.2f} to {row['price_elasticity_upper']:.2f}"
        )
        print(
            f"{row['sku']:<12}{show(row['price_elasticity'], '.2f'):>11}{interval:>18}"
            f"{show(row['promo_uplift_per_10pct_discount'], '+.0%'):>25}"
            f"{show(row['feature_uplift'], '+.0%'):>9}{show(row['display_uplift'], '+.0%'):>9}"
            f"  {row['confidence']}"
        )
    return 0


def command_evaluate(args: argparse.Namespace) -> int:
    import tempfile

    from sop_core.forecast.evaluation import evaluate
    from sop_core.scenario.holdout import plan_holdout

    with progress_bar(args.quiet) as progress:
        figures = evaluate(args.db, args.holdout, jobs=args.jobs, progress=progress)
    if not args.no_targets:
        # The revised targets, as the holdout command makes them: the held-out weeks'
        # promotions handed in as a plan file to a forecast that does not know them.
        try:
            with (
                tempfile.TemporaryDirectory(prefix="sop-evaluate-") as folder,
                progress_bar(args.quiet) as progress,
            ):
                targets = plan_holdout(
                    args.db, folder, args.holdout, jobs=args.jobs, progress=progress
                )
            targets.pop("plan_file")
            figures["revised_targets"] = targets
        except InputError as error:
            figures["revised_targets"] = {"skipped": str(error)}
    if args.json:
        print(json.dumps(figures))
        return 0
    overall = figures["overall"]
    print(
        f"Held out {figures['holdout_weeks']} weeks ({figures['first_week']} to "
        f"{figures['last_week']}), {figures['skus']} SKUs; forecast from the history to "
        f"{figures['history_end']}."
    )
    print(f"{'':<26}{'WAPE':>8}{'bias':>8}{'MASE':>8}")
    for name in sorted(
        overall, key=lambda n: overall[n]["wape"] if overall[n]["wape"] is not None else 9
    ):
        row = overall[name]
        label = f"{name} (served)" if name == "selected" else name
        print(
            f"{label:<26}{_percent(row['wape']):>8}{_percent(row['bias'], '+.1%'):>8}"
            f"{'-' if row['mase'] is None else format(row['mase'], '.2f'):>8}"
        )
    served = ", ".join(f"{model} {count}" for model, count in figures["models"].items())
    print(f"Served by: {served}.")
    targets = figures.get("revised_targets", {})
    if "skipped" in targets:
        print(f"Revised targets: not scored ({targets['skipped']})")
    elif targets:
        print(
            f"Revised targets with the held-out promotions as a plan: WAPE on promoted SKU-weeks "
            f"{targets['wape_promoted_baseline']:.1%} (baseline) -> "
            f"{targets['wape_promoted_revised']:.1%}; on the others "
            f"{targets['wape_unpromoted_baseline']:.1%} -> "
            f"{targets['wape_unpromoted_revised']:.1%}."
        )
    return 0


def _percent(value: float | None, spec: str = ".1%") -> str:
    return "-" if value is None else format(value, spec)


# ---- parsers -----------------------------------------------------------------------------------


def add_forecast_parser(commands: argparse._SubParsersAction) -> None:
    forecast = commands.add_parser(
        "forecast",
        help="refresh the demand forecast (or reuse an unchanged one)",
        description="Forecast every SKU (candidates: Prophet with promotion and price drivers, "
        "Theta, ETS, an adjusted seasonal naive, a global LightGBM model and their median; the "
        "backtest serves the best, or the weighted mean of those within noise of it; special "
        "methods for new, intermittent and flat items) and store the run. Same data and "
        "parameters: the stored run is reused.",
    )
    add_engine_options(forecast)
    add_as_option(forecast)
    forecast.add_argument("--horizon", type=WEEKS_AHEAD, default=26, help="weeks to forecast (26)")
    forecast.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write sku, week, forecast, lower_80, upper_80, lower_95, "
        "upper_95, model to this CSV file",
    )
    forecast.add_argument(
        "--force", action="store_true", help="refit every SKU even when nothing changed"
    )
    forecast.add_argument(
        "--history-end",
        type=iso_date,
        default=None,
        metavar="DATE",
        help="forecast as of the week of DATE (YYYY-MM-DD), leaving out the later history",
    )
    forecast.add_argument(
        "--backfill",
        type=whole_number(0, 52),
        default=0,
        metavar="N",
        help="first make N past forecasts, with history ends every --backfill-step weeks "
        "before the end of the history, so accuracy by forecast lag has something to measure (0)",
    )
    forecast.add_argument(
        "--backfill-step", type=whole_number(1, 13), default=2, metavar="WEEKS", help="(2)"
    )
    forecast.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="where the SKUs are fitted: local, this machine's --jobs processes; dask, a Dask "
        "cluster (local)",
    )
    forecast.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="with --engine dask: the Dask scheduler's address, e.g. tcp://10.0.0.5:8786 "
        "(default: a cluster of --jobs processes on this machine)",
    )
    forecast.add_argument(
        "--history",
        type=str,
        default=None,
        metavar="PATH",
        help="with --engine dask: read the sales history from this Parquet file, folder or "
        "glob (columns as sales_history) instead of the database; each worker reads its own "
        "SKUs' rows",
    )
    forecast.add_argument("--json", action="store_true", help="print the run summary as JSON")
    forecast.set_defaults(handler=command_forecast)


def add_backtest_parser(commands: argparse._SubParsersAction) -> None:
    backtest = commands.add_parser(
        "backtest",
        help="forecast accuracy by model (WAPE, bias, MASE)",
        description="Backtest of the current forecast run (refits on the history as it stood at "
        "earlier history ends), per model and per SKU, against seasonal naive. Refreshes the "
        "forecast first if the data changed.",
    )
    add_engine_options(backtest)
    backtest.add_argument(
        "--horizon",
        type=whole_number(1),
        default=13,
        help="backtest horizon in weeks, one the run stored: 13 or 26 by default (13)",
    )
    backtest.add_argument(
        "--json",
        action="store_true",
        help='print {"overall": {model: {wape, bias, mase}}, "per_sku": [...]}',
    )
    backtest.set_defaults(handler=command_backtest)


def add_accuracy_parser(commands: argparse._SubParsersAction) -> None:
    scored = commands.add_parser(
        "accuracy",
        help="accuracy by forecast lag from the past forecasts",
        description="What past forecasts said against what was then sold, on closed weeks: "
        "WAPE, bias and MASE by lag against seasonal naive, forecast value added (seasonal "
        "naive, statistical, consensus) and the exceptions ranked by business impact. Reads "
        "stored forecast runs only (make past forecasts with forecast --backfill).",
    )
    scored.add_argument("--db", required=True, type=Path, help="database file")
    scored.add_argument(
        "--level",
        choices=("total", "family", "brand", "channel", "sku"),
        default="total",
        help="scope (total)",
    )
    scored.add_argument("--value", default=None, help="the family, brand, channel or SKU")
    scored.add_argument(
        "--lag", type=whole_number(0), default=None, help="lag for value added and exceptions (all)"
    )
    scored.add_argument("--top", type=whole_number(0), default=10, help="exceptions listed (10)")
    scored.add_argument(
        "--json",
        action="store_true",
        help='print {"scope", "origins", "by_lag": [...], "value_added": [...], '
        '"exceptions": [...]}',
    )
    scored.set_defaults(handler=command_accuracy)


def add_drivers_parser(commands: argparse._SubParsersAction) -> None:
    drivers = commands.add_parser(
        "drivers",
        help="price elasticity and promotion uplift per SKU",
        description="Per SKU: price elasticity with its 95% interval, promotion uplift per 10% "
        "discount, feature and display uplift, and how sure we are. Unknown where the data "
        "cannot tell (no prices, no promotions).",
    )
    add_engine_options(drivers)
    drivers.add_argument("--json", action="store_true", help="print a list of one object per SKU")
    drivers.set_defaults(handler=command_drivers)


def add_evaluate_parser(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="hold out the last weeks and score the forecast against peers",
        description="Hold out the last weeks of the history, forecast them with the engine "
        "(knowing the promotions in the calendar) and report WAPE, bias and MASE of every "
        "candidate, the selected forecast, seasonal naive and a default Prophet fit, overall "
        "and per family; with the held-out weeks' promotions as a plan file, the revised "
        "targets too (as the holdout command). Reads the database only.",
    )
    add_engine_options(evaluate)
    evaluate.add_argument(
        "--holdout", type=WEEKS_AHEAD, default=26, help="weeks held out at the end (26)"
    )
    evaluate.add_argument(
        "--no-targets", action="store_true", help="skip the revised targets (a second forecast)"
    )
    evaluate.add_argument(
        "--json",
        action="store_true",
        help='print {"holdout_weeks", "overall": {name: {"wape", "bias", "mase"}}, '
        '"by_family": [...], "revised_targets": {...}}',
    )
    evaluate.set_defaults(handler=command_evaluate)


PARSERS = {
    "forecast": add_forecast_parser,
    "backtest": add_backtest_parser,
    "evaluate": add_evaluate_parser,
    "accuracy": add_accuracy_parser,
    "drivers": add_drivers_parser,
}
"""This group's commands and the functions that add their subparsers."""
