"""A small AWS Organization on moto for sharded-run tests and ``bench/bench_shards.py``: 40
accounts (the caller and 39 members) over 3 regions, one cluster per account, each with a
Kubernetes export of its aws-node (so every verdict is known and a clean read can resolve).

Every other cluster keeps the CNI permissions on its node role (CNI002); ``fix`` moves a
cluster's CNI permissions to an IRSA role as a platform team would. The CNI permissions are a
customer managed policy of each account, so moto need not load the ~1,300 AWS managed policies
into each of 40 accounts: run with ``MOTO_IAM_LOAD_MANAGED_POLICIES=false``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cniguard.iam.actions import IPV4_ACTIONS
from fakes import fleet
from fakes.kube_fleet import FIXTURE, FIXTURE_ROLE
from fakes.proxy import FakeAws

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
MEMBERS = 39
CNI_POLICY_NAME = "OrgCniPolicy"


@dataclass(frozen=True)
class OrgCluster:
    account: fleet.AccountClients
    region: str
    built: fleet.BuiltCluster
    cni_role: str | None  # aws-node's IRSA role; None: it runs on the node role

    @property
    def policy(self) -> str:
        return f"arn:aws:iam::{self.account.account}:policy/{CNI_POLICY_NAME}"


def build_org(fake: FakeAws) -> list[OrgCluster]:
    """The Organization's accounts and one cluster each (every second one on its node role)."""
    accounts = [fleet.caller(), *fleet.member_accounts(MEMBERS)]
    clusters = []
    for i, acct in enumerate(accounts):
        region = REGIONS[i % len(REGIONS)]
        document = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(IPV4_ACTIONS), "Resource": "*"}],
        }
        policy = acct.client("iam").create_policy(
            PolicyName=CNI_POLICY_NAME, PolicyDocument=json.dumps(document)
        )["Policy"]["Arn"]
        built = fleet.cluster(
            fake,
            acct,
            region,
            f"org-{i:02d}",
            subnets=fleet.vpc_subnets(acct, region),
            node_policies=(policy,),
            irsa=False,
        )
        cluster = OrgCluster(acct, region, built, None)
        clusters.append(fix(fake, cluster) if i % 2 == 1 else cluster)
    return clusters


def fix(fake: FakeAws, cluster: OrgCluster) -> OrgCluster:
    """Give aws-node an IRSA role and take the CNI policy off the node role."""
    acct, built = cluster.account, cluster.built
    host = built.issuer.removeprefix("https://")
    trust = fleet.irsa_trust(acct.account, host)
    role = fleet.role(acct, f"{built.name}-cni", trust, (cluster.policy,))
    fake.state.add_addon(acct.account, cluster.region, built.name, "vpc-cni", role_arn=role)
    acct.client("iam").detach_role_policy(
        RoleName=built.node_role.rsplit("/", 1)[1], PolicyArn=cluster.policy
    )
    return replace(cluster, cni_role=role)


def _bound(obj: Any, role: str | None) -> Any:
    """A fixture object with aws-node bound to ``role`` through IRSA, or to nothing."""
    if role is not None:
        return json.loads(json.dumps(obj).replace(FIXTURE_ROLE, role))
    for container in obj.get("spec", {}).get("containers", []):
        container["env"] = [
            e
            for e in container.get("env", [])
            if e["name"] not in ("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")
        ]
    obj.get("metadata", {}).get("annotations", {}).pop("eks.amazonaws.com/role-arn", None)
    return obj


def kube_export(folder: Path, cluster: OrgCluster) -> tuple[str, str]:
    """``(cluster name, folder)`` for ``--kube-export``: aws-node as the cluster runs it now."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in sorted(FIXTURE.glob("*.json")):
        data = json.loads(source.read_text(encoding="utf-8"))
        if "items" in data:
            data["items"] = [_bound(item, cluster.cni_role) for item in data["items"]]
        (folder / source.name).write_text(json.dumps(data), encoding="utf-8")
    node_role = cluster.built.node_role
    aws_auth = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "aws-auth", "namespace": "kube-system"},
        "data": {
            "mapRoles": f"- groups:\n  - system:bootstrappers\n  - system:nodes\n"
            f"  rolearn: {node_role}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n"
        },
    }
    (folder / "aws-auth.json").write_text(json.dumps(aws_auth), encoding="utf-8")
    return cluster.built.name, str(folder)
