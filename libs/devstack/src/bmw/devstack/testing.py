"""Helpers for tests that run against real infrastructure: waiting, and reading topics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, what: str = "condition") -> None:
    """Wait until ``check()`` is true; fail naming ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.1)


async def read_topic(
    bootstrap: str, topic: str, *, match: Callable[[dict[str, str]], bool], idle_ms: int = 1500
) -> list[tuple[dict[str, str], bytes]]:
    """Every record of ``topic`` from the beginning whose headers satisfy ``match``.

    Reads until the topic has been idle for ``idle_ms``; records are ``(headers, value)``.
    """
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    found: list[tuple[dict[str, str], bytes]] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=idle_ms)
            if not batch:
                break
            for records in batch.values():
                for record in records:
                    headers = {name: value.decode(errors="replace") for name, value in record.headers}
                    if match(headers):
                        found.append((headers, record.value or b""))
    finally:
        await consumer.stop()
    return found
