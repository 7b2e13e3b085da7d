"""impact against a fleet built in moto + the EKS fakes through boto3, collected live."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cniguard.cli.main import app
from cniguard.collect.live import collect_live
from cniguard.collect.options import LiveOptions
from cniguard.remediate.changes import DetachRolePolicy, RemoveRoleFromInstanceProfile
from cniguard.remediate.impact import impact
from fakes import fleet
from fakes.proxy import FakeAws

REGION = "us-east-1"
CNI = fleet.CNI_POLICY


def _build(aws: FakeAws) -> tuple[fleet.BuiltCluster, fleet.BuiltCluster]:
    acct = fleet.caller()
    subnets = fleet.vpc_subnets(acct, REGION)
    alpha = fleet.cluster(aws, acct, REGION, "alpha", subnets=subnets)
    beta = fleet.cluster(aws, acct, REGION, "beta", subnets=subnets, irsa=False, karpenter=True)
    return alpha, beta


def test_live_collected_fleet(aws: FakeAws) -> None:
    alpha, beta = _build(aws)
    inv = collect_live(LiveOptions(regions=(REGION,), cloudtrail=False))
    assert alpha.cni_role is not None

    # alpha: IRSA through the add-on works; the node role still has the CNI policy (mixed).
    # After the detach the mode is unknown (aws-auth was not read: other node roles may grant),
    # but aws-node's own identity works, so the change is safe.
    moved = impact(inv, [DetachRolePolicy(alpha.node_role, CNI)])
    assert [(c.cluster.name, c.verdict, c.mode_before, c.mode_after) for c in moved.clusters] == [
        ("alpha", "safe", "mixed", "unknown")
    ]
    assert [(f.rule_id, f.resource) for f in moved.clusters[0].resolved] == [
        ("CNI002", alpha.node_role)
    ]

    broken = impact(inv, [DetachRolePolicy("alpha-cni", CNI)])
    (c,) = broken.clusters
    assert (c.cluster.arn, c.verdict, [f.rule_id for f in c.newly_failing]) == (
        alpha.arn,
        "breaks",
        ["CNI001"],
    )

    # beta runs on its node roles (managed + Karpenter); Kubernetes was not read, so which
    # identity aws-node uses is unknown: impact refuses to call the change safe
    karpenter = "arn:aws:iam::123456789012:role/KarpenterNodeRole-beta"
    (b,) = impact(
        inv, [RemoveRoleFromInstanceProfile("KarpenterNodeProfile-beta", karpenter)]
    ).clusters
    assert (b.cluster.arn, b.verdict) == (beta.arn, "unknown")
    assert b.unknown[0].startswith("CNI001 before the change: Cannot tell which identity aws-node")


def test_cli_collects_live_and_judges(aws: FakeAws) -> None:
    alpha, _ = _build(aws)
    out = CliRunner().invoke(
        app,
        [
            "impact",
            "--regions",
            REGION,
            "--no-cloudtrail",
            "--quiet",
            "--detach",
            f"{alpha.cni_role}:{CNI}",
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 1, out.stderr
    doc = json.loads(out.stdout)
    assert [(c["cluster"], c["verdict"]) for c in doc["clusters"]] == [("alpha", "breaks")]
