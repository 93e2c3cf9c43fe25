"""Queries about the caller."""

from __future__ import annotations

import strawberry

from bmw.gateway.context import GatewayInfo
from bmw.gateway.identity.permissions import IsAuthenticated
from bmw.gateway.identity.types import Me


@strawberry.type
class IdentityQuery:
    @strawberry.field(
        description="Who you are according to your token: subject, roles and client organisation.",
        permission_classes=[IsAuthenticated],
    )
    def me(self, info: GatewayInfo) -> Me | None:
        return Me.of(info.context.caller)
