"""File discovery by content, manifests / Helm values, and tying a ServiceAccount to a cluster."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cniguard.collect.iac import discover as discover_module
from cniguard.collect.iac.discover import classify_text, discover
from cniguard.collect.iac.manifests import collect_manifests
from cniguard.collect.iac.scan import collect_iac

FIX = Path("tests/fixtures/iac")
ROLE = "arn:aws:iam::111122223333:role/AmazonEKSVPCCNIRole"


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("main.tf", "", "terraform"),
        ("prod.tfvars", "", "terraform"),
        ("plan.json", '{"format_version": "1.2", "planned_values": {}}', "terraform_plan"),
        ("t.yaml", "AWSTemplateFormatVersion: 2010-09-09\nResources: {}\n", "cloudformation"),
        ("t.template.json", '{"Resources": {"R": {"Type": "AWS::IAM::Role"}}}', "cloudformation"),
        ("c.yaml", "apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\n", "eksctl"),
        ("sa.yml", "apiVersion: v1\nkind: ServiceAccount\n", "manifests"),
        ("values.yaml", "init: {}\nserviceAccount:\n  name: aws-node\n", "helm_values"),
        ("values.yaml", "replicaCount: 1\nserviceAccount:\n  name: web\n", None),
        ("README.md", "apiVersion: v1\nkind: Pod\n", None),
    ],
)
def test_classify(name: str, text: str, kind: str | None) -> None:
    assert classify_text(name, text) == kind


def test_discover_skips_vendor_dirs_binary_and_huge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder in (".git", "node_modules", ".terraform/modules/x", "infra"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "sa.yaml").write_text("apiVersion: v1\nkind: ServiceAccount\n")
    (tmp_path / "infra" / "blob.yaml").write_bytes(b"\x00\x01binary")
    (tmp_path / "infra" / "big.yaml").write_text("apiVersion: v1\nkind: ServiceAccount\n" * 10)
    monkeypatch.setattr(discover_module, "MAX_BYTES", 100)
    found = discover([tmp_path])
    assert [(f.path, f.kind) for f in found.files] == [
        (tmp_path / "infra" / "sa.yaml", "manifests")
    ]
    assert [(s.path, s.reason, s.unreadable) for s in found.skipped] == [
        (str(tmp_path / "infra" / "big.yaml"), "larger than 0 MiB", True),
        (str(tmp_path / "infra" / "blob.yaml"), "binary file", False),
    ]


def test_manifest_and_helm_values_service_accounts() -> None:
    out = collect_manifests(
        [FIX / "manifests" / "aws-node-sa.yaml"], [FIX / "manifests" / "values.yaml"]
    )
    assert [
        (
            s.namespace,
            s.name,
            s.annotations.get("eks.amazonaws.com/role-arn"),
            s.origin.line if s.origin else 0,
        )
        for s in out.service_accounts
    ] == [("kube-system", "aws-node", ROLE, 6), ("kube-system", "aws-node", ROLE, 9)]


def test_service_account_joins_the_only_cluster_else_is_a_gap(tmp_path: Path) -> None:
    shutil.copy(FIX / "eksctl" / "without-oidc.yaml", tmp_path / "cluster.yaml")
    (tmp_path / "k8s").mkdir()
    shutil.copy(FIX / "manifests" / "aws-node-sa.yaml", tmp_path / "k8s" / "sa.yaml")
    (cluster,) = collect_iac([tmp_path]).clusters
    assert cluster.kube is not None
    assert [
        s.annotations["eks.amazonaws.com/role-arn"] for s in cluster.kube.service_accounts or ()
    ] == [ROLE]
    (tmp_path / "other").mkdir()
    shutil.copy(FIX / "eksctl" / "with-oidc.yaml", tmp_path / "other" / "cluster.yaml")
    inventory = collect_iac([tmp_path])
    assert [c.kube for c in inventory.clusters] == [None, None]
    assert [(g.what, g.line, g.reason) for g in inventory.gaps if g.what != "iac:eksctl"] == [
        (
            "iac:service-account",
            6,
            "ServiceAccount kube-system/aws-node cannot be tied to a "
            "cluster: 2 clusters in the scan and none alone beside it",
        )
    ]
