"""One hand-made report that exercises every branch of every output format.

Eight clusters in two accounts cover every CNI identity mode; findings cover every status and
severity, an IaC finding with a file location, a suppressed finding, an expired suppression, a
symptom linked to its cause, a coverage gap and non-ASCII text. ``generated_at`` is fixed so
rendered output is byte-for-byte stable.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from cniguard.engine import kpis
from cniguard.model.common import JsonDict
from cniguard.model.finding import (
    AppliedSuppression,
    ClusterResult,
    Finding,
    IdentityMode,
    Location,
    Report,
    Severity,
    Status,
)

PROD = "111122223333"
DEV = "444455556666"
GENERATED_AT = "2025-03-14T09:26:53+00:00"


def arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:eks:{region}:{account}:cluster/{name}"


def where(cluster: str) -> tuple[str, str]:
    """(account, region) of a cluster ARN; IaC ids have neither."""
    if not cluster.startswith("arn:"):
        return "", ""
    parts = cluster.split(":")
    return parts[4], parts[3]


def finding(
    rule_id: str,
    severity: Severity,
    status: Status,
    cluster: str,
    resource: str,
    *,
    title: str,
    message: str,
    evidence: JsonDict | None = None,
    remediation: str = "",
    location: Location | None = None,
    suppression: AppliedSuppression | None = None,
) -> Finding:
    account, region = where(cluster)
    return Finding(
        rule_id=rule_id,
        severity=severity,
        status=status,
        cluster=cluster,
        account=account,
        region=region,
        resource=resource,
        title=title,
        message=message,
        evidence=evidence or {},
        remediation=remediation,
        location=location,
        fingerprint=hashlib.sha256(f"{rule_id}|{resource}".encode()).hexdigest()[:32],
        suppression=suppression,
    )


PAYMENTS = arn(PROD, "eu-west-1", "prod-payments")
CHECKOUT = arn(PROD, "us-east-1", "prod-checkout")
SEARCH = arn(PROD, "eu-west-1", "prod-search")
STAGING = arn(DEV, "eu-central-1", "staging-data")
ANALYTICS = arn(DEV, "eu-central-1", "dev-analytics")
BATCH = arn(DEV, "us-east-1", "batch-fargate")
LEGACY = arn(DEV, "us-east-1", "legacy-ci")
IAC = "terraform:infra/eks/main.tf#aws_eks_cluster.platform"

NODE_ROLE = f"arn:aws:iam::{PROD}:role/prod-checkout-nodes"
CNI_ROLE = f"arn:aws:iam::{PROD}:role/prod-payments-aws-node"
SHARED_ROLE = f"arn:aws:iam::{DEV}:role/shared-cni"
LEGACY_NODES = f"arn:aws:iam::{DEV}:role/legacy-ci-nodes"
DETACH_REMEDIATION = (
    "Create an IRSA role for kube-system/aws-node with AmazonEKS_CNI_Policy, annotate the "
    "service account, restart aws-node, verify, then detach the policy from the node role."
)


def _clusters() -> tuple[ClusterResult, ...]:
    def cluster(
        name: str,
        cid: str,
        env: str | None,
        mode: IdentityMode,
        compliant: bool | None,
        *,
        role: str | None = None,
        reasons: tuple[str, ...] = (),
        location: Location | None = None,
        basis: str | None = "service_account",
    ) -> ClusterResult:
        account, region = where(cid)
        return ClusterResult(
            name=name,
            arn=cid,
            account=account,
            region=region,
            environment=env,
            production=env == "prod",
            cni_identity=mode,
            compliant=compliant,
            identity_role_arn=role,
            reasons=reasons,
            location=location,
            basis=basis,
        )

    return (
        cluster("prod-payments", PAYMENTS, "prod", "irsa", True, role=CNI_ROLE, basis="pods"),
        cluster("prod-checkout", CHECKOUT, "prod", "node_role", False),
        cluster(
            "prod-search", SEARCH, "prod", "pod_identity", True, basis="pod_identity_association"
        ),
        cluster("staging-data", STAGING, "staging / équipe données", "mixed", False),
        cluster(
            "dev-analytics",
            ANALYTICS,
            None,
            "unknown",
            None,
            reasons=("k8s:pods could not be read: Forbidden",),
            basis="unknown",
        ),
        cluster("batch-fargate", BATCH, "dev", "not_applicable", None),
        cluster("legacy-ci", LEGACY, "dev", "none", False, basis="aws_only"),
        cluster(
            "platform",
            IAC,
            None,
            "irsa",
            False,
            location=Location("infra/eks/main.tf", 12),
            basis="addon",
        ),
    )


def _findings() -> tuple[Finding, ...]:
    return (
        finding(
            "CNI001",
            "critical",
            "pass",
            PAYMENTS,
            CNI_ROLE,
            title="No identity grants the CNI permissions",
            message="aws-node uses IRSA role prod-payments-aws-node, which grants every action.",
        ),
        finding(
            "CNI002",
            "critical",
            "fail",
            CHECKOUT,
            NODE_ROLE,
            title="Worker-node role grants mutating CNI actions",
            message="Node role prod-checkout-nodes grants ec2:AssignPrivateIpAddresses and 9 more "
            "mutating actions through AmazonEKS_CNI_Policy; pods can reach IMDS (hop limit 2).",
            evidence={
                "policy": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
                "actions": ["ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface"],
                "imds": {"http_tokens": "optional", "hop_limit": 2},
            },
            remediation=DETACH_REMEDIATION,
        ),
        finding(
            "CNI011",
            "medium",
            "fail",
            CHECKOUT,
            CHECKOUT,
            title="No IAM OIDC provider for the cluster",
            message="The cluster issuer has no IAM OIDC provider, so IRSA is impossible.",
            remediation="eksctl utils associate-iam-oidc-provider --cluster prod-checkout "
            "--approve",
        ),
        finding(
            "CNI020",
            "low",
            "fail",
            CHECKOUT,
            CHECKOUT,
            title="Cluster lacks required tags",
            message="Missing tag keys: cost-center.",
            evidence={"missing": ["cost-center"]},
            remediation="Tag the cluster with cost-center.",
            suppression=AppliedSuppression(
                reason="cost-center is assigned by FinOps in Q3", expires="2099-12-31"
            ),
        ),
        finding(
            "CNI021",
            "low",
            "fail",
            CHECKOUT,
            NODE_ROLE,
            title="IAM role lacks required tags",
            message="Missing tag keys: owner.",
            evidence={"missing": ["owner"]},
            remediation="Tag the role with owner.",
            suppression=AppliedSuppression(
                reason="owner pending re-org", expires="2024-01-31", expired=True
            ),
        ),
        finding(
            "CNI090",
            "info",
            "pass",
            PAYMENTS,
            PAYMENTS,
            title="Part of the cluster could not be read",
            message="Every source of this cluster was read.",
        ),
        finding(
            "CNI013",
            "high",
            "pass",
            SEARCH,
            f"arn:aws:iam::{PROD}:role/prod-search-cni",
            title="CNI role trusts more than kube-system/aws-node",
            message="Pod Identity trust is limited to pods.eks.amazonaws.com.",
        ),
        finding(
            "CNI090",
            "info",
            "pass",
            SEARCH,
            SEARCH,
            title="Part of the cluster could not be read",
            message="Every source of this cluster was read.",
        ),
        finding(
            "CNI014",
            "medium",
            "fail",
            STAGING,
            SHARED_ROLE,
            title="CNI role is shared",
            message="Role shared-cni is bound to aws-node in 2 clusters and is a node role.",
            evidence={"clusters": [STAGING, LEGACY], "node_role": True},
            remediation="Give each cluster its own CNI role.",
        ),
        finding(
            "CNI016",
            "low",
            "fail",
            STAGING,
            "kube-system/aws-node",
            title="CNI binding set in places that disagree",
            message="Add-on serviceAccountRoleArn names shared-cni; the annotation names "
            "staging-cni | old (« hand-edited »).",
            evidence={"addon": SHARED_ROLE, "annotation": "staging-cni | old"},
            remediation="Set the role once, on the add-on.",
        ),
        finding(
            "CNI090",
            "info",
            "fail",
            ANALYTICS,
            ANALYTICS,
            title="Part of the cluster could not be read",
            message="k8s:pods: Forbidden (cannot list pods in kube-system).",
            evidence={"gaps": [{"what": "k8s:pods", "reason": "Forbidden"}]},
            remediation="Grant the auditor list on pods in kube-system.",
        ),
        finding(
            "CNI015",
            "medium",
            "unknown",
            ANALYTICS,
            "kube-system/aws-node",
            title="aws-node pods not restarted after the binding changed",
            message="Unknown: the aws-node pods could not be listed (k8s:pods).",
            evidence={"missing": ["k8s:pods"]},
        ),
        finding(
            "CNI001",
            "critical",
            "fail",
            LEGACY,
            LEGACY_NODES,
            title="No identity grants the CNI permissions",
            message="aws-node runs, no IRSA role or pod identity association, and node role "
            "legacy-ci-nodes lacks ec2:AssignPrivateIpAddresses.",
            evidence={"missing_actions": ["ec2:AssignPrivateIpAddresses"]},
            remediation="Create a dedicated IRSA role for aws-node with AmazonEKS_CNI_Policy.",
        ),
        finding(
            "CNI030",
            "critical",
            "fail",
            LEGACY,
            "default/web-7d4b9",
            title="Pods stuck in ContainerCreating",
            message="3 pods stuck for 42 min: failed to assign an IP address to container.",
            evidence={"pods": 3, "minutes": 42, "likely_cause": ["CNI001"]},
            remediation="Fix the cause (CNI001), then restart aws-node.",
        ),
        finding(
            "CNI010",
            "high",
            "fail",
            IAC,
            "aws_iam_role.aws_node",
            title="IRSA role without an IAM OIDC provider",
            message="aws_iam_role.aws_node trusts an OIDC provider that no resource creates.",
            evidence={"provider": "aws_iam_openid_connect_provider.eks"},
            remediation="Add an aws_iam_openid_connect_provider for the cluster issuer.",
            location=Location("infra/eks/main.tf", 48),
        ),
    )


def build_report() -> Report:
    clusters, findings = _clusters(), _findings()
    return Report(
        kind="live",
        generated_at=GENERATED_AT,
        tool_version="0.1.0",
        clusters=clusters,
        findings=findings,
        coverage={
            "accounts": [PROD, DEV],
            "regions": ["eu-central-1", "eu-west-1", "us-east-1"],
            "gaps": [
                {
                    "what": "k8s:pods",
                    "reason": "Forbidden: pods is forbidden",
                    "account": DEV,
                    "region": "eu-central-1",
                    "cluster": ANALYTICS,
                }
            ],
        },
        kpis=kpis(list(clusters), list(findings)),
    )


@pytest.fixture
def report() -> Report:
    return build_report()


SNAPSHOTS = Path(__file__).resolve().parent.parent / "snapshots"


def assert_snapshot(name: str, text: str) -> None:
    """Compare with ``tests/snapshots/<name>``; ``CNIGUARD_UPDATE_SNAPSHOTS=1`` rewrites it."""
    path = SNAPSHOTS / name
    if os.environ.get("CNIGUARD_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        return
    assert path.exists(), f"no snapshot {name}; run with CNIGUARD_UPDATE_SNAPSHOTS=1 to create it"
    assert text == path.read_bytes().decode("utf-8")


@pytest.fixture
def snapshot() -> Callable[[str, str], None]:
    return assert_snapshot


SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("http://evil.example","x")'


@pytest.fixture
def hostile_report() -> Report:
    """The sample report with attacker-controlled text where tags and names flow in."""
    base = build_report()
    cluster = replace(base.clusters[1], name=SCRIPT, environment=IMG)
    bad = replace(
        base.findings[1],
        resource=FORMULA,
        message=f"tag owner={IMG} | [click](http://evil.example) {SCRIPT}\nsecond line",
        evidence={"tags": {"owner": IMG, "name": SCRIPT}},
        remediation=f"`{SCRIPT}` & *bold*",
    )
    findings = tuple(bad if f is base.findings[1] else f for f in base.findings)
    clusters = tuple(cluster if c is base.clusters[1] else c for c in base.clusters)
    return replace(base, clusters=clusters, findings=findings)
