"""Who is asking, and whether they may: sign-in, the current user, and the server-side checks on every request.

Two modes, settled when the app is built (`configure_sign_in`):
- single-user: `python app.py` on a loopback address with no sign-in configured. One user, 'local', who may do
  everything; the server answers loopback clients only.
- sign-in: CARTSCOPE_SECRET_KEY is set. Every request belongs to a signed-in account (data_access/accounts.py),
  by password (Flask-Login, argon2 hashes, a CSRF-protected form, lock-out with back-off), by single sign-on
  (OpenID Connect through Authlib), or named by a trusted authenticating proxy (CARTSCOPE_TRUSTED_PROXY_USER_HEADER).
  Without a session every route answers 401 (pages redirect to /login). A callback whose outputs need more than
  viewing (exports, imports, administration: OUTPUT_PERMISSIONS) answers 403 to a role that lacks it, and so does
  any callback whose inputs or state name a study the user was not granted.

Served by gunicorn, or bound to a non-loopback address, the app refuses to start without sign-in (`startup_problem`).
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlencode

import pandas as pd
from flask import (
    Flask,
    Response,
    current_app,
    g,
    has_request_context,
    redirect,
    render_template_string,
    request,
    session,
)
from flask_login import LoginManager, UserMixin, login_user, logout_user
from flask_login import current_user as session_user
from flask_wtf.csrf import generate_csrf, validate_csrf
from werkzeug.exceptions import Forbidden, TooManyRequests, Unauthorized
from wtforms.validators import ValidationError

import settings
from data_access import accounts, store
from data_access.accounts import User

#: The one user of single-user mode.
LOCAL_USER = User(user_id=0, name="local", role="admin", email=None, active=True, has_password=False)
SESSION_COOKIE = "cartscope_session"
MIN_SECRET_LENGTH = 32
#: Callbacks that need more than viewing, by the prefix of an output's component id (a pattern id's "type"); besides,
#: every callback with an output whose id contains "download" (a dcc.Download: a file leaves the app) is an export.
OUTPUT_PERMISSIONS = (("admin-", "administer"), ("cs-export-", "export"), ("deck-", "export"), ("data-", "import"),
                      ("nca-choice-revision", "save settings"), ("settings-save", "save settings"))


def permissions_needed(output_ids: list[str]) -> set[str]:
    """What a callback writing these outputs (component ids, a pattern id's "type") needs besides viewing."""
    needed = {permission for kind in output_ids for prefix, permission in OUTPUT_PERMISSIONS if kind.startswith(prefix)}
    return needed | ({"export"} if any("download" in kind for kind in output_ids) else set())
#: Callbacks that only route and list (the pages router, the header's study selector and navigation): they may be
#: asked about any study name and answer from the user's visible studies alone, so they are not refused for a name.
ROUTING_OUTPUTS = ("_pages_content", "_pages_store", "url", "study-select", "nav-link")
#: Routes answered without a session: the sign-in page, and with single sign-on configured its two routes.
OPEN_PATHS = ("/login",)
SSO_PATHS = ("/login/sso", "/login/sso/callback")


# ---- the current user ------------------------------------------------------------------------------------------------

def signing_in() -> bool:
    """Whether the running app has sign-in (False in single-user mode and outside a request)."""
    return has_request_context() and bool(current_app.config.get("CARTSCOPE_SIGN_IN"))


def current_user() -> User:
    """The user of the current request: the signed-in account, or LOCAL_USER in single-user mode and outside a
    request (the command line, a background job's worker, whose request was checked when it was queued)."""
    if not signing_in():
        return LOCAL_USER
    user = g.get("cartscope_user")
    if user is None:
        raise Unauthorized("Sign in first.")
    return user


def client_address() -> str:
    """The client's address as the server sees it (behind CARTSCOPE_TRUSTED_PROXIES, the one they forwarded)."""
    return (request.remote_addr or "unknown") if has_request_context() else "local process"


def _granted() -> frozenset[str] | None:
    if "cartscope_granted" not in g:
        g.cartscope_granted = accounts.granted_studies(current_user())
    return g.cartscope_granted


def may_see(study_name: str) -> bool:
    """Whether the current user may see the study (every version of it)."""
    if not signing_in():
        return True
    granted = _granted()
    return granted is None or study_name in granted


def visible_studies(studies: pd.DataFrame) -> pd.DataFrame:
    """The rows of a study list (store.list_studies, store.import_log: a `name` column) the current user may see."""
    if not signing_in() or _granted() is None:
        return studies
    return studies[studies["name"].isin(_granted())].reset_index(drop=True)


def access_snapshot() -> dict:
    """What a background job needs to know of the request that queued it (it runs with none): the user, the client,
    and the study names they may see (None: every study)."""
    granted = _granted() if signing_in() else None
    return {"user": current_user().name, "client": client_address(), "signing_in": signing_in(),
            "visible": sorted(granted) if granted is not None else None}


def require_study(study_name: str) -> None:
    """Refuse (403) a study the current user may not see."""
    if not may_see(study_name):
        audit("access refused", study=study_name)
        raise Forbidden("You have no access to that study.")


def require(action: str) -> None:
    """Refuse (403) an action (accounts.PERMISSIONS) the current user's role does not allow."""
    if not current_user().may(action):
        audit("access refused", action_refused=action)
        raise Forbidden(f"Your role does not allow: {action}.")


#: A view is recorded once however many times its page is drawn within this many seconds (a first page load draws
#: the page twice: once for the address, again when the header adds the study to it).
VIEW_REPEAT_SECONDS = 5


def _repeated_view(key: tuple) -> bool:
    """Whether this view was recorded moments ago, by any worker: the shared cache holds a short-lived mark (add is
    a no-op, answering False, when the mark is there)."""
    from data_access.cache import cache

    mark = "audit-view:" + hashlib.sha256(repr(key).encode()).hexdigest()
    return not cache.add(mark, 1, timeout=VIEW_REPEAT_SECONDS)


def audit(action: str, *, study: str | None = None, subject_id: str | None = None, **detail) -> None:
    """Record an event of the current request in the audit trail (nothing outside a request: the command line and
    the store record their own). A study or patient view repeated by the same user and client within
    VIEW_REPEAT_SECONDS is recorded once."""
    if not has_request_context():
        return
    user, client = current_user().name, client_address()
    if action.endswith(" view") and _repeated_view((user, client, action, study, subject_id, str(detail))):
        return
    accounts.record(action, user, client, study=study, subject_id=subject_id, detail=detail or None)


# ---- starting -------------------------------------------------------------------------------------------------------

def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def startup_problem(*, run_as_main: bool) -> str | None:
    """Why the app must not start as configured, or None. Without CARTSCOPE_SECRET_KEY only `python app.py` on a
    loopback address may run (single-user); with it, someone must be able to sign in."""
    key = settings.secret_key()
    if settings.debug() and (key is not None or settings.served_by_gunicorn() or not is_loopback(settings.host())):
        return ("CARTSCOPE_DEBUG=1 is for one developer on 127.0.0.1: debug mode shows code and tracebacks to whoever "
                "reaches the server. Unset it.")
    if key is None:
        if settings.served_by_gunicorn() or run_as_main and not is_loopback(settings.host()):
            where = "under gunicorn" if settings.served_by_gunicorn() else f"on {settings.host()}"
            return (f"CARTscope will not serve {where} without sign-in: anyone who reaches the port would see every "
                    "study. Set CARTSCOPE_SECRET_KEY and add an admin (`python -m data_access users add NAME --role "
                    "admin`), or configure single sign-on; see docs/deploy.md. Without sign-in, run `python app.py` "
                    "on 127.0.0.1 (one local user).")
        return None
    if len(key) < MIN_SECRET_LENGTH:
        return f"CARTSCOPE_SECRET_KEY has {len(key)} characters; it needs at least {MIN_SECRET_LENGTH}."
    try:
        someone = settings.oidc() or settings.trusted_proxy_user_header()
    except ValueError as error:  # single sign-on half configured
        return str(error)
    if not (someone or accounts.has_admin(engine=store.get_engine(settings.database_url()))):
        return ("Sign-in is on (CARTSCOPE_SECRET_KEY) but no one can sign in: add an admin with `python -m "
                "data_access users add NAME --role admin`, or configure single sign-on (CARTSCOPE_OIDC_ISSUER, see "
                "docs/deploy.md).")
    return None


class _SessionUser(UserMixin):
    def __init__(self, account: User):
        self.account = account

    def get_id(self) -> str:
        return str(self.account.user_id)


def configure_sign_in(app, *, single_user: bool) -> None:
    """Set up the server for one of the two modes (see the module's docstring)."""
    server: Flask = app.server
    server.config["CARTSCOPE_SIGN_IN"] = not single_user
    callback_path = app.config.routes_pathname_prefix + "_dash-update-component"
    if single_user:
        def loopback_clients_only():
            if not is_loopback(request.remote_addr or ""):
                raise Forbidden("CARTscope runs here as a single local user and answers this computer only.")
        _first(server, loopback_clients_only)
        return

    server.secret_key = settings.secret_key()
    server.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies(), REMEMBER_COOKIE_SECURE=settings.secure_cookies(),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours()), WTF_CSRF_TIME_LIMIT=3600)
    manager = LoginManager(server)
    manager.session_protection = "basic"

    @manager.user_loader
    def load_user(user_id: str):
        account = accounts.user_by_id(int(user_id)) if user_id.isdigit() else None
        return _SessionUser(account) if account and account.active else None

    proxy_header = settings.trusted_proxy_user_header()
    open_paths = OPEN_PATHS + (SSO_PATHS if settings.oidc() else ())

    def require_a_signed_in_user():
        if request.path in open_paths:
            return None
        account = _proxy_user(proxy_header) if proxy_header else (
            session_user.account if session_user.is_authenticated else None)
        if account is None:
            if request.method == "GET" and not request.path.startswith(("/_dash", "/_reload", "/_favicon")):
                return redirect("/login?" + urlencode({"next": request.full_path.rstrip("?")}))
            raise Unauthorized("Sign in first.")
        g.cartscope_user = account
        if request.path == callback_path and request.method == "POST":
            return check_callback(request.get_json(silent=True))
        return None

    _first(server, require_a_signed_in_user)

    server.add_url_rule("/login", "login", sign_in_page, methods=["GET", "POST"])
    server.add_url_rule("/logout", "logout", sign_out_page, methods=["GET", "POST"])
    if settings.oidc():
        from pages import _oidc

        _oidc.register(server)


