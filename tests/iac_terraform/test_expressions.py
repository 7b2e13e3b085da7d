"""The expression evaluator on the constructs real IAM/EKS code uses, with exact values."""

from __future__ import annotations

import pytest

from cniguard.collect.iac.terraform.expressions import Context
from cniguard.collect.iac.terraform.hcl import parse_text
from cniguard.collect.iac.terraform.values import EvalError, Namespace, Unknown, Value

VARIABLES: dict[str, Value] = {
    "name": "web",
    "groups": {"a": {"enabled": True, "size": 2}, "b": {"enabled": False, "size": 3}},
    "later": Unknown("aws_iam_role.x.arn", "known only after apply"),
}


def _resolve(name: str) -> Value:
    if name == "var":
        return Namespace("var", _variable)
    raise EvalError(f"unknown name {name!r}")


def _variable(key: str) -> Value:
    if key in VARIABLES:
        return VARIABLES[key]
    raise EvalError(f"no variable {key!r}")


def _eval(expression: str) -> Value:
    root = parse_text(f"x = {expression}\n", "test.tf")
    attribute = root.attributes["x"]
    return Context(_resolve, attribute.source).value(attribute.expr)


@pytest.mark.parametrize(("expression", "expected"), [
    ('"arn:${"aws"}:iam::aws:policy/${var.name}"', "arn:aws:iam::aws:policy/web"),
    ('"$${literal}"', "${literal}"),
    ("{ for k, v in var.groups : k => v.size if v.enabled }", {"a": 2}),
    ("[for k, v in var.groups : upper(k)]", ["A", "B"]),
    ("{ for k, v in var.groups : v.enabled => k... }", {"true": ["a"], "false": ["b"]}),
    ("var.groups.a.size * 3 + 1 == 7 && !false", True),
    ('var.name == "web" ? "yes" : "no"', "yes"),
    ("[{n = 1}, {n = 2}][*].n", [1, 2]),
    ("try(var.groups.c.size, 0)", 0),
    ("can(var.groups.a.size)", True),
    ("can(var.groups.c)", False),
    ('replace("arn:aws:iam::1:oidc-provider/oidc.eks/id/X", "/^(.*provider/)/", "")',
     "oidc.eks/id/X"),
    ('format("%s-%03d", var.name, 7)', "web-007"),
    ('jsonencode({b = [1, "x"], a = null})', '{"a":null,"b":[1,"x"]}'),
    ('merge({a = 1}, {a = 2, b = 3})', {"a": 2, "b": 3}),
    ('concat(["a"], ["b"], [])', ["a", "b"]),
    ('toset(["b", "a", "b"])', ["a", "b"]),
    ('lookup({a = 1}, "b", 9)', 9),
    ('coalesce(null, "", "z")', "z"),
    ('element(["a", "b"], 3)', "b"),
    ('length(keys(var.groups))', 2),
    ('flatten([["a"], [["b"]]])', ["a", "b"]),
    ('split(",", "a,b")', ["a", "b"]),
    ('{(var.name) = 1, "q" = 2, r: 3}', {"web": 1, "q": 2, "r": 3}),
])
def test_evaluates(expression: str, expected: Value) -> None:
    assert _eval(expression) == expected


def test_heredoc_templates_interpolate_with_trim() -> None:
    root = parse_text('x = <<-EOT\n    {"k": "${var.name}:sub"}\n    EOT\n', "t.tf")
    attribute = root.attributes["x"]
    assert Context(_resolve, attribute.source).value(attribute.expr) == '{"k": "web:sub"}\n'


@pytest.mark.parametrize(("expression", "reason"), [
    ('"${var.later}/x"', "known only after apply"),
    ("upper(var.later)", "known only after apply"),
    ("templatefile(\"a.tpl\", {})", "function templatefile() is not evaluated by cniguard"),
    ("var.missing", "evaluation error: no variable 'missing'"),
])
def test_unknown_values_spread_and_name_their_cause(expression: str, reason: str) -> None:
    value = _eval(expression)
    assert isinstance(value, Unknown)
    assert value.reason == reason


def test_a_definite_error_names_the_expression_and_line() -> None:
    value = _eval("var.groups.c.size")
    assert value == Unknown("var.groups.c.size", "evaluation error: object has no attribute 'c'",
                            "test.tf", 1)


def test_unknown_condition_with_equal_branches_is_known() -> None:
    assert _eval('var.later == "x" ? "same" : "same"') == "same"
    assert isinstance(_eval('var.later == "x" ? "a" : "b"'), Unknown)
