"""GraphQL types of the caller's identity."""

from __future__ import annotations

import strawberry

from bmw.gateway.taxonomy import Role
from bmw.servicekit.auth import Principal


@strawberry.type(description="The verified caller, as their identity token describes them.")
class Me:
    subject: str = strawberry.field(description="Subject (`sub`) of the token: a stable user or client id.")
    roles: list[Role] = strawberry.field(description="Roles granted by the token.")
    tenant_id: strawberry.ID | None = strawberry.field(
        description="The client organisation a tenant-bound caller acts for; null for provider staff."
    )

    @classmethod
    def of(cls, principal: Principal) -> Me:
        """The caller's identity as GraphQL shows it."""
        return cls(
            subject=principal.subject,
            roles=sorted(principal.roles),
            tenant_id=strawberry.ID(str(principal.tenant_id)) if principal.tenant_id else None,
        )
