"""Errors a planner can cause or meet; each carries a message meant to be shown as it is."""

from __future__ import annotations


class SopError(Exception):
    """Base class: the message is written for a planner, not a programmer."""


class DatabaseBusyError(SopError):
    """Another process held the database file for longer than we were willing to wait."""


class DatabaseMissingError(SopError):
    """The database file does not exist (and we were not asked to create it)."""


class SchemaError(SopError):
    """The database's schema cannot be used by this version of the program."""


class ForeignDatabaseError(SchemaError):
    """The file is a DuckDB database, but not one of this product: it is left untouched."""


class InputError(SopError):
    """A value given on the command line or in a form is out of range or malformed."""


class ConflictError(SopError):
    """Someone else changed the record after it was opened; nothing was overwritten."""


class ProphetMismatchError(SopError):
    """The installed ``prophet`` ships a Stan program other than the one the forecast was
    checked with (its data fields, parameters or model differ); nothing was fitted."""
