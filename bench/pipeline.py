"""The event pipeline under a ramp of referrals through the gateway, and each process's footprint (issue 10).

The whole system runs as in ``bmw dev up`` (``bmw.devstack.stack.Stack``: embedded PostgreSQL and broker, four
services and the gateway as processes, demo data, 12 partitions per topic). Referrals are submitted as the
client portal submits them (the ``submitReferral`` mutation, a client contact's token per organisation) at a fixed
offered rate, open loop: a request is due at its scheduled moment whether or not earlier ones were answered, and its
latency counts from that moment (no coordinated omission). Steps of the ramp: 50, 100, 200, 400 referrals/s.

Measured per step:

- the gateway's answers: accepted, refused, failed; the mutation's latency (due → answer);
- every consumer group's lag (the end offsets of its topics minus its committed offsets), once a second;
- **end to end**, per accepted referral: from the mutation's answer to the moment the last of signals (its weekly
  counts), scheduling (its pending intake) and billing (the case's metering) applied its events — the
  ``processed_at`` of each service's inbox rows for the events intake wrote for that referral (one clock: the same
  machine; PostgreSQL's ``now()`` is the start of the consumer's transaction);
- the RSS of each process, once a second.

A group *keeps up* at a rate when its lag over the last third of the step stays within two seconds of what its
topics received a second (plus 20): the lag is bounded rather than growing. The pipeline keeps up when every group
does and the gateway accepted at least 97 % of what was offered with no failures.

Baselines, in the same run on the same broker and database server:

- **raw produce → consume**: same-sized records (intake's ``ReferralReceived`` with its CloudEvents headers) sent one
  by one with aiokafka at the step's rate to a topic of 12 partitions, read by a bare aiokafka consumer in another
  process (``bench.messaging``'s latency baseline); its latency percentiles face the end-to-end ones.
- **bare HTTP + INSERT**: ``bench.bare_http`` under uvicorn, one ``INSERT`` per request over asyncpg, driven by the
  same load generator with the same bodies; its latency faces the mutation's, its highest rate the pipeline's.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.messaging import MessagingBenchmark, Settings, percentiles
from bench.suite import Figure, SuiteOptions, SuiteResult, Target
from bmw.devstack.faults import service_dsn
from bmw.devstack.infra import create_topics
from bmw.devstack.stack import Stack

#: The consumer groups of the four services and the topics each reads (their ``ConsumerGroup`` definitions).
GROUP_TOPICS: dict[str, tuple[str, ...]] = {
    "intake": ("bmw.billing.events", "bmw.scheduling.events"),
    "scheduling": ("bmw.intake.events", "bmw.billing.events"),
    "billing": ("bmw.intake.events", "bmw.scheduling.events"),
    "signals": ("bmw.intake.events", "bmw.scheduling.events", "bmw.billing.events"),
}
#: Where a referral must have arrived before it counts as through the pipeline.
DOWNSTREAM = ("signals", "scheduling", "billing")
PROCESSES = ("gateway", "intake", "scheduling", "billing", "signals")
CATEGORIES = (
    "WORKLOAD_STRESS",
    "CONFLICT_MANAGER",
    "CONFLICT_COLLEAGUES",
    "REORGANISATION_UNCERTAINTY",
    "BURNOUT_RISK",
    "CAREER",
    "FINANCES",
    "ABSENCE_REINTEGRATION",
)
#: What a client contact may refer through (a self-referral is the employee's own, through the employee portal).
CHANNELS = ("HR", "MANAGER", "COMPANY_DOCTOR")
BASELINE_TOPIC = "bench.pipeline.baseline"
SUBMIT = """
mutation Submit($input: ReferralInput!) {
  submitReferral(input: $input) {
    __typename
    ... on ReferralSubmitted { referral { id } }
    ... on ServiceUnavailable { message }
    ... on Forbidden { message }
    ... on ValidationFailed { message }
  }
}
"""
PARTITIONS = 12
#: Connections the load generator keeps open to the gateway (or the bare server): what the server sees at most at once.
CONNECTIONS = 128
TARGET_RATE = 200.0
TARGET_P99_MS = 250.0
TARGET_RSS_MB = 250.0


@dataclass(frozen=True)
class PipelineSettings:
    rates: tuple[float, ...] = (50.0, 100.0, 200.0, 400.0)
    step_seconds: float = 30.0
    baseline_seconds: float = 10.0
    drain_timeout: float = 90.0
    profile_seconds: float = 15.0
    #: When even the ramp's first rate is more than the system keeps up with, halve it up to this many times (not
    #: below ``lowest_rate``) to find the rate it does sustain: "< 50/s" alone says little.
    descents: int = 4
    lowest_rate: float = 2.0
    #: How long a backlog left by a step that fell behind may take to drain before the next, lower step.
    settle_timeout: float = 600.0
    quick: bool = False

    @classmethod
    def for_options(cls, options: SuiteOptions) -> PipelineSettings:
        if options.quick:
            return cls(
                rates=(50.0, 100.0, 200.0),
                step_seconds=8.0,
                baseline_seconds=4.0,
                drain_timeout=45.0,
                profile_seconds=0.0,
                descents=2,
                settle_timeout=120.0,
                quick=True,
            )
        return cls(profile_seconds=float(options.extra.get("profile_seconds", 15.0)))


# -- load ----------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    due: float  # time.monotonic() the request was scheduled for
    answered: float  # time.monotonic() of the answer
    answered_wall: float  # time.time() of the answer (compared with PostgreSQL's clock)
    referral_id: uuid.UUID | None
    kind: str  # "accepted", or what went wrong
    message: str = ""


@dataclass
class Organisation:
    tenant_id: str
    units: tuple[str, ...]
    token: str


class OpenLoad:
    """Submits referrals at ``rate`` per second for ``seconds`` to ``url``, spread over organisations, units,
    categories and channels; every request is due at its own moment (open loop)."""

    def __init__(self, url: str, organisations: Sequence[Organisation], *, prefix: str) -> None:
        self.url = url
        self.organisations = organisations
        self.prefix = prefix
        self.answers: list[Answer] = []
        self._number = 0

    def body(self, number: int) -> tuple[dict[str, Any], str]:
        organisation = self.organisations[number % len(self.organisations)]
        unit = organisation.units[(number // len(self.organisations)) % len(organisation.units)]
        variables = {
            "input": {
                "tenantId": organisation.tenant_id,
                "orgUnitId": unit,
                "category": CATEGORIES[number % len(CATEGORIES)],
                "urgency": "NORMAL",
                "channel": CHANNELS[number % len(CHANNELS)],
                "employeeConsented": True,
                "employee": {
                    "name": f"Medewerker {self.prefix}-{number}",
                    "email": f"mw-{self.prefix}-{number}@example.nl",
                },
            }
        }
        return {"query": SUBMIT, "variables": variables}, organisation.token

    async def _submit(self, http: httpx.AsyncClient, number: int, due: float) -> None:
        body, token = self.body(number)
        try:
            response = await http.post(self.url, json=body, headers={"Authorization": f"Bearer {token}"})
            answer = (response.json().get("data") or {}).get("submitReferral") or {}
            kind = answer.get("__typename") or f"HTTP {response.status_code}"
            referral = uuid.UUID(answer["referral"]["id"]) if kind == "ReferralSubmitted" else None
        except (httpx.HTTPError, ValueError) as error:
            kind, referral = type(error).__name__, None
        self.answers.append(Answer(due, time.monotonic(), time.time(), referral, "accepted" if referral else str(kind)))

    async def run(self, rate: float, seconds: float, on_sent: Callable[[int], None] | None = None) -> list[Answer]:
        """Offer ``rate`` requests a second for ``seconds``; return the answers of this run (all awaited).

        Over :data:`CONNECTIONS` connections, each its own httpx client: a request due while every connection is busy
        waits for one, and its latency still counts from its due moment. One shared pool with thousands of requests
        queued spends its time matching requests to connections (httpcore's assignment walks every request against
        every connection on each change): under overload the load generator itself became the bottleneck, at
        a full core, while the services it was meant to load idled at 10 %."""
        first = len(self.answers)
        total = max(1, round(rate * seconds))
        due_requests: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()

        async def connection(http: httpx.AsyncClient) -> None:
            while (request := await due_requests.get()) is not None:
                await self._submit(http, *request)

        async with contextlib.AsyncExitStack() as clients:
            senders = []
            for _ in range(CONNECTIONS):
                http = await clients.enter_async_context(
                    httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
                )
                senders.append(asyncio.create_task(connection(http)))
            started = time.monotonic()
            for index in range(total):
                due = started + index / rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                self._number += 1
                due_requests.put_nowait((self._number, due))
                if on_sent is not None:
                    on_sent(index + 1)
            for _ in senders:
                due_requests.put_nowait(None)
            await asyncio.gather(*senders)
        return self.answers[first:]


# -- what the system does under it ---------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children, in MB (VmRSS from /proc)."""
    total = 0
    for process in [pid, *_children(pid)]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{process}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
    return total / 1024


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                for child in (task / "children").read_text().split():
                    found.append(int(child))
                    found.extend(_children(int(child)))
    return found


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (all its threads) so far, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15 of stat)


