"""The supply review: line load against capacity, and a feasible production plan.

Owns the two load measures, demand load and planned load, with their labels (``loads``); hours
needed, overload probability, exceptions and batch economics (``capacity``); and the
capacity-constrained production plan, a linear program (``planning``).

May import: ``data``, ``forecast``, ``demand``, ``scenario``.
"""
