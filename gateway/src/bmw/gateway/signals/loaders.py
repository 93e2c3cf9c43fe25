"""Per-request DataLoaders of signals: one load per distinct key, all of a list's loads at once.

A list whose items need a second call each (an action's effects, an opportunity's notes and priced
recommendations) goes through a loader, each id fetched once per request however often the document selects
it. An action page's effects come in one batch call; opportunity details, for which signals has no batch
endpoint, as the distinct ids fetched concurrently.

The loaders live on the request's context and die with it: nothing is cached across requests or callers.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from bmw.gateway.context import GatewayContext
from bmw.gateway.loading import each_concurrently
from bmw.gateway.signals.api import SignalsApi
from bmw.gateway.signals.bodies import ActionEffectsBody, OpportunityDetailBody
from bmw.servicekit.errors import NotFound

#: Actions per batch call (the signals service's limit).
MAX_EFFECTS_BATCH = 50


def _effects_batch(
    api: SignalsApi,
) -> Callable[[list[uuid.UUID]], Awaitable[Sequence[ActionEffectsBody | BaseException]]]:
    """All of a page's actions in one call; an action signals left out (not visible) fails only its own load."""

    async def batch(keys: list[uuid.UUID]) -> Sequence[ActionEffectsBody | BaseException]:
        found: dict[uuid.UUID, ActionEffectsBody] = {}
        for start in range(0, len(keys), MAX_EFFECTS_BATCH):
            for effects in await api.many_action_effects(keys[start : start + MAX_EFFECTS_BATCH]):
                found[effects.action.id] = effects
        return [found.get(key) or NotFound("no such management action") for key in keys]

    return batch


@dataclass(frozen=True)
class SignalsLoaders:
    """The DataLoaders of one GraphQL request."""

    action_effects: DataLoader[uuid.UUID, ActionEffectsBody]
    opportunity_details: DataLoader[uuid.UUID, OpportunityDetailBody]

    @classmethod
    def build(cls, api: SignalsApi) -> SignalsLoaders:
        return cls(
            action_effects=DataLoader(load_fn=_effects_batch(api)),
            opportunity_details=DataLoader(load_fn=each_concurrently(api.opportunity)),
        )


def signals_loaders(context: GatewayContext) -> SignalsLoaders:
    """The request's loaders, made on first use and kept on its context."""
    return context.per_request(SignalsLoaders, lambda request: SignalsLoaders.build(SignalsApi(request.signals)))