def infrastructure_pids(stack: Stack) -> dict[str, list[int]]:
    """The embedded PostgreSQL (postmaster and every backend) and the broker, found by their command lines."""
    found: dict[str, list[int]] = {"postgres": [], "broker": []}
    data_dir = str(stack.data_dir / "postgres")
    port = stack.kafka_bootstrap_servers.rsplit(":", 1)[-1]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "postgres" in command and data_dir in command:
            postmaster = int(entry.name)
            found["postgres"] = [postmaster, *_children(postmaster)]
        elif "tansu" in command and f":{port}" in command:
            found["broker"].append(int(entry.name))
    return found


class Lag:
    """Every group's lag, from the broker: end offsets of its topics minus its committed offsets. The committed
    offsets are asked as the group's own consumers ask (``committed()`` through its coordinator, without joining
    the group), as ``bmw.servicekit.metrics`` does: the embedded broker answers the admin client's batch call in a
    form aiokafka cannot read."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id="bench-pipeline-offsets")
        self._askers = {
            group: AIOKafkaConsumer(
                bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, client_id="bench-pipeline-lag"
            )
            for group in GROUP_TOPICS
        }
        self._partitions: dict[str, list[TopicPartition]] = {}

    async def __aenter__(self) -> Lag:
        await self._reader.start()
        for asker in self._askers.values():
            await asker.start()
        for topic in {topic for topics in GROUP_TOPICS.values() for topic in topics}:
            numbers = self._reader.partitions_for_topic(topic) or set()
            if not numbers:
                await self._reader.topics()  # a metadata refresh
                numbers = self._reader.partitions_for_topic(topic) or set()
            self._partitions[topic] = [TopicPartition(topic, number) for number in sorted(numbers)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for asker in self._askers.values():
            await asker.stop()
        await self._reader.stop()

    async def sample(self) -> tuple[dict[str, int], dict[str, int]]:
        """(lag per group, the end offsets' total of each group's topics)."""
        every = [partition for partitions in self._partitions.values() for partition in partitions]
        ends = await self._reader.end_offsets(every)
        lags: dict[str, int] = {}
        produced: dict[str, int] = {}
        for group, topics in GROUP_TOPICS.items():
            mine = [partition for topic in topics for partition in self._partitions[topic]]
            asker = self._askers[group]
            committed = await asyncio.gather(*(asker.committed(partition) for partition in mine))
            lags[group] = sum(
                max(0, ends.get(partition, 0) - (done if done is not None and done >= 0 else 0))
                for partition, done in zip(mine, committed, strict=True)
            )
            produced[group] = sum(ends.get(partition, 0) for partition in mine)
        return lags, produced


@dataclass
class Step:
    rate: float
    seconds: float
    answers: list[Answer] = field(default_factory=list)
    lag: list[dict[str, Any]] = field(default_factory=list)  # {"t", "lags", "produced"}
    rss: list[dict[str, float]] = field(default_factory=list)
    drain_seconds: float | None = None
    #: CPU seconds each part of the system spent from the step's start to the end of its drain.
    cpu: dict[str, float] = field(default_factory=dict)
    #: What the same processes would have spent at rest over the same time (the idle rate × the step's time).
    cpu_at_rest: dict[str, float] = field(default_factory=dict)
    end_to_end_ms: list[float] = field(default_factory=list)
    missing_downstream: int = 0
    started_wall: float = 0.0

    @property
    def accepted(self) -> list[Answer]:
        return [answer for answer in self.answers if answer.referral_id is not None]

    @property
    def failures(self) -> Counter[str]:
        return Counter(answer.kind for answer in self.answers if answer.referral_id is None)

    def response_ms(self) -> list[float]:
        return [(answer.answered - answer.due) * 1000 for answer in self.answers]

    def group_kept_up(self) -> dict[str, bool]:
        """Per group: its lag over the last third of the step stayed within 2 s of its topics' rate (+20)."""
        if len(self.lag) < 3:
            return dict.fromkeys(GROUP_TOPICS, False)
        first, last = self.lag[0], self.lag[-1]
        span = max(last["t"] - first["t"], 1e-9)
        tail = [sample for sample in self.lag if sample["t"] >= first["t"] + span * 2 / 3]
        verdict = {}
        for group in GROUP_TOPICS:
            per_second = (last["produced"][group] - first["produced"][group]) / span
            bound = 2 * per_second + 20
            verdict[group] = max(sample["lags"][group] for sample in tail) <= bound
        return verdict

    def kept_up(self) -> bool:
        offered = max(1, round(self.rate * self.seconds))
        return (
            len(self.accepted) >= 0.97 * offered
            and not self.failures
            and all(self.group_kept_up().values())
            and self.missing_downstream == 0
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "offered_per_second": self.rate,
            "seconds": self.seconds,
            "offered": max(1, round(self.rate * self.seconds)),
            "accepted": len(self.accepted),
            "failures": dict(self.failures),
            "failure_examples": {a.kind: a.message for a in self.answers if a.referral_id is None},
            "achieved_per_second": round(len(self.accepted) / self.seconds, 1),
            "kept_up": self.kept_up(),
            "groups_kept_up": self.group_kept_up(),
            "drain_seconds": None if self.drain_seconds is None else round(self.drain_seconds, 1),
            "response_ms": percentiles_or_none(self.response_ms()),
            "end_to_end_ms": percentiles_or_none(self.end_to_end_ms),
            "not_through_the_pipeline": self.missing_downstream,
            "max_lag": {group: max((s["lags"][group] for s in self.lag), default=0) for group in GROUP_TOPICS},
            "lag_samples": [{"t": round(sample["t"], 2), **sample["lags"]} for sample in self.lag],
            "rss_max_mb": {
                name: round(max((sample[name] for sample in self.rss), default=0.0), 1) for name in PROCESSES
            },
            "cpu_seconds": {name: round(value, 2) for name, value in self.cpu.items()},
            "cpu_seconds_at_rest": {name: round(value, 2) for name, value in self.cpu_at_rest.items()},
            "cpu_ms_per_referral_above_rest": {
                name: round((value - self.cpu_at_rest.get(name, 0.0)) * 1000 / len(self.accepted), 2)
                for name, value in self.cpu.items()
            }
            if self.accepted
            else None,
        }


