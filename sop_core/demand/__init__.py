"""The demand review: consensus overrides, forecast accuracy and the demand the plan rests on.

Owns consensus overrides with reason and history (``consensus``; from a file:
``override_files``), accuracy by lag and forecast value added (``accuracy``), the demand
review's cube of actuals, forecast and plan (``cube``), and the plan base (``plan_base``): the
consensus demand with prices, costs and line facts as SKU x week arrays, built once per
forecast run, that every later step plans on.

May import: ``data``, ``forecast``.
"""
