"""Issue 11 on a moto-backed fleet: shared node roles under mixed IRSA / node-role clusters, a
role that only one cluster uses and that cannot be read, and a Fargate-only cluster.

CNI040 fails only on the cluster whose aws-node depended on the detached grant; the unreadable
role makes only its own cluster incomplete; the Fargate-only cluster is not applicable from AWS
facts alone; a cluster on a granting node role stays ``node_role`` with access entries unread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cniguard.collect.kube_handoff import write_handoff
from cniguard.collect.kube_live import api_client_for_context, read_live_raw
from cniguard.collect.live import collect_live
from cniguard.collect.options import LiveOptions
from cniguard.engine import evaluate
from cniguard.model.finding import Finding, Report
from fakes import fleet
from fakes.kube_fleet import Compute, cluster_store, serve, write_kubeconfig
from fakes.proxy import FakeAws, Faults, denies_roles

REGION = "eu-west-1"
EKS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "eks.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _cluster(
    aws: FakeAws, acct: fleet.AccountClients, name: str, node_role: str | None, subnets: list[str]
) -> tuple[str, str]:
    """(ARN, issuer host) of a cluster with one managed node group on ``node_role`` (None:
    Fargate only)."""
    eks = acct.client("eks", REGION)
    info = eks.create_cluster(
        name=name,
        roleArn=fleet.role(acct, f"{name}-cluster", EKS_TRUST),
        resourcesVpcConfig={"subnetIds": subnets},
        kubernetesNetworkConfig={"ipFamily": "ipv4"},
        version="1.31",
        tags={"owner": "platform", "cost-center": "cc-1", "environment": "prod"},
    )["cluster"]
    if node_role is None:
        pod_role = fleet.role(acct, f"{name}-pods", EKS_TRUST)
        eks.create_fargate_profile(
            fargateProfileName="all",
            clusterName=name,
            podExecutionRoleArn=pod_role,
            subnets=subnets,
            selectors=[{"namespace": "default"}, {"namespace": "kube-system"}],
        )
    else:
        eks.create_nodegroup(
            clusterName=name, nodegroupName="main", nodeRole=node_role, subnets=subnets
        )
    aws.state.add_addon(acct.account, REGION, name, "coredns")
    return info["arn"], info["identity"]["oidc"]["issuer"].removeprefix("https://")


def _export(tmp_path: Path, name: str, compute: Compute, cni_role: str | None) -> str:
    """The cluster's `cniguard kube-export` folder."""
    with serve(cluster_store(compute, cni_role)) as api:
        config = write_kubeconfig(tmp_path / f"{name}.kubeconfig", {name: api.url})
        raw = read_live_raw(api_client_for_context(name, str(config)), cluster=name, context=name)
    write_handoff(raw, tmp_path / name, context=name)
    return str(tmp_path / name)


def _fleet(aws: FakeAws, tmp_path: Path) -> dict[str, Any]:
    acct = fleet.caller()
    subnets = fleet.vpc_subnets(acct, REGION)
    shared = fleet.role(
        acct, "shared-node", fleet.EC2_TRUST, (fleet.WORKER_POLICY, fleet.CNI_POLICY)
    )
    own = fleet.role(acct, "own-c-node", fleet.EC2_TRUST, (fleet.WORKER_POLICY, fleet.CNI_POLICY))
    arns = {}
    arns["irsa-a"], host = _cluster(aws, acct, "irsa-a", shared, subnets)
    arns["node-b"], _ = _cluster(aws, acct, "node-b", shared, subnets)
    arns["own-c"], _ = _cluster(aws, acct, "own-c", own, subnets)
    arns["fargate-f"], _ = _cluster(aws, acct, "fargate-f", None, subnets)
    acct.client("iam").create_open_id_connect_provider(
        Url=f"https://{host}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40]
    )
    cni = fleet.role(acct, "irsa-a-cni", fleet.irsa_trust(acct.account, host), (fleet.CNI_POLICY,))
    aws.state.add_addon(acct.account, REGION, "irsa-a", "vpc-cni", role_arn=cni)
    aws.state.add_addon(acct.account, REGION, "node-b", "vpc-cni")
    aws.state.add_addon(acct.account, REGION, "own-c", "vpc-cni")
    # the migration's last step on irsa-a, and an outage on node-b: one event
    fleet.detach_event(aws, acct.account, "shared-node", days_ago=1)
    exports = {
        "irsa-a": _export(tmp_path, "irsa-a", "ec2", cni),
        "node-b": _export(tmp_path, "node-b", "ec2", None),
        "own-c": _export(tmp_path, "own-c", "ec2", None),
        "fargate-f": _export(tmp_path, "fargate-f", "fargate", None),
    }
    return {"arns": arns, "shared": shared, "own": own, "exports": exports, "account": acct.account}


