"""`--token`: every request carries `Authorization: Bearer TOKEN`, or a session cookie a browser got by
opening the link `/?token=TOKEN` once.

The link is answered with a redirect to the same page without the token (so it leaves the address bar and
the history) and a cookie holding a random session id, never the token: HttpOnly, SameSite=Strict, with an
expiry, and Secure when served over https. `/healthz` stays open for load balancers and probes (it tells
liveness, queue depth and uptime, nothing else).
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from urllib.parse import urlencode

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from noisecraft.errors import ConfigError

MIN_TOKEN_CHARS = 16
SESSION_COOKIE = "noisecraft_session"
OPEN_PATHS = frozenset({"/healthz"})


def check_token(token: str | None) -> None:
    """None means no auth (loopback); an empty or guessable token is refused at start, not served."""
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(f"--token: at least {MIN_TOKEN_CHARS} characters (got {len(token)}); make one with "
                          "python -c 'import secrets; print(secrets.token_urlsafe(24))'")


class Sessions:
    """Random session ids with an expiry; the oldest go first past `limit`, so a flood of logins is bounded."""

    def __init__(self, ttl: float = 12 * 3600, limit: int = 10_000) -> None:
        self.ttl, self.limit = ttl, limit
        self.expiry: OrderedDict[str, float] = OrderedDict()

    def new(self) -> str:
        session = secrets.token_urlsafe(32)
        self.expiry[session] = time.monotonic() + self.ttl
        while len(self.expiry) > self.limit:
            self.expiry.popitem(last=False)
        return session

    def valid(self, session: str) -> bool:
        expiry = self.expiry.get(session)
        if expiry is not None and expiry < time.monotonic():
            del self.expiry[session]
            return False
        return expiry is not None


class TokenAuth:
    """ASGI middleware: 401 (or a closed websocket) for anything without the token or a live session."""

    def __init__(self, app: ASGIApp, token: str, sessions: Sessions | None = None) -> None:
        check_token(token)
        self.app, self.token, self.sessions = app, token.encode(), sessions or Sessions()

    def _is_token(self, given: str) -> bool:
        return secrets.compare_digest(given.encode(), self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        conn = HTTPConnection(scope)
        scheme, _, given = conn.headers.get("authorization", "").partition(" ")
        if (scheme.lower() == "bearer" and self._is_token(given)) or self.sessions.valid(conn.cookies.get(SESSION_COOKIE, "")):
            return await self.app(scope, receive, send)
        if scope["type"] == "http" and self._is_token(conn.query_params.get("token", "")):
            return await self._log_in(conn)(scope, receive, send)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        await JSONResponse({"detail": "missing or wrong token: send Authorization: Bearer TOKEN"}, status_code=401,
                           headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)

    def _log_in(self, conn: HTTPConnection) -> RedirectResponse:
        """Exchange the link's token for a session cookie, and send the browser to the URL without it."""
        query = urlencode([(k, v) for k, v in conn.query_params.multi_items() if k != "token"])
        response = RedirectResponse(conn.url.path + (f"?{query}" if query else ""), status_code=303)
        response.set_cookie(SESSION_COOKIE, self.sessions.new(), max_age=int(self.sessions.ttl), httponly=True,
                            samesite="strict", secure=conn.url.scheme == "https")
        return response
