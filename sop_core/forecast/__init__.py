"""Demand forecasting: the statistical forecast (candidates, backtest, selection), stored runs
and the holdout evaluation.

Owns the statistical engine (``engine``: the candidates, the backtest and the selection;
``prophet_model``, ``classical``, ``global_model``), the panel of series it fits (``panel``),
the runs it stores (``runs``: refresh, reuse, backfill, reports) and ``evaluation`` (the
``evaluate`` command's holdout).

May import: ``data``.
"""
