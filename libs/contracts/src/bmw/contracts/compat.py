"""Is a new JSON Schema of a published event type still compatible with the old one?

A published version (``intake.case.opened.v1``) has producers and consumers that were built
against it. A change must keep old data valid (producers that have not been upgraded, events
replayed from the outbox) and keep consumers able to read new data. So these are breaking:

* a property removed (consumers read it),
* a property newly required (old data lacks it),
* a type changed, widened or narrowed (``string`` → ``integer``; ``null`` added or dropped),
* an enum narrowed (old data uses the dropped value), or an enum added where there was none,
* a constraint added or tightened (``maxLength`` lowered, ``pattern`` changed, ...),
* ``additionalProperties`` changed.

Adding an optional property, widening an enum and loosening a constraint are compatible, provided the consumers
are upgraded before the producers: a consumer's model forbids fields and values it does not know, so a record from a
producer upgraded first is dead-lettered with its reason, to be re-driven once the consumer runs the new schema.
A breaking change is published as a new version (``.v2``) side by side instead; consumers that still read ``.v1``
skip ``.v2`` (``bmw.contracts.events.base.known_older_version``) until they move.

The walk is plain: properties, ``items``, ``anyOf``/``oneOf`` branches, local ``$defs`` refs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

Schema = Mapping[str, Any]

#: Lower bounds: raising one makes old data invalid.
_LOWER_BOUNDS: Final = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
#: Upper bounds: lowering one makes old data invalid.
_UPPER_BOUNDS: Final = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
#: Constraints that cannot be compared by size: any addition or change is breaking.
_EXACT: Final = ("pattern", "format", "multipleOf", "const", "uniqueItems")


def breaking_changes(old_schema: Schema, new_schema: Schema) -> list[str]:
    """Every incompatible change from ``old_schema`` to ``new_schema``, as ``path: what`` lines.

    An empty list means the new schema may replace the old one under the same version.
    """
    walker = _Walker(old_schema, new_schema)
    walker.compare(old_schema, new_schema, "$")
    return walker.problems


class _Walker:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.problems: list[str] = []
        self._stack: set[tuple[str, str]] = set()

    # -- refs ---------------------------------------------------------------------------------

    @staticmethod
    def _resolve(root: Schema, node: Schema) -> Schema:
        """Follow local ``$ref``s (``#/$defs/X``); sibling keywords override the target's."""
        seen: set[str] = set()
        while "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/") or ref in seen:
                raise ValueError(f"cannot resolve $ref {ref!r}: only local, acyclic refs are supported")
            seen.add(ref)
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **siblings}
        # allOf with a single member is how some generators attach keywords to a ref.
        all_of = node.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1:
            rest = {k: v for k, v in node.items() if k != "allOf"}
            return _Walker._resolve(root, {**all_of[0], **rest})
        return node

    # -- types --------------------------------------------------------------------------------

    def _types(self, root: Schema, node: Schema) -> frozenset[str]:
        """JSON types a (resolved) schema admits; ``any`` when it does not say."""
        node = self._resolve(root, node)
        branches = node.get("anyOf") or node.get("oneOf")
        if branches:
            found: set[str] = set()
            for branch in branches:
                found |= self._types(root, branch)
            return frozenset(found)
        declared = node.get("type")
        if isinstance(declared, str):
            return frozenset({declared})
        if isinstance(declared, list):
            return frozenset(declared)
        if "enum" in node:
            return frozenset(_json_type(v) for v in node["enum"])
        if "const" in node:
            return frozenset({_json_type(node["const"])})
        if "properties" in node:
            return frozenset({"object"})
        return frozenset({"any"})

    # -- the walk -----------------------------------------------------------------------------

    def compare(self, old: Schema, new: Schema, path: str) -> None:
        refs = (str(old.get("$ref", "")), str(new.get("$ref", "")))
        if refs != ("", ""):
            if refs in self._stack:  # a recursive definition: already being compared further up
                return
            self._stack.add(refs)
        try:
            self._compare_resolved(self._resolve(self.old_root, old), self._resolve(self.new_root, new), path)
        finally:
            self._stack.discard(refs)

    def _compare_resolved(self, old: Schema, new: Schema, path: str) -> None:
        old_types, new_types = self._types(self.old_root, old), self._types(self.new_root, new)
        if old_types != new_types:
            self.problems.append(f"{path}: type changed from {_fmt(old_types)} to {_fmt(new_types)}")
            return

        old_branches, new_branches = _branches(old), _branches(new)
        if old_branches is not None or new_branches is not None:
            self._compare_branches(old_branches or [old], new_branches or [new], path)
            return

        self._compare_enum(old, new, path)
        self._compare_constraints(old, new, path)
        if "object" in old_types:
            self._compare_object(old, new, path)
        if "array" in old_types:
            old_items, new_items = old.get("items"), new.get("items")
            if isinstance(old_items, Mapping) and isinstance(new_items, Mapping):
                self.compare(old_items, new_items, f"{path}[]")
            elif new_items is not None and old_items is None:
                self.problems.append(f"{path}[]: item schema added where any item was allowed")

    def _compare_branches(self, old: list[Schema], new: list[Schema], path: str) -> None:
        """Pair the branches of a union by the types they admit and compare the pairs."""
        new_by_types: dict[frozenset[str], list[Schema]] = {}
        for branch in new:
            new_by_types.setdefault(self._types(self.new_root, branch), []).append(branch)
        for branch in old:
            candidates = new_by_types.get(self._types(self.old_root, branch), [])
            if len(candidates) == 1:
                self.compare(branch, candidates[0], path)
            # Several or no branches of the same type: the type check above has judged them.

    def _compare_enum(self, old: Schema, new: Schema, path: str) -> None:
        if "enum" not in new:
            return
        new_values = list(new["enum"])
        if "enum" not in old:
            self.problems.append(f"{path}: enum {new_values!r} added where any value was allowed")
            return
        dropped = [v for v in old["enum"] if v not in new_values]
        if dropped:
            self.problems.append(f"{path}: enum narrowed, values {dropped!r} removed")

    def _compare_constraints(self, old: Schema, new: Schema, path: str) -> None:
        for key in _LOWER_BOUNDS:
            if key in new and (key not in old or _num(new[key]) > _num(old[key])):
                self.problems.append(f"{path}: {key} {_was(old, key)} → {new[key]!r} rejects old data")
        for key in _UPPER_BOUNDS:
            if key in new and (key not in old or _num(new[key]) < _num(old[key])):
                self.problems.append(f"{path}: {key} {_was(old, key)} → {new[key]!r} rejects old data")
        for key in _EXACT:
            if key in new and (key not in old or new[key] != old[key]):
                self.problems.append(f"{path}: {key} {_was(old, key)} → {new[key]!r} rejects old data")

    def _compare_object(self, old: Schema, new: Schema, path: str) -> None:
        old_props: Mapping[str, Schema] = old.get("properties", {})
        new_props: Mapping[str, Schema] = new.get("properties", {})
        old_required = set(old.get("required", []))
        new_required = set(new.get("required", []))
        prefix = "" if path == "$" else f"{path}."

        for name in old_props:
            if name not in new_props:
                self.problems.append(f"{prefix}{name}: property removed")
        for name in sorted(new_required - old_required):
            state = "existing" if name in old_props else "new"
            self.problems.append(f"{prefix}{name}: {state} property is now required")
        for name, old_prop in old_props.items():
            if name in new_props:
                self.compare(old_prop, new_props[name], f"{prefix}{name}")

        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        if isinstance(old_extra, Mapping) and isinstance(new_extra, Mapping):
            self.compare(old_extra, new_extra, f"{path}{{*}}")
        elif old_extra != new_extra:
            self.problems.append(
                f"{path}: additionalProperties changed from {_fmt_extra(old_extra)} to {_fmt_extra(new_extra)}"
            )


