"""sop_core: the S&OP dashboard's domain library (data, forecasting, scenarios, capacity,
planning, charts, reports and the CLI). It never imports streamlit."""

__version__ = "0.1.0"
