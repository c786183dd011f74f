"""The stores: the only SQL in the product, one module per thing it keeps.

Each function takes an open DuckDB connection and returns a DataFrame, a dataclass or a plain
value; every value that comes from a user is a bound parameter.
"""