def _first(server: Flask, check) -> None:
    """Run `check` before every other before-request function: a request without a session learns nothing, not even
    whether its callback body is well-formed. (Registered after app.warm_up, which runs the others once.)"""
    server.before_request_funcs.setdefault(None, []).insert(0, check)


def _proxy_user(header: str) -> User | None:
    """The account a trusted authenticating proxy names (it must exist and be active; else 403)."""
    name = request.headers.get(header, "").strip()
    if not name:
        return None
    account = accounts.find_user(name)
    if account is None or not account.active:
        raise Forbidden(f"'{name[:100]}' has no CARTscope account; ask an administrator.")
    if session.get("proxy_user") != account.name:
        session["proxy_user"] = account.name
        accounts.record("sign-in", account.name, client_address(), detail={"by": "proxy"})
    return account


# ---- callbacks -------------------------------------------------------------------------------------------------------

def _component_type(component_id) -> str:
    return component_id.get("type", "") if isinstance(component_id, dict) else str(component_id)


def _flat(items) -> list[dict]:
    out = []
    for item in items if isinstance(items, list) else [items]:
        out.extend(_flat(item) if isinstance(item, list) else [item] if isinstance(item, dict) else [])
    return out


def _studies_named(props: list[dict]) -> set[str]:
    """The study names a callback's inputs and state refer to: the address's ?study=, the study selector, and the
    'study' of a page's state."""
    names = set()
    for prop in props:
        value = prop.get("value")
        if prop.get("property") == "search" and isinstance(value, str):
            names.update(parse_qs(value.lstrip("?")).get("study", []))
        elif prop.get("id") == "study-select" and prop.get("property") == "value" and isinstance(value, str):
            names.add(value)
        elif isinstance(value, dict) and isinstance(value.get("study"), str):
            names.add(value["study"])
    return names


