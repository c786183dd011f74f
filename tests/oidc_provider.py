"""A real OpenID Connect provider for tests, built with Authlib's authorization server on Flask.

It serves what Streamlit's ``st.login`` needs from any provider (Microsoft Entra, Google,
Keycloak...): the discovery document, the JWKS of an RSA key generated at start, an
authorization endpoint (a small page where the test user is picked with a button: no
password, since what is tested is the app's side), a token endpoint (the client's secret by
HTTP Basic or in the form, PKCE when the client sends a challenge) returning an RS256 ID token
signed with that key and carrying the nonce the client sent, and a userinfo endpoint.

``start_provider(users, client_id, client_secret)`` serves it on 127.0.0.1 on a free port in
a thread and returns once its discovery document answers; ``provider.stop()`` ends it.
"""

from __future__ import annotations

import html
import secrets
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from authlib.oidc.core import grants as oidc_grants
from authlib.oidc.core.models import AuthorizationCodeMixin
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

SCOPES = "openid email profile"


@dataclass
class ProviderUser:
    """Someone the provider signs in: ``sub`` is their stable id at the provider."""

    sub: str
    email: str
    name: str


@dataclass
class Client(ClientMixin):
    """The one registered client: the app, with its id, secret and redirect URIs (any URI
    on the loopback interface, as the app's port is only known when it starts)."""

    client_id: str
    client_secret: str
    client_metadata: dict = field(default_factory=dict)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES.split())

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri.startswith(("http://localhost:", "http://127.0.0.1:"))

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    """A code handed to the client's redirect URI, good once for a token."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: ProviderUser
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


@dataclass
class Token(TokenMixin):
    """An access token, for the userinfo endpoint."""

    client: Client
    user: ProviderUser
    scope: str
    expires_at: float

    def check_client(self, client) -> bool:
        return client.get_client_id() == self.client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int(self.expires_at - time.time())

    def is_expired(self) -> bool:
        return time.time() > self.expires_at

    def is_revoked(self) -> bool:
        return False

    def get_user(self) -> ProviderUser:
        return self.user

    def get_client(self) -> Client:
        return self.client


def _user_info(user: ProviderUser, scope: str) -> UserInfo:
    return UserInfo(sub=user.sub, email=user.email, email_verified=True, name=user.name).filter(
        scope
    )


class Provider:
    """The provider's state (its key, client, users, codes and tokens) and its Flask app."""

    def __init__(self, users: list[ProviderUser], client_id: str, client_secret: str) -> None:
        self.users = {user.email: user for user in users}
        self.client = Client(client_id, client_secret)
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig"})
        self.codes: dict[str, AuthorizationCode] = {}
        self.tokens: dict[str, Token] = {}
        self.signed_in: list[str] = []  # the emails signed in, in order (for tests to check)
        self.issuer = ""  # set once the port is known
        self.app = self._build_app()
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    # ---- the Flask app ------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask(__name__)
        provider = self
        server = AuthorizationServer(
            app,
            query_client=lambda cid: self.client if cid == self.client.client_id else None,
            save_token=self._save_token,
        )

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

            def save_authorization_code(self, code, req):
                payload = req.payload
                provider.codes[code] = AuthorizationCode(
                    code=code,
                    client_id=req.client.client_id,
                    redirect_uri=payload.redirect_uri,
                    scope=req.scope,
                    user=req.user,
                    nonce=payload.data.get("nonce"),
                    code_challenge=payload.data.get("code_challenge"),
                    code_challenge_method=payload.data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code, client):
                found = provider.codes.get(code)
                return found if found and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code):
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code):
                return authorization_code.user

        class OpenIDCode(oidc_grants.OpenIDCode):
            def exists_nonce(self, nonce, req):
                return any(code.nonce == nonce for code in provider.codes.values())

            def resolve_client_private_key(self, client):
                return provider.key

            def get_client_algorithm(self, client):
                return "RS256"

            def get_client_claims(self, client):
                now = int(time.time())
                return {"iss": provider.issuer, "aud": [client.client_id], "exp": now + 3600}

            def get_encode_header(self, client):
                return {"alg": "RS256", "kid": provider.key.kid}

            def generate_user_info(self, user, scope):
                return _user_info(user, scope)

        class UserInfoAnswer(UserInfoEndpoint):
            def get_issuer(self):
                return provider.issuer

            def generate_user_info(self, user, scope):
                return _user_info(user, scope)

        class Bearer(BearerTokenValidator):
            def authenticate_token(self, token_string):
                return provider.tokens.get(token_string)

        protector = ResourceProtector()
        protector.register_token_validator(Bearer())
        server.register_grant(CodeGrant, [OpenIDCode(require_nonce=True), CodeChallenge()])
        server.register_endpoint(UserInfoAnswer(resource_protector=protector))

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify(
                issuer=provider.issuer,
                authorization_endpoint=f"{provider.issuer}/authorize",
                token_endpoint=f"{provider.issuer}/token",
                userinfo_endpoint=f"{provider.issuer}/userinfo",
                jwks_uri=f"{provider.issuer}/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                scopes_supported=SCOPES.split(),
                token_endpoint_auth_methods_supported=[
                    "client_secret_basic",
                    "client_secret_post",
                ],
                code_challenge_methods_supported=["S256"],
                claims_supported=["sub", "email", "email_verified", "name"],
            )

        @app.get("/jwks")
        def jwks():
            return jsonify(keys=[provider.key.as_dict(private=False)])

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize():
            if request.method == "GET":
                try:
                    server.get_consent_grant(end_user=None)
                except Exception as error:  # a bad request: say why, as a provider would
                    return f"Bad sign-in request: {html.escape(str(error))}", 400
                return _picker(provider.users.values())
            user = provider.users.get(request.form.get("email", ""))
            if user is None:
                return "Unknown test user", 400
            grant = server.get_consent_grant(end_user=user)
            provider.signed_in.append(user.email)
            return server.create_authorization_response(grant=grant, grant_user=user)

        @app.post("/token")
        def token():
            return server.create_token_response()

        @app.route("/userinfo", methods=["GET", "POST"])
        def userinfo():
            return server.create_endpoint_response("userinfo")

        return app

    def _save_token(self, token: Mapping, req) -> None:
        self.tokens[token["access_token"]] = Token(
            req.client, req.user, token.get("scope", ""), time.time() + token["expires_in"]
        )

    # ---- serving ------------------------------------------------------------------------

    def start(self, timeout: float = 30) -> None:
        """Serve on 127.0.0.1 on a free port in a thread; return once the discovery document
        answers (raises when it does not within ``timeout`` seconds)."""
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.discovery_url, timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError as error:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the test OIDC provider did not answer: {error}") from None
            time.sleep(0.05)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def _picker(users) -> str:
    """The sign-in page: one button per test user (the form posts back to this URL, with the
    request's query string, so the grant is checked again)."""
    buttons = "".join(
        f'<button name="email" value="{html.escape(user.email)}">'
        f"Sign in as {html.escape(user.name)}</button><br>"
        for user in users
    )
    return (
        "<!doctype html><title>Test sign-in</title><h1>Test sign-in</h1>"
        f'<form method="post">{buttons}</form>'
    )


def start_provider(users: list[ProviderUser], client_id: str, client_secret: str) -> Provider:
    """A provider serving ``users`` to the client ``client_id``, started and answering."""
    provider = Provider(users, client_id, client_secret)
    provider.start()
    return provider
