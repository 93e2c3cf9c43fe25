"""The gateway's ``GET /metrics``: its HTTP requests (as every service's) and its GraphQL operations.

``bmw_graphql_operations_total{type, fields, outcome}`` and ``bmw_graphql_operation_duration_seconds{type, fields}``
label an operation by its type and the schema's root fields it asks for (``accountView``, ``trends,signals``):
names the schema defines, so the labels stay few, never an alias, a variable or an id. ``outcome`` is ``ok``, ``error``
(a field answered with an error) or ``refused`` (not parsed, not valid, over a limit; its fields label is ``-``, as
the names in a refused document are the caller's).

``bmw_gateway_upstream_requests_total{service, method, status}`` and
``bmw_gateway_upstream_request_duration_seconds{service, method}``: the calls the gateway makes to each service (the
status code it got, or ``unreachable``), so a slow or failing service shows up as itself rather than as slow
GraphQL operations.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from graphql import FieldNode, OperationDefinitionNode
from prometheus_client import CollectorRegistry, Counter, Histogram
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from bmw.servicekit.metrics import LATENCY_BUCKETS

#: Longest label of root fields; an operation asking for more is labelled by its first fields and "…".
MAX_FIELDS_LABEL = 120


class GraphQLMetrics:
    """The gateway's operation counter and latency histogram, in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.operations = Counter(
            "bmw_graphql_operations",
            "GraphQL operations answered, per type, root fields and outcome (ok, error, refused).",
            ["type", "fields", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "bmw_graphql_operation_duration_seconds",
            "Time to answer a GraphQL operation, per type and root fields.",
            ["type", "fields"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def extension(self) -> type[SchemaExtension]:
        """A schema extension class that records every operation here."""
        metrics = self

        class OperationMetrics(SchemaExtension):
            def on_operation(self) -> Iterator[None]:
                started = time.perf_counter()
                try:
                    yield
                finally:  # also when the document does not parse: strawberry then ends the operation with an error
                    metrics.record(self.execution_context, time.perf_counter() - started)

        return OperationMetrics

    def record(self, context: ExecutionContext, seconds: float) -> None:
        """Count and time one operation."""
        kind, fields = _operation_of(context)
        result = context.result
        if context.pre_execution_errors or context.graphql_document is None or result is None:
            # The names of a refused document are the caller's, not the schema's: no label from them.
            outcome, fields = "refused", "-"
        elif result.errors:
            outcome = "error"
        else:
            outcome = "ok"
        self.operations.labels(kind, fields, outcome).inc()
        self.latency.labels(kind, fields).observe(seconds)


class UpstreamMetrics:
    """The gateway's calls to the services: counted per service, method and status, and timed."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "bmw_gateway_upstream_requests",
            "Calls from the gateway to a service, per service, method and status code (or 'unreachable').",
            ["service", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "bmw_gateway_upstream_request_duration_seconds",
            "Time a service took to answer the gateway (retries of a read included), per service and method.",
            ["service", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def record(self, service: str, method: str, status: str, seconds: float) -> None:
        """Count and time one call."""
        self.calls.labels(service, method, status).inc()
        self.latency.labels(service, method).observe(seconds)


def _operation_of(context: ExecutionContext) -> tuple[str, str]:
    """The operation's type and its root fields' names (sorted, de-duplicated, aliases resolved)."""
    document = context.graphql_document
    if document is None:
        return "unknown", "-"
    operation = next((d for d in document.definitions if isinstance(d, OperationDefinitionNode)), None)
    if operation is None:
        return "unknown", "-"
    names = sorted({s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)})
    fields = ",".join(names) or "none"
    if len(fields) > MAX_FIELDS_LABEL:
        fields = fields[:MAX_FIELDS_LABEL].rsplit(",", 1)[0] + ",…"
    return operation.operation.value, fields
