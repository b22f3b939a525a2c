"""Single sign-on by OpenID Connect, through Authlib's Flask client (docs/sso.md).

`register(server)` (called by `_auth.configure_sign_in` when CARTSCOPE_OIDC_ISSUER is set) adds two routes:
- /login/sso?next=PATH sends the browser to the provider's authorization endpoint (read from the issuer's
  /.well-known/openid-configuration): the authorization code flow with PKCE (S256), scope "openid email profile",
  and a state and a nonce kept, as Authlib keeps them, in the (signed) session cookie, with the safe `next`.
- /login/sso/callback takes the code back, checks the state, fetches the tokens (client secret by HTTP Basic,
  the PKCE verifier) and validates the ID token: signed by a key of the provider's JWKS, issued by the issuer,
  for this client (audience), not expired, the nonce of this sign-in. The person is the one active CARTscope account
  whose e-mail is the token's `email` claim (refused when the provider says `email_verified: false`).

Whatever goes wrong, the sign-in page answers with what happened (never a 500 or a traceback; the detail goes to the
log): the provider's refusal, a state that is not this browser's, a token that fails validation, a provider that
cannot be reached, an e-mail without an account. Sign-ins and refused accounts go to the audit trail.
"""
from __future__ import annotations

from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, redirect, request, session, url_for
from joserfc.errors import JoseError
from sqlalchemy import func, select

import settings
from data_access import accounts, store
from pages._auth import client_address, render, safe_next, start_session

SCOPE = "openid email profile"
#: Seconds a request to the provider (discovery, token, keys) may take.
PROVIDER_TIMEOUT = 10
#: Where the path to go to after signing in waits in the session while the browser is at the provider.
NEXT_KEY = "cartscope_sso_next"
#: What the provider's error codes mean to the person signing in (others: a generic message; the code is logged).
PROVIDER_ERRORS = {
    "access_denied": "the sign-in was refused or cancelled there",
    "login_required": "you are not signed in there",
    "consent_required": "CARTscope was not allowed to see your e-mail address",
    "interaction_required": "it needs you to do something there first",
    "temporarily_unavailable": "it is unavailable at the moment",
}


class ProviderProblem(Exception):
    """The provider's configuration or answer cannot be used."""


def register(server: Flask) -> None:
    """Add /login/sso and /login/sso/callback for the provider of settings.oidc()."""
    config = settings.oidc()
    oauth = OAuth(server)
    client = oauth.register(
        "cartscope_sso", client_id=config["client_id"], client_secret=config["client_secret"],
        server_metadata_url=f"{config['issuer']}/.well-known/openid-configuration",
        client_kwargs={"scope": SCOPE, "code_challenge_method": "S256", "default_timeout": PROVIDER_TIMEOUT})

    def sso_start():
        return start(client, config)

    def sso_callback():
        return finish(client, config)

    server.add_url_rule("/login/sso", "login_sso", sso_start)
    server.add_url_rule("/login/sso/callback", "login_sso_callback", sso_callback)


def forget_pending(client) -> None:
    """Drop the state of sign-ins started and not finished (one pending sign-in at a time: each abandoned one would
    otherwise stay in the session cookie for an hour, until it outgrows what a browser keeps)."""
    for key in [k for k in session if k.startswith(f"_state_{client.name}_")]:
        session.pop(key)


def redirect_uri() -> str:
    """https://HOST/login/sso/callback (http:// only where cookies go over plain HTTP: CARTSCOPE_SECURE_COOKIES=0,
    a test on a loopback address). HOST is the request's Host, which the TLS proxy must pass on."""
    scheme = "https" if settings.secure_cookies() else request.scheme
    return url_for("login_sso_callback", _external=True, _scheme=scheme)


def provider_metadata(client) -> dict:
    """The provider's discovery document (Authlib reads it once per process), checked: it must name the configured
    issuer, and the ID token may not be unsigned."""
    issuer = settings.oidc()["issuer"]
    metadata = client.load_server_metadata()
    if not isinstance(metadata.get("issuer"), str) or metadata["issuer"].rstrip("/") != issuer:
        raise ProviderProblem(f"the discovery document names the issuer {metadata.get('issuer')!r}, not {issuer!r}")
    algorithms = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    metadata["id_token_signing_alg_values_supported"] = [a for a in algorithms if isinstance(a, str) and a != "none"]
    return metadata


