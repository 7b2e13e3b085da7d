"""pytest fixtures for a simulated EKS cluster on moto: import them into a conftest or test module
(``from fakes.sim_fixtures import sim_cluster, sim_cluster_factory  # noqa: F401``); they need
the ``aws`` fixture of tests/collect_aws/conftest.py.

``sim_cluster_factory(**options)`` builds, through boto3 and the proxy like a user's tooling:
an EKS cluster (OIDC issuer, ipFamily), a node role with AmazonEKSWorkerNodePolicy +
AmazonEKS_CNI_Policy + AmazonEC2ContainerRegistryReadOnly and its instance profile, managed node
groups, optionally the IAM OIDC provider, the vpc-cni add-on (optionally with an IRSA role) and
the eks-pod-identity-agent add-on; then starts a :class:`SimCluster` for it and writes a
kubeconfig. The proxy's traffic counts are reset afterwards, so a test sees only its own calls.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import boto3
import pytest
import yaml

from fakes.fleet import CNI_POLICY, EC2_TRUST, WORKER_POLICY
from fakes.proxy import DEFAULT_ACCOUNT, FakeAws, Traffic
from fakes.sim_cluster import SimCluster
from fakes.sim_objects import pause_image

ECR_POLICY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
NODE_POLICIES = (WORKER_POLICY, CNI_POLICY, ECR_POLICY)
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


@dataclass
class SimEnv:
    """A built cluster: its AWS facts, its simulated Kubernetes API and a kubeconfig for it."""

    aws: FakeAws
    sim: SimCluster
    cluster_name: str
    cluster_arn: str
    account: str
    region: str
    issuer: str
    node_role_arn: str
    kubeconfig_path: Path
    context: str
    subnets: list[str] = field(default_factory=list)

    @property
    def issuer_host(self) -> str:
        return self.issuer.removeprefix("https://")

    @property
    def node_role_name(self) -> str:
        return self.node_role_arn.rsplit("/", 1)[-1]

    @property
    def pause_image(self) -> str:
        return pause_image(self.region)

    def client(self, service: str) -> Any:
        """A boto3 client through the proxy (counted in ``aws.traffic``)."""
        return boto3.client(service, region_name=self.region)  # type: ignore[call-overload]

    def settle(self) -> None:
        self.sim.settle()

    def nodes(self) -> list[dict[str, Any]]:
        return self.sim.store.items("nodes")

    def pods(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.sim.store.items("pods", namespace)

    def aws_node_pods(self) -> list[dict[str, Any]]:
        return [
            p
            for p in self.pods("kube-system")
            if p["metadata"].get("labels", {}).get("k8s-app") == "aws-node"
        ]

    def events(self, reason: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.sim.store.items("events") if reason in (None, e["reason"])]

    def block_ips(self, nodegroup: str) -> None:
        """A fault: pods on this node group's nodes never get an IP, whatever the identity."""
        self.sim.blocked_nodegroups.add(nodegroup)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait (settling the loops) until ``predicate()`` holds; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("the simulated cluster did not reach the expected state")
            self.sim.settle()
            time.sleep(0.02)


def build_sim_cluster(
    aws: FakeAws,
    directory: Path,
    *,
    name: str = "demo",
    region: str = "us-east-1",
    ip_family: Literal["ipv4", "ipv6"] = "ipv4",
    node_groups: dict[str, int] | None = None,
    node_policies: tuple[str, ...] = NODE_POLICIES,
    oidc_provider: bool = True,
    vpc_cni_addon: bool = True,
    addon_role_arn: str | None = None,
    pod_identity_agent: bool = False,
) -> SimEnv:
    """The cluster in moto and the fakes, its running simulation and a kubeconfig file."""
    iam = boto3.client("iam", region_name=region)
    eks = boto3.client("eks", region_name=region)
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"]
        for i in range(2)
    ]
    cluster_role = iam.create_role(
        RoleName=f"{name}-cluster", AssumeRolePolicyDocument=json.dumps(EKS_TRUST)
    )["Role"]["Arn"]
    info = eks.create_cluster(
        name=name,
        roleArn=cluster_role,
        version="1.31",
        resourcesVpcConfig={"subnetIds": subnets},
        kubernetesNetworkConfig={"ipFamily": "ipv6" if ip_family == "ipv6" else "ipv4"},
    )["cluster"]
    issuer = info["identity"]["oidc"]["issuer"]
    if oidc_provider:
        # moto gives every cluster of a region the same issuer
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_open_id_connect_provider(
                Url=issuer, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["9" * 40]
            )
    node_role = iam.create_role(
        RoleName=f"{name}-node", AssumeRolePolicyDocument=json.dumps(EC2_TRUST)
    )["Role"]["Arn"]
    for policy in node_policies:
        iam.attach_role_policy(RoleName=f"{name}-node", PolicyArn=policy)
    iam.create_instance_profile(InstanceProfileName=f"{name}-node")
    iam.add_role_to_instance_profile(InstanceProfileName=f"{name}-node", RoleName=f"{name}-node")
    for group, size in (node_groups if node_groups is not None else {"main": 2}).items():
        eks.create_nodegroup(
            clusterName=name,
            nodegroupName=group,
            nodeRole=node_role,
            subnets=subnets,
            amiType="AL2023_x86_64_STANDARD",
            scalingConfig={"minSize": 0, "maxSize": 10, "desiredSize": size},
        )
    if vpc_cni_addon:
        if addon_role_arn:
            eks.create_addon(
                clusterName=name, addonName="vpc-cni", serviceAccountRoleArn=addon_role_arn
            )
        else:
            eks.create_addon(clusterName=name, addonName="vpc-cni")
    if pod_identity_agent:
        eks.create_addon(clusterName=name, addonName="eks-pod-identity-agent")
    sim = SimCluster(aws, name, region=region).start()
    context = info["arn"]
    directory.mkdir(parents=True, exist_ok=True)
    kubeconfig = directory / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": context, "cluster": {"server": sim.url}}],
                "users": [{"name": context, "user": {"token": "sim-token"}}],
                "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
                "current-context": context,
            }
        )
    )
    aws.traffic = Traffic()
    return SimEnv(
        aws=aws,
        sim=sim,
        cluster_name=name,
        cluster_arn=info["arn"],
        account=DEFAULT_ACCOUNT,
        region=region,
        issuer=issuer,
        node_role_arn=node_role,
        kubeconfig_path=kubeconfig,
        context=context,
        subnets=subnets,
    )


@pytest.fixture
def sim_cluster_factory(aws: FakeAws, tmp_path: Path) -> Iterator[Callable[..., SimEnv]]:
    """``make(**options)`` -> a started :class:`SimEnv` (see :func:`build_sim_cluster`)."""
    built: list[SimEnv] = []

    def make(**options: Any) -> SimEnv:
        name = options.get("name", "demo")
        env = build_sim_cluster(aws, tmp_path / f"sim-{name}", **options)
        built.append(env)
        return env

    yield make
    for env in built:
        env.sim.stop()


@pytest.fixture
def sim_cluster(sim_cluster_factory: Callable[..., SimEnv]) -> SimEnv:
    """The default cluster: two managed nodes whose node role carries the CNI policy."""
    return sim_cluster_factory()