def percentiles_or_none(samples: Sequence[float]) -> dict[str, float] | None:
    """``percentiles`` rounded for the report, with the count; None below two samples."""
    if len(samples) < 2:
        return None
    cuts = percentiles(samples)
    return {**{cut: round(cuts[cut], 1) for cut in ("p50", "p95", "p99", "max")}, "count": len(samples)}


# -- the benchmark -------------------------------------------------------------------------------------------


class PipelineBenchmark:
    def __init__(self, stack: Stack, settings: PipelineSettings, options: SuiteOptions) -> None:
        self.stack = stack
        self.settings = settings
        self.options = options
        self.progress = options.progress
        self.pids = {name: stack.supervisor.get(name).pid for name in PROCESSES}
        organisations = []
        for tenant in stack.tenants:
            if tenant.org_units:
                token = stack.mint("client_contact", tenant_id=str(tenant.id), ttl=_long())
                organisations.append(Organisation(str(tenant.id), tuple(u.id for u in tenant.org_units), token))
        if not organisations:
            raise RuntimeError("the demo data holds no organisation with org units")
        self.organisations = organisations
        self.load = OpenLoad(stack.graphql_url, organisations, prefix=uuid.uuid4().hex[:8])
        self.t0 = time.monotonic()
        self.idle_cpu_per_second: dict[str, float] = {}

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each service, the gateway, PostgreSQL, the broker and this load generator."""
        found = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        for name, pids in infrastructure_pids(self.stack).items():
            found[name] = sum(cpu_seconds(pid) for pid in pids)
        found["load generator"] = cpu_seconds(os.getpid())
        return found

    def sample_rss(self) -> dict[str, float]:
        return {name: rss_mb(pid) for name, pid in self.pids.items()}

    async def run(self) -> dict[str, Any]:
        idle = await self.idle_footprint()
        await self.warm_up()
        steps: list[Step] = []
        async with Lag(self.stack.kafka_bootstrap_servers) as lag:
            for rate in self.settings.rates:
                step = await self.step(lag, rate)
                steps.append(step)
                if step.drain_seconds is None:  # never caught up: higher rates would only pile on
                    break
            rate = self.settings.rates[0]
            for _ in range(self.settings.descents):
                if any(step.kept_up() for step in steps) or rate / 2 < self.settings.lowest_rate:
                    break
                rate /= 2
                await self.drain(lag, "pipeline: the backlog drains first", timeout=self.settings.settle_timeout)
                steps.append(await self.step(lag, rate))
            kept = [step.rate for step in steps if step.kept_up()]
            profiled = max(kept, default=self.settings.rates[0])
            profiles = await self.profile(lag, profiled) if self.settings.profile_seconds > 0 else {}
        rates = sorted({*self.settings.rates, *(step.rate for step in steps)})
        raw = await self.raw_baseline(rates)
        bare = await self.bare_baseline(rates)
        return {
            "idle": idle,
            "steps": steps,
            "raw": raw,
            "bare": bare,
            "profiles": profiles,
            "organisations": len(self.organisations),
        }

    async def idle_footprint(self) -> dict[str, float]:
        """Each process's RSS at rest, and the CPU the whole system spends at rest (polling consumers, relays,
        periodic jobs, the broker): what a step's CPU per referral is measured above."""
        await asyncio.sleep(3)
        samples = []
        cpu_before, started = self.cpu(), time.monotonic()
        for _ in range(5):
            samples.append(self.sample_rss())
            await asyncio.sleep(1)
        cpu_after, seconds = self.cpu(), time.monotonic() - started
        self.idle_cpu_per_second = {name: (cpu_after[name] - cpu_before.get(name, 0.0)) / seconds for name in cpu_after}
        return {name: max(sample[name] for sample in samples) for name in PROCESSES}

    async def warm_up(self) -> None:
        """Open every path once (connections, caches, imports) before anything is timed."""
        task = self.progress.add_task("pipeline: warm-up at 10/s", total=30)
        await self.load.run(10, 3, lambda sent: self.progress.update(task, completed=sent))
        await asyncio.sleep(3)

    async def step(self, lag: Lag, rate: float) -> Step:
        seconds = self.settings.step_seconds
        step = Step(rate=rate, seconds=seconds, started_wall=time.time())
        task = self.progress.add_task(f"pipeline: {rate:g} referrals/s for {seconds:g} s", total=round(rate * seconds))
        stop = asyncio.Event()

        async def sampler() -> None:
            while not stop.is_set():
                lags, produced = await lag.sample()
                step.lag.append({"t": time.monotonic() - self.t0, "lags": lags, "produced": produced})
                step.rss.append(self.sample_rss())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)

        sampling = asyncio.create_task(sampler())
        cpu_before, cpu_started = self.cpu(), time.monotonic()
        try:
            step.answers = await self.load.run(rate, seconds, lambda sent: self.progress.update(task, completed=sent))
        finally:
            stop.set()
            await sampling
        step.drain_seconds = await self.drain(lag, f"pipeline: draining after {rate:g}/s")
        cpu_after, cpu_seconds_elapsed = self.cpu(), time.monotonic() - cpu_started
        step.cpu = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
        step.cpu_at_rest = {name: rate * cpu_seconds_elapsed for name, rate in self.idle_cpu_per_second.items()}
        await self.through_the_pipeline(step)
        return step

    async def drain(self, lag: Lag, description: str, *, timeout: float | None = None) -> float | None:  # noqa: ASYNC109
        """Seconds until every group's lag is 0, or None after ``timeout`` (default: the settings' drain timeout)."""
        started = time.monotonic()
        task = self.progress.add_task(description, total=None)
        deadline = started + (self.settings.drain_timeout if timeout is None else timeout)
        while time.monotonic() < deadline:
            lags, _ = await lag.sample()
            self.progress.update(task, description=f"{description}: lag {sum(lags.values())}")
            if not any(lags.values()):
                self.progress.update(task, total=1, completed=1)
                return time.monotonic() - started
            await asyncio.sleep(0.5)
        return None

    async def through_the_pipeline(self, step: Step) -> None:
        """End-to-end latency of each accepted referral, from the services' own records (after the drain)."""
        accepted = {answer.referral_id: answer for answer in step.accepted}
        if not accepted:
            return
        seen = await asyncio.to_thread(self._seen_downstream, [str(referral) for referral in accepted])
        for referral, answer in accepted.items():
            times = seen.get(str(referral))
            if times is None or len(times) < len(DOWNSTREAM):
                step.missing_downstream += 1
                continue
            step.end_to_end_ms.append((max(times.values()) - answer.answered_wall) * 1000)

    def _seen_downstream(self, referrals: list[str]) -> dict[str, dict[str, float]]:
        with psycopg.connect(service_dsn(self.stack, "intake"), autocommit=True) as connection:
            rows = connection.execute(
                "SELECT id, envelope->'data'->>'referral_id' FROM outbox "
                "WHERE envelope->'data'->>'referral_id' = ANY(%s)",
                (referrals,),
            ).fetchall()
        referral_of: dict[uuid.UUID, str] = dict(rows)
        seen: dict[str, dict[str, float]] = {}
        for service in DOWNSTREAM:
            with psycopg.connect(service_dsn(self.stack, service), autocommit=True) as connection:
                processed = connection.execute(
                    "SELECT event_id, processed_at FROM inbox WHERE consumer_group = %s AND event_id = ANY(%s)",
                    (service, list(referral_of)),
                ).fetchall()
            for event_id, processed_at in processed:
                referral = referral_of[event_id]
                moment = processed_at.timestamp()
                times = seen.setdefault(referral, {})
                times[service] = max(times.get(service, 0.0), moment)
        return seen

    async def profile(self, lag: Lag, rate: float) -> dict[str, Any]:
        """py-spy on the gateway and every service during one more step at ``rate`` (the highest one the system kept
        up with, else the ramp's first): where the time of a referral goes, not of an overloaded system."""
        seconds = self.settings.profile_seconds
        recorders = start_profilers(
            dict(self.pids),
            self.options.output / "profiles",
            seconds,
        )
        if recorders is None:
            return {"skipped": "py-spy is not installed"}
        task = self.progress.add_task(f"pipeline: profiling at {rate:g}/s", total=round(rate * seconds))
        await self.load.run(rate, seconds, lambda sent: self.progress.update(task, completed=sent))
        summary: dict[str, Any] = {}
        for name, (path, process) in recorders.items():
            _, error = await asyncio.to_thread(process.communicate, timeout=seconds + 30)
            if process.returncode != 0 or not await asyncio.to_thread(path.exists):
                summary[name] = {"failed": error.decode(errors="replace")[-500:]}
                continue
            summary[name] = hot_spots(path.read_text())
        await self.drain(lag, "pipeline: draining after profiling")
        return summary

    async def raw_baseline(self, rates: Sequence[float]) -> dict[float, dict[str, float] | None]:
        """Raw aiokafka producer → consumer (another process) at each rate, on the stack's broker."""
        # A topic per rate: each run's consumer reads its topic from the start (it commits nothing).
        topics = {rate: f"{BASELINE_TOPIC}.{rate:g}" for rate in rates}
        create_topics(self.stack.kafka_bootstrap_servers, list(topics.values()), PARTITIONS)
        messaging = MessagingBenchmark(
            Settings(partitions=PARTITIONS),
            self.stack.services["intake"].database_url,
            self.stack.kafka_bootstrap_servers,
            self.progress,
        )
        found = {}
        try:
            for rate in rates:
                events = max(2, round(rate * self.settings.baseline_seconds))
                samples = await messaging._latency_baseline(topics[rate], rate, events)
                found[rate] = percentiles_or_none(samples)
        finally:
            await messaging.engine.dispose()
        return found

    async def bare_baseline(self, rates: Sequence[float]) -> dict[float, dict[str, Any]]:
        """``bench.bare_http`` (HTTP + one INSERT) under uvicorn, driven like the gateway at each rate."""
        assert self.stack.postgres is not None
        port = _free_port()
        server = start_bare_server(port, self.stack.services["intake"].migration_database_url)
        url = f"http://127.0.0.1:{port}/"
        found: dict[float, dict[str, Any]] = {}
        try:
            await _wait_ready(url, server)
            load = OpenLoad(url, self.organisations, prefix="bare")
            await load.run(10, 1)
            for rate in rates:
                task = self.progress.add_task(f"baseline: bare HTTP + INSERT at {rate:g}/s", total=None)
                answers = await load.run(rate, self.settings.baseline_seconds)
                self.progress.update(task, total=1, completed=1)
                ok = [answer for answer in answers if answer.referral_id is not None]
                offered = max(1, round(rate * self.settings.baseline_seconds))
                found[rate] = {
                    "offered": offered,
                    "accepted": len(ok),
                    "kept_up": len(ok) >= 0.97 * offered and len(ok) == len(answers),
                    "response_ms": percentiles_or_none([(a.answered - a.due) * 1000 for a in answers]),
                }
        finally:
            server.terminate()
            await asyncio.to_thread(server.wait, 10)
        return found


