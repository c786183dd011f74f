"""Scenarios: marketing's levers and the revised targets they give, live.

Owns what a scenario is (``model``: its levers, effect overrides and capacity changes), the
levers' maths (``levers``: promotions, prices, campaigns, distribution, cannibalisation,
warnings), what the history has seen and how far past it a lever guesses (``history``), each
lever's figures in its own scope and weeks (``promotion_kpis``: incremental units, revenue and
margin, trade spend, dip, ROI), saved scenarios (``store``),
marketing's plan files (``plan_files``), revised targets for scheduling and finance
(``targets``) and the holdout proof that plan files improve the targets (``holdout``).

May import: ``data``, ``forecast``, ``demand``.
"""
