"""The query cost limit: an estimate of how much work a document asks for, checked while validating.

Depth, alias and token limits bound a document's shape but not its fan-out: three nested lists of
200 items each ask for eight million objects in a document well within all three. The cost is an
upper bound on the objects a document can make the gateway fetch:

- every field costs 1;
- the selection under a connection field (a type with ``edges`` and ``pageInfo``) counts once per
  item it may return: ``first`` when written in the document, the default page size when absent,
  and the largest page when it comes from a variable (validation runs once per document, before
  and without the variables, so only an upper bound is safe);
- nesting multiplies; the branches of a union or interface are added up (another upper bound).

The rule is a graphql-core validation rule, so a refused document never executes and the result is
cached with the document's other validation results.
"""

from __future__ import annotations

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    TypeNameMetaFieldDef,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
)
from graphql.language import FragmentDefinitionNode
from graphql.utilities import type_from_ast

from bmw.gateway.errors import ErrorCode
from bmw.gateway.pagination import DEFAULT_PAGE, MAX_PAGE

#: Digits beyond which a ``first`` literal is simply "too many" (int() refuses very long strings).
_MAX_FIRST_DIGITS = 9
_TOO_MANY = 1_000_000_000


def is_connection(graphql_type: GraphQLNamedType) -> bool:
    """Whether a type is a Relay connection (``Connection[T]`` in pagination.py)."""
    return isinstance(graphql_type, GraphQLObjectType) and {"edges", "pageInfo"} <= graphql_type.fields.keys()


def _page_items(node: FieldNode) -> int:
    """How many items a connection field may return, as far as the document says."""
    argument = next((argument for argument in node.arguments or () if argument.name.value == "first"), None)
    if argument is None or isinstance(argument.value, NullValueNode):
        return DEFAULT_PAGE
    if isinstance(argument.value, VariableNode):
        return MAX_PAGE
    if isinstance(argument.value, IntValueNode):
        literal: str = argument.value.value
        if len(literal.lstrip("-")) > _MAX_FIRST_DIGITS:
            return _TOO_MANY
        # The resolver refuses a `first` below 1; as an estimate it counts as one item.
        return max(int(literal), 1)
    # Not an Int: another rule reports it and the document does not run.
    return DEFAULT_PAGE


class DocumentCost:
    """The cost of the operations of one document against one schema."""

    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self._schema = schema
        self._fragments = fragments
        # A fragment's cost depends only on its own type condition: count each once.
        self._fragment_costs: dict[str, int] = {}
        self._visiting: set[str] = set()

    def operation(self, operation: OperationDefinitionNode) -> int:
        """The cost of one operation of the document."""
        root = self._schema.get_root_type(operation.operation)
        return self._selection_set(operation.selection_set, root)

    def _selection_set(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                named = type_from_ast(self._schema, condition) if condition is not None else parent
                total += self._selection_set(selection.selection_set, _named(named))
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment(selection.name.value)
        return total

    def _fragment(self, name: str) -> int:
        if name in self._fragment_costs:
            return self._fragment_costs[name]
        fragment = self._fragments.get(name)
        if fragment is None or name in self._visiting:
            # Unknown or cyclic fragments are reported by the standard rules; they cost nothing here.
            return 0
        self._visiting.add(name)
        named = _named(type_from_ast(self._schema, fragment.type_condition))
        cost = self._selection_set(fragment.selection_set, named)
        self._visiting.discard(name)
        self._fragment_costs[name] = cost
        return cost

    def _field(self, node: FieldNode, parent: GraphQLNamedType | None) -> int:
        definition = self._definition(node.name.value, parent)
        if definition is None:
            # Unknown field: reported by FieldsOnCorrectTypeRule; the document does not run.
            return 1
        field_type = get_named_type(definition.type)
        children = self._selection_set(node.selection_set, field_type)
        items = _page_items(node) if is_connection(field_type) else 1
        return 1 + items * children

    def _definition(self, name: str, parent: GraphQLNamedType | None) -> GraphQLField | None:
        if name == "__typename":
            return TypeNameMetaFieldDef
        if parent is self._schema.query_type and name == "__schema":
            return SchemaMetaFieldDef
        if parent is self._schema.query_type and name == "__type":
            return TypeMetaFieldDef
        fields: dict[str, GraphQLField] | None = getattr(parent, "fields", None)
        return fields.get(name) if fields is not None else None


def _named(graphql_type: GraphQLType | None) -> GraphQLNamedType | None:
    named = get_named_type(graphql_type) if graphql_type is not None else None
    return named if isinstance(named, GraphQLNamedType) else None


def cost_limit_rule(max_cost: int) -> type[ValidationRule]:
    """A validation rule refusing operations whose cost exceeds ``max_cost``.

    Build it once per schema: a new class per request would defeat the validation cache.
    """

    class CostLimitRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            fragments = {
                definition.name.value: definition
                for definition in document.definitions
                if isinstance(definition, FragmentDefinitionNode)
            }
            self._cost = DocumentCost(context.schema, fragments)

        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: object) -> object:
            cost = self._cost.operation(node)
            if cost > max_cost:
                name = f" {node.name.value}" if node.name else ""
                self.report_error(
                    GraphQLError(
                        f"operation{name} costs {cost}, more than the limit of {max_cost}: ask for fewer "
                        f"items with `first` (absent it counts {DEFAULT_PAGE}, from a variable {MAX_PAGE}) "
                        "or split the document",
                        node,
                        extensions={"code": ErrorCode.COST_LIMIT_EXCEEDED.value, "cost": cost, "maxCost": max_cost},
                    )
                )
            # The cost was computed from the whole operation; no need to walk into it again.
            return self.SKIP

    CostLimitRule.__name__ = f"CostLimitRule{max_cost}"
    return CostLimitRule


__all__ = ["DocumentCost", "cost_limit_rule", "is_connection"]