def start_profilers(
    pids: dict[str, int], folder: Path, seconds: float
) -> dict[str, tuple[Path, subprocess.Popen[bytes]]] | None:
    """``py-spy record`` (collapsed stacks, 50 Hz, without pausing the process) on each pid for ``seconds``."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    recorders = {}
    for name, pid in pids.items():
        path = folder / f"pipeline-{name}.txt"
        command = [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "50",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(path),
        ]
        recorders[name] = (path, subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))  # noqa: S603
    return recorders


def start_bare_server(port: int, database_url: str) -> subprocess.Popen[bytes]:
    """``bench.bare_http`` under uvicorn on ``port``, writing to ``database_url``."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.bare_http:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    env = {**os.environ, "BENCH_DATABASE_URL": database_url}
    return subprocess.Popen(command, env=env, cwd=Path(__file__).resolve().parent.parent)  # noqa: S603


def _long() -> Any:
    from datetime import timedelta

    return timedelta(hours=2)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"the bare HTTP server stopped with {server.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError("the bare HTTP server did not answer within 30 s")


def hot_spots(collapsed: str, top: int = 12) -> dict[str, Any]:
    """From py-spy's collapsed stacks: the share of samples in which each of our functions (and each library's
    top-level package) is on the stack, and where the samples end (self time) by package."""
    inclusive: Counter[str] = Counter()
    self_by_package: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        seen = set()
        for frame in frames:
            label = _frame_label(frame)
            if label and label not in seen:
                seen.add(label)
                inclusive[label] += count
        self_by_package[_package(frames[-1])] += count
    if not total:
        return {"samples": 0}
    return {
        "samples": total,
        "on_stack": [(label, round(count / total, 3)) for label, count in inclusive.most_common(top)],
        "self_by_package": [(package, round(count / total, 3)) for package, count in self_by_package.most_common(8)],
    }


