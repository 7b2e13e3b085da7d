"""Issue 15 item 1: a few hundred bytes of hostile Terraform cannot exhaust memory or time.

Each scan runs in a child process under a 1 GiB address-space cap (``capped.py``) and a wall-time
bound; every cut is an unknown value with a gap naming file, line and limit, and the other root
modules of the same scan are still read.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cniguard.collect.iac.terraform.functions import call_function
from cniguard.collect.iac.terraform.values import EvalError
from hostile.capped import run_capped

_COLLECT = """
import json, sys
from pathlib import Path
from cniguard.collect.iac.terraform import collect_terraform
from cniguard.collect.iac.terraform.limits import Limits
limits = Limits(**json.loads(sys.argv[1]))
files = sorted(p for p in Path(".").rglob("*.tf"))
fragment = collect_terraform(files, limits)
print(json.dumps({
    "roles": sorted(r.name for r in fragment.roles),
    "limits": sorted(
        [g.resource, g.line, g.reason.split("evaluation stopped, ")[1].split("; the value")[0]]
        for g in fragment.gaps if "evaluation stopped" in g.reason
    ),
    "gaps": sorted(g.reason for g in fragment.gaps),
}))
"""

ROLE = 'resource "aws_iam_role" "r" {{\n  name = {name}\n  assume_role_policy = "{{}}"\n}}\n'
FINE = ROLE.format(name='"fine"').replace('"r"', '"fine"')


def _doubling(kind: str, levels: int) -> str:
    """``locals`` where each level doubles the previous one (2^levels growth)."""
    lines = ["locals {", '  s0 = "xxxxxxxxxxxxxxxx"', '  l0 = ["xxxxxxxxxxxxxxxx"]']
    for i in range(1, levels + 1):
        if kind == "string":
            lines.append(f'  s{i} = "${{local.s{i - 1}}}${{local.s{i - 1}}}"')
        else:
            lines.append(f"  l{i} = concat(local.l{i - 1}, local.l{i - 1})")
    lines.append("}")
    return "\n".join(lines) + "\n"


def scan(tmp_path: Path, hostile: str, **limits: float) -> dict[str, list[object]]:
    """Scan ``hostile/main.tf`` next to a harmless root module, under the memory cap."""
    (tmp_path / "hostile").mkdir()
    (tmp_path / "hostile" / "main.tf").write_text(hostile)
    (tmp_path / "fine").mkdir()
    (tmp_path / "fine" / "main.tf").write_text(FINE)
    done = run_capped(_COLLECT, json.dumps(limits), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, list[object]] = json.loads(done.stdout)
    return result


@pytest.mark.timeout(60)
def test_doubling_strings_stop_at_the_value_limit(tmp_path: Path) -> None:
    code = _doubling("string", 40) + ROLE.format(name="local.s40")
    result = scan(tmp_path, code)
    # s0 has 16 characters: s18 is exactly 4 MiB (allowed), s19 is the first over
    assert result["limits"] == [
        ["hostile/main.tf", 22, "a string of 8388608 characters is over the 4194304 limit"]
    ]
    assert result["roles"] == ["aws_iam_role.r", "fine"]


@pytest.mark.timeout(60)
def test_doubling_lists_stop_at_the_collection_limit(tmp_path: Path) -> None:
    code = _doubling("list", 40) + ROLE.format(name='join(",", local.l40)')
    result = scan(tmp_path, code)
    assert result["limits"] == [
        ["hostile/main.tf", 17, "a collection of 16384 elements is over the 10000 limit"]
    ]
    assert result["roles"] == ["aws_iam_role.r", "fine"]


@pytest.mark.timeout(60)
def test_amplifying_functions_are_measured_before_they_build(tmp_path: Path) -> None:
    code = (
        "locals {\n"
        '  l = [for i in range(1000) : "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]\n'
        '  j = join(join(",", local.l), local.l)\n'
        '  r = replace(join("", local.l), "x", join("", local.l))\n'
        '  f = format("%0999999999d", 1)\n'
        '  p = format("%.999999999f", 1)\n'
        "  n = [local.l, local.l, local.l, local.l, local.l, local.l, local.l, local.l]\n"
        "  e = jsonencode([for i in range(100) : local.n])\n"
        "}\n"
        'resource "aws_iam_role" "r" {\n'
        "  name = local.j\n"
        "  description = local.r\n"
        "  tags = { f = local.f, p = local.p, e = local.e }\n"
        '  assume_role_policy = "{}"\n'
        "}\n"
    )
    result = scan(tmp_path, code)
    assert result["limits"] == [
        [
            "hostile/main.tf",
            3,
            "the result of join() of 47998001 characters is over the 4194304 limit",
        ],
        [
            "hostile/main.tf",
            4,
            "the result of replace() of 2209000000 characters is over the 4194304 limit",
        ],
        [
            "hostile/main.tf",
            5,
            "a format() field of 999999999 characters is over the 4194304 limit",
        ],
        [
            "hostile/main.tf",
            6,
            "a format() precision of 999999999 characters is over the 4194304 limit",
        ],
        ["hostile/main.tf", 8, "a value over the 4194304 byte limit"],
    ]


@pytest.mark.timeout(60)
def test_count_and_for_each_past_the_instance_limit_are_unknown(tmp_path: Path) -> None:
    code = (
        'resource "aws_iam_role" "r" {\n'
        "  count = 100000000\n"
        '  name = "r${count.index}"\n'
        '  assume_role_policy = "{}"\n'
        "}\n"
        'resource "aws_iam_role" "s" {\n'
        "  for_each = toset([for i in range(1000) : tostring(i)])\n"
        '  name = "s${each.key}"\n'
        '  assume_role_policy = "{}"\n'
        "}\n"
    )
    result = scan(tmp_path, code, instances=999)
    assert result["limits"] == [
        ["hostile/main.tf", 2, "100000000 instances is over the 999 instance limit"],
        ["hostile/main.tf", 7, "1000 instances is over the 999 instance limit"],
    ]
    assert result["roles"] == ["aws_iam_role.r", "aws_iam_role.s", "fine"]


@pytest.mark.timeout(60)
def test_catastrophic_regex_runs_in_linear_time(tmp_path: Path) -> None:
    """Python's backtracking engine would take 2^40 steps on each of these."""
    subject = "a" * 40 + "b"
    code = (
        f'resource "aws_iam_role" "r" {{\n  name = replace("{subject}", "/^(a+)+$/", "x")\n'
        f'  description = join(",", regexall("(a|aa)+$", "{subject}"))\n'
        '  assume_role_policy = "{}"\n}\n'
    )
    result = scan(tmp_path, code)
    assert result["roles"] == [subject, "fine"]
    assert result["limits"] == []


