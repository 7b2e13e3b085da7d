"""`cniguard iac` end to end: findings with locations, SARIF, bad input, fuzzed YAML."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cniguard.cli import iac as iac_cli
from cniguard.collect.iac.scan import collect_iac
from cniguard.engine import evaluate

FIX = Path("tests/fixtures/iac")
NODEGROUP = "tests/fixtures/iac/cloudformation/amazon-eks-nodegroup.yaml"


def _app() -> typer.Typer:
    app = typer.Typer()
    iac_cli.register(app)
    app.command("noop")(lambda: None)  # two commands: Typer keeps `iac` as a subcommand
    return app


def _failing(paths: list[Path]) -> list[tuple[str, str, str, int | None]]:
    report = evaluate(collect_iac(paths))
    return sorted(
        (
            f.rule_id,
            f.severity,
            f.location.file if f.location else "",
            f.location.line if f.location else None,
        )
        for f in report.findings
        if f.status == "fail"
    )


def test_findings_and_lines_per_fixture() -> None:
    cfn = "tests/fixtures/iac/cloudformation/"
    assert _failing([FIX / "cloudformation" / "amazon-eks-nodegroup.yaml"]) == [
        ("CNI002", "critical", cfn + "amazon-eks-nodegroup.yaml", 32),
        ("CNI021", "low", cfn + "amazon-eks-nodegroup.yaml", 32),
        ("CNI090", "info", cfn + "amazon-eks-nodegroup.yaml", 70),
    ]
    assert _failing([FIX / "cloudformation" / "irsa-cluster.yaml"]) == []
    eks = "tests/fixtures/iac/eksctl/without-oidc.yaml"
    assert _failing([FIX / "eksctl" / "without-oidc.yaml"]) == [
        ("CNI002", "critical", eks, 9),
        ("CNI002", "critical", eks, 14),
        ("CNI002", "high", eks, 23),
        ("CNI011", "medium", eks, 1),
        ("CNI020", "low", eks, 1),
        ("CNI021", "low", eks, 9),
        ("CNI021", "low", eks, 14),
        ("CNI021", "low", eks, 23),
    ]


def test_sarif_has_repo_relative_uris_and_lines(tmp_path: Path) -> None:
    out = tmp_path / "r.sarif"
    result = CliRunner().invoke(
        _app(), ["iac", NODEGROUP, "--format", "sarif", "-o", str(out), "--fail-on", "high"]
    )
    assert result.exit_code == 1, result.output
    sarif = json.loads(out.read_text())
    locations = sorted(
        (
            r["ruleId"],
            loc["physicalLocation"]["artifactLocation"]["uri"],
            loc["physicalLocation"]["region"]["startLine"],
        )
        for r in sarif["runs"][0]["results"]
        for loc in r.get("locations", [])
    )
    assert ("CNI002", NODEGROUP, 32) in locations
    assert {uri for _, uri, _ in locations} == {NODEGROUP}


def test_syntax_error_is_reported_and_other_files_still_scanned(tmp_path: Path) -> None:
    shutil.copy(FIX / "eksctl" / "without-oidc.yaml", tmp_path / "cluster.yaml")
    (tmp_path / "broken.yaml").write_text(
        "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nmetadata: [oops\n"
    )
    out = tmp_path / "r.json"
    result = CliRunner().invoke(_app(), ["iac", str(tmp_path), "-f", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"cniguard: {tmp_path / 'broken.yaml'}:4: syntax error:" in result.output
    report = json.loads(out.read_text())
    assert [c["name"] for c in report["clusters"]] == ["batch"]
    assert [(g["what"], g["line"]) for g in report["coverage"]["gaps"]] == [("iac:parse", 4)]


def test_missing_path_is_a_usage_error() -> None:
    result = CliRunner().invoke(_app(), ["iac", "no/such/dir"])
    assert result.exit_code == 2
    assert "no such file or directory: no/such/dir" in result.output


_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8))
_tree = st.recursive(
    _scalars,
    lambda c: (
        st.lists(c, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Resources",
                    "Type",
                    "Properties",
                    "metadata",
                    "iam",
                    "withOIDC",
                    "managedNodeGroups",
                    "nodeGroups",
                    "addons",
                    "name",
                    "ManagedPolicyArns",
                    "Fn::If",
                    "Ref",
                    "Fn::Sub",
                    "Fn::Join",
                    "kind",
                    "serviceAccount",
                ]
            ),
            c,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=_tree,
    header=st.sampled_from(
        [
            "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\n",
            "AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\n",
            "apiVersion: v1\nkind: ServiceAccount\n",
            "init: {}\nserviceAccount:\n",
        ]
    ),
)
def test_generated_yaml_never_crashes(tmp_path: Path, body: object, header: str) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(header + json.dumps({"x": body}, default=str)[1:-1].replace('"x": ', "x: "))
    evaluate(collect_iac([path]))


@pytest.mark.parametrize(
    "text",
    ["Resources:\n  R: !Ref\n", "a: *missing\n", "\t- x\n", "Resources: &a [*a]\n", "{" * 2000],
)
def test_hostile_yaml_is_a_gap_not_a_crash(tmp_path: Path, text: str) -> None:
    path = tmp_path / "t.template"
    path.write_text("AWSTemplateFormatVersion: x\nResources: {}\n---\n" + text)
    inventory = collect_iac([path])
    assert [g.what for g in inventory.gaps] == ["iac:parse"]