#: Our packages as py-spy names their files (it shortens a path to the part below its sys.path entry: bmw/ is a
#: namespace, so ``intake/application/referrals.py``).
OUR_PACKAGES = ("intake", "scheduling", "billing", "signals", "gateway", "servicekit", "contracts", "devstack")


def _path_of(frame: str) -> str:
    _, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    for marker in ("/bmw/", "site-packages/"):  # full paths, as other py-spy versions write them
        if marker in path:
            path = path.split(marker, 1)[1]
    return path


def _frame_label(frame: str) -> str | None:
    """``function (package/module.py:line)`` → ``bmw.package.module.function`` for our code, else None."""
    function = frame.partition(" (")[0]
    path = _path_of(frame)
    if path.split("/", 1)[0] not in OUR_PACKAGES or path.endswith(("__main__.py", "servicekit/cli.py")):
        return None  # the process's entry point is under every sample
    return f"bmw.{path.removesuffix('.py').replace('/', '.')}.{function}"


def _package(frame: str) -> str:
    path = _path_of(frame)
    first = path.split("/", 1)[0]
    if first in OUR_PACKAGES:
        return f"bmw.{first}"
    if "/" not in path:
        return "stdlib" if path.endswith(".py") or path.startswith("<") else (path or "native")
    if first in ("asyncio", "json", "concurrent", "email", "http", "logging", "importlib", "multiprocessing"):
        return "stdlib"
    return first


