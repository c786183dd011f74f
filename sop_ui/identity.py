"""Who is at the screen, and what they may change: the one place pages ask.

Pages never decide rights themselves: they ask ``may(write)`` (None when allowed, else the
sentence to show beside the disabled control) and pass ``who()`` to the core, which checks
again (``sop_core.data.access.require``), so a page that forgot to ask still cannot write.

How a person is known is a setting (``SOP_SIGN_IN``): ``local`` (the default: the name typed
in the sidebar, for trying the product and single-team use), ``oidc`` (Streamlit's
``st.login`` against the company's OpenID Connect provider) or ``proxy`` (a header set by an
authenticating reverse proxy, trusted only from the proxy's address). The decisions themselves
(is the configuration complete, is this header trusted) are in ``sop_core.data.sign_in``; this
module gives them Streamlit's inputs and shows their answers: the sign-in screen, a refusal, a
setting's error, each of which stops the run before anything of the database is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

import streamlit as st
from streamlit.errors import StreamlitAuthError, StreamlitSecretNotFoundError

from sop_core.data import access, settings, sign_in
from sop_core.data.errors import InputError
from sop_core.data.stores import users
from sop_ui import filters, loaders
from sop_ui.formatting import plain


@dataclass(frozen=True)
class Person:
    """The person at the screen: ``email`` is what their writes are recorded as."""

    email: str
    name: str
    roles: tuple[str, ...]
    known: bool  # an active user of this database (False in single-team mode)


def current() -> Person:
    """The person at the screen: the signed-in person (``oidc``: their provider's email and
    name; ``proxy``: the proxy header's email), or in ``local`` mode the sidebar's name. Nobody
    signed in, a refused request or a wrong setting stops the run with a message instead."""
    signed = signed_in()
    who, name = signed if signed else (filters.user_name(), filters.user_name())
    if loaders.single_team():
        return Person(who, name, tuple(access.ROLES), False)
    user = loaders.user(who)
    if user is None or not user.active:
        return Person(who, name, (), False)
    return Person(user.email, user.name or name or user.email, user.roles, True)


def mode() -> str:
    """The sign-in mode (``SOP_SIGN_IN``): ``local``, ``oidc`` or ``proxy``; a wrong value
    stops the run with a message naming the three."""
    try:
        return sign_in.mode()
    except InputError as error:
        _stop(str(error))


def signed_in() -> tuple[str, str] | None:
    """The signed-in person's email and name; None in ``local`` mode (nobody signs in).

    ``oidc`` without a signed-in person shows the sign-in screen; ``proxy`` with a request the
    proxy did not sign in shows why; both stop the run, as a setting with a wrong value does."""
    chosen = mode()
    try:
        if chosen == "oidc":
            return _from_oidc()
        if chosen == "proxy":
            return _from_proxy()
    except InputError as error:
        _stop(str(error))
    return None


def _from_oidc() -> tuple[str, str]:
    """The person Streamlit's sign-in (``st.login``) knows, or the sign-in screen."""
    provider = sign_in.oidc_provider(_auth_secrets())
    if st.user.is_logged_in:
        email = str(st.user.get("email") or "").strip()
        if not email:
            raise InputError(
                "You are signed in, but the sign-in provider did not say your email address, "
                "which is what this dashboard knows people by: ask whoever set up the sign-in "
                "to include the email scope and claim."
            )
        return email, str(st.user.get("name") or email).strip()
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("Sign in", anchor=False)
        st.write(
            "This S&OP dashboard records who changes what. Sign in with your company "
            "account to open it."
        )
        if st.button("Sign in", type="primary", icon=":material/login:"):
            try:
                st.login(provider)
            except StreamlitAuthError as error:
                raise InputError(f"Signing in failed: {error}") from None
    st.stop()


def _auth_secrets() -> dict[str, object] | None:
    """The ``[auth]`` section of .streamlit/secrets.toml as a dict, None when there is none
    (or no secrets file at all)."""
    try:
        if not st.secrets.load_if_toml_exists():
            return None
        auth = st.secrets.get("auth")
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return None
    return auth.to_dict() if hasattr(auth, "to_dict") else auth


def _from_proxy() -> tuple[str, str]:
    """The person the proxy's header names, trusted only from the proxy's address."""
    header = settings.PROXY_HEADER.value().strip()
    if not header:
        raise InputError(
            "Signing in through a proxy (SOP_SIGN_IN=proxy) needs the setting "
            "SOP_PROXY_HEADER: the name of the header in which the proxy passes the signed-in "
            "person's email (for example X-Forwarded-Email)."
        )
    answer = sign_in.from_proxy(
        dict(st.context.headers.items()),
        st.context.ip_address,
        header,
        settings.PROXY_ADDRESS.value(),
    )
    if answer.refusal or not answer.email:
        _stop(answer.refusal or "Nobody is signed in.", icon=":material/block:")
    return answer.email, answer.email


def _stop(message: str, icon: str = ":material/error:") -> NoReturn:
    """Show ``message`` as an error and stop the run (nothing of the database is shown)."""
    st.error(plain(message), icon=icon)
    st.stop()


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
