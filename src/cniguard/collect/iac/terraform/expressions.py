"""Evaluation of HCL expressions (the Lark tree of python-hcl2's grammar) to values.

Terraform semantics kept here: strict attribute/index errors (which ``try``/``can`` recover from),
templates, ``for`` expressions with filters and grouping, splats, conditionals, operators. Name
look-ups (``var``, ``local``, resources, ...) are delegated to the module that owns the expression.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

import hcl2.api
from hcl2.utils import process_escape_sequences
from lark import Token, Tree
from lark.exceptions import LarkError

from cniguard.collect.iac.terraform.functions import call_function
from cniguard.collect.iac.terraform.hcl import SourceText
from cniguard.collect.iac.terraform.limits import LimitExceeded, budget
from cniguard.collect.iac.terraform.values import (
    EvalError,
    Namespace,
    ResourceObject,
    Unknown,
    Value,
    as_collection,
    to_bool,
    to_int,
    to_number,
    to_text,
    type_name,
    unowned,
)

RootResolver = Callable[[str], Value]
_SKIP_TREES = {"new_line_or_comment"}


def parts(node: Tree[Token]) -> list[Tree[Token]]:
    return [c for c in node.children if isinstance(c, Tree) and c.data not in _SKIP_TREES]


def get_attr(value: Value, name: str) -> Value:
    if isinstance(value, Unknown):
        return value
    if isinstance(value, Namespace):
        return value.get(name)
    if isinstance(value, ResourceObject):
        return value.attribute(name)
    if isinstance(value, dict):
        if name in value:
            return value[name]
        raise EvalError(f"object has no attribute {name!r}")
    raise EvalError(f"a {type_name(value)} value has no attribute {name!r}")


def get_index(value: Value, key: Value) -> Value:
    if isinstance(value, Unknown):
        return value
    if isinstance(key, Unknown):
        return key
    if isinstance(value, list):
        position = to_int(key)
        if 0 <= position < len(value):
            return value[position]
        raise EvalError(f"index {position} out of range for a list of {len(value)}")
    if isinstance(value, Namespace):
        return value.get(to_text(key))
    if isinstance(value, dict):
        text = to_text(key)
        if isinstance(value, ResourceObject):
            return value.attribute(text)
        if text in value:
            return value[text]
        raise EvalError(f"no key {text!r}")
    raise EvalError(f"cannot index a {type_name(value)} value")


@dataclass(frozen=True)
class _TemplatePiece:
    literal: str | None
    expr: Tree[Token] | None = None
    source: SourceText | None = None


_DIRECTIVE = re.compile(r"(?<!%)%\{")


def _interpolation_end(text: str, start: int) -> int:
    """Index of the ``}`` closing the ``${`` whose expression starts at ``start``, or -1."""
    depth, position, quoted = 0, start, False
    while position < len(text):
        char = text[position]
        if quoted:
            if char == "\\":
                position += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return position
            depth -= 1
        position += 1
    return -1


@functools.lru_cache(maxsize=4096)
def _template(text: str, display: str, first_line: int) -> tuple[_TemplatePiece, ...]:
    """Split template text (heredoc body, JSON string) into literals and parsed expressions."""
    pieces: list[_TemplatePiece] = []
    literal: list[str] = []
    position = 0
    while position < len(text):
        if text.startswith("$${", position) or text.startswith("%%{", position):
            literal.append(text[position + 1 : position + 3])
            position += 3
            continue
        if text.startswith("%{", position):
            raise EvalError("template directives (%{ if }/%{ for }) are not evaluated")
        if text.startswith("${", position):
            end = _interpolation_end(text, position + 2)
            if end < 0:
                raise EvalError("unterminated ${ in template")
            expr_text = text[position + 2 : end].strip().strip("~").strip()
            line = first_line + text.count("\n", 0, position)
            try:
                body = hcl2.api.parses_to_tree(f"x = {expr_text}\n").children[0]
            except LarkError as exc:
                raise EvalError(f"cannot parse ${{{expr_text}}}") from exc
            attribute = next(
                c for c in body.children if isinstance(c, Tree) and c.data == "attribute"
            )
            expr = attribute.children[-1]
            assert isinstance(expr, Tree)
            if literal:
                pieces.append(_TemplatePiece("".join(literal)))
                literal = []
            source = SourceText(display, f"x = {expr_text}\n", line - 1)
            pieces.append(_TemplatePiece(None, expr, source))
            position = end + 1
            continue
        literal.append(text[position])
        position += 1
    if literal:
        pieces.append(_TemplatePiece("".join(literal)))
    return tuple(pieces)


def _heredoc_body(token: str, trim: bool) -> str:
    lines = token.split("\n")
    body = lines[1:-2] if lines[-1] == "" else lines[1:-1]
    if trim:
        indents = [len(line) - len(line.lstrip()) for line in body if line.strip()]
        cut = min(indents, default=0)
        body = [line[cut:] for line in body]
    return "\n".join(body) + ("\n" if body else "")


class Context:
    """Evaluates expressions of one source text against a root resolver and local bindings."""

    def __init__(
        self,
        resolve: RootResolver,
        source: SourceText,
        bindings: dict[str, Value] | None = None,
    ) -> None:
        self.resolve = resolve
        self.source = source
        self.bindings = bindings or {}

    def bind(self, **bindings: Value) -> Context:
        return Context(self.resolve, self.source, {**self.bindings, **bindings})

    def with_source(self, source: SourceText) -> Context:
        return Context(self.resolve, source, self.bindings)

    def unknown(self, node: Tree[Token], reason: str) -> Unknown:
        return Unknown(
            self.source.snippet(node), reason, self.source.display, self.source.line_of(node)
        )

    def value(self, node: Tree[Token]) -> Value:
        """Evaluate; a definite error becomes an ``Unknown`` that names it (fail closed), and so
        does a value past a limit (recorded for a gap)."""
        try:
            result = self.evaluate(node)
            budget().value(result)
        except EvalError as exc:
            return self.unknown(node, f"evaluation error: {exc}")
        except RecursionError:
            return self.unknown(node, "expression nested too deeply")
        except LimitExceeded as exc:
            budget().record(self.source.display, self.source.line_of(node), exc.message)
            return self.unknown(node, f"not evaluated: {exc.message}")
        return result

    def template(self, text: str, line: int | None) -> Value:
        """Evaluate template text that is not in the tree (heredoc body, JSON string)."""
        pieces = _template(text, self.source.display, line or 1)
        if len(pieces) == 1 and pieces[0].expr is not None and pieces[0].source is not None:
            return self.with_source(pieces[0].source).evaluate(pieces[0].expr)
        out: list[str] = []
        for piece in pieces:
            if piece.literal is not None:
                out.append(piece.literal)
                continue
            assert piece.expr is not None and piece.source is not None
            value = self.with_source(piece.source).evaluate(piece.expr)
            if isinstance(value, Unknown):
                return unowned(value)
            out.append(to_text(value))
        return _joined(out)

    def evaluate(self, node: Tree[Token]) -> Value:
        """Evaluate; too deep nesting raises ``RecursionError``, which ``value`` reports."""
        budget().tick()
        while node.data == "expr_term" and len(node.children) == 1:
            child = node.children[0]
            if not isinstance(child, Tree):
                break
            node = child
        handler = _HANDLERS.get(node.data)
        if handler is None:
            return self.unknown(node, f"{node.data} expressions are not evaluated")
        return handler(self, node)

    # --- terms -------------------------------------------------------------------------------

    def _e_expr_term(self, node: Tree[Token]) -> Value:
        inner = parts(node)
        if len(inner) != 1:
            raise EvalError("malformed expression")
        return self.evaluate(inner[0])

    def _e_identifier(self, node: Tree[Token]) -> Value:
        name = str(node.children[0])
        if name in self.bindings:
            return self.bindings[name]
        return self.resolve(name)

    def _e_literal_value(self, node: Tree[Token]) -> Value:
        return {"true": True, "false": False, "null": None}[str(node.children[0])]

    def _e_int_lit(self, node: Tree[Token]) -> Value:
        digits = str(node.children[0])
        if len(digits) > _MAX_DIGITS:
            raise LimitExceeded(f"a number literal of {len(digits)} digits")
        return int(digits)

    def _e_float_lit(self, node: Tree[Token]) -> Value:
        return float(str(node.children[0]))

    def _e_string(self, node: Tree[Token]) -> Value:
        out: list[str] = []
        alone = sum(isinstance(part, Tree) for part in node.children) == 1
        for part in node.children:
            if not isinstance(part, Tree):
                continue
            piece = part.children[0]
            if isinstance(piece, Token):
                if piece.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
                    out.append(str(piece)[1:])
                else:
                    out.append(process_escape_sequences(str(piece)))
                continue
            if piece.data != "interpolation":
                return self.unknown(node, "template directives are not evaluated")
            value = self.evaluate(parts(piece)[0])
            if isinstance(value, Unknown):
                return value if alone else unowned(value)
            out.append(to_text(value))
        return _joined(out)

    def _heredoc(self, node: Tree[Token], trim: bool) -> Value:
        token = str(node.children[0])
        line = self.source.line_of(node)
        return self.template(_heredoc_body(token, trim), None if line is None else line + 1)

    def _e_heredoc_template(self, node: Tree[Token]) -> Value:
        return self._heredoc(node, trim=False)

    def _e_heredoc_template_trim(self, node: Tree[Token]) -> Value:
        return self._heredoc(node, trim=True)

    def _e_tuple(self, node: Tree[Token]) -> Value:
        return [self.evaluate(item) for item in parts(node)]

    def _object_key(self, node: Tree[Token]) -> Value:
        key = literal_key(node)
        if key is not None:
            return key
        inner = node.children[0]
        assert isinstance(inner, Tree)
        return self.evaluate(inner)

    def _e_object(self, node: Tree[Token]) -> Value:
        result: dict[str, Value] = {}
        for element in parts(node):
            key_node, value_node = parts(element)
            key = self._object_key(key_node)
            if isinstance(key, Unknown):
                return key
            result[to_text(key)] = self.evaluate(value_node)
        return result

    # --- operators ---------------------------------------------------------------------------

    def _e_conditional(self, node: Tree[Token]) -> Value:
        condition, when_true, when_false = parts(node)
        test = self.evaluate(condition)
        if isinstance(test, Unknown):
            left, right = self.value(when_true), self.value(when_false)
            return left if left == right and not isinstance(left, Unknown) else test
        return self.evaluate(when_true if to_bool(test) else when_false)

    def _e_unary_op(self, node: Tree[Token]) -> Value:
        operator = str(node.children[0])
        value = self.evaluate(parts(node)[0])
        if isinstance(value, Unknown):
            return value
        return (not to_bool(value)) if operator == "!" else -to_number(value)

    def _e_binary_op(self, node: Tree[Token]) -> Value:
        left_node, term = parts(node)[:2]
        operator = str(term.children[0].children[0]) if isinstance(term.children[0], Tree) else ""
        right_node = parts(term)[-1]
        left = self.evaluate(left_node)
        if operator in ("&&", "||") and not isinstance(left, Unknown):
            decided = to_bool(left)
            if decided == (operator == "||"):
                return decided
            right = self.evaluate(right_node)
            return right if isinstance(right, Unknown) else to_bool(right)
        right = self.evaluate(right_node)
        for side in (left, right):
            if isinstance(side, Unknown):
                return side
        result = _binary(operator, left, right)
        budget().number(result)
        return result

    # --- traversal ---------------------------------------------------------------------------

    def _e_get_attr_expr_term(self, node: Tree[Token]) -> Value:
        target, attr = parts(node)
        return get_attr(self.evaluate(target), _attr_name(attr))

    def _e_index_expr_term(self, node: Tree[Token]) -> Value:
        target, index = parts(node)
        return self._apply_index(self.evaluate(target), index)

    def _apply_index(self, value: Value, index: Tree[Token]) -> Value:
        if index.data == "short_index":
            return get_index(value, int(str(index.children[-1])))
        return get_index(value, self.evaluate(parts(index)[0]))

    def _splat(self, node: Tree[Token]) -> Value:
        target, splat = parts(node)
        value = self.evaluate(target)
        if isinstance(value, Unknown):
            return value
        items = [] if value is None else value if isinstance(value, list) else [value]
        budget().items(len(items), "a splat")
        steps = parts(splat)
        result = []
        for item in items:
            current = item
            for step in steps:
                current = (
                    get_attr(current, _attr_name(step))
                    if step.data == "get_attr"
                    else self._apply_index(current, step)
                )
            result.append(current)
        return result

    def _e_attr_splat_expr_term(self, node: Tree[Token]) -> Value:
        return self._splat(node)

    def _e_full_splat_expr_term(self, node: Tree[Token]) -> Value:
        return self._splat(node)

    # --- functions and for -------------------------------------------------------------------

    def _e_function_call(self, node: Tree[Token]) -> Value:
        names = [c for c in node.children if isinstance(c, Tree) and c.data == "identifier"]
        name = str(names[0].children[0])
        if len(names) > 1:
            return self.unknown(node, "provider-defined functions are not evaluated")
        arguments = next((c for c in parts(node) if c.data == "arguments"), None)
        arg_nodes = parts(arguments) if arguments is not None else []
        if name in ("try", "can"):
            return self._try(node, name, arg_nodes)
        args = [self.evaluate(a) for a in arg_nodes]
        expands = arguments is not None and any(
            isinstance(c, Token) and c.type == "ELLIPSIS" for c in arguments.children
        )
        if expands and args:
            last = args.pop()
            if isinstance(last, Unknown):
                return last
            args.extend(last if isinstance(last, list) else list(_as_dict(last).values()))
        return call_function(name, args, self.source.snippet(node))

    def _try(self, node: Tree[Token], name: str, arg_nodes: list[Tree[Token]]) -> Value:
        for arg in arg_nodes:
            try:
                value = self.evaluate(arg)
            except EvalError:
                if name == "can":
                    return False
                continue
            if isinstance(value, Unknown) or name == "try":
                return value
            return True
        if name == "can":
            return True
        raise EvalError("try: every argument failed")

    def _for_items(self, intro: Tree[Token]) -> tuple[list[str], Value]:
        names = [str(c.children[0]) for c in parts(intro) if c.data == "identifier"]
        collection = next(c for c in parts(intro) if c.data != "identifier")
        return names, self.evaluate(collection)

    def _for_each_binding(
        self, node: Tree[Token]
    ) -> tuple[list[Context], list[Tree[Token]], bool] | Unknown:
        pieces = parts(node)
        intro, rest = pieces[0], pieces[1:]
        names, collection = self._for_items(intro)
        if isinstance(collection, Unknown):
            return collection
        condition = next((p for p in rest if p.data == "for_cond"), None)
        bodies = [p for p in rest if p.data != "for_cond"]
        grouping = any(isinstance(c, Token) and c.type == "ELLIPSIS" for c in node.children)
        contexts: list[Context] = []
        pairs = as_collection(collection if collection is not None else [])
        budget().items(len(pairs), "a for expression")
        for key, item in pairs:
            binding = {names[0]: item} if len(names) == 1 else {names[0]: key, names[1]: item}
            context = self.bind(**binding)
            if condition is not None:
                keep = context.evaluate(parts(condition)[0])
                if isinstance(keep, Unknown):
                    return keep
                if not to_bool(keep):
                    continue
            contexts.append(context)
        return contexts, bodies, grouping

    def _e_for_tuple_expr(self, node: Tree[Token]) -> Value:
        bound = self._for_each_binding(node)
        if isinstance(bound, Unknown):
            return bound
        contexts, bodies, _ = bound
        return [context.evaluate(bodies[0]) for context in contexts]

    def _e_for_object_expr(self, node: Tree[Token]) -> Value:
        bound = self._for_each_binding(node)
        if isinstance(bound, Unknown):
            return bound
        contexts, bodies, grouping = bound
        result: dict[str, Value] = {}
        for context in contexts:
            key = context.evaluate(bodies[0])
            if isinstance(key, Unknown):
                return key
            value = context.evaluate(bodies[1])
            text = to_text(key)
            if grouping:
                result.setdefault(text, []).append(value)
            elif text in result:
                raise EvalError(f"duplicate key {text!r} in for expression")
            else:
                result[text] = value
        return result


_HANDLERS: dict[str, Callable[[Context, Tree[Token]], Value]] = {
    name.removeprefix("_e_"): handler
    for name, handler in vars(Context).items()
    if name.startswith("_e_")
}


def literal_key(node: Tree[Token]) -> str | None:
    """The key of an object element written as a bare name or plain string, else None."""
    inner = node.children[0]
    if isinstance(inner, Tree) and inner.data == "keyword":
        return str(inner.children[0])
    if not isinstance(inner, Tree) or inner.data != "expr_term" or len(inner.children) != 1:
        return None
    term = inner.children[0]
    if isinstance(term, Tree) and term.data == "identifier":
        return str(term.children[0])
    if isinstance(term, Tree) and term.data == "string":
        parts = [p.children[0] for p in term.children if isinstance(p, Tree)]
        if all(isinstance(p, Token) and p.type == "STRING_CHARS" for p in parts):
            return "".join(process_escape_sequences(str(p)) for p in parts)
    return None


# Terraform numbers hold about 155 significant digits; Python refuses to parse over 4,300.
_MAX_DIGITS = 310


def _joined(pieces: list[str]) -> str:
    """Template text, measured before it is built (doubling templates grow exponentially)."""
    budget().text(sum(len(piece) for piece in pieces), "a string")
    return "".join(pieces)


def _attr_name(node: Tree[Token]) -> str:
    inner = parts(node)[0]
    return str(inner.children[0])


def _as_dict(value: Value) -> dict[str, Value]:
    if isinstance(value, dict):
        return value
    raise EvalError(f"cannot expand a {type_name(value)} value")


def _binary(operator: str, left: Value, right: Value) -> Value:
    if operator == "==":
        return bool(left == right and type_name(left) == type_name(right))
    if operator == "!=":
        return not (left == right and type_name(left) == type_name(right))
    if operator in ("&&", "||"):
        return to_bool(right)
    a, b = to_number(left), to_number(right)
    if operator == "+":
        return a + b
    if operator == "-":
        return a - b
    if operator == "*":
        return a * b
    if operator in ("/", "%"):
        if b == 0:
            raise EvalError("division by zero")
        return a / b if operator == "/" else a % b
    comparisons = {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}
    if operator in comparisons:
        return comparisons[operator]
    raise EvalError(f"operator {operator!r} is not supported")
