"""Per-request batch loading of social workers, so that a list of appointments costs one more call at most.

A loader is made by the resolver of a list (or mutation) and handed to the appointments it returns; it
lives as long as that request's result. Nothing is cached across requests or callers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import partial

from strawberry.dataloader import DataLoader

from bmw.gateway.scheduling.client import SchedulingClient, WorkerBody
from bmw.gateway.scheduling.types import WorkerLoader
from bmw.servicekit.errors import NotFound


async def load_workers(client: SchedulingClient, worker_ids: Sequence[uuid.UUID]) -> list[WorkerBody | None]:
    """The staff records of ``worker_ids`` in one call: one worker by id, several from the list of all."""
    if len(worker_ids) == 1:
        try:
            return [await client.worker(worker_ids[0])]
        except NotFound:
            return [None]
    known = {worker.id: worker for worker in await client.workers()}
    return [known.get(worker_id) for worker_id in worker_ids]


def worker_loader(client: SchedulingClient) -> WorkerLoader:
    """A new loader over ``client``: the appointments of one result share it."""
    return DataLoader(load_fn=partial(load_workers, client))
