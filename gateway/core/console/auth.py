"""Console sessions: a signed cookie, a CSRF token on every POST, a throttled login.

The session cookie (`cgw_console`, path `/console`, HttpOnly, SameSite=Strict, Secure when
served over HTTPS) holds the user's name, the fingerprint of the password hash it was opened
under (`users.session_tag`: a changed password or a disabled user ends it) and the session's
CSRF token, signed and time-stamped with itsdangerous under a key derived from the gateway's
server secret (`keys.load_secret`, the state directory's `api-key-secret`: every process
sharing the database shares it, so any of them accepts the session). It lasts `MAX_AGE`.

Every POST carries the session's CSRF token (a hidden `csrf_token` field, or the
`X-CSRF-Token` header htmx sends) compared in constant time; the login form's token comes
from a short-lived signed pre-session cookie. A client address (and a user name) with
`LOGIN_FAILURES` failed logins within `LOGIN_WINDOW` seconds is refused (429) until the
oldest failure ages out (keys.FailureThrottle), whatever the password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from gateway.core import keys
from gateway.errors import CsrfRefused, LoginRequired

COOKIE = "cgw_console"
PRE_COOKIE = "cgw_console_login"
LANG_COOKIE = "cgw_console_lang"
PATH = "/console"
MAX_AGE = 8 * 3600
PRE_MAX_AGE = 900
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOGIN_FAILURES = 5
LOGIN_WINDOW = 300.0


__all__ = ["CsrfRefused", "LoginRequired"]  # the tree's (gateway/errors.py), used here


@dataclass(frozen=True)
class Session:
    user: str
    tag: str
    csrf: str


class Sessions:
    def __init__(self, state_dir: Path) -> None:
        secret = hmac.new(keys.load_secret(state_dir), b"console-session", hashlib.sha256)
        self._signer = URLSafeTimedSerializer(secret.hexdigest(), salt="console-session")
        self._pre = URLSafeTimedSerializer(secret.hexdigest(), salt="console-login")
        self.throttle = keys.FailureThrottle(LOGIN_FAILURES, LOGIN_WINDOW)

    # --- the session -------------------------------------------------------------------------

    def open(self, response: Response, request: Request, user: str, tag: str) -> None:
        value = self._signer.dumps({"u": user, "t": tag, "c": secrets.token_urlsafe(32)})
        _set(response, request, COOKIE, value, MAX_AGE)
        response.delete_cookie(PRE_COOKIE, path=PATH)

    def read(self, request: Request) -> Session | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data: Any = self._signer.loads(raw, max_age=MAX_AGE)
            return Session(str(data["u"]), str(data["t"]), str(data["c"]))
        except (BadSignature, KeyError, TypeError):
            return None

    def close(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path=PATH)

    # --- the login form's CSRF token ---------------------------------------------------------

    def pre_session(self, request: Request, response: Response) -> str:
        """The login form's token, kept in a signed cookie of its own (no session yet)."""
        token = self._pre_token(request) or secrets.token_urlsafe(32)
        _set(response, request, PRE_COOKIE, self._pre.dumps(token), PRE_MAX_AGE)
        return token

    def _pre_token(self, request: Request) -> str | None:
        raw = request.cookies.get(PRE_COOKIE)
        if not raw:
            return None
        try:
            return str(self._pre.loads(raw, max_age=PRE_MAX_AGE))
        except BadSignature:
            return None

    def check_login_csrf(self, request: Request, sent: str | None) -> None:
        expected = self._pre_token(request)
        if not expected or not sent or not hmac.compare_digest(expected, sent):
            raise CsrfRefused


def check_csrf(session: Session, request: Request, form_value: str | None) -> None:
    sent = request.headers.get(CSRF_HEADER) or form_value
    if not sent or not hmac.compare_digest(session.csrf, sent):
        raise CsrfRefused


def _set(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=PATH, httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip


def client_of(request: Request) -> str:
    return request.client.host if request.client else "?"
