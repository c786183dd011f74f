"""Signing in, for real (issue 22): the served app in headless Chromium.

- ``oidc``: a real OpenID Connect provider (tests/oidc_provider.py, Authlib) runs on
  127.0.0.1; the served app's ``.streamlit/secrets.toml`` lives in a temporary folder (named
  by ``STREAMLIT_SECRETS_FILES``, so nothing is written into the repository). Chromium signs
  in as the viewer through the provider, sees their name in the sidebar, cannot move a lever
  or approve, and signs out.
- ``proxy``: Chromium sends the proxy's header itself (Streamlit's websocket carries it into
  ``st.context.headers``): trusted when ``SOP_PROXY_ADDRESS`` is this machine's, refused when
  it names another address.

Needs Debian's Chromium (/usr/bin/chromium) and Playwright's Python package. Screenshots
(1366x768) go to tests/artifacts/.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import AS_OF
from tests.helpers import (
    BROWSER_ARGS,
    BROWSER_MARKS,
    CHROMIUM,
    IDLE,
    run_cli,
    serve_streamlit,
    stop,
    wait_for_page,
)
from tests.oidc_provider import Provider, ProviderUser, start_provider

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
VIEWPORT = {"width": 1366, "height": 768}
ADMIN, VIEWER = "admin@example.com", "viewer@example.com"
CLIENT_ID, CLIENT_SECRET = "sop-dashboard", secrets.token_urlsafe(24)
HEADER = "X-Forwarded-Email"
WAIT = 90_000  # milliseconds: generous, the machine may be loaded

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def users_db(forecast_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the sample with its forecast and two users, added with the CLI: an admin and
    the viewer Vera."""
    database = tmp_path_factory.mktemp("signin") / "sop.duckdb"
    shutil.copy(forecast_db, database)
    for email, role, name in ((ADMIN, "admin", "Ada Admin"), (VIEWER, "viewer", "Vera Viewer")):
        added = run_cli(
            "users", "add", "--db", str(database), "--email", email, "--role", role,
            "--name", name, "--as", ADMIN,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    return database


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    """The OpenID Connect provider, answering on 127.0.0.1."""
    started = start_provider(
        [ProviderUser("u-ada", ADMIN, "Ada Admin"), ProviderUser("u-vera", VIEWER, "Vera Viewer")],
        CLIENT_ID,
        CLIENT_SECRET,
    )
    yield started
    started.stop()


def _serve(folder: Path, env: dict[str, str]) -> Iterator[str]:
    """Serve the dashboard with ``env``, its log in ``folder``, until the module's end."""
    folder.mkdir(exist_ok=True)
    base = {"SOP_SAMPLE_AS_OF": AS_OF.isoformat()}
    try:
        process, url = serve_streamlit(ROOT / "app.py", {**base, **env}, folder / "streamlit.log")
    except RuntimeError as error:
        pytest.fail(str(error))
    try:
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def oidc_app(users_db: Path, provider: Provider) -> Iterator[str]:
    """The dashboard with ``SOP_SIGN_IN=oidc`` against the test provider; its secrets file in
    a temporary folder."""
    folder = users_db.parent
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        f'client_id = "{CLIENT_ID}"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "{provider.discovery_url}"\n'
    )
    env = {
        "SOP_DB": str(users_db),
        "SOP_SIGN_IN": "oidc",
        "STREAMLIT_SECRETS_FILES": str(secrets_file),
    }
    yield from _serve(folder, env)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield chromium
        chromium.close()


def _sidebar(page):
    return page.locator("[data-testid='stSidebar']")


def _shows_why(page, needle: str = "may not") -> bool:
    """Whether the page says why something is not allowed: in its text, or in the help of a
    control (a tooltip, shown on hover)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    main = page.locator("[data-testid='stMain']")
    if needle in main.inner_text():
        return True
    targets = main.locator("[data-testid='stTooltipHoverTarget']")
    tip = page.locator("[data-testid='stTooltipContent']")
    for index in range(targets.count()):
        target = targets.nth(index)
        if not target.is_visible():
            continue
        target.hover(force=True)
        try:
            tip.first.wait_for(timeout=10_000)
        except PlaywrightTimeout:
            continue
        if any(needle in text for text in tip.all_inner_texts()):
            return True
        page.mouse.move(0, 0)
    return False


def _wait_idle(page) -> None:
    page.wait_for_selector(IDLE, timeout=WAIT)


def _signed_in(browser, url: str, name: str):
    """A browser context signed in as the provider's user ``name``, and its page on the
    dashboard's Overview."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(url)
    page.get_by_role("button", name="Sign in").click(timeout=WAIT)
    page.get_by_role("button", name=f"Sign in as {name}").click(timeout=WAIT)
    expect(_sidebar(page)).to_contain_text(f"Signed in as {name}", timeout=WAIT)
    wait_for_page(page, "Overview", timeout_ms=WAIT)
    return context, page