def test_patterns_re2_cannot_run_in_linear_time_are_errors() -> None:
    with pytest.raises(EvalError, match=r"invalid regular expression '\(a\)\\\\1': invalid escape"):
        call_function("regex", ["(a)\\1", "aa"], "regex(...)")
    assert call_function("regex", ["(?P<k>[a-z]+)=(?P<v>\\d+)", "x=12"], "") == {
        "k": "x",
        "v": "12",
    }
    assert call_function("replace", ["a-1 b-2", "/([a-z])-(\\d)/", "$2$1"], "") == "1a 2b"


@pytest.mark.timeout(60)
def test_nested_loops_stop_at_the_step_budget_and_other_modules_go_on(tmp_path: Path) -> None:
    code = (
        "locals {\n"
        '  big = [for i in range(1000) : [for j in range(1000) : [for k in range(1000) : "${i}"]]]\n'
        "}\n" + ROLE.format(name='"x${length(local.big)}"')
    )
    result = scan(tmp_path, code, steps=50_000)
    assert result["limits"] == [
        ["hostile/main.tf", 2, "over the budget of 50000 evaluation steps per module"]
    ]
    assert result["roles"] == ["aws_iam_role.r", "fine"]


@pytest.mark.timeout(60)
def test_the_time_budget_stops_a_module(tmp_path: Path) -> None:
    code = (
        "locals {\n"
        '  big = [for i in range(1000) : [for j in range(1000) : [for k in range(1000) : "${i}"]]]\n'
        "}\n" + ROLE.format(name='"x${length(local.big)}"')
    )
    result = scan(tmp_path, code, seconds=0.5)
    assert result["limits"] == [
        ["hostile/main.tf", 2, "over the budget of 0.5 s of evaluation per module"]
    ]


@pytest.mark.timeout(60)
def test_huge_numbers_and_deep_nesting_are_cut(tmp_path: Path) -> None:
    nested = "[" * 3000 + "]" * 3000
    parens = "(" * 3000 + '"deep"' + ")" * 3000
    square = " * ".join(["99999999999999999999"] * 8)
    code = (
        "locals {\n"
        f"  digits = {'9' * 5000}\n"
        f"  n = {square}\n"
        "  m = local.n * local.n * local.n * local.n * local.n * local.n * local.n * local.n\n"
        "}\n"
        'resource "aws_iam_role" "r" {\n'
        f"  name = {parens}\n"
        f"  description = {nested}\n"
        '  tags = { d = "${local.digits}", m = "${local.m}" }\n'
        '  assume_role_policy = "{}"\n'
        "}\n"
    )
    result = scan(tmp_path, code)
    assert result["limits"] == [
        ["hostile/main.tf", 2, "a number literal of 5000 digits"],
        ["hostile/main.tf", 4, "a number over 1024 bits"],
        ["hostile/main.tf", 8, "a value nested over 200 levels"],
    ]
    assert result["roles"] == ["deep", "fine"]


@pytest.mark.timeout(60)
def test_try_does_not_turn_a_cut_value_into_its_fallback(tmp_path: Path) -> None:
    """A fallback would be a guess: the name stays unknown (fail closed)."""
    code = ROLE.format(name='try(format("%0999999999d", 1), "fallback")')
    result = scan(tmp_path, code)
    assert result["roles"] == ["aws_iam_role.r", "fine"]
    assert result["limits"] == [
        ["hostile/main.tf", 2, "a format() field of 999999999 characters is over the 4194304 limit"]
    ]
