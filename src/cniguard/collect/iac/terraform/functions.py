"""Terraform's built-in functions that IAM and EKS code uses, evaluated on known values.

A function not listed here yields an :class:`Unknown` naming it (never a guess). ``try`` and
``can`` need unevaluated arguments and live in the expression evaluator.

Arguments and results are measured against the evaluation limits (``limits.py``); functions whose
output can outgrow their input (``join``, ``replace``, ``format``) check its size before building
it. Regular expressions run on RE2, Terraform's own engine: linear time, no backtracking.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable

import re2

from cniguard.collect.iac.terraform.limits import budget
from cniguard.collect.iac.terraform.values import (
    EvalError,
    Unknown,
    Value,
    deep_unknown,
    to_bool,
    to_number,
    to_text,
    type_name,
    unowned,
)

Function = Callable[..., Value]


def _string(value: Value) -> str:
    return to_text(value)


def _list(value: Value) -> list[Value]:
    if isinstance(value, list):
        return value
    raise EvalError(f"expected a list, got {type_name(value)}")


def _map(value: Value) -> dict[str, Value]:
    if isinstance(value, dict):
        return value
    raise EvalError(f"expected a map, got {type_name(value)}")


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a bad pattern is an EvalError, not a line on stderr
    return options


_RE2_OPTIONS = _re2_options()


def _regex(pattern: str) -> re2._Regexp[str]:
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args else ""
        raise EvalError(f"invalid regular expression {pattern!r}: {reason}") from exc


_GROUP_REF = re.compile(r"\$\{?(\d+)\}?")


def _replace(text: Value, search: Value, replacement: Value) -> str:
    source, pattern, new = _string(text), _string(search), _string(replacement)
    if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
        compiled = _regex(pattern[1:-1])
        matches = sum(1 for _ in compiled.finditer(source))
        per_match = len(new) + len(_GROUP_REF.findall(new)) * len(source)
        budget().text(len(source) + matches * per_match, "the result of replace()")
        python_repl = _GROUP_REF.sub(r"\\g<\1>", new.replace("\\", "\\\\"))
        return compiled.sub(python_repl, source)
    matches = source.count(pattern)
    budget().text(
        len(source) + matches * max(0, len(new) - len(pattern)), "the result of replace()"
    )
    return source.replace(pattern, new)


_VERB = re.compile(
    r"%(?P<flags>[-+# 0]*)(?P<width>\d*)(?:\.(?P<prec>\d+))?(?P<verb>[%sdvqtfbxXeEgGo])"
)


def _format(spec: Value, *args: Value) -> str:
    spec = _string(spec)
    values = iter(args)

    def render(match: re.Match[str]) -> str:
        verb = match["verb"]
        if verb == "%":
            return "%"
        try:
            value = next(values)
        except StopIteration as exc:
            raise EvalError("format: not enough arguments") from exc
        if verb == "q":
            return json.dumps(_string(value))
        if verb == "v" and not isinstance(value, str | int | float | bool):
            return json.dumps(value, separators=(",", ":"), sort_keys=True)
        if verb in "sv":
            text = _string(value)
        elif verb == "t":
            text = to_text(to_bool(value))
        elif verb == "d":
            text = str(int(to_number(value)))
        elif verb == "f":
            precision = int(match["prec"] or 6)
            budget().text(precision, "a format() precision")
            text = f"{float(to_number(value)):.{precision}f}"
        else:
            raise EvalError(f"format verb %{verb} is not supported")
        width = int(match["width"] or 0)
        budget().text(max(width, len(text)), "a format() field")
        if "-" in match["flags"]:
            return text.ljust(width)
        pad = "0" if "0" in match["flags"] and verb in "df" else " "
        return text.rjust(width, pad)

    budget().text(len(spec), "a format() specification")
    return _VERB.sub(render, spec)


def _formatlist(spec: Value, *lists: Value) -> list[str]:
    rows = list(zip(*[_list(x) for x in lists], strict=True))
    budget().text(len(_string(spec)) * len(rows), "the result of formatlist()")
    return [_format(spec, *row) for row in rows]


def _flatten(value: Value) -> list[Value]:
    result: list[Value] = []
    for item in _list(value):
        if isinstance(item, list):
            result.extend(_flatten(item))
        else:
            result.append(item)
    return result


def _set(value: Value) -> list[Value]:
    """Terraform sets of primitives iterate in sorted order; that order is kept here."""
    items = _list(value) if not isinstance(value, dict) else list(value.values())
    unique: list[Value] = []
    for item in items:
        if item not in unique:
            unique.append(item)
    if all(isinstance(item, str) for item in unique):
        return sorted(unique)
    return unique


def _merge(*maps: Value) -> dict[str, Value]:
    result: dict[str, Value] = {}
    for item in maps:
        if item is None:
            continue
        result.update(_map(item))
    return result


def _concat(*lists: Value) -> list[Value]:
    result: list[Value] = []
    for item in lists:
        result.extend(_list(item))
    return result


def _lookup(mapping: Value, key: Value, *default: Value) -> Value:
    mapping, key = _map(mapping), _string(key)
    if key in mapping:
        return mapping[key]
    if default:
        return default[0]
    raise EvalError(f"lookup: no key {key!r}")


def _coalesce(*args: Value) -> Value:
    for arg in args:
        if arg is not None and arg != "":
            return arg
    raise EvalError("coalesce: no non-null, non-empty argument")


def _coalescelist(*args: Value) -> Value:
    for arg in args:
        if _list(arg):
            return arg
    raise EvalError("coalescelist: no non-empty list")


def _element(items: Value, index: Value) -> Value:
    items = _list(items)
    if not items:
        raise EvalError("element: empty list")
    return items[int(to_number(index)) % len(items)]


def _one(items: Value) -> Value:
    items = _list(items)
    if len(items) > 1:
        raise EvalError("one: more than one element")
    return items[0] if items else None


def _length(value: Value) -> int:
    if isinstance(value, str | list | dict):
        return len(value)
    raise EvalError(f"length: a {type_name(value)} value has no length")


def _keys(value: Value) -> list[str]:
    return sorted(_map(value))


def _values(value: Value) -> list[Value]:
    mapping = _map(value)
    return [mapping[k] for k in sorted(mapping)]


def _jsonencode(value: Value) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _jsondecode(value: Value) -> Value:
    try:
        return json.loads(_string(value))
    except json.JSONDecodeError as exc:
        raise EvalError(f"jsondecode: {exc}") from exc


def _tomap(value: Value) -> dict[str, Value]:
    return dict(_map(value))


def _tolist(value: Value) -> list[Value]:
    return list(value.values()) if isinstance(value, dict) else list(_list(value))


def _tostring(value: Value) -> Value:
    return None if value is None else _string(value)


def _range(*args: Value) -> list[int | float]:
    numbers = [to_number(a) for a in args]
    start, stop, step = (0, numbers[0], 1) if len(numbers) == 1 else (*numbers[:2], 1)
    if len(numbers) == 3:
        step = numbers[2]
    if step == 0 or len(numbers) > 3:
        raise EvalError("range: invalid arguments")
    count = max(0, math.ceil((stop - start) / step))
    if count > 1024:
        raise EvalError("range: more than 1024 elements")
    return [start + i * step for i in range(count)]


def _slice(items: Value, start: Value, end: Value) -> list[Value]:
    return _list(items)[int(to_number(start)) : int(to_number(end))]


def _zipmap(keys: Value, values: Value) -> dict[str, Value]:
    keys, values = _list(keys), _list(values)
    if len(keys) != len(values):
        raise EvalError("zipmap: lists of different lengths")
    return {_string(k): v for k, v in zip(keys, values, strict=True)}


def _regex_fn(pattern: Value, text: Value) -> Value:
    match = _regex(_string(pattern)).search(_string(text))
    if match is None:
        raise EvalError("regex: no match")
    if match.groupdict():
        return match.groupdict()
    return list(match.groups()) if match.groups() else match.group(0)


def _regexall(pattern: Value, text: Value) -> list[Value]:
    compiled = _regex(_string(pattern))
    return [
        (list(m.groups()) if m.groups() else m.group(0)) for m in compiled.finditer(_string(text))
    ]


def _split(separator: Value, text: Value) -> list[str]:
    return _string(text).split(_string(separator))


def _join(separator: Value, *lists: Value) -> str:
    glue = _string(separator)
    texts = [_string(item) for items in lists for item in _list(items)]
    size = sum(len(t) for t in texts) + len(glue) * max(0, len(texts) - 1)
    budget().text(size, "the result of join()")
    return glue.join(texts)


def _substr(text: Value, offset: Value, length: Value) -> str:
    whole, start, size = _string(text), int(to_number(offset)), int(to_number(length))
    if start < 0:
        start += len(whole)
    return whole[start:] if size < 0 else whole[start : start + size]


def _trim(text: Value, chars: Value) -> str:
    return _string(text).strip(_string(chars))


def _setop(op: str) -> Function:
    def apply(*sets: Value) -> list[Value]:
        items = [_set(s) for s in sets]
        result = items[0]
        for other in items[1:]:
            if op == "union":
                result = result + [i for i in other if i not in result]
            elif op == "intersection":
                result = [i for i in result if i in other]
            else:
                result = [i for i in result if i not in other]
        return _set(result)

    return apply


def _contains(items: Value, value: Value) -> bool:
    return value in _list(items)


def _distinct(items: Value) -> list[Value]:
    result: list[Value] = []
    for item in _list(items):
        if item not in result:
            result.append(item)
    return result


def _chunklist(items: Value, size: Value) -> list[list[Value]]:
    items, step = _list(items), int(to_number(size))
    if step <= 0:
        return [items]
    return [items[i : i + step] for i in range(0, len(items), step)]


FUNCTIONS: dict[str, Function] = {
    "abs": lambda n: abs(to_number(n)),
    "alltrue": lambda items: all(to_bool(i) for i in _list(items)),
    "anytrue": lambda items: any(to_bool(i) for i in _list(items)),
    "base64encode": lambda s: base64.b64encode(_string(s).encode()).decode(),
    "base64decode": lambda s: base64.b64decode(_string(s)).decode(errors="replace"),
    "basename": lambda s: _string(s).rstrip("/").rsplit("/", 1)[-1],
    "ceil": lambda n: math.ceil(to_number(n)),
    "chomp": lambda s: _string(s).rstrip("\r\n"),
    "chunklist": _chunklist,
    "coalesce": _coalesce,
    "coalescelist": _coalescelist,
    "compact": lambda items: [i for i in _list(items) if i is not None and i != ""],
    "concat": _concat,
    "contains": _contains,
    "dirname": lambda s: _string(s).rstrip("/").rsplit("/", 1)[0] if "/" in _string(s) else ".",
    "distinct": _distinct,
    "element": _element,
    "endswith": lambda s, suffix: _string(s).endswith(_string(suffix)),
    "flatten": _flatten,
    "floor": lambda n: math.floor(to_number(n)),
    "format": _format,
    "formatlist": _formatlist,
    "index": lambda items, value: _list(items).index(value),
    "join": _join,
    "jsondecode": _jsondecode,
    "jsonencode": _jsonencode,
    "keys": _keys,
    "length": _length,
    "lookup": _lookup,
    "lower": lambda s: _string(s).lower(),
    "max": lambda *n: max(to_number(x) for x in n),
    "merge": _merge,
    "min": lambda *n: min(to_number(x) for x in n),
    "nonsensitive": lambda v: v,
    "one": _one,
    "range": _range,
    "regex": _regex_fn,
    "regexall": _regexall,
    "replace": _replace,
    "reverse": lambda items: list(reversed(_list(items))),
    "sensitive": lambda v: v,
    "setintersection": _setop("intersection"),
    "setsubtract": _setop("subtract"),
    "setunion": _setop("union"),
    "slice": _slice,
    "sort": lambda items: sorted(_string(i) for i in _list(items)),
    "split": _split,
    "startswith": lambda s, prefix: _string(s).startswith(_string(prefix)),
    "strcontains": lambda s, part: _string(part) in _string(s),
    "substr": _substr,
    "sum": lambda items: sum(to_number(i) for i in _list(items)),
    "title": lambda s: _string(s).title(),
    "tobool": lambda v: None if v is None else to_bool(v),
    "tolist": _tolist,
    "tomap": _tomap,
    "tonumber": lambda v: None if v is None else to_number(v),
    "toset": _set,
    "tostring": _tostring,
    "trim": _trim,
    "trimprefix": lambda s, p: _string(s).removeprefix(_string(p)),
    "trimsuffix": lambda s, p: _string(s).removesuffix(_string(p)),
    "trimspace": lambda s: _string(s).strip(),
    "upper": lambda s: _string(s).upper(),
    "values": _values,
    "zipmap": _zipmap,
}

# These look inside collections without needing every element known.
STRUCTURAL = frozenset(
    {
        "merge",
        "concat",
        "flatten",
        "lookup",
        "keys",
        "values",
        "length",
        "element",
        "tolist",
        "tomap",
        "zipmap",
        "slice",
        "reverse",
        "one",
        "coalescelist",
        "nonsensitive",
        "sensitive",
    }
)


def call_function(name: str, args: list[Value], where: str) -> Value:
    """Apply a function; unknown arguments or an unsupported function give an ``Unknown``."""
    function = FUNCTIONS.get(name)
    if function is None:
        return Unknown(where, f"function {name}() is not evaluated by cniguard")
    for arg in args:
        if isinstance(arg, Unknown):
            return unowned(arg)
    if name not in STRUCTURAL:
        found = deep_unknown(args)
        if found:
            return unowned(found)
    limits = budget()
    limits.value(args)
    try:
        result = function(*args)
        limits.value(result)
        return result
    except EvalError:
        raise
    except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError, OverflowError) as exc:
        raise EvalError(f"{name}(): {exc}") from exc
