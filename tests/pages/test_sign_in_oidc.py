"""Single sign-on by OpenID Connect: the Procfile's gunicorn with CARTSCOPE_OIDC_* pointing at a small but real
OpenID provider of the test's own (a Flask app on a free loopback port: discovery, an authorization endpoint that
sends the browser straight back with a code for the test's person, a token endpoint that checks the client secret,
the redirect URI and the PKCE verifier and answers an RS256-signed ID token, the keys). A `requests` session plays
the browser and follows every redirect, as a browser does."""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from flask import Flask, abort, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

from data_access import accounts, store
from tests.servers import Client, add_users, free_port, procfile_server

CLIENT_ID = "cartscope-test"
CLIENT_SECRET = "client-secret-of-the-test"
PROVIDER_NAME = "Test IdP"
KEY_ID = "test-key-1"
PEOPLE = {  # name: (role, e-mail)
    "olga": ("analyst", "olga@hospital.example"),
    "ivan": ("viewer", "ivan@hospital.example"),
}


class Provider:
    """A minimal OpenID provider. `person` says who signs in at /authorize; `behaviour` bends one thing of its
    answers (the tests' faults); `requests` records what the app sent it."""

    def __init__(self):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID, "use": "sig", "alg": "RS256"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID, "use": "sig", "alg": "RS256"})
        self.codes: dict[str, dict] = {}
        self.reset()
        self.app = self._app()

    def reset(self) -> None:
        self.person = {"sub": "olga-1", "email": PEOPLE["olga"][1], "email_verified": True, "name": "Olga"}
        self.behaviour: dict = {}
        self.requests: list[dict] = []

    def id_token(self, nonce: str | None) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": self.person["sub"], "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                  **({"nonce": nonce} if nonce else {}),
                  **{k: v for k, v in self.person.items() if k != "sub"}}
        claims.update(self.behaviour.get("claims", {}))
        key = self.other_key if self.behaviour.get("sign_with_other_key") else self.key
        return jwt.encode({"alg": "RS256", "kid": KEY_ID}, claims, key)

    def _app(self) -> Flask:
        app = Flask("test_provider")

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify(issuer=self.issuer, authorization_endpoint=f"{self.issuer}/authorize",
                           token_endpoint=f"{self.issuer}/token", jwks_uri=f"{self.issuer}/jwks",
                           response_types_supported=["code"], subject_types_supported=["public"],
                           id_token_signing_alg_values_supported=["RS256"], code_challenge_methods_supported=["S256"],
                           token_endpoint_auth_methods_supported=["client_secret_basic"],
                           scopes_supported=["openid", "email", "profile"])

        @app.get("/jwks")
        def jwks():
            return jsonify(KeySet([self.key]).as_dict(private=False))

        @app.get("/authorize")
        def authorize():
            asked = request.args.to_dict()
            self.requests.append({"endpoint": "authorize", **asked})
            if asked.get("client_id") != CLIENT_ID or asked.get("response_type") != "code" or not asked.get(
                    "redirect_uri", "").endswith("/login/sso/callback"):
                abort(400)
            back = asked["redirect_uri"]
            if error := self.behaviour.get("error"):
                return redirect(f"{back}?{urlencode({'error': error, 'state': asked.get('state', '')})}")
            code = secrets.token_urlsafe(16)
            self.codes[code] = asked
            return redirect(f"{back}?{urlencode({'code': code, 'state': asked.get('state', '')})}")

        @app.post("/token")
        def token():
            form = request.form.to_dict()
            self.requests.append({"endpoint": "token", **form, "authorization": request.headers.get("Authorization")})
            if self.behaviour.get("token_endpoint_down"):
                return "upstream trouble", 500
            basic = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            asked = self.codes.pop(form.get("code", ""), None)
            if request.headers.get("Authorization") != basic:
                return jsonify(error="invalid_client"), 401
            if asked is None or form.get("grant_type") != "authorization_code" or \
                    form.get("redirect_uri") != asked["redirect_uri"]:
                return jsonify(error="invalid_grant"), 400
            challenge = base64.urlsafe_b64encode(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
            if asked.get("code_challenge_method") != "S256" or challenge.rstrip(b"=").decode() != asked.get(
                    "code_challenge"):
                return jsonify(error="invalid_grant", error_description="PKCE verification failed"), 400
            return jsonify(access_token=secrets.token_urlsafe(16), token_type="Bearer", expires_in=300,
                           id_token=self.id_token(asked.get("nonce")))

        return app

    def authorize_requests(self) -> list[dict]:
        return [r for r in self.requests if r["endpoint"] == "authorize"]


@pytest.fixture(scope="module")
def provider():
    idp = Provider()
    server = make_server("127.0.0.1", idp.port, idp.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield idp
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def site(tmp_path_factory, provider):
    """The app with sign-in and single sign-on through `provider`; olga and ivan have accounts (no password)."""
    tmp = tmp_path_factory.mktemp("sso")
    url = f"sqlite:///{tmp / 'sso.db'}"
    engine = store.get_engine(url)
    for name, (role, email) in PEOPLE.items():
        accounts.add_user(name, role, email=email, by="test", engine=engine)
    accounts.grant("olga", "demo", by="test", engine=engine)
    env = {"CARTSCOPE_OIDC_ISSUER": provider.issuer, "CARTSCOPE_OIDC_CLIENT_ID": CLIENT_ID,
           "CARTSCOPE_OIDC_CLIENT_SECRET": CLIENT_SECRET, "CARTSCOPE_OIDC_NAME": PROVIDER_NAME}
    with procfile_server(url, tmp, env=env) as base:
        yield base, engine


@pytest.fixture(autouse=True)
def fresh_provider(provider):
    provider.reset()


def sign_in_by_sso(base: str, next_path: str = "/") -> tuple[requests.Session, requests.Response]:
    """A new browser that clicks "Sign in with ..." and follows every redirect; its session and the last answer."""
    browser = requests.Session()
    answer = browser.get(f"{base}/login/sso?{urlencode({'next': next_path})}", timeout=60)
    return browser, answer


def signed_in(base: str, browser: requests.Session) -> bool:
    return browser.get(f"{base}/_dash-layout", timeout=30).status_code == 200


def events(site, action: str, user: str | None = None):
    found = accounts.audit_events(action=action, user_name=user, engine=site[1])
    return found, [json.loads(d) if d else {} for d in found["detail"]]


# ---- the sign-in page ------------------------------------------------------------------------------------------------

def test_the_sign_in_page_offers_single_sign_on_when_configured(site):
    page = requests.get(f"{site[0]}/login?next=/kinetics", timeout=30)
    assert page.status_code == 200
    assert f"Sign in with {PROVIDER_NAME}" in page.text and 'href="/login/sso?next=%2Fkinetics"' in page.text


def test_without_oidc_settings_there_is_no_single_sign_on(tmp_path):
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    add_users(url, {"root": ("admin", [])})  # without single sign-on, sign-in starts only with an admin
    env = {"CARTSCOPE_OIDC_ISSUER": "", "CARTSCOPE_OIDC_NAME": PROVIDER_NAME}
    with procfile_server(url, tmp_path, env=env) as base:
        page = requests.get(f"{base}/login?next=/kinetics", timeout=30)
        assert page.status_code == 200 and 'name="password"' in page.text
        assert "/login/sso" not in page.text and "Sign in with" not in page.text
        # no flow to start: not an open route, so it sends the visitor to the sign-in page, not to a provider
        answer = requests.get(f"{base}/login/sso", allow_redirects=False, timeout=30)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?next=")


# ---- signing in ------------------------------------------------------------------------------------------------------

def test_single_sign_on_signs_the_person_in_and_goes_where_they_were_going(site, provider):
    browser, answer = sign_in_by_sso(site[0], "/kinetics?study=demo")
    assert answer.status_code == 200, answer.text[:500]
    assert answer.url == f"{site[0]}/kinetics?study=demo"
    assert [urlsplit(r.url).path for r in answer.history] == ["/login/sso", "/authorize", "/login/sso/callback"]
    assert signed_in(site[0], browser)
    dash = Client(site[0])
    dash.http = browser
    assert "olga" in dash.callback("cs-user.children", {"url.pathname": "/"}).text
    found, details = events(site, "sign-in", "olga")
    assert len(found) == 1 and details[0] == {"by": "single sign-on"} and found["client"].iloc[0] == "127.0.0.1"
    # the code flow with PKCE, state and nonce, and the client secret (the provider refuses the code otherwise)
    authorize = provider.authorize_requests()[-1]
    assert authorize["code_challenge_method"] == "S256" and authorize["scope"] == "openid email profile"
    assert authorize["state"] and authorize["nonce"] and authorize["code_challenge"]
    assert authorize["redirect_uri"] == f"{site[0]}/login/sso/callback"


def test_the_target_after_single_sign_on_never_leaves_the_app(site):
    for target in ("https://evil.example/", "//evil.example/x"):
        browser, answer = sign_in_by_sso(site[0], target)
        assert answer.status_code == 200 and answer.url == f"{site[0]}/", target


def test_an_email_without_an_account_is_refused_and_recorded(site, provider):
    provider.person = {"sub": "eve-9", "email": "eve@elsewhere.example", "email_verified": True}
    browser, answer = sign_in_by_sso(site[0])
    assert answer.status_code == 403
    assert "There is no CARTscope account for eve@elsewhere.example" in answer.text
    assert "Ask an administrator" in answer.text
    assert not signed_in(site[0], browser)
    found, details = events(site, "sign-in failed", "eve@elsewhere.example")
    assert len(found) == 1 and details[0]["reason"] == "no account with the e-mail"
    assert details[0]["by"] == "single sign-on"


def test_an_inactive_account_is_refused_and_recorded(site, provider):
    accounts.change_user("ivan", active=False, by="test", engine=site[1])
    try:
        provider.person = {"sub": "ivan-2", "email": "IVAN@hospital.example", "email_verified": True}
        browser, answer = sign_in_by_sso(site[0])
    finally:
        accounts.change_user("ivan", active=True, by="test", engine=site[1])
    assert answer.status_code == 403 and "is not active" in answer.text and "Ask an administrator" in answer.text
    assert not signed_in(site[0], browser)
    found, details = events(site, "sign-in failed", "ivan")
    assert details[0]["reason"] == "inactive account"
    assert events(site, "sign-in", "ivan")[0].empty


def test_an_email_the_provider_has_not_verified_is_refused(site, provider):
    provider.person = {"sub": "ivan-2", "email": PEOPLE["ivan"][1], "email_verified": False}
    browser, answer = sign_in_by_sso(site[0])
    assert answer.status_code == 403 and "has not verified your e-mail address" in answer.text
    assert not signed_in(site[0], browser)
    assert events(site, "sign-in failed", PEOPLE["ivan"][1])[1][0]["reason"] == "e-mail not verified"


def test_an_id_token_without_an_email_is_refused(site, provider):
    provider.person = {"sub": "olga-1", "name": "Olga"}
    browser, answer = sign_in_by_sso(site[0])
    assert answer.status_code == 403 and "did not give CARTscope your e-mail address" in answer.text
    assert not signed_in(site[0], browser)


def test_an_email_two_accounts_share_signs_neither_in(site, provider):
    for name in ("twin-a", "twin-b"):
        accounts.add_user(name, "viewer", email="twins@hospital.example", by="test", engine=site[1])
    provider.person = {"sub": "twin", "email": "twins@hospital.example", "email_verified": True}
    browser, answer = sign_in_by_sso(site[0])
    assert answer.status_code == 403 and "More than one CARTscope account has the e-mail address" in answer.text
    assert not signed_in(site[0], browser)
    assert events(site, "sign-in failed", "twins@hospital.example")[1][0]["reason"] == (
        "more than one account has the e-mail")


@pytest.mark.parametrize("fault", [
    {"claims": {"aud": "another-client"}},
    {"claims": {"aud": ["another-client", "a-third"], "azp": "another-client"}},
    {"claims": {"aud": "another-client", "azp": CLIENT_ID}},
    {"sign_with_other_key": True},
    {"claims": {"iss": "http://127.0.0.1:1/another-issuer"}},
    {"claims": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}},
    {"claims": {"nonce": "not-the-nonce-sent"}},
], ids=["audience", "audience-list", "audience-not-us-but-azp-us", "other-key", "issuer", "expired", "nonce"])
def test_an_id_token_that_fails_validation_is_refused(site, provider, fault):
    provider.behaviour = fault
    failures_before, sign_ins_before = len(events(site, "sign-in failed", "?")[0]), len(events(site, "sign-in")[0])
    browser, answer = sign_in_by_sso(site[0])
    assert answer.status_code == 401, answer.text[:300]
    assert "could not be verified" in answer.text and "Traceback" not in answer.text
    assert not signed_in(site[0], browser)
    assert len(events(site, "sign-in")[0]) == sign_ins_before
    found, details = events(site, "sign-in failed", "?")
    assert len(found) == failures_before + 1 and details[0]["reason"].startswith("ID token invalid")


def test_a_tampered_or_unknown_state_is_refused(site, provider):
    sign_ins_before = len(events(site, "sign-in")[0])
    browser = requests.Session()
    to_provider = browser.get(f"{site[0]}/login/sso", allow_redirects=False, timeout=30)
    assert to_provider.status_code == 302
    back = browser.get(to_provider.headers["Location"], allow_redirects=False, timeout=30).headers["Location"]
    query = parse_qs(urlsplit(back).query)
    for state in (query["state"][0][:-1] + ("A" if query["state"][0][-1] != "A" else "B"), ""):
        answer = browser.get(f"{site[0]}/login/sso/callback?{urlencode({'code': query['code'][0], 'state': state})}",
                             timeout=30)
        assert answer.status_code == 400 and "not started in this browser" in answer.text
        assert not signed_in(site[0], browser)
    # a callback answered to another browser (one that did not start this sign-in) is refused too
    stranger = requests.Session()
    answer = stranger.get(back, timeout=30)
    assert answer.status_code == 400 and not signed_in(site[0], stranger)
    assert len(events(site, "sign-in")[0]) == sign_ins_before


def test_the_provider_refusing_gives_a_clear_page(site, provider):
    provider.behaviour = {"error": "access_denied"}
    browser, answer = sign_in_by_sso(site[0])
    assert answer.status_code == 401
    assert f"{PROVIDER_NAME} says the sign-in was refused or cancelled there" in answer.text
    assert f"Sign in with {PROVIDER_NAME}" in answer.text  # the way to try again
    assert not signed_in(site[0], browser)


def test_a_provider_that_cannot_be_reached_gives_a_clear_page(tmp_path):
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {"CARTSCOPE_OIDC_ISSUER": nobody, "CARTSCOPE_OIDC_CLIENT_ID": CLIENT_ID,
           "CARTSCOPE_OIDC_CLIENT_SECRET": CLIENT_SECRET, "CARTSCOPE_OIDC_NAME": PROVIDER_NAME}
    with procfile_server(f"sqlite:///{tmp_path / 'down.db'}", tmp_path, env=env) as base:
        browser, answer = sign_in_by_sso(base, "/kinetics")
        assert answer.status_code == 502 and f"{PROVIDER_NAME} cannot be reached at the moment" in answer.text
        assert 'href="/login/sso?next=%2Fkinetics"' in answer.text and "Traceback" not in answer.text
        assert not signed_in(base, browser)


def test_abandoned_sign_ins_do_not_pile_up_in_the_session_cookie(site, provider):
    provider.behaviour = {"error": "access_denied"}
    browser = requests.Session()
    sizes = []
    for _ in range(6):
        assert browser.get(f"{site[0]}/login/sso", timeout=30).status_code == 401
        sizes.append(len(browser.cookies.get("cartscope_session", "")))
    assert max(sizes) - min(sizes) < 40, sizes  # a pending sign-in's state is some 500 bytes
    provider.behaviour = {}
    answer = browser.get(f"{site[0]}/login/sso", timeout=30)
    assert answer.status_code == 200 and signed_in(site[0], browser)


def test_the_redirect_uri_is_https_behind_the_tls_proxy(monkeypatch):
    from pages import _oidc

    monkeypatch.setenv("CARTSCOPE_OIDC_ISSUER", "https://idp.example")
    monkeypatch.setenv("CARTSCOPE_OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("CARTSCOPE_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.delenv("CARTSCOPE_SECURE_COOKIES", raising=False)
    server = Flask("behind_a_proxy")
    _oidc.register(server)
    with server.test_request_context("/login/sso", base_url="http://cartscope.hospital.example"):
        assert _oidc.redirect_uri() == "https://cartscope.hospital.example/login/sso/callback"


def test_the_provider_failing_gives_a_clear_page(site, provider):
    provider.behaviour = {"token_endpoint_down": True}
    browser, answer = sign_in_by_sso(site[0])
    assert answer.status_code == 502 and "cannot be reached at the moment" in answer.text
    assert "Traceback" not in answer.text and not signed_in(site[0], browser)
