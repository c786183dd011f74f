"""Jobs: long work (a forecast refresh, past forecasts, a production plan, a meeting pack)
run in a process of its own and recorded in the ``jobs`` table, so it outlives the browser tab
and the app that started it.

``control`` starts a job (one per kind and parameters while it is queued or running), lists
them with their live progress, and resumes the ones whose process is gone; ``worker`` runs one
job in this process (``python -m sop_core jobs run``) and records its state, progress, end and
error. May import every room before it: data, forecast, demand, scenario, supply, meeting.
"""
