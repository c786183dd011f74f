"""Demand forecasting: the statistical forecast (Prophet with drivers, challengers), backtests,
stored runs.

Owns the statistical engine (``engine``, ``prophet_model``, ``classical``), the panel of series
it fits (``panel``) and the runs it stores (``runs``: refresh, reuse, backfill, reports).

May import: ``data``.
"""
