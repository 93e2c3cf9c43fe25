"""Relay-style cursor connections for every list the gateway returns.

Services page with opaque keyset cursors (``next_cursor``); the gateway passes them through as the
connection's ``endCursor``, so ``first``/``after`` map one-to-one onto a service's ``limit``/``cursor``.
Lists a service returns whole are cut into pages here with an offset cursor.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import strawberry

from bmw.servicekit.errors import FieldError, InvalidInput

Node = TypeVar("Node")

DEFAULT_PAGE = 50
MAX_PAGE = 200


@strawberry.type(description="Where a page stands in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when another page follows this one.")
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` to get the next page; null when there is none."
    )


@strawberry.type(description="One item of a list with its cursor.")
class Edge(Generic[Node]):
    node: Node = strawberry.field(description="The item.")
    cursor: str = strawberry.field(description="Opaque position of the item; pass as `after` to continue after it.")


@strawberry.type(description="A page of a list (Relay cursor connection).")
class Connection(Generic[Node]):
    edges: list[Edge[Node]] = strawberry.field(description="The items of this page, each with its cursor.")
    page_info: PageInfo = strawberry.field(description="Whether more follow, and from where.")
    nodes: list[Node] = strawberry.field(description="The items of this page without cursors (the edges' nodes).")


def page_size(first: int | None, path: str = "first") -> int:
    """``first`` checked: 1 to MAX_PAGE, DEFAULT_PAGE when absent."""
    if first is None:
        return DEFAULT_PAGE
    if not 1 <= first <= MAX_PAGE:
        raise InvalidInput(
            f"{path} must lie between 1 and {MAX_PAGE}",
            fields=[FieldError(path=path, message=f"between 1 and {MAX_PAGE}")],
        )
    return first


def from_service_page(items: Sequence[Node], next_cursor: str | None) -> Connection[Node]:
    """A connection over one page a service returned with its own keyset cursor.

    Services hand out a cursor per page, not per item: every edge carries the page's ``endCursor``
    (continuing after any edge of a page continues after the page), so any cursor a client passes back as
    ``after`` is one the service understands."""
    cursor = next_cursor or ""
    return Connection(
        edges=[Edge(node=item, cursor=cursor) for item in items],
        page_info=PageInfo(has_next_page=next_cursor is not None, end_cursor=next_cursor),
        nodes=list(items),
    )


def _offset_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _offset(after: str | None, path: str) -> int:
    if after is None:
        return 0
    try:
        kind, value = base64.urlsafe_b64decode(after.encode()).decode().split(":", 1)
        if kind != "o" or int(value) < 0:
            raise ValueError(after)
        return int(value)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(
            "not a cursor of this list", fields=[FieldError(path=path, message="pass an endCursor of this list")]
        ) from error


def check_window(first: int | None, after: str | None) -> None:
    """Refuse a bad ``first`` or ``after`` of a list the service returns whole *before* asking the service."""
    page_size(first)
    _offset(after, "after")


def from_whole_list(
    items: Sequence[Node], *, first: int | None, after: str | None, key: Callable[[Node], object] | None = None
) -> Connection[Node]:
    """A page of a list the service returned whole (``key`` sorts it first, when given)."""
    ordered = sorted(items, key=key) if key is not None else list(items)  # type: ignore[arg-type]
    size = page_size(first)
    start = _offset(after, "after")
    page = ordered[start : start + size]
    more = start + size < len(ordered)
    edges = [Edge(node=item, cursor=_offset_cursor(start + i + 1)) for i, item in enumerate(page)]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=more, end_cursor=_offset_cursor(start + len(page)) if more else None),
        nodes=list(page),
    )