def _branches(node: Schema) -> list[Schema] | None:
    branches = node.get("anyOf") or node.get("oneOf")
    return list(branches) if isinstance(branches, list) else None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _num(value: Any) -> float:
    return float(value)


def _was(old: Schema, key: str) -> str:
    return repr(old[key]) if key in old else "(none)"


def _fmt(types: frozenset[str]) -> str:
    return "|".join(sorted(types))


def _fmt_extra(value: Any) -> str:
    if value is True:
        return "allowed"
    if value is False:
        return "forbidden"
    return "a schema"


def iter_properties(schema: Schema) -> Iterator[tuple[str, Schema]]:
    """Every property of an object schema and of the objects nested in it, depth first.

    Yields ``(path, property schema as written)``; paths read ``org_units[].name`` (``[]`` for
    array items, ``{*}`` for the values of a map). Local refs are followed, each once per path.
    """
    yield from _iter_properties(schema, schema, "", frozenset())


def _iter_properties(root: Schema, node: Schema, prefix: str, refs: frozenset[str]) -> Iterator[tuple[str, Schema]]:
    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref in refs:
            return
        refs = refs | {ref}
    node = _Walker._resolve(root, node)
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in node.get(key, []):
            yield from _iter_properties(root, branch, prefix, refs)
    items = node.get("items")
    if isinstance(items, Mapping):
        yield from _iter_properties(root, items, f"{prefix}[]", refs)
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping):
        yield from _iter_properties(root, extra, f"{prefix}{{*}}", refs)
    properties: Mapping[str, Schema] = node.get("properties", {})
    for name, prop in properties.items():
        path = f"{prefix}.{name}" if prefix else name
        yield path, prop
        yield from _iter_properties(root, prop, path, refs)