# -- figures ------------------------------------------------------------------------------------------------


def figures_of(measured: dict[str, Any]) -> tuple[list[Figure], list[Target], dict[str, Any]]:
    steps: list[Step] = measured["steps"]
    raw: dict[float, dict[str, float] | None] = measured["raw"]
    bare: dict[float, dict[str, Any]] = measured["bare"]
    idle: dict[str, float] = measured["idle"]
    figures: list[Figure] = []
    kept = [step.rate for step in steps if step.kept_up()]
    sustained = max(kept, default=0.0)
    bare_kept = max((rate for rate, found in bare.items() if found["kept_up"]), default=0.0)
    figures.append(
        Figure(
            key="pipeline.sustained_rate",
            group="pipeline",
            name="Highest offered rate every consumer keeps up with",
            unit="referrals/s",
            value=sustained,
            baseline=bare_kept,
            baseline_name="bare HTTP + INSERT, highest rate answered in full",
            higher_is_better=True,
            count=sum(len(step.answers) for step in steps),
        )
    )
    for step in steps:
        e2e = percentiles_or_none(step.end_to_end_ms)
        base = raw.get(step.rate)
        if e2e and base:
            for cut in ("p50", "p99"):
                figures.append(
                    Figure(
                        key=f"pipeline.end_to_end_{cut}_ms_at_{step.rate:g}",
                        group="pipeline",
                        name=f"End to end {cut} at {step.rate:g}/s" + ("" if step.kept_up() else " (fell behind)"),
                        unit="ms",
                        value=e2e[cut],
                        baseline=base[cut],
                        baseline_name="raw aiokafka produce → consume",
                        higher_is_better=False,
                        count=len(step.end_to_end_ms),
                    )
                )
        response = percentiles_or_none(step.response_ms())
        bare_response = bare.get(step.rate, {}).get("response_ms")
        if response and bare_response:
            figures.append(
                Figure(
                    key=f"pipeline.mutation_p99_ms_at_{step.rate:g}",
                    group="pipeline",
                    name=f"submitReferral answer p99 at {step.rate:g}/s",
                    unit="ms",
                    value=response["p99"],
                    baseline=bare_response["p99"],
                    baseline_name="bare HTTP + INSERT",
                    higher_is_better=False,
                    count=len(step.answers),
                )
            )
    loaded = {
        name: max((max(s[name] for s in step.rss) for step in steps if step.rss), default=0.0) for name in PROCESSES
    }
    for name in PROCESSES:
        figures.append(
            Figure(
                key=f"footprint.{name}_rss_mb",
                group="footprint",
                name=f"{name} RSS under load (max)",
                unit="MB",
                value=loaded[name],
                baseline=idle[name],
                baseline_name="the same process idle",
                higher_is_better=False,
                count=sum(len(step.rss) for step in steps),
            )
        )

    at_target = next((step for step in steps if step.rate == TARGET_RATE), None)
    p99_at_target = percentiles_or_none(at_target.end_to_end_ms) if at_target else None
    # What a referral costs, from the highest step the system kept up with (an overloaded step also pays for
    # timeouts and retries), else from the first.
    costed = max((step for step in steps if step.kept_up()), key=lambda step: step.rate, default=None)
    costed = costed or (steps[0] if steps else None)
    cost = costed.as_dict()["cpu_ms_per_referral_above_rest"] if costed else None
    budget = ""
    if cost and costed:
        total = sum(cost.values())
        busiest = sorted(cost.items(), key=lambda item: -item[1])[:4]
        budget = (
            f"each referral cost {total:,.0f} ms of CPU above rest at {costed.rate:g}/s ("
            + ", ".join(f"{name} {value:,.0f}" for name, value in busiest)
            + f"): {os.cpu_count()} cores allow about {os.cpu_count() * 1000 / total:,.0f} referrals/s"
        )
    targets = [
        Target(
            key="pipeline.sustained_rate",
            text=f"pipeline sustains ≥ {TARGET_RATE:g} referrals/s",
            value=sustained,
            limit=TARGET_RATE,
            unit="referrals/s",
            higher_is_better=True,
            note=budget,
        ),
        Target(
            key="pipeline.end_to_end_p99_ms",
            text=f"end-to-end p99 ≤ {TARGET_P99_MS:g} ms at {TARGET_RATE:g} referrals/s",
            value=p99_at_target["p99"] if p99_at_target else math.nan,
            limit=TARGET_P99_MS,
            unit="ms",
            higher_is_better=False,
            note="" if at_target else f"the ramp stopped before {TARGET_RATE:g}/s",
        ),
    ]
    for name in PROCESSES:
        targets.append(
            Target(
                key=f"footprint.{name}_rss_mb",
                text=f"{name} under {TARGET_RSS_MB:g} MB RSS under load",
                value=loaded[name],
                limit=TARGET_RSS_MB,
                unit="MB",
                higher_is_better=False,
            )
        )
    details = {
        "steps": [step.as_dict() for step in steps],
        "raw_produce_consume_ms": {f"{rate:g}": found for rate, found in raw.items()},
        "bare_http_insert": {f"{rate:g}": found for rate, found in bare.items()},
        "idle_rss_mb": {name: round(value, 1) for name, value in idle.items()},
        "profiles": measured["profiles"],
    }
    return figures, targets, details


