"""Who is at the screen, and what they may change: the one place pages ask.

Pages never decide rights themselves: they ask ``may(write)`` (None when allowed, else the
sentence to show beside the disabled control) and pass ``who()`` to the core, which checks
again (``sop_core.data.access.require``), so a page that forgot to ask still cannot write.

How a person is known is a setting (``SOP_SIGN_IN``): ``local`` (the default: the name typed
in the sidebar, for trying the product and single-team use), ``oidc`` (Streamlit's
``st.login`` against the company's OpenID Connect provider) or ``proxy`` (a header set by an
authenticating reverse proxy, trusted only from the proxy's address).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from sop_core.data import access
from sop_core.data.stores import users
from sop_ui import filters, loaders


@dataclass(frozen=True)
class Person:
    """The person at the screen: ``email`` is what their writes are recorded as."""

    email: str
    name: str
    roles: tuple[str, ...]
    known: bool  # an active user of this database (False in single-team mode)


def current() -> Person:
    """The person at the screen (local mode: the sidebar's name)."""
    who = filters.user_name()
    if loaders.single_team():
        return Person(who, who, tuple(access.ROLES), False)
    user = loaders.user(who)
    if user is None or not user.active:
        return Person(who, who, (), False)
    return Person(user.email, user.name or user.email, user.roles, True)


def who() -> str:
    """What the current person's writes are recorded as (the ``who`` the core checks)."""
    return current().email


def may(write: str) -> str | None:
    """None when the current person may make ``write`` (a key of ``access.WRITES``), else why
    not, in a sentence to show beside the disabled control."""
    if loaders.single_team():
        return None
    person = current()
    user = users.User(person.email, person.name, person.roles, person.known)
    if person.known and access.may(user, write):
        return None
    return access.refusal(user if person.known else None, person.email, write)


def disabled(write: str) -> dict[str, object]:
    """Keyword arguments that disable a widget the current person may not use, with why as
    its help: ``st.button("Approve", **identity.disabled("approve"))``."""
    reason = may(write)
    return {"disabled": True, "help": reason} if reason else {}
