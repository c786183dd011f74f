"""Demand forecasting: Prophet baseline with drivers, challengers, backtests, stored runs."""