def _id_text(component_id) -> str:
    """A component id as the renderer writes it in changedPropIds (a pattern id as compact JSON, keys sorted)."""
    return json.dumps(component_id, sort_keys=True, separators=(",", ":")) if isinstance(component_id, dict) \
        else str(component_id)


def _is_unclicked(body: dict, props: list[dict]) -> bool:
    """Whether a callback request was set off by nothing but buttons that were never clicked (n_clicks None or 0): what
    the renderer sends when a page's buttons appear, not an action of the user's."""
    changed = body.get("changedPropIds")
    if not isinstance(changed, list) or not changed:
        return False
    values = {f"{_id_text(p.get('id'))}.{p.get('property')}": p.get("value") for p in props}
    return all(isinstance(c, str) and c.endswith(".n_clicks") and not values.get(c) for c in changed)


def check_callback(body) -> Response | None:
    """Refuse (403) a callback request the signed-in user may not make: an output that needs a permission their
    role lacks, or a study named in its inputs or state that they were not granted. One set off only by buttons
    appearing on a page (never clicked) that would need a permission the role lacks is answered 204 (nothing to
    update), neither refused nor recorded. An export is recorded in the audit trail when a click asks for it (not
    again while its background job is polled)."""
    if not isinstance(body, dict):
        return None  # the malformed-request check answers 400
    outputs = [_component_type(o.get("id")) for o in _flat(body.get("outputs"))]
    props = _flat(body.get("inputs")) + _flat(body.get("state", []))
    needed = permissions_needed(outputs)
    unclicked = _is_unclicked(body, _flat(body.get("inputs")))
    if unclicked and not all(current_user().may(permission) for permission in needed):
        return Response(status=204)
    for permission in sorted(needed):
        require(permission)
    if not any(kind in ROUTING_OUTPUTS for kind in outputs):
        for name in sorted(_studies_named(props)):
            require_study(name)
    if "export" in needed and not unclicked and "cacheKey" not in request.args:
        names = sorted(_studies_named(props))
        audit("export", study=names[0] if names else None, what=outputs[0],
              trigger=body["changedPropIds"][0] if isinstance(body.get("changedPropIds"), list) else None)
    return None