def _options(exports: dict[str, str]) -> LiveOptions:
    return LiveOptions(
        regions=(REGION,), kube_exports=tuple(sorted(exports.items())), cloudtrail_days=7
    )


def _by_rule(report: Report, rule: str) -> dict[str, list[Finding]]:
    names = {c.arn: c.name for c in report.clusters}
    out: dict[str, list[Finding]] = {}
    for f in report.findings:
        if f.rule_id == rule:
            out.setdefault(names[f.cluster], []).append(f)
    return out


def test_precision_on_a_shared_role_fleet(aws: FakeAws, tmp_path: Path) -> None:
    built = _fleet(aws, tmp_path)
    shared, own = built["shared"], built["own"]
    aws.faults = Faults(
        deny_when=denies_roles("own-c-node"),
        deny_actions=frozenset({"iam:GetAccountAuthorizationDetails"}),
    )

    inv = collect_live(_options(built["exports"]))
    report = evaluate(inv)

    # (2) the one unreadable role is a gap of exactly the cluster using it
    assert [(g.what, g.operation, g.resource, g.cluster) for g in inv.gaps] == [
        ("iam:role", "iam:GetRole", own, None)
    ]
    cni090 = {
        n: [(f.status, f.evidence.get("gaps")) for f in fs]
        for n, fs in _by_rule(report, "CNI090").items()
    }
    assert cni090 == {
        "irsa-a": [("pass", None)],
        "node-b": [("pass", None)],
        "own-c": [
            (
                "fail",
                [
                    {
                        "what": "iam:role",
                        "reason": "AccessDenied: not authorized to perform iam:GetRole",
                        "operation": "iam:GetRole",
                        "resource": own,
                        "region": None,
                    }
                ],
            )
        ],
        "fargate-f": [("pass", None)],
    }
    assert report.kpis["coverage_pct"] == 75.0
    # (1) the detach fails where aws-node depended on it, and is named in irsa-a's pass
    cni040 = {
        n: [(f.status, f.resource, f.evidence.get("matters")) for f in fs]
        for n, fs in _by_rule(report, "CNI040").items()
    }
    assert cni040 == {
        "irsa-a": [("pass", shared, False), ("pass", built["arns"]["irsa-a"], None)],
        "node-b": [("fail", shared, True)],
        "own-c": [("pass", built["arns"]["own-c"], None)],
        "fargate-f": [("pass", built["arns"]["fargate-f"], None)],
    }
    irsa_pass = _by_rule(report, "CNI040")["irsa-a"][0]
    assert irsa_pass.evidence["event"] == "DetachRolePolicy"
    assert irsa_pass.evidence["why"] == (
        "aws-node runs with working irsa role "
        f"arn:aws:iam::{built['account']}:role/irsa-a-cni, not with the node role"
    )
    modes = {c.name: c.cni_identity for c in report.clusters}
    assert modes == {
        "irsa-a": "mixed",  # the detach is only an event: the role still grants today
        "node-b": "node_role",
        "own-c": "unknown",
        "fargate-f": "not_applicable",
    }


def test_modes_with_a_node_role_source_and_kubernetes_unread(aws: FakeAws, tmp_path: Path) -> None:
    built = _fleet(aws, tmp_path)
    exports = {k: v for k, v in built["exports"].items() if k != "fargate-f"}
    aws.faults = Faults(deny_actions=frozenset({"eks:ListAccessEntries"}))

    report = evaluate(collect_live(_options(exports)))

    modes = {c.name: (c.cni_identity, c.reasons) for c in report.clusters}
    assert modes["node-b"] == (
        "node_role",
        (
            "no dedicated identity: aws-node uses the node role's permissions",
            "a known node role grants them; what was not read cannot change that",
        ),
    )
    assert modes["fargate-f"] == (
        "not_applicable",
        (
            "AWS shows no node group, no EC2 instance, no vpc-cni add-on and only Fargate "
            "compute: aws-node does not run",
        ),
    )
    # irsa-a: an unread source could add a granting node role: mixed or irsa, unknown
    assert modes["irsa-a"][0] == "mixed"
