"""The Kafka topology of the BMW backend: one event topic per producing service plus its dead-letter topic.

DESIGN §4: ``bmw.<service>.events`` carries a service's facts, keyed by tenant id; ``<topic>.dlq`` holds the
messages a consumer gave up on after its retries. Topics are created explicitly with a fixed partition count
(default 12) because Tansu auto-creates topics with 4 partitions and cannot add partitions later.
"""

from __future__ import annotations

from typing import Final

#: The four services, in the order the local stack starts them.
SERVICES: Final = ("intake", "scheduling", "billing", "signals")

#: Partitions per topic: the most consumer instances per group that share the work.
DEFAULT_PARTITIONS: Final = 12

#: Suffix of a topic's dead-letter topic.
DLQ_SUFFIX: Final = ".dlq"


def events_topic(service: str) -> str:
    """The topic ``service`` publishes its events to, e.g. ``bmw.intake.events``."""
    return f"bmw.{service}.events"


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of ``topic``, e.g. ``bmw.intake.events.dlq``."""
    return f"{topic}{DLQ_SUFFIX}"


def all_topics() -> list[str]:
    """Every topic of the backend: each service's events topic followed by its dead-letter topic."""
    topics: list[str] = []
    for service in SERVICES:
        topic = events_topic(service)
        topics += [topic, dlq_topic(topic)]
    return topics