def write_chart(path: Path, details: dict[str, Any], title: str) -> None:
    """Left: end-to-end percentiles per offered rate against the raw baseline; right: lag over the ramp."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    in_order = sorted(details["steps"], key=lambda step: step["offered_per_second"])
    steps = details["steps"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(15, 5.5))
    figure.suptitle(title, fontsize=11)
    rates = [step["offered_per_second"] for step in in_order if step["end_to_end_ms"]]
    for cut, style in (("p50", "-o"), ("p95", "-s"), ("p99", "-^")):
        left.plot(
            rates,
            [s["end_to_end_ms"][cut] for s in in_order if s["end_to_end_ms"]],
            style,
            color="#1f6fb4",
            label=f"pipeline {cut}",
        )
        raw = [details["raw_produce_consume_ms"].get(f"{rate:g}") for rate in rates]
        left.plot(
            rates,
            [r[cut] if r else math.nan for r in raw],
            style,
            color="#999999",
            alpha=0.8,
            label=f"raw produce → consume {cut}",
        )
    for step in steps:
        marker = "kept up" if step["kept_up"] else "fell behind"
        left.annotate(
            marker,
            (step["offered_per_second"], (step["end_to_end_ms"] or {}).get("p99", 1)),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            fontsize=8,
        )
    left.axhline(TARGET_P99_MS, color="#c0392b", linestyle=":", label=f"target p99 {TARGET_P99_MS:g} ms")
    left.set_xscale("log", base=2)
    left.set_yscale("log")
    left.set_xticks(rates, [f"{rate:g}" for rate in rates])
    left.set_xlabel("offered referrals/s")
    left.set_ylabel("ms from the mutation's answer to signals, scheduling and billing")
    left.set_title("End-to-end latency")
    left.legend(fontsize=7)
    left.grid(alpha=0.3, which="both")

    offset = None
    for step in steps:
        samples = step["lag_samples"]
        if not samples:
            continue
        offset = samples[0]["t"] if offset is None else offset
        for group, colour in zip(GROUP_TOPICS, ("#8e44ad", "#27ae60", "#e67e22", "#1f6fb4"), strict=True):
            right.plot(
                [s["t"] - offset for s in samples],
                [s[group] for s in samples],
                color=colour,
                label=group if step is steps[0] else None,
            )
        right.axvspan(samples[0]["t"] - offset, samples[-1]["t"] - offset, alpha=0.06, color="#1f6fb4")
        right.text(samples[0]["t"] - offset, 0, f"{step['offered_per_second']:g}/s", fontsize=8, va="bottom")
    right.set_xlabel("seconds into the ramp (shaded: load on)")
    right.set_ylabel("consumer lag (events)")
    right.set_title("Lag per consumer group")
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# -- the suite -----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _stack(progress: Callable[[str], None]) -> Iterator[Stack]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in ("BMW_DATABASE_ADMIN_URL", "KAFKA_BOOTSTRAP_SERVERS") and not key.endswith("_DATABASE_URL")
    }
    # The benchmark offers hundreds of requests a second per organisation: the per-caller limit (600/min, a guard
    # against a runaway client) would refuse them. Everything else is as `bmw dev up` runs it.
    environ.update({"GATEWAY_RATE_LIMIT_PER_MINUTE": "10000000", "GATEWAY_RATE_LIMIT_BURST": "100000"})
    with (
        tempfile.TemporaryDirectory(prefix="bmw-bench-pipeline-", ignore_cleanup_errors=True) as tmp,
        Stack(
            Path(tmp) / ".bmw", base_port=0, demo=True, environ=environ, partitions=PARTITIONS, progress=progress
        ) as stack,
    ):
        yield stack


def run(options: SuiteOptions) -> SuiteResult:
    settings = PipelineSettings.for_options(options)
    started = time.perf_counter()
    when = datetime.now(UTC)
    options.output.mkdir(parents=True, exist_ok=True)
    status = options.progress.add_task("pipeline: starting the stack", total=None)
    with _stack(lambda message: options.progress.update(status, description=f"pipeline: {message}")) as stack:
        options.progress.update(status, total=1, completed=1)
        measured = asyncio.run(PipelineBenchmark(stack, settings, options).run())
    figures, targets, details = figures_of(measured)
    steps: list[Step] = measured["steps"]
    result = SuiteResult(
        name="pipeline",
        title="Event pipeline and footprint: referrals through the gateway to signals, scheduling and billing",
        figures=figures,
        targets=targets,
        settings={
            "rates": list(settings.rates),
            "step_seconds": settings.step_seconds,
            "baseline_seconds": settings.baseline_seconds,
            "partitions": PARTITIONS,
            "organisations": measured["organisations"],
            "quick": settings.quick,
        },
        details=details,
        checks={
            "every_accepted_referral_through_the_pipeline": all(step.missing_downstream == 0 for step in steps),
            "not_through_the_pipeline": sum(step.missing_downstream for step in steps),
            "accepted": sum(len(step.accepted) for step in steps),
            "failed_requests": sum(sum(step.failures.values()) for step in steps),
        },
    )
    result.seconds = time.perf_counter() - started
    if options.charts:
        path = options.output / "pipeline.png"
        write_chart(path, details, f"Event pipeline — {when:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores")
        result.charts.append(path.name)
    return result
