"""The meeting itself: the cockpit, scenarios side by side, approval and the pack.

Owns the KPI cockpit (``cockpit``), scenario comparison (``comparison``), what changed since
the last plan (``changes``), the decisions and assumptions log (``decisions``), the plan of
record (``plan_of_record``), the meeting pack (``pack``), and the agenda with one headline
sentence per step (``headlines``).

May import: every room before it, and ``charts`` (the pack draws the figures).
"""
