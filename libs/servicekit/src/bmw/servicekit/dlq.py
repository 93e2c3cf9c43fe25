"""Dead letters: list what a service's consumers gave up on, and re-drive it after the fix.

A consumer that cannot apply a record (undecodable, an unknown type, invalid data, a handler that keeps failing)
publishes it to ``<topic>.dlq`` with the reason and moves on (``bmw.servicekit.messaging``). Kafka cannot delete one
record, so what was re-driven is remembered as an offset: each service has its own group, ``bmw-dlq.<service>``,
whose committed offset on a dead-letter topic is where its next re-drive starts. A record before it was re-driven (or
belonged to another service's groups when that service re-drove).

Re-driving publishes the record again to the topic it came from, with its key, value and CloudEvent headers (the
``x-bmw-*`` ones dropped): the group that failed applies it now, and every group that had applied it skips it (its
inbox). Listing never prints the record's data (it may hold personal data): the event's type, id and organisation,
the group, the attempts and the reason.

``python -m bmw.<service> dlq list [--all]`` and ``python -m bmw.<service> dlq redrive [--dry-run]``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord

from bmw.contracts.envelope import dlq_topic

logger = logging.getLogger(__name__)

#: Headers the dead-lettering adds; dropped when a record is re-driven.
DEAD_LETTER_HEADERS = ("x-bmw-error", "x-bmw-attempts", "x-bmw-consumer-group", "x-bmw-original-topic")


def redrive_group(service: str) -> str:
    """The group whose committed offsets say how far ``service`` has re-driven each dead-letter topic."""
    return f"bmw-dlq.{service}"


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered record, as listed (never its data)."""

    topic: str
    partition: int
    offset: int
    dead_since: datetime
    original_topic: str
    consumer_group: str
    attempts: int
    reason: str
    event_type: str
    event_id: str
    tenant_id: str
    redriven: bool
    key: bytes | None = field(default=None, repr=False)
    value: bytes = field(default=b"", repr=False)
    headers: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class RedriveReport:
    """What a re-drive published again (or, in a dry run, would)."""

    records: tuple[DeadLetter, ...]
    dry_run: bool

    def line(self, service: str) -> str:
        verb = "would re-drive" if self.dry_run else "re-drove"
        by_group: dict[str, int] = {}
        for record in self.records:
            by_group[record.consumer_group] = by_group.get(record.consumer_group, 0) + 1
        groups = ", ".join(f"{count} of {group}" for group, count in sorted(by_group.items())) or "none"
        return f"{service}: {verb} {len(self.records)} dead-lettered record(s) ({groups})"


def _text(headers: dict[str, bytes], name: str, default: str = "?") -> str:
    raw = headers.get(name)
    return raw.decode(errors="replace") if raw is not None else default


def _dead_letter(record: ConsumerRecord[bytes, bytes], redriven: bool) -> DeadLetter:
    headers = dict(record.headers or ())
    try:
        attempts = int(_text(headers, "x-bmw-attempts", "0"))
    except ValueError:
        attempts = 0
    return DeadLetter(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        dead_since=datetime.fromtimestamp(record.timestamp / 1000, UTC),
        original_topic=_text(headers, "x-bmw-original-topic", record.topic.removesuffix(".dlq")),
        consumer_group=_text(headers, "x-bmw-consumer-group"),
        attempts=attempts,
        reason=_text(headers, "x-bmw-error"),
        event_type=_text(headers, "ce_type"),
        event_id=_text(headers, "ce_id"),
        tenant_id=_text(headers, "ce_tenantid"),
        redriven=redriven,
        key=record.key,
        value=record.value or b"",
        headers=tuple((name, value) for name, value in (record.headers or ()) if name not in DEAD_LETTER_HEADERS),
    )


