"""The WebSocket side of subscriptions: ``graphql-transport-ws`` with the caller's token.

A WebSocket carries no per-message headers, so the caller authenticates once per connection, in the
``connection_init`` payload (``{"authorization": "Bearer <token>"}`` or ``{"token": "<token>"}``) or, for
clients that can set it, the upgrade request's ``Authorization`` header. The protocol's close codes say
what went wrong:

- 4403 *Forbidden* when ``connection_init`` brings no valid token, with the reason (``missing bearer
  token``, ``invalid or expired token``, ``token expired``);
- 4401 *Unauthorized* for a ``subscribe`` before the connection is acknowledged (strawberry's handler);
- 4403 with the reason ``token expired`` when the token's ``exp`` passes on an open connection: every
  subscription on it ends, and a client reconnects with a fresh token (graphql-ws clients retry 4403).

The WebSocket carries subscriptions only: queries and mutations go over HTTP, where the request size
limit and the media types apply. The HTTP router's per-request guards (rate limit, trusted documents for
restricted integrations) apply to each ``subscribe`` here too, answered with an ``error`` message for that
operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Final

import jwt
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.requests import HTTPConnection, Request
from strawberry.fastapi import BaseContext
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    SubscribeMessage,
)

from bmw.gateway.context import GatewayContext, GatewayRuntime, build_context, get_context
from bmw.gateway.errors import ErrorCode, RequestRefused
from bmw.gateway.graphql_http import GraphQLHTTPRouter
from bmw.gateway.rate_limit import caller_key

logger = logging.getLogger(__name__)

#: Close code of the protocol for a refused ``connection_init`` (and here for an expired token).
FORBIDDEN: Final = 4403
#: Close reason when the caller's token expires on an open connection.
EXPIRED_REASON: Final = "token expired"

#: Attributes strawberry sets on the context per connection; everything else comes from the token.
_CONNECTION_ATTRIBUTES: Final = frozenset(vars(BaseContext()))


async def connection_context(connection: HTTPConnection) -> GatewayContext:
    """The GraphQL context of an HTTP request (as ``get_context``) or of a WebSocket, which starts anonymous.

    A WebSocket's caller is only known at ``connection_init``, where the handler fills the context in.
    """
    if isinstance(connection, Request):
        return await get_context(connection)
    runtime: GatewayRuntime = connection.app.state.runtime
    return await build_context(runtime, None)


def authorization_from(payload: dict[str, object], upgrade_header: str | None) -> str | None:
    """The ``Authorization`` value a connection authenticates with: the payload's first, else the header."""
    for key in ("authorization", "Authorization"):
        value = payload.get(key)
        if isinstance(value, str) and value.strip():
            return value
    token = payload.get("token")
    if isinstance(token, str) and token.strip():
        return f"Bearer {token.strip()}"
    return upgrade_header


def expires_at(token: str) -> datetime:
    """The ``exp`` of a token the verifier has already accepted."""
    # The signature was verified a moment ago; only the claim is read here.
    claims = jwt.decode(token, options={"verify_signature": False})
    return datetime.fromtimestamp(int(claims["exp"]), tz=UTC)


class TokenAuthenticatedHandler(BaseGraphQLTransportWSHandler[GatewayContext, None]):
    """strawberry's ``graphql-transport-ws`` handler that authenticates at ``connection_init`` and closes the
    connection when the caller's token expires."""

    _expiry_task: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if self.connection_timed_out:
            return
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
        # Typed as a dict, but it is whatever JSON the client sent.
        payload: object = message.get("payload")
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            await self.websocket.close(code=4400, reason="Invalid connection init payload")
            return
        if self.connection_init_received:
            await self.websocket.close(code=4429, reason="Too many initialisation requests")
            return
        self.connection_init_received = True

        connection = self.context.request
        if connection is None:
            raise RuntimeError("strawberry sets the WebSocket on the context before the handler runs")
        runtime: GatewayRuntime = connection.app.state.runtime
        authorization = authorization_from(payload, connection.headers.get("authorization"))
        authenticated = await build_context(runtime, authorization)
        principal = authenticated.principal
        if principal is None:
            logger.info("subscription connection refused: %s", authenticated.authentication_error)
            await self.websocket.close(code=FORBIDDEN, reason=authenticated.authentication_error or "forbidden")
            return
        remaining = (expires_at(principal.token) - datetime.now(UTC)).total_seconds()
        if remaining <= 0:
            # Within the verifier's clock leeway, but a connection would close at once.
            await self.websocket.close(code=FORBIDDEN, reason=EXPIRED_REASON)
            return
        for name, value in vars(authenticated).items():
            if name not in _CONNECTION_ATTRIBUTES:
                setattr(self.context, name, value)
        self._expiry_task = asyncio.create_task(self._close_at_expiry(remaining))
        await self.send_message({"type": "connection_ack"})
        self.connection_acknowledged = True

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        # Only an acknowledged connection's new operation is checked; the rest is the protocol's business.
        if self.connection_acknowledged and message["id"] not in self.operations:
            try:
                self._check_subscribe(message)
            except RequestRefused as refusal:
                error = GraphQLError(refusal.message, extensions={"code": refusal.code.value, **refusal.extensions})
                await self.send_message(ErrorMessage(id=message["id"], type="error", payload=[error.formatted]))
                return
        await super().handle_subscribe(message)

    def _check_subscribe(self, message: SubscribeMessage) -> None:
        """Refuse what the HTTP router would, and anything but a subscription."""
        payload = message["payload"]
        # Typed as a string, but it is whatever JSON the client sent; strawberry answers a missing one.
        sent: object = payload.get("query")
        query = sent if isinstance(sent, str) else None
        connection = self.context.request
        if isinstance(self.view, GraphQLHTTPRouter):
            guards = self.view.guards
            if guards.rate_limiter is not None:
                client = connection.client if connection is not None else None
                guards.rate_limiter.check(caller_key(self.context.principal, client.host if client else None))
            guards.require_trusted(self.context.principal, query)
        if query is None or connection is None:
            return
        runtime: GatewayRuntime = connection.app.state.runtime
        try:
            # Bounded like the schema's own parse; a document that does not parse fails there, as usual.
            document = parse(query, no_location=True, max_tokens=runtime.settings.max_tokens)
        except GraphQLError:
            return
        operation = get_operation_ast(document, payload.get("operationName"))
        if operation is not None and operation.operation is not OperationType.SUBSCRIPTION:
            raise RequestRefused(
                ErrorCode.BAD_REQUEST,
                "this WebSocket carries subscriptions only; send queries and mutations over HTTP (POST /graphql)",
            )

    async def _close_at_expiry(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        logger.info("closing a subscription connection: %s", EXPIRED_REASON)
        # End the subscriptions first, so that none sends after the close.
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        await self.websocket.close(code=FORBIDDEN, reason=EXPIRED_REASON)

    async def shutdown(self) -> None:
        task, self._expiry_task = self._expiry_task, None
        try:
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        finally:
            await super().shutdown()


class GraphQLRouter(GraphQLHTTPRouter):
    """The gateway's GraphQL router (HTTP as :class:`GraphQLHTTPRouter`) with token-checked subscriptions."""

    graphql_transport_ws_handler_class = TokenAuthenticatedHandler
