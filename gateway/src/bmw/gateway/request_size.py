"""The request size limit: an ASGI middleware that refuses a large request before anything parses it.

``Content-Length`` is checked first, so a declared oversize body is refused without reading a byte of
it. A body without one (chunked transfer) is read up to the limit and then refused; a body within
the limit is buffered (at most ``max_bytes``) and replayed to the app. The query string of a GET
counts too: it carries the document there.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bmw.gateway.errors import ErrorCode, request_error_body
from bmw.gateway.graphql_http import JSON, content_type, negotiate


class RequestSizeLimit:
    """Answers 413 with a GraphQL error body to a request larger than ``max_bytes``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        budget = self.max_bytes - len(scope.get("query_string", b""))
        declared = headers.get("content-length")
        if budget < 0 or (declared is not None and declared.isdigit() and int(declared) > budget):
            await self._refuse(headers, send)
            return
        body = bytearray()
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more_body = message.get("more_body", False)
            if len(body) > budget:
                await self._refuse(headers, send)
                return
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _refuse(self, headers: dict[str, str], send: Send) -> None:
        media_type = negotiate(headers.get("accept")) or JSON
        message = f"request larger than {self.max_bytes} bytes; send a smaller document or fewer variables"
        payload = json.dumps(
            request_error_body(ErrorCode.REQUEST_TOO_LARGE, message, maxBytes=self.max_bytes),
            separators=(",", ":"),
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", content_type(media_type).encode()),
                    (b"content-length", str(len(payload)).encode()),
                    # The rest of the body is not read: the connection cannot be reused.
                    (b"connection", b"close"),
                    (b"vary", b"Accept"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the buffered body once, then waits for the client as before."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