# ---- the sign-in pages -----------------------------------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · CARTscope</title>
<style>
body{margin:0;font-family:Inter,"Helvetica Neue",Arial,sans-serif;background:#f5f7fa;color:#1f2933}
main{max-width:380px;margin:12vh auto;background:#fff;border:1px solid #dde2e8;border-radius:10px;padding:32px 36px;
box-shadow:0 2px 10px rgba(15,30,60,.06)}
.logo{font-weight:700;font-size:24px;color:#0072B2;letter-spacing:.2px}
.tag{color:#5b6675;font-size:13px;margin:2px 0 24px}
h1{font-size:18px;margin:0 0 16px}label{display:block;font-size:13px;font-weight:600;margin:14px 0 4px}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:9px 10px;border:1px solid #b8c1cc;
border-radius:6px;font-size:15px}button,.sso{display:block;width:100%;margin-top:22px;padding:10px;border:0;
border-radius:6px;background:#0072B2;color:#fff;font-size:15px;font-weight:600;cursor:pointer;text-align:center;
text-decoration:none;box-sizing:border-box}.sso{background:#fff;color:#0072B2;border:1px solid #0072B2;margin-top:12px}
.error{background:#fdecea;border-left:4px solid #c0392b;color:#7b1d13;padding:8px 12px;font-size:14px;margin-bottom:8px}
.note{color:#5b6675;font-size:12px;margin-top:22px}
</style></head><body><main>
<div class="logo">CARTscope</div><div class="tag">CAR-T kinetics &amp; outcomes</div>
<h1>{{ title }}</h1>
{% if error %}<div class="error" role="alert">{{ error }}</div>{% endif %}
{% if signing_out %}
<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="{{ csrf }}">
<p>Signed in as <strong>{{ user }}</strong>.</p><button type="submit">Sign out</button></form>
{% else %}
<form method="post" action="/login"><input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="next" value="{{ next }}">
<label for="name">User name</label><input id="name" name="name" type="text" autocomplete="username" autofocus
 value="{{ name }}" maxlength="100" required>
<label for="password">Password</label><input id="password" name="password" type="password"
 autocomplete="current-password" required>
<button type="submit">Sign in</button></form>
{% if sso %}<a class="sso" href="/login/sso?{{ sso_query }}">Sign in with {{ sso }}</a>{% endif %}
{% endif %}
<p class="note">Trial data are confidential. Sign-ins, views and exports are recorded.</p>
</main></body></html>"""


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this app only (never another site)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or target.startswith("/log"):
        return "/"
    return target


def render(title: str, *, status: int = 200, error: str | None = None, **values):
    oidc = settings.oidc()
    html = render_template_string(PAGE, title=title, error=error, csrf=generate_csrf(), sso=oidc and oidc["name"],
                                  sso_query=urlencode({"next": values.get("next", "/")}), **values)
    return html, status, {"Cache-Control": "no-store"}


def sign_in_page():
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render("Sign in", next=target, name="")
    name = request.form.get("name", "").strip()[:accounts.NAME_LENGTH]
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return render("Sign in", status=400, error="The form had expired; please sign in again.", next=target,
                      name=name)
    outcome = accounts.check_password(name, request.form.get("password", ""), client_address())
    if outcome.user is None:
        if outcome.reason == "locked out":
            error = f"Too many failed attempts. Try again in {outcome.wait_seconds} seconds."
            status = TooManyRequests.code
        else:
            error, status = "Wrong user name or password.", Unauthorized.code
        return render("Sign in", status=status, error=error, next=target, name=name)
    start_session(outcome.user)
    return redirect(target)


def start_session(account: User) -> None:
    """Sign `account` in: a new session (nothing of an earlier one carried over)."""
    session.clear()
    session.permanent = True
    login_user(_SessionUser(account))


def sign_out_page():
    if not session_user.is_authenticated:
        return redirect("/login")
    if request.method == "GET":
        return render("Sign out", signing_out=True, user=session_user.account.name)
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return render("Sign out", status=400, signing_out=True, user=session_user.account.name,
                      error="The form had expired; please try again.")
    accounts.record("sign-out", session_user.account.name, client_address())
    logout_user()
    session.clear()
    return redirect("/login")

