"""The query of the right of access: what every service holds about one person, asked of all four at once.

A provider admin answers a person's right-of-access request (AVG art. 15) with one query instead of four
exports. Each service is asked concurrently with the caller's own token, so each checks the role again and
intake logs the export in the person's access log. A service that refuses or is down fails only its part.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

import strawberry

from bmw.gateway.cases.mutations import CLIENT_REF
from bmw.gateway.clients import ServiceClient
from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import ErrorCode, GatewayError
from bmw.gateway.identity.permissions import IsAuthenticated
from bmw.gateway.loading import each_concurrently
from bmw.gateway.personal_data.permissions import IsProviderAdmin
from bmw.gateway.personal_data.types import Answer, PersonalData
from bmw.servicekit.errors import FieldError


async def _export(client: ServiceClient, client_ref: str) -> Answer:
    """One service's export of the person (the reference is checked, so it is safe in the path)."""
    return await client.request("GET", f"/persons/{client_ref}/export")


async def personal_data(
    info: GatewayInfo,
    client_ref: Annotated[
        str,
        strawberry.argument(
            description="The person's pseudonym (client reference): `c_` and 10-40 letters, digits, _ or -."
        ),
    ],
) -> PersonalData | None:
    """Ask intake, scheduling, billing and signals at once; each answer (or failure) becomes its part."""
    if CLIENT_REF.fullmatch(client_ref) is None:
        raise GatewayError(
            ErrorCode.BAD_USER_INPUT,
            "invalid arguments",
            fields=[FieldError(path="clientRef", message="a client reference is c_ and 10-40 letters, digits, _ or -")],
        )
    context = info.context
    clients: dict[str, ServiceClient] = {
        "intake": context.intake,
        "scheduling": context.scheduling,
        "billing": context.billing,
        "signals": context.signals,
    }
    # All at once, and one service's failure is only that service's answer.
    answers = await each_concurrently(partial(_export, client_ref=client_ref))(list(clients.values()))
    return PersonalData(client_ref=client_ref, answers=dict(zip(clients, answers, strict=True)))


@strawberry.type
class PersonalDataQuery:
    personal_data: PersonalData | None = strawberry.field(
        resolver=personal_data,
        description="Right of access (provider admins): everything the provider holds about one person, a part per "
        "service, for answering the person's request. Intake logs the export in the person's access log.",
        permission_classes=[IsAuthenticated, IsProviderAdmin],
    )
