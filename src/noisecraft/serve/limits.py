"""Request bodies within bounds: at most `max_bytes` (413), the whole body within `read_timeout` seconds
(408), before any route reads them. A body is checked as it streams in, so a client that lies in
Content-Length or sends no length at all is stopped too, and a slow trickle cannot hold a connection.
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1 << 20  # 1 MiB: a request is a few fields; images go out, never in


class BodyError(HTTPException):
    """A body over the limit (413) or too slow (408): raised while reading it, answered as JSON."""


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY, read_timeout: float = 10.0) -> None:
        self.app, self.max_bytes, self.read_timeout = app, max_bytes, read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            error = self.too_large() if length.isdigit() else BodyError(400, "Content-Length: not a number")
            return await self.answer(error, scope, receive, send)
        if length in (None, b"0") and b"chunked" not in headers.get(b"transfer-encoding", b"").lower():
            return await self.app(scope, receive, send)  # no body: nothing to limit
        received, complete = 0, False
        deadline = asyncio.get_running_loop().time() + self.read_timeout

        async def limited() -> Message:
            nonlocal received, complete
            if complete:  # afterwards the app only listens for a disconnect: no time limit on that
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - asyncio.get_running_loop().time()))
            except asyncio.TimeoutError:
                raise BodyError(408, f"request body: not complete after {self.read_timeout:g} s") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if received > self.max_bytes:
                    raise self.too_large()
            return message

        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracked)
        except BodyError as e:  # a route that let it through: answer here if nothing was sent yet
            if started:
                raise
            await self.answer(e, scope, receive, send)

    def too_large(self) -> BodyError:
        return BodyError(413, f"request body: larger than the server's limit of {self.max_bytes:,} bytes")

    @staticmethod
    async def answer(error: BodyError, scope: Scope, receive: Receive, send: Send) -> None:
        await JSONResponse({"detail": error.detail}, status_code=error.status_code,
                           headers={"Connection": "close"})(scope, receive, send)
