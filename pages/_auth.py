"""Who is asking: the signed-in user of a request, and what they may see and do.

Single-user mode (`python app.py` on a loopback address with no sign-in configured) has one user, 'local', who may do
everything. With sign-in configured every request belongs to a signed-in account (data_access/accounts.py).
"""
from __future__ import annotations

from flask import has_request_context, request

from data_access.accounts import User

#: The one user of single-user mode.
LOCAL_USER = User(user_id=0, name="local", role="admin", email=None, active=True, has_password=False)


def current_user() -> User:
    """The user of the current request (LOCAL_USER in single-user mode, and outside a request)."""
    return LOCAL_USER


def client_address() -> str:
    """The client's address as the server sees it (behind CARTSCOPE_TRUSTED_PROXIES, the one they forwarded)."""
    return (request.remote_addr or "unknown") if has_request_context() else "local process"
