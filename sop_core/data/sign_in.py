"""How the dashboard knows who is at the screen (``SOP_SIGN_IN``), as plain decisions without
Streamlit, so they are tested without a server: the sign-in mode, whether the OpenID Connect
configuration is complete, and whether a request's proxy header is trusted.

``sop_ui.identity`` asks Streamlit for the inputs (``st.secrets``, ``st.context.headers``,
``st.context.ip_address``) and these functions for the answer. A setting with a wrong value is
an ``InputError`` whose message a planner can act on.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from sop_core.data import settings
from sop_core.data.errors import InputError

MODES = {
    "local": "the name typed in the sidebar",
    "oidc": "Streamlit's sign-in against the company's OpenID Connect provider",
    "proxy": "a header set by the company's authenticating reverse proxy",
}
# What a provider's section of ``[auth]`` in .streamlit/secrets.toml needs (Streamlit's own).
OIDC_PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
OIDC_SHARED_KEYS = ("redirect_uri", "cookie_secret")
_SEE = 'docs/SECURITY.md, "Signing in", has a working example.'

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_LOOPBACK = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


def mode(value: str | None = None) -> str:
    """The sign-in mode, ``local``, ``oidc`` or ``proxy`` (any case; empty: ``local``); any
    other value is refused naming the three."""
    raw = settings.SIGN_IN.value() if value is None else value
    chosen = raw.strip().lower() or settings.SIGN_IN.default
    if chosen not in MODES:
        choices = "; ".join(f"{name} ({what})" for name, what in MODES.items())
        raise InputError(
            f"The setting SOP_SIGN_IN is {raw.strip()!r}, which is not a way of signing in. "
            f"It must be one of: {choices}."
        )
    return chosen


# ---- OpenID Connect (st.login) ----------------------------------------------------------------


def oidc_provider(auth: Mapping[str, object] | None) -> str | None:
    """The provider to pass to ``st.login`` for the ``[auth]`` section of secrets.toml: None
    for the default provider (its keys directly under ``[auth]``), else the name of the first
    ``[auth.NAME]`` section. Refuses (``InputError``) a section missing what Streamlit needs,
    naming what is missing."""
    if not auth:
        raise InputError(
            "Signing in with OpenID Connect (SOP_SIGN_IN=oidc) needs an [auth] section in "
            f".streamlit/secrets.toml, beside the app or in your home folder. {_SEE}"
        )
    missing = [key for key in OIDC_SHARED_KEYS if not auth.get(key)]
    provider: str | None = None
    section: Mapping[str, object] = auth
    if not auth.get("client_id"):
        named = [name for name, value in auth.items() if isinstance(value, Mapping)]
        if named:
            provider = named[0]
            section = auth[provider]  # type: ignore[assignment]
    missing += [
        f"{key}" if provider is None else f"{key} (in [auth.{provider}])"
        for key in OIDC_PROVIDER_KEYS
        if not section.get(key)
    ]
    if missing:
        raise InputError(
            "The [auth] section of .streamlit/secrets.toml is missing "
            f"{', '.join(missing)}: nobody can sign in until it is complete. {_SEE}"
        )
    return provider


# ---- a trusted header from an authenticating reverse proxy ------------------------------------


@dataclass(frozen=True)
class ProxySignIn:
    """What a request says about who is at the screen: their ``email`` when the header is
    trusted, else ``refusal`` (why nobody is signed in), or neither when no header is named."""

    email: str | None = None
    refusal: str | None = None


def proxy_networks(value: str | None = None) -> tuple[Network, ...]:
    """The proxy's addresses (``SOP_PROXY_ADDRESS``): IP addresses or networks
    (``10.0.0.0/24``), comma-separated; ``localhost`` is both loopback addresses. A value that
    is not an address is refused naming it."""
    raw = settings.PROXY_ADDRESS.value() if value is None else value
    networks: list[Network] = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        if entry.lower() == "localhost":
            networks += [ipaddress.ip_network(address) for address in _LOOPBACK]
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise InputError(
                f"The setting SOP_PROXY_ADDRESS holds {entry!r}, which is not an IP address "
                "or network: give the sign-in proxy's address(es), comma-separated "
                "(for example 10.0.0.5 or 127.0.0.1)."
            ) from None
    return tuple(networks)


def from_proxy(
    headers: Mapping[str, str],
    remote_address: str | None,
    header: str,
    proxy_address: str,
) -> ProxySignIn:
    """Who the request comes from, by the proxy's ``header`` (any case), trusted only when the
    request comes from ``proxy_address`` (``SOP_PROXY_ADDRESS``).

    ``remote_address`` is the connection's address as Streamlit gives it
    (``st.context.ip_address``), None for a connection from this machine (Streamlit hides the
    loopback addresses). No ``header`` named: the header is ignored (``ProxySignIn()``).
    """
    header = header.strip()
    if not header:
        return ProxySignIn()
    networks = proxy_networks(proxy_address)
    if not networks:
        raise InputError(
            f"The setting SOP_PROXY_HEADER names {header}, but SOP_PROXY_ADDRESS does not say "
            "where the sign-in proxy connects from, so the header cannot be trusted: set it to "
            "the proxy's IP address(es)."
        )
    value = next(
        (str(v).strip() for name, v in headers.items() if name.lower() == header.lower()), ""
    )
    shown = "this machine" if remote_address is None else (remote_address or "an unknown address")
    from_the_proxy = any(
        address in network
        for address in _addresses(remote_address)
        for network in networks
        if network.version == address.version
    )
    if from_the_proxy and value:
        return ProxySignIn(email=value)
    if from_the_proxy:
        return ProxySignIn(
            refusal=f"The sign-in proxy did not say who you are (the request has no {header} "
            "header), so nobody is signed in. Ask whoever runs the proxy to pass the signed-in "
            f"person's email in {header}."
        )
    if value:
        return ProxySignIn(
            refusal=f"This request carries the sign-in header {header} but came from {shown}, "
            "which is not the sign-in proxy (SOP_PROXY_ADDRESS): the header is not trusted "
            "and nobody is signed in. Open the dashboard through the company's sign-in address."
        )
    return ProxySignIn(
        refusal=f"This dashboard signs people in through the company's proxy, and this request "
        f"came from {shown} directly, so nobody is signed in. Open the dashboard through the "
        "company's sign-in address."
    )


def _addresses(
    remote_address: str | None,
) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
    """The addresses a request may have come from: both loopback addresses for None (a
    connection from this machine); an IPv4 address written as IPv6 (``::ffff:10.0.0.5``) as
    the IPv4 one; nothing for an address that cannot be read."""
    if remote_address is None:
        return _LOOPBACK
    try:
        address = ipaddress.ip_address(remote_address.strip().strip("[]"))
    except ValueError:
        return ()
    return (getattr(address, "ipv4_mapped", None) or address,)
