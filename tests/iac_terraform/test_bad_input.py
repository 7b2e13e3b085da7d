"""Bad input: syntax errors, binary, huge and unreadable files never stop the scan."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cniguard.collect.iac.terraform import collect_terraform
from cniguard.collect.iac.terraform.hcl import MAX_FILE_BYTES

GOOD = 'resource "aws_eks_cluster" "c" {\n  name = "ok"\n}\n'


def test_syntax_error_is_a_gap_with_line_and_other_files_are_read(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a").mkdir()
    Path("b").mkdir()
    Path("a/broken.tf").write_text('locals {\n  x = 1\n  y = = 2\n}\n')
    Path("b/main.tf").write_text(GOOD)
    fragment = collect_terraform([Path("a/broken.tf"), Path("b/main.tf")])
    assert [c.name for c in fragment.clusters] == ["ok"]
    (gap,) = fragment.gaps
    assert (gap.what, gap.resource, gap.line) == ("iac:terraform", "a/broken.tf", 3)
    assert gap.reason.startswith("a/broken.tf: HCL syntax error:")
    assert fragment.files_read == ["b/main.tf"]


def test_binary_huge_and_missing_files_are_skipped_with_a_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bin").mkdir()
    Path("big").mkdir()
    Path("bin/x.tf").write_bytes(b"\x00\x01\x02")
    Path("big/x.tf").write_text("#" * (MAX_FILE_BYTES + 1))
    fragment = collect_terraform([Path("bin/x.tf"), Path("big/x.tf"), Path("gone/x.tf")])
    reasons = sorted(g.reason for g in fragment.gaps)
    assert reasons == [
        f"big/x.tf: skipped: {MAX_FILE_BYTES + 1} bytes is over the {MAX_FILE_BYTES} byte limit",
        "bin/x.tf: skipped: binary file",
    ]
    assert (fragment.clusters, fragment.files_read) == ([], [])


def test_tf_json_is_reported_not_silently_ignored() -> None:
    fragment = collect_terraform([Path("main.tf.json")])
    assert [g.reason for g in fragment.gaps] == [
        "main.tf.json: Terraform JSON syntax (.tf.json) is not evaluated"]


_ATOMS = st.sampled_from([
    '"s"', "1", "true", "null", "var.x", "local.y", "aws_iam_role.r.arn", "each.key",
    "count.index", '["a", 1]', "{a = 1}", "module.m.out", "data.aws_partition.p.partition",
])
_EXPRESSIONS = st.recursive(_ATOMS, lambda inner: st.one_of(
    st.builds(lambda a, b: f"{a} == {b} ? {a} : {b}", inner, inner),
    st.builds(lambda a: f'"x-${{{a}}}"', inner),
    st.builds(lambda a, b: f"merge({a}, {b})", inner, inner),
    st.builds(lambda a: f"[for v in {a} : v]", inner),
    st.builds(lambda a: f"try({a}, null)", inner),
    st.builds(lambda a: f"({a})[0]", inner),
), max_leaves=8)
_BLOCK = st.builds(
    lambda kind, expr, meta: (
        f'resource "{kind}" "r" {{\n  {meta}\n  name = {expr}\n  role = {expr}\n'
        f"  cluster_name = {expr}\n}}\n"),
    st.sampled_from(["aws_iam_role", "aws_eks_cluster", "aws_eks_node_group", "aws_eks_addon",
                     "aws_iam_role_policy_attachment", "aws_launch_template"]),
    _EXPRESSIONS,
    st.sampled_from(["", "count = 2", "for_each = toset([\"a\"])", "count = var.x"]),
)


@settings(max_examples=200, deadline=None)
@given(blocks=st.lists(_BLOCK, min_size=1, max_size=3), noise=st.text(max_size=20))
def test_no_generated_hcl_crashes_the_collector(tmp_path_factory: pytest.TempPathFactory,
                                                blocks: list[str], noise: str) -> None:
    directory = tmp_path_factory.mktemp("gen")
    (directory / "main.tf").write_text("".join(blocks) + 'variable "x" {}\nlocals {\n  y = 1\n}\n')
    (directory / "noise.tf").write_text(noise)
    fragment = collect_terraform([directory / "main.tf", directory / "noise.tf"])
    assert all(g.what == "iac:terraform" for g in fragment.gaps)
