"""What the per-request DataLoaders of every part of the schema share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

_Value = TypeVar("_Value")
_Key = TypeVar("_Key")


def each_concurrently(
    fetch: Callable[[_Key], Awaitable[_Value]],
) -> Callable[[list[_Key]], Awaitable[list[_Value | BaseException]]]:
    """A batch function for a service that has a route per item and no batch route: one call per distinct key,
    all at once; a key's failure fails only that key's load."""

    async def batch(keys: list[_Key]) -> list[_Value | BaseException]:
        return list(await asyncio.gather(*(fetch(key) for key in keys), return_exceptions=True))

    return batch
