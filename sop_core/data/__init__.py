"""The data layer: the one DuckDB file and everything that reads or writes it.

Owns the connection (``db``: open per unit of work, lock retry, transactions), the schema and
its migrations (``schema``), file import and export (``importer``, ``export``), the sample
company (``sample``), the week calendar and holidays (``calendar``), the settings registry
(``settings``), the error types (``errors``), and the stores (``stores/``): named functions,
one module per thing the product keeps, that hold **all** of the product's SQL.

May import: nothing else of sop_core.
"""
