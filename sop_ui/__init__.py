"""Streamlit glue between ``pages/`` and ``sop_core``; pages import the module they need.

- ``shell``: page config, the navigation over ``pages/``, the error boundary, ``require_shell``
- ``filters``: the global filters in the sidebar and what they hold (scope, scenario, name)
- ``loaders``: the database on first start and every cached read, with the lock-wait spinner
- ``drafts``: the scenario being edited in this session, and the bar that saves it
- ``widgets``: KPI tiles, charts, tables, import issues, progress bars, the forecast guard
- ``formatting``: money, units and changes as text (pure functions, no streamlit)

Nothing here imports ``app``: ``app.py`` only calls ``shell.main``.
"""