def start(client, config: dict):
    """/login/sso: off to the provider, remembering where to come back to."""
    target = safe_next(request.args.get("next"))
    forget_pending(client)
    try:
        provider_metadata(client)
        answer = client.authorize_redirect(redirect_uri())
    except Exception:  # noqa: BLE001 - the provider down or misconfigured: a page saying so, the detail to the log
        current_app.logger.warning("Single sign-on: the provider %s cannot be used", config["issuer"], exc_info=True)
        return refused(target, 502, unreachable(config["name"]))
    session[NEXT_KEY] = target
    return answer


def finish(client, config: dict):
    """/login/sso/callback: the provider's answer; the person signed in, or a page saying why not."""
    target = safe_next(session.pop(NEXT_KEY, None))
    name = config["name"]
    if error := request.args.get("error"):
        current_app.logger.info("Single sign-on: the provider answered %r (%r)", error[:100],
                                request.args.get("error_description", "")[:300])
        forget_pending(client)
        why = PROVIDER_ERRORS.get(error, "it answered with an error")
        return refused(target, 401, f"You were not signed in: {name} says {why}.")
    try:
        metadata = provider_metadata(client)
        token = client.authorize_access_token(claims_options={
            "iss": {"essential": True, "value": metadata["issuer"]},
            "aud": {"essential": True, "value": config["client_id"]},
            "exp": {"essential": True}})
    except MismatchingStateError:
        return refused(target, 400, "This sign-in was not started in this browser, or it took too long. "
                                    "Please sign in again.")
    except JoseError as error:
        current_app.logger.warning("Single sign-on: the ID token failed validation: %s", error)
        accounts.record("sign-in failed", "?", client_address(),
                        detail={"by": "single sign-on", "reason": f"ID token invalid: {error}"[:300]})
        return refused(target, 401, f"The answer from {name} could not be verified, so you were not signed "
                                    "in. Please try again; if it happens again, tell an administrator.")
    except OAuthError as error:
        current_app.logger.warning("Single sign-on: the token request was refused: %s", error)
        return refused(target, 401, f"{name} did not confirm the sign-in. Please sign in again.")
    except Exception:  # noqa: BLE001 - the provider down or answering nonsense: a page saying so, the detail to the log
        current_app.logger.warning("Single sign-on: no usable answer from %s", config["issuer"], exc_info=True)
        return refused(target, 502, unreachable(name))
    claims = token.get("userinfo")
    if not claims:
        current_app.logger.warning("Single sign-on: the token answer had no ID token")
        return refused(target, 502, f"{name} did not say who you are (no ID token), so you were not "
                                    "signed in. Tell an administrator.")
    return sign_in(config, target, claims)


def sign_in(config: dict, target: str, claims: dict):
    """The account whose e-mail is the ID token's (verified) e-mail, signed in; or a 403 page saying why not."""
    email = claims.get("email")
    if not isinstance(email, str) or not email.strip():
        return account_refused(target, "?", "no e-mail in the ID token",
                               f"{config['name']} did not give CARTscope your e-mail address, which is how it finds "
                               "your account. Ask an administrator.")
    email = email.strip()[:200]
    if claims.get("email_verified") is False or str(claims.get("email_verified")).lower() == "false":
        return account_refused(target, email, "e-mail not verified",
                               f"{config['name']} has not verified your e-mail address {email}. Ask an "
                               "administrator.")
    if accounts_with_email(email) > 1:
        return account_refused(target, email, "more than one account has the e-mail",
                               f"More than one CARTscope account has the e-mail address {email}. Ask an "
                               "administrator to give it to one only.")
    account = accounts.user_by_email(email)
    if account is None:
        return account_refused(target, email, "no account with the e-mail",
                               f"There is no CARTscope account for {email}. Ask an administrator to add you.")
    if not account.active:
        return account_refused(target, account.name, "inactive account",
                               f"Your CARTscope account ({account.name}) is not active. Ask an administrator.")
    start_session(account)
    accounts.record("sign-in", account.name, client_address(), detail={"by": "single sign-on"})
    return redirect(target)


def accounts_with_email(email: str) -> int:
    """How many accounts have this e-mail (ignoring case): a person must be one account, never a pick of two."""
    with store.get_engine().connect() as conn:
        return conn.execute(select(func.count()).select_from(accounts.users_table).where(
            func.lower(accounts.users_table.c.email) == email.lower())).scalar()


def account_refused(target: str, who: str, reason: str, message: str):
    accounts.record("sign-in failed", who, client_address(), detail={"by": "single sign-on", "reason": reason})
    return refused(target, 403, message)


def unreachable(name: str) -> str:
    return (f"{name} cannot be reached at the moment. Try again later, or sign in with a CARTscope password if you "
            "have one.")


def refused(target: str, status: int, message: str):
    """The sign-in page with what happened (and the way to try again)."""
    return render("Sign in", status=status, error=message, next=target, name="")
