"""The root schema, composed from each domain's query and mutation mixins, and its protections.

Depth, alias, cost and introspection rules are graphql-core validation rules built here once, when the
app starts. strawberry's ``QueryDepthLimiter(...)`` and ``MaxAliasesLimiter(...)`` create a new
rule class on every instantiation; passed as per-request factories they would give the validation
cache a new key on every request, and it would never hit (measured: about 1,950 → 394 requests/s).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import strawberry
from graphql import ASTValidationRule, GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_limit_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_limit_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from bmw.gateway.billing.mutations import BillingMutation
from bmw.gateway.billing.queries import BillingQuery
from bmw.gateway.cases.mutations import CasesMutation
from bmw.gateway.cases.queries import CasesQuery
from bmw.gateway.cost import cost_limit_rule
from bmw.gateway.errors import MaskInternalErrors, should_mask
from bmw.gateway.identity.queries import IdentityQuery
from bmw.gateway.personal_data.queries import PersonalDataQuery
from bmw.gateway.referrals.mutations import ReferralMutation
from bmw.gateway.scheduling.mutations import SchedulingMutation
from bmw.gateway.scheduling.queries import SchedulingQuery
from bmw.gateway.signals.mutations import SignalsMutation
from bmw.gateway.signals.queries import SignalsQuery
from bmw.gateway.subscriptions.resolvers import Subscription

logger = logging.getLogger(__name__)

#: Distinct documents whose parse and validation results are kept (per process).
DOCUMENT_CACHE_SIZE = 512


@strawberry.type(description="Read operations of the BMW backend.")
class Query(IdentityQuery, SignalsQuery, BillingQuery, SchedulingQuery, CasesQuery, PersonalDataQuery):
    pass


@strawberry.type(description="Write operations of the BMW backend.")
class Mutation(ReferralMutation, BillingMutation, SchedulingMutation, CasesMutation, SignalsMutation):
    pass


@dataclass(frozen=True)
class Protection:
    """What a document may cost: nesting depth, aliases, tokens, estimated cost; and whether it may introspect."""

    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_cost: int = 5000
    introspection: bool = True

    def validation_rules(self) -> tuple[type[ASTValidationRule], ...]:
        """The extra validation rules. Call once: each call makes new rule classes."""
        rules: list[type[ASTValidationRule]] = [
            depth_limit_rule(self.max_depth, should_ignore=None),
            alias_limit_rule(self.max_aliases),
            cost_limit_rule(self.max_cost),
        ]
        if not self.introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
        return tuple(rules)

    def extensions(self) -> list[Callable[[], SchemaExtension]]:
        """Per-request extension factories that share one set of rule classes."""
        rules = list(self.validation_rules())
        return [
            partial(MaxTokensLimiter, max_token_count=self.max_tokens),
            partial(AddValidationRules, rules),
            partial(ParserCache, maxsize=DOCUMENT_CACHE_SIZE),
            partial(ValidationCache, maxsize=DOCUMENT_CACHE_SIZE),
            MaskInternalErrors,
        ]


class GatewaySchema(strawberry.Schema):
    """Logs an unexpected error with its cause, an expected one as one line without input values."""

    def process_errors(
        self,
        errors: list[GraphQLError],
        execution_context: ExecutionContext | None = None,
    ) -> None:
        refused = 0
        for error in errors:
            if error.path is None:
                refused += 1
            elif should_mask(error):
                logger.error(
                    "unexpected error in %s",
                    ".".join(str(part) for part in error.path),
                    exc_info=error.original_error or error,
                )
            else:
                # Messages can quote input values; the code and the path say enough.
                code = error.extensions.get("code") if error.extensions else None
                logger.info("%s in %s", code, ".".join(str(part) for part in error.path))
        if refused:
            # Syntax, validation, limits or variables: the caller's document, not our failure.
            logger.info("document refused with %d error(s)", refused)


def build_schema(
    protection: Protection | None = None, *, extra_extensions: Sequence[type[SchemaExtension]] = ()
) -> GatewaySchema:
    """The gateway's schema; build it once per process and reuse it for every request. ``extra_extensions`` run
    around every operation too (the app's operation metrics)."""
    protection = protection or Protection()
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[*extra_extensions, *protection.extensions()],
        config=StrawberryConfig(
            # Without introspection, "did you mean ...?" hints would still reveal the schema.
            disable_field_suggestions=not protection.introspection,
        ),
    )


def schema_sdl(schema: strawberry.Schema | None = None) -> str:
    """The schema in SDL, as committed in ``gateway/schema.graphql``."""
    return (schema or build_schema()).as_str().rstrip("\n") + "\n"
