"""The supply review: line load against capacity, and a feasible production plan.

Owns load, utilisation, overload probability, exceptions and batch economics (``capacity``)
and the capacity-constrained production plan, a linear program (``planning``).

May import: ``data``, ``forecast``, ``demand``, ``scenario``.
"""
