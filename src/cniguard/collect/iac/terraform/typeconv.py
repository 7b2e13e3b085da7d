"""Variable type constraints: Terraform fills ``optional(T, default)`` attributes of objects.

Real modules (terraform-aws-eks v21 ``eks_managed_node_groups``) read such attributes directly, so
without the defaults every node group would be unknown.
"""

from __future__ import annotations

from lark import Token, Tree

from cniguard.collect.iac.terraform.expressions import Context, literal_key, parts
from cniguard.collect.iac.terraform.values import EvalError, Unknown, Value, to_bool, to_number


def _call(node: Tree[Token]) -> tuple[str, list[Tree[Token]]] | None:
    while node.data == "expr_term" and len(parts(node)) == 1:
        node = parts(node)[0]
    if node.data == "identifier":
        return str(node.children[0]), []
    if node.data != "function_call":
        return None
    name = str(parts(node)[0].children[0])
    arguments = next((c for c in parts(node) if c.data == "arguments"), None)
    return name, (parts(arguments) if arguments is not None else [])


def _object_fields(node: Tree[Token]) -> list[tuple[str, Tree[Token]]] | None:
    while node.data == "expr_term" and len(parts(node)) == 1:
        node = parts(node)[0]
    if node.data != "object":
        return None
    fields: list[tuple[str, Tree[Token]]] = []
    for element in parts(node):
        key_node, type_node = parts(element)
        key = literal_key(key_node)
        if key is not None:
            fields.append((key, type_node))
    return fields


def convert(type_node: Tree[Token], value: Value, context: Context) -> Value:
    """Apply a type constraint to a value: primitive conversion and optional attribute defaults."""
    if value is None or isinstance(value, Unknown):
        return value
    call = _call(type_node)
    if call is None:
        return value
    name, args = call
    try:
        if name == "string" and isinstance(value, int | float | bool):
            return str(value).lower() if isinstance(value, bool) else str(value)
        if name == "number" and isinstance(value, str):
            return to_number(value)
        if name == "bool" and isinstance(value, str):
            return to_bool(value)
    except EvalError:
        return value
    if name in ("map", "list", "set") and args:
        if isinstance(value, dict) and name == "map":
            return {k: convert(args[0], v, context) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(args[0], v, context) for v in value]
        return value
    if name == "object" and args and isinstance(value, dict):
        fields = _object_fields(args[0])
        if fields is None:
            return value
        result = dict(value)
        for key, field_type in fields:
            inner = _call(field_type)
            if inner is not None and inner[0] == "optional" and inner[1]:
                if result.get(key) is None:
                    default = context.value(inner[1][1]) if len(inner[1]) > 1 else None
                    result[key] = default
                result[key] = convert(inner[1][0], result[key], context)
            elif key in result:
                result[key] = convert(field_type, result[key], context)
        return result
    return value