class DeadLetterOffice:
    """The dead-letter topics of the topics a service's groups consume, seen by that service.

    ``groups`` maps each of the service's consumer groups to the topics it consumes; ``client_kwargs`` is the
    process's Kafka TLS/SASL (``KafkaTransport.aiokafka_kwargs()``).
    """

    def __init__(
        self,
        service: str,
        bootstrap_servers: str,
        groups: dict[str, Sequence[str]],
        client_kwargs: dict[str, object] | None = None,
    ) -> None:
        self.service = service
        self.bootstrap_servers = bootstrap_servers
        self.groups = groups
        self.client_kwargs = client_kwargs or {}
        self.topics = sorted({dlq_topic(topic) for consumed in groups.values() for topic in consumed})

    async def find(self, *, include_redriven: bool = False) -> list[DeadLetter]:
        """The service's groups' dead letters not re-driven yet (all with ``include_redriven``), oldest first."""
        found, _ = await self._read()
        return [record for record in found if include_redriven or not record.redriven]

    async def redrive(self, *, dry_run: bool = False) -> RedriveReport:
        """Publish every pending dead letter of the service's groups to its original topic, then remember that."""
        found, ends = await self._read()
        pending = tuple(record for record in found if not record.redriven)
        if dry_run:
            return RedriveReport(pending, dry_run=True)
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap_servers, acks="all", **self.client_kwargs)
        await producer.start()
        try:
            for record in pending:
                await producer.send_and_wait(
                    record.original_topic, record.value, key=record.key, headers=list(record.headers)
                )
                logger.info(
                    "re-drove %s %s of group %s from %s@%d",
                    record.event_type,
                    record.event_id,
                    record.consumer_group,
                    record.topic,
                    record.offset,
                )
        finally:
            await producer.stop()
        # Everything read is now behind this service: re-driven, or another service's to re-drive.
        await self._commit(ends)
        return RedriveReport(pending, dry_run=False)

    def _redrive_client(self) -> AIOKafkaConsumer:
        """A consumer of this service's re-drive group that never joins it (partitions are assigned by hand)."""
        return AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=redrive_group(self.service),
            enable_auto_commit=False,
            **self.client_kwargs,
        )

    async def _read(self) -> tuple[list[DeadLetter], dict[TopicPartition, int]]:
        reader = self._redrive_client()
        await reader.start()
        try:
            partitions = [
                TopicPartition(topic, partition)
                for topic in self.topics
                for partition in sorted(reader.partitions_for_topic(topic) or await _partitions(reader, topic))
            ]
            if not partitions:
                return [], {}
            reader.assign(partitions)
            starts = await reader.beginning_offsets(partitions)
            ends = await reader.end_offsets(partitions)
            done = {tp: await reader.committed(tp) for tp in partitions}
            found: list[DeadLetter] = []
            for tp in partitions:
                if ends[tp] <= starts[tp]:
                    continue
                reader.seek(tp, starts[tp])
                found += [
                    _dead_letter(record, redriven=record.offset < (done[tp] or 0))
                    for record in await _read_until(reader, tp, ends[tp])
                ]
            mine = set(self.groups)
            return sorted(
                (record for record in found if record.consumer_group in mine), key=lambda r: (r.dead_since, r.offset)
            ), ends
        finally:
            await reader.stop()

    async def _commit(self, ends: dict[TopicPartition, int]) -> None:
        if not ends:
            return
        committer = self._redrive_client()
        await committer.start()
        try:
            committer.assign(list(ends))
            await committer.commit(dict(ends))
        finally:
            await committer.stop()


async def _partitions(reader: AIOKafkaConsumer, topic: str) -> Iterable[int]:
    """The partitions of ``topic`` (after a metadata refresh; none when the topic does not exist)."""
    topics = await reader.topics()
    if topic not in topics:
        return []
    return reader.partitions_for_topic(topic) or []


async def _read_until(reader: AIOKafkaConsumer, tp: TopicPartition, end: int) -> list[ConsumerRecord[bytes, bytes]]:
    records: list[ConsumerRecord[bytes, bytes]] = []
    idle = 0
    while await reader.position(tp) < end and idle < 20:
        batch = await reader.getmany(tp, timeout_ms=500)
        got = batch.get(tp, [])
        idle = 0 if got else idle + 1
        records += [record for record in got if record.offset < end]
    return records
