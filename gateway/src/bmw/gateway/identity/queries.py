"""Queries about the caller."""

from __future__ import annotations

import strawberry

from bmw.gateway.context import GatewayInfo
from bmw.gateway.identity.permissions import IsAuthenticated
from bmw.gateway.identity.types import Me


def me(info: GatewayInfo) -> Me | None:
    """The caller as their token describes them."""
    return Me.of(info.context.caller)


@strawberry.type
class IdentityQuery:
    me: Me | None = strawberry.field(
        resolver=me,
        description="Who you are according to your token: subject, roles and client organisation.",
        permission_classes=[IsAuthenticated],
    )