def test_a_viewer_signs_in_through_the_provider_and_sees_their_name(oidc_app, provider, browser):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(oidc_app)
    sign_in = page.get_by_role("button", name="Sign in")
    expect(sign_in).to_be_visible(timeout=WAIT)
    _wait_idle(page)
    # Nothing of the database before signing in: no filters, no figures.
    assert _sidebar(page).locator("[data-testid='stMultiSelect']").count() == 0
    assert page.locator("[data-testid='stMetric']").count() == 0
    page.screenshot(path=ARTIFACTS / "signin-screen.png")

    sign_in.click()
    # The provider's own page, then back to the app with the ID token's claims in st.user.
    page.get_by_role("button", name="Sign in as Vera Viewer").click(timeout=WAIT)
    expect(_sidebar(page)).to_contain_text("Signed in as Vera Viewer", timeout=WAIT)
    expect(_sidebar(page)).to_contain_text(f"{VIEWER} · role: viewer")
    assert provider.signed_in[-1] == VIEWER
    assert page.url.startswith(oidc_app)
    wait_for_page(page, "Overview", timeout_ms=WAIT)
    assert _sidebar(page).get_by_label("Your name").count() == 0
    page.screenshot(path=ARTIFACTS / "signin-sidebar.png")
    # Another page, a new session: the identity cookie keeps her signed in.
    page.goto(f"{oidc_app}/demand")
    wait_for_page(page, "Demand review", timeout_ms=WAIT)
    expect(_sidebar(page)).to_contain_text("Signed in as Vera Viewer")
    context.close()


def test_a_viewer_cannot_move_a_lever(oidc_app, browser):
    """The levers on Promotions & pricing are disabled or absent, and the page says why."""
    context, page = _signed_in(browser, oidc_app, "Vera Viewer")
    page.goto(f"{oidc_app}/promotions")
    wait_for_page(page, "Promotions & pricing", timeout_ms=WAIT)
    sliders = page.locator("[data-testid='stMain'] [data-testid='stSlider']")
    movable = [
        sliders.nth(i).locator("label").first.inner_text()
        for i in range(sliders.count())
        if any(thumb.is_enabled() for thumb in sliders.nth(i).get_by_role("slider").all())
    ]
    assert not movable, f"a viewer can move the levers {movable}"
    assert _shows_why(page), "Promotions & pricing does not say why the levers are disabled"
    context.close()


def test_a_viewer_cannot_approve(oidc_app, browser):
    """The Approve button on Plan & decisions is disabled or absent, and the page says why."""
    from playwright.sync_api import expect

    context, page = _signed_in(browser, oidc_app, "Vera Viewer")
    page.goto(f"{oidc_app}/plan")
    wait_for_page(page, "Plan & decisions", timeout_ms=WAIT)
    approve = page.get_by_role("button", name="Approve", exact=True)
    for index in range(approve.count()):
        expect(approve.nth(index)).to_be_disabled()
    assert _shows_why(page), "Plan & decisions does not say why approving is disabled"
    context.close()


def test_signing_out_brings_back_the_sign_in_screen(oidc_app, browser):
    from playwright.sync_api import expect

    context, page = _signed_in(browser, oidc_app, "Ada Admin")
    expect(_sidebar(page)).to_contain_text(f"{ADMIN} · role: admin")
    _sidebar(page).get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT)
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    page.goto(oidc_app)  # a new session: the cookie is gone too
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT)
    context.close()


# ---- a trusted header from an authenticating reverse proxy ------------------------------------


def _proxy(users_db: Path, name: str, address: str) -> Iterator[str]:
    env = {
        "SOP_DB": str(users_db),
        "SOP_SIGN_IN": "proxy",
        "SOP_PROXY_HEADER": HEADER,
        "SOP_PROXY_ADDRESS": address,
    }
    yield from _serve(users_db.parent / name, env)


@pytest.fixture(scope="module")
def proxy_here(users_db: Path) -> Iterator[str]:
    """The dashboard trusting the header from this machine (a proxy on 127.0.0.1)."""
    yield from _proxy(users_db, "here", "127.0.0.1")


@pytest.fixture(scope="module")
def proxy_elsewhere(users_db: Path) -> Iterator[str]:
    """The dashboard trusting the header only from another machine (10.0.0.5)."""
    yield from _proxy(users_db, "elsewhere", "10.0.0.5")


def test_the_proxys_header_names_who_is_at_the_screen(proxy_here, browser):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORT, extra_http_headers={HEADER: VIEWER})
    page = context.new_page()
    page.goto(proxy_here)
    expect(_sidebar(page)).to_contain_text("Signed in as Vera Viewer", timeout=WAIT)
    expect(_sidebar(page)).to_contain_text(f"{VIEWER} · role: viewer")
    assert _sidebar(page).get_by_role("button", name="Sign out").count() == 0
    context.close()

    # Without the header nobody is signed in, and the page says so.
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(proxy_here)
    expect(page.locator("[data-testid='stAlertContentError']")).to_contain_text(
        "nobody is signed in", timeout=WAIT
    )
    assert page.locator("[data-testid='stMetric']").count() == 0
    context.close()

    # Streamlit's server (uvicorn) takes X-Forwarded-For from a peer on this machine for the
    # remote address: the request then comes from that address, not the proxy's, and is
    # refused (docs/SECURITY.md: FORWARDED_ALLOW_IPS).
    forwarded = {HEADER: VIEWER, "X-Forwarded-For": "203.0.113.9"}
    context = browser.new_context(viewport=VIEWPORT, extra_http_headers=forwarded)
    page = context.new_page()
    page.goto(proxy_here)
    expect(page.locator("[data-testid='stAlertContentError']")).to_contain_text(
        "came from 203.0.113.9", timeout=WAIT
    )
    context.close()


def test_the_header_from_another_address_is_refused(proxy_elsewhere, browser):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORT, extra_http_headers={HEADER: ADMIN})
    page = context.new_page()
    page.goto(proxy_elsewhere)
    refusal = page.locator("[data-testid='stAlertContentError']")
    expect(refusal).to_contain_text("not the sign-in proxy", timeout=WAIT)
    expect(refusal).to_contain_text("not trusted")
    _wait_idle(page)
    assert page.get_by_text("Signed in as").count() == 0
    assert page.locator("[data-testid='stMetric']").count() == 0
    context.close()
