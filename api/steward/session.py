"""Steward sign-in: a signed, expiring session cookie naming the key's holder (never the key), and CSRF tokens.

The cookie is `<payload>.<signature>`: the payload is base64 JSON `{who, nonce, exp}` and the signature its
HMAC-SHA256 under a secret derived from the configured API keys (so every worker process and every restart
agrees on it, and no key can be recovered from it). `who` is the key's name (api.auth.Caller.who): each
request looks the name up among today's keys, so a key removed from the configuration signs its sessions out.
Before sign-in the cookie carries an anonymous session (`who` null) whose nonce ties the login form's token.

A form's CSRF token is the HMAC of the session's nonce: a page of another site can neither read the
token nor, with SameSite=Strict, send the cookie along.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, Request, Response, status

from api.auth import Caller, Role
from api.deps import throttle

COOKIE = "cdp_steward"
LIFETIME = 8 * 3600
"""Seconds a sign-in lasts: a working day."""
ANONYMOUS_LIFETIME = 3600
"""Seconds the sign-in form's token stays good."""


class PageError(Exception):
    """A page request that cannot be answered: shown as a page with the status and message."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


class NotSignedIn(Exception):
    """A page asked for without a steward's session: answered with a redirect to the sign-in form."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


@dataclass(frozen=True)
class Session:
    """What the cookie says: who signed in (None before sign-in), the nonce its CSRF token is made from, expiry."""

    who: str | None
    nonce: str
    expires: int


def base_of(request: Request) -> str:
    """Where the pages are: /steward, under the proxy's root path if the API is mounted under one."""
    return request.scope.get("root_path", "").rstrip("/") + "/steward"


def _secret(request: Request) -> bytes:
    """The signing secret: a digest of every configured key (kept per app, computed once)."""
    state = request.app.state
    if getattr(state, "steward_secret", None) is None:
        keys = "\0".join(sorted(state.keys))
        state.steward_secret = hashlib.sha256(b"cdp steward session\0" + keys.encode()).digest()
    secret: bytes = state.steward_secret
    return secret


def _sign(request: Request, payload: bytes) -> str:
    return hmac.new(_secret(request), payload, hashlib.sha256).hexdigest()


def read_session(request: Request) -> Session | None:
    """The request's session if its cookie is signed by this app and unexpired; else None."""
    cookie = request.cookies.get(COOKIE, "")
    payload, _, signature = cookie.rpartition(".")
    if not payload or not hmac.compare_digest(_sign(request, payload.encode()), signature):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        session = Session(data["who"], str(data["nonce"]), int(data["exp"]))
    except (ValueError, KeyError, TypeError):
        return None
    return session if session.expires > time.time() else None


def new_session(who: str | None) -> Session:
    """A session for `who` (None: anonymous, for the sign-in form) with a fresh nonce: signing in never keeps
    the anonymous session's token."""
    lifetime = LIFETIME if who else ANONYMOUS_LIFETIME
    return Session(who, secrets.token_urlsafe(16), int(time.time()) + lifetime)


def write_session(request: Request, response: Response, session: Session) -> None:
    """Set the session cookie: HttpOnly, SameSite=Strict, for the pages' path only, Secure over HTTPS."""
    payload = base64.urlsafe_b64encode(json.dumps({"who": session.who, "nonce": session.nonce,
                                                   "exp": session.expires}).encode()).rstrip(b"=")
    response.set_cookie(COOKIE, f"{payload.decode()}.{_sign(request, payload)}",
                        max_age=max(0, session.expires - int(time.time())), path=base_of(request), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


def clear_session(request: Request, response: Response) -> None:
    """Sign out: the cookie is dropped."""
    response.delete_cookie(COOKIE, path=base_of(request), httponly=True, samesite="strict")


def csrf_token(request: Request, session: Session) -> str:
    """The token every form of this session carries."""
    return _sign(request, b"csrf\0" + session.nonce.encode())


def steward_of(request: Request, session: Session | None) -> Caller | None:
    """The steward or admin a session names, if their key is still configured."""
    if session is None or session.who is None:
        return None
    caller = next((c for c in request.app.state.keys.values() if c.who == session.who), None)
    return caller if caller is not None and caller.role >= Role.steward else None


@dataclass(frozen=True)
class SignedIn:
    """A page request by a signed-in steward: who, and the session (for its forms' CSRF token)."""

    caller: Caller
    session: Session
    csrf: str


async def signed_in(request: Request) -> SignedIn:
    """The signed-in steward of a page request; NotSignedIn (a redirect to the form) otherwise. Counts against
    the key's rate limit, as the API's requests do."""
    session = read_session(request)
    caller = steward_of(request, session)
    if caller is None or session is None:
        raise NotSignedIn(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    throttle(request.app.state.rate_limit, caller, "requests")
    return SignedIn(caller, session, csrf_token(request, session))


async def form_of(request: Request) -> dict[str, list[str]]:
    """The fields of a urlencoded form POST, after checking its CSRF token against the request's session (a 403
    page if it does not match).

    Parsed here rather than with FastAPI's Form, which would need python-multipart for one content type. A
    dependency, so that the routes can be plain `def`s: their writes may wait on a publish (SQLite), and must
    not hold up the event loop meanwhile.
    """
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    token = (fields.get("csrf") or [""])[0]
    session = read_session(request)
    if session is None or not hmac.compare_digest(csrf_token(request, session), token):
        raise PageError(status.HTTP_403_FORBIDDEN, "The form's CSRF token does not match this session: "
                                                   "reload the page and try again.")
    return fields


def field(fields: dict[str, list[str]], name: str) -> str:
    """A form field's (first) value; '' when it was not sent."""
    return (fields.get(name) or [""])[0]


Steward = Annotated[SignedIn, Depends(signed_in)]
FormFields = Annotated[dict[str, list[str]], Depends(form_of)]
"""A POSTed form's fields, its CSRF token checked."""
