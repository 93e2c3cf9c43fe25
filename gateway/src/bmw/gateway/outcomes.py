"""Expected failures of mutations, returned as members of their result unions.

A mutation returns ``<Success> | ValidationFailed | Forbidden | ServiceUnavailable`` so a client
handles every expected outcome with a typed selection instead of parsing error messages.
"""

from __future__ import annotations

from collections.abc import Callable

import strawberry

from bmw.servicekit import errors


@strawberry.type(description="One problem with one input field.")
class FieldError:
    path: str = strawberry.field(description="Path of the offending input field, e.g. `input.employee.email`.")
    message: str = strawberry.field(description="What is wrong with it.")


@strawberry.type(description="The input was refused; nothing was changed.")
class ValidationFailed:
    message: str = strawberry.field(description="Summary of what is wrong.")
    fields: list[FieldError] = strawberry.field(
        description="Each offending input field; empty when the problem is not one field's."
    )

    @classmethod
    def of(cls, error: errors.DomainError, field_path: Callable[[str], str]) -> ValidationFailed:
        """A service's refusal, with its field paths mapped to GraphQL input paths."""
        return cls(
            message=error.message,
            fields=[FieldError(path=field_path(f.path), message=f.message) for f in error.fields],
        )


@strawberry.type(description="The caller's role or client organisation does not allow this.")
class Forbidden:
    message: str = strawberry.field(description="Why it is not allowed.")


@strawberry.type(description="A service needed for this is unavailable or did not answer in time; retry later.")
class ServiceUnavailable:
    message: str = strawberry.field(description="Which service, and what to do.")


@strawberry.type(description="What the operation is about does not exist, or the caller may not see it.")
class NotFound:
    message: str = strawberry.field(description="What was not found.")


@strawberry.type(description="The operation conflicts with the current state (e.g. a taken slot); nothing changed.")
class Conflict:
    message: str = strawberry.field(description="What conflicts, and what to do about it.")


#: The expected refusals a mutation returns as members of its result union.
Refusal = ValidationFailed | Forbidden | NotFound | Conflict | ServiceUnavailable


def refusal_of(error: errors.DomainError, field_path: Callable[[str], str]) -> Refusal | None:
    """The union member for a service's (or the gateway's own) expected refusal, its field paths mapped by
    ``field_path``; None for anything else (e.g. 401), which stays a GraphQL error."""
    if isinstance(error, errors.InvalidInput):
        return ValidationFailed.of(error, field_path)
    if isinstance(error, errors.Forbidden):
        return Forbidden(message=error.message)
    if isinstance(error, errors.NotFound):
        return NotFound(message=error.message)
    if isinstance(error, errors.Conflict):
        return Conflict(message=error.message)
    if isinstance(error, errors.ServiceUnavailable):
        return ServiceUnavailable(message=error.message)
    return None
