"""iCalendar feeds over HTTP: secret-URL feeds for calendar apps, and one appointment as an ``.ics`` file."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, Field

from bmw.scheduling.application.calendar import (
    FeedScope,
    IssuedFeed,
    appointment_calendar,
    feed_calendar,
    issue_worker_feed,
    issue_workshop_feed,
    revoke_worker_feed,
    revoke_workshop_feed,
)
from bmw.servicekit.deps import CurrentPrincipal, UowFactoryDep
from bmw.servicekit.errors import error_responses

router = APIRouter(tags=["calendar feeds"])

WorkerId = Annotated[uuid.UUID, Path(description="The social worker (their login subject).")]
TenantId = Annotated[uuid.UUID, Path(description="The client organisation.")]
AppointmentId = Annotated[uuid.UUID, Path(description="The appointment.")]

CALENDAR_MEDIA_TYPE = "text/calendar; charset=utf-8"
#: Calendar apps poll; five minutes of caching in the app (never in a shared cache: the URL is a secret).
FEED_CACHE_CONTROL = "private, max-age=300"


def _responses(*errors: int, calendar: bool = False) -> dict[int | str, dict[str, Any]]:
    responses: dict[int | str, dict[str, Any]] = error_responses(*errors)
    if calendar:
        responses[200] = {
            "description": "An iCalendar (RFC 5545) document with a VTIMEZONE for Europe/Amsterdam.",
            "content": {"text/calendar": {"schema": {"type": "string"}}},
        }
    return responses


class CalendarFeedRead(BaseModel):
    """A newly issued calendar feed. The URL is shown only now: the service keeps just a hash of its secret."""

    scope: FeedScope = Field(description="worker (a social worker's agenda) or tenant_workshops (an organisation's).")
    owner_id: uuid.UUID = Field(description="The social worker or the client organisation whose calendar it is.")
    path: str = Field(
        description="Path of the feed on this service, /calendar/feeds/<secret>.ics: subscribe to it in a calendar "
        "app (https:// or webcal://). Whoever has it can read the calendar; issuing a new one stops the old one."
    )
    created_at: datetime = Field(description="When this feed URL was issued (UTC).")

    @classmethod
    def of(cls, feed: IssuedFeed) -> CalendarFeedRead:
        return cls(scope=feed.scope, owner_id=feed.owner_id, path=feed.path, created_at=feed.created_at)


def _issued(feed: IssuedFeed, response: Response) -> CalendarFeedRead:
    response.headers["Cache-Control"] = "no-store"  # the body holds a secret
    return CalendarFeedRead.of(feed)


@router.post(
    "/workers/{worker_id}/calendar-feed",
    status_code=status.HTTP_201_CREATED,
    response_model=CalendarFeedRead,
    responses=_responses(401, 403, 404, 422),
)
async def create_worker_feed(
    worker_id: WorkerId, principal: CurrentPrincipal, uow: UowFactoryDep, response: Response
) -> CalendarFeedRead:
    """Issue (or rotate) the secret iCalendar feed URL of a social worker's agenda (the worker, or an admin)."""
    return _issued(await issue_worker_feed(worker_id, principal=principal, uow=uow), response)


@router.delete(
    "/workers/{worker_id}/calendar-feed",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_responses(401, 403, 404, 422),
)
async def delete_worker_feed(worker_id: WorkerId, principal: CurrentPrincipal, uow: UowFactoryDep) -> Response:
    """Revoke a social worker's calendar feed: its URL stops working."""
    await revoke_worker_feed(worker_id, principal=principal, uow=uow)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/client-organisations/{tenant_id}/workshop-feed",
    status_code=status.HTTP_201_CREATED,
    response_model=CalendarFeedRead,
    responses=_responses(401, 403, 404, 422),
)
async def create_workshop_feed(
    tenant_id: TenantId, principal: CurrentPrincipal, uow: UowFactoryDep, response: Response
) -> CalendarFeedRead:
    """Issue (or rotate) the secret iCalendar feed URL of an organisation's workshops (its client contact)."""
    return _issued(await issue_workshop_feed(tenant_id, principal=principal, uow=uow), response)


@router.delete(
    "/client-organisations/{tenant_id}/workshop-feed",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_responses(401, 403, 404, 422),
)
async def delete_workshop_feed(tenant_id: TenantId, principal: CurrentPrincipal, uow: UowFactoryDep) -> Response:
    """Revoke an organisation's workshop feed: its URL stops working."""
    await revoke_workshop_feed(tenant_id, principal=principal, uow=uow)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/calendar/feeds/{token}.ics", response_class=Response, responses=_responses(404, calendar=True))
async def read_calendar_feed(
    token: Annotated[str, Path(description="The feed's secret, as issued; it is the credential (no bearer token).")],
    uow: UowFactoryDep,
) -> Response:
    """A calendar feed for calendar apps: the last 30 and next 180 days; cancelled entries say so."""
    body = await feed_calendar(token, uow=uow)
    return Response(
        content=body,
        media_type=CALENDAR_MEDIA_TYPE,
        headers={"Cache-Control": FEED_CACHE_CONTROL, "Referrer-Policy": "no-referrer"},
    )


@router.get(
    "/appointments/{appointment_id}/calendar.ics",
    response_class=Response,
    responses=_responses(401, 404, 422, calendar=True),
)
async def read_appointment_calendar(
    appointment_id: AppointmentId, principal: CurrentPrincipal, uow: UowFactoryDep
) -> Response:
    """One appointment as an .ics file to add to one's own calendar (whoever may see the appointment)."""
    body = await appointment_calendar(appointment_id, principal=principal, uow=uow)
    return Response(
        content=body,
        media_type=CALENDAR_MEDIA_TYPE,
        headers={
            "Cache-Control": "private, no-store",
            "Content-Disposition": f'attachment; filename="afspraak-{appointment_id}.ics"',
        },
    )
