"""Signing in (issue 22): the mode setting, the OpenID Connect configuration check, the trusted
proxy header's decision (pure functions, ``sop_core.data.sign_in``), and the app in each mode
without a browser (AppTest: the sign-in screen, the signed-in sidebar, a wrong setting).

The real round trips (Chromium through a real OpenID Connect provider; a header sent by the
browser) are in tests/test_browser_signin.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sop_core.data import access, sign_in
from sop_core.data.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
HEADER = "X-Forwarded-Email"
VIEWER = "viewer@example.com"
ADMIN = "admin@example.com"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-long-random-secret",
    "client_id": "sop-dashboard",
    "client_secret": "client-secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


# ---- the mode ---------------------------------------------------------------------------------


def test_the_mode_is_local_by_default_and_any_case(monkeypatch):
    monkeypatch.delenv("SOP_SIGN_IN", raising=False)
    assert sign_in.mode() == "local"
    assert sign_in.mode(" OIDC ") == "oidc"
    assert sign_in.mode("Proxy") == "proxy"
    assert sign_in.mode("") == "local"


def test_a_wrong_mode_is_refused_naming_the_three():
    with pytest.raises(InputError) as refused:
        sign_in.mode("saml")
    message = str(refused.value)
    assert "SOP_SIGN_IN" in message and "'saml'" in message
    assert all(f"{name} (" in message for name in ("local", "oidc", "proxy"))


# ---- OpenID Connect's configuration -----------------------------------------------------------


def test_the_default_provider_and_a_named_one():
    assert sign_in.oidc_provider(AUTH) is None
    shared = {key: AUTH[key] for key in sign_in.OIDC_SHARED_KEYS}
    named = {**shared, "microsoft": {key: AUTH[key] for key in sign_in.OIDC_PROVIDER_KEYS}}
    assert sign_in.oidc_provider(named) == "microsoft"


@pytest.mark.parametrize(
    ("auth", "named"),
    [
        (None, "needs an [auth] section"),
        ({}, "needs an [auth] section"),
        ({k: v for k, v in AUTH.items() if k != "cookie_secret"}, "missing cookie_secret"),
        ({k: v for k, v in AUTH.items() if k != "client_id"}, "client_id"),
        (
            {"redirect_uri": "x", "cookie_secret": "y", "google": {"client_id": "z"}},
            "client_secret (in [auth.google]), server_metadata_url (in [auth.google])",
        ),
    ],
)
def test_an_incomplete_configuration_names_what_is_missing(auth, named):
    with pytest.raises(InputError) as refused:
        sign_in.oidc_provider(auth)
    assert named in str(refused.value)
    assert "docs/SECURITY.md" in str(refused.value)


# ---- the proxy header -------------------------------------------------------------------------


def test_the_header_is_ignored_unless_a_setting_names_it():
    headers = {HEADER: VIEWER}
    assert sign_in.from_proxy(headers, "10.0.0.5", "", "10.0.0.5") == sign_in.ProxySignIn()
    assert sign_in.from_proxy(headers, None, "  ", "127.0.0.1") == sign_in.ProxySignIn()


def test_the_header_from_the_proxys_address_names_the_person():
    answer = sign_in.from_proxy({HEADER: f" {VIEWER} "}, "10.0.0.5", HEADER, "10.0.0.5")
    assert answer == sign_in.ProxySignIn(email=VIEWER)


def test_the_header_from_another_address_is_refused():
    answer = sign_in.from_proxy({HEADER: ADMIN}, "192.168.1.23", HEADER, "10.0.0.5")
    assert answer.email is None
    assert "192.168.1.23" in answer.refusal and "not the sign-in proxy" in answer.refusal
    assert "not trusted" in answer.refusal
    # The address Streamlit hides for this machine (None) is not the proxy's either.
    refused = sign_in.from_proxy({HEADER: ADMIN}, None, HEADER, "10.0.0.5")
    assert refused.email is None and "this machine" in refused.refusal


def test_header_names_match_in_any_case():
    for sent, named in (("x-forwarded-email", HEADER), (HEADER, "X-FORWARDED-EMAIL")):
        answer = sign_in.from_proxy({sent: VIEWER}, "10.0.0.5", named, "10.0.0.5")
        assert answer.email == VIEWER


def test_a_request_without_the_header_signs_nobody_in_and_says_why():
    from_the_proxy = sign_in.from_proxy({"Host": "sop"}, "10.0.0.5", HEADER, "10.0.0.5")
    assert from_the_proxy.email is None and f"no {HEADER} header" in from_the_proxy.refusal
    direct = sign_in.from_proxy({}, "192.168.1.23", HEADER, "10.0.0.5")
    assert direct.email is None and "directly" in direct.refusal
    empty = sign_in.from_proxy({HEADER: "  "}, "10.0.0.5", HEADER, "10.0.0.5")
    assert empty.email is None


@pytest.mark.parametrize(
    ("remote", "proxy", "trusted"),
    [
        (None, "127.0.0.1", True),  # Streamlit hides loopback addresses: None is this machine
        (None, "::1", True),
        (None, "localhost", True),
        ("127.0.0.1", "localhost", True),
        ("::ffff:10.0.0.5", "10.0.0.5", True),
        ("10.0.0.77", "10.0.0.0/24, 172.16.0.9", True),
        ("172.16.0.9", "10.0.0.0/24, 172.16.0.9", True),
        ("10.0.1.77", "10.0.0.0/24, 172.16.0.9", False),
        ("fd00::5", "fd00::/64", True),
        ("not an address", "10.0.0.5", False),
        ("", "10.0.0.5", False),
    ],
)
def test_the_proxys_address_as_an_address_or_a_network(remote, proxy, trusted):
    answer = sign_in.from_proxy({HEADER: VIEWER}, remote, HEADER, proxy)
    assert (answer.email == VIEWER) is trusted
    assert (answer.refusal is None) is trusted


def test_a_wrong_or_missing_proxy_address_is_a_setting_error():
    with pytest.raises(InputError, match=r"SOP_PROXY_ADDRESS holds 'proxy\.internal'"):
        sign_in.from_proxy({HEADER: VIEWER}, "10.0.0.5", HEADER, "10.0.0.5, proxy.internal")
    with pytest.raises(InputError, match="SOP_PROXY_ADDRESS does not say"):
        sign_in.from_proxy({HEADER: VIEWER}, "10.0.0.5", HEADER, " , ")


# ---- the app in each mode, without a browser --------------------------------------------------


def _run(secrets: dict | None = None, user: dict | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    if secrets is not None:
        at.secrets["auth"] = secrets
    if user is not None:
        at.user = user
    return at.run()


def _text(elements) -> str:
    """The elements' text as a planner reads it (Markdown's escapes taken out)."""
    return " ".join(str(element.value) for element in elements).replace("\\", "")


@pytest.fixture()
def with_users(app_env: Path) -> Path:
    access.add_user(app_env, ADMIN, "admin", ADMIN, name="Ada Admin")
    access.add_user(app_env, VIEWER, "viewer", ADMIN, name="Vera Viewer")
    return app_env


def test_a_wrong_mode_is_a_message_not_a_traceback(app_env, monkeypatch):
    monkeypatch.setenv("SOP_SIGN_IN", "ldap")
    at = _run()
    assert not at.exception
    assert "SOP_SIGN_IN" in _text(at.error) and "oidc (" in _text(at.error)
    assert not at.sidebar.multiselect  # nothing of the database is shown


def test_oidc_without_a_person_shows_the_sign_in_screen_only(app_env, monkeypatch):
    monkeypatch.setenv("SOP_SIGN_IN", "oidc")
    at = _run(AUTH, {"is_logged_in": False})
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.sidebar.multiselect and not at.metric


def test_oidc_without_a_configuration_says_what_is_missing(app_env, monkeypatch):
    monkeypatch.setenv("SOP_SIGN_IN", "oidc")
    at = _run({"redirect_uri": "http://localhost:8501/oauth2callback"}, {"is_logged_in": False})
    assert not at.exception
    assert "missing cookie_secret" in _text(at.error)
    assert not at.button


def test_oidc_signed_in_the_sidebar_names_the_person_and_their_roles(with_users, monkeypatch):
    monkeypatch.setenv("SOP_SIGN_IN", "oidc")
    at = _run(AUTH, {"is_logged_in": True, "email": VIEWER, "name": "Vera V."})
    assert not at.exception
    assert "Signed in as **Vera Viewer**" in _text(at.sidebar.markdown)
    assert f"{VIEWER} · role: viewer" in _text(at.sidebar.caption)
    assert "Sign out" in [b.label for b in at.sidebar.button]
    assert not [t for t in at.sidebar.text_input if t.label == "Your name"]


def test_oidc_someone_who_is_not_a_user_may_read_but_not_change(with_users, monkeypatch):
    monkeypatch.setenv("SOP_SIGN_IN", "oidc")
    stranger = {"is_logged_in": True, "email": "sam@example.com", "name": "Sam Stranger"}
    at = _run(AUTH, stranger)
    assert not at.exception
    assert "Signed in as **Sam Stranger**" in _text(at.sidebar.markdown)
    assert "you may read everything but not change anything" in _text(at.sidebar.caption)


def test_oidc_in_single_team_mode_says_so(app_env, monkeypatch):
    monkeypatch.setenv("SOP_SIGN_IN", "oidc")
    at = _run(AUTH, {"is_logged_in": True, "email": VIEWER, "name": "Vera Viewer"})
    assert not at.exception
    assert "Single-team mode" in _text(at.sidebar.caption)


def test_proxy_without_the_header_setting_is_a_setting_error(app_env, monkeypatch):
    monkeypatch.setenv("SOP_SIGN_IN", "proxy")
    monkeypatch.delenv("SOP_PROXY_HEADER", raising=False)
    at = _run()
    assert not at.exception
    assert "SOP_PROXY_HEADER" in _text(at.error)
    assert not at.sidebar.multiselect


def test_local_mode_keeps_the_name_box(app_env, monkeypatch):
    monkeypatch.delenv("SOP_SIGN_IN", raising=False)
    at = _run()
    assert not at.exception
    assert [t.label for t in at.sidebar.text_input] == ["Your name"]
    assert "Single-team mode" in _text(at.sidebar.caption)


def _asks_identity():
    import streamlit as st

    from sop_ui import identity

    st.text(f"who={identity.who()}")
    st.text(f"scenario={identity.may('scenario')}")
    st.button("Approve", **identity.disabled("approve"))


def test_who_may_and_disabled_follow_the_signed_in_person(with_users, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SOP_SIGN_IN", "oidc")
    at = AppTest.from_function(_asks_identity, default_timeout=60)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": VIEWER.upper(), "name": "Vera"}
    at.run()
    assert not at.exception
    texts = [t.value for t in at.text]
    assert texts[0] == f"who={VIEWER}"  # the user's own email, whatever case the provider used
    assert "Vera Viewer (viewer) may not change scenarios" in texts[1]
    assert at.button[0].disabled and "may not change the plan of record" in at.button[0].help
    at.user = {"is_logged_in": True, "email": ADMIN, "name": "Ada"}
    at.run()
    assert at.text[0].value == f"who={ADMIN}"
    assert "Ada Admin (admin) may not change scenarios" in at.text[1].value
