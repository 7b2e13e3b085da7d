"""The simulated EKS cluster, driven only through its public surfaces: the official kubernetes
client on its kubeconfig context and boto3 through the proxy. Each control loop is proved by
what a user of the real cluster would see."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from kubernetes import client, config

from fakes import sim_fixtures
from fakes.fleet import CNI_POLICY
from fakes.proxy import FakeAws
from fakes.sim_fixtures import SimEnv

sim_cluster = sim_fixtures.sim_cluster
sim_cluster_factory = sim_fixtures.sim_cluster_factory

NS = "cniguard-verify"
IRSA_ENV = {"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_STS_REGIONAL_ENDPOINTS"}
POD_IDENTITY_ENV = {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"}
IDENTITY_ENV = IRSA_ENV | POD_IDENTITY_ENV | {"AWS_REGION", "AWS_DEFAULT_REGION"}
Factory = Callable[..., SimEnv]


class Kube:
    """The official client on the sim's kubeconfig context (its models read as Any here)."""

    def __init__(self, env: SimEnv) -> None:
        api = config.new_client_from_config(  # type: ignore[no-untyped-call]
            str(env.kubeconfig_path), context=env.context
        )
        self.core: Any = client.CoreV1Api(api)
        self.apps: Any = client.AppsV1Api(api)
        self.env = env

    def test_pod(self, name: str, **spec: Any) -> None:
        if NS not in [n.metadata.name for n in self.core.list_namespace().items]:
            self.core.create_namespace({"metadata": {"name": NS}})
        body = {"containers": [{"name": "pause", "image": self.env.pause_image}], **spec}
        self.core.create_namespaced_pod(NS, {"metadata": {"name": name}, "spec": body})

    def pod(self, name: str, namespace: str = NS) -> Any:
        return self.core.read_namespaced_pod(name, namespace)

    def events(self, name: str, namespace: str = NS) -> list[tuple[str, str]]:
        found = self.core.list_namespaced_event(
            namespace, field_selector=f"involvedObject.name={name}"
        ).items
        return sorted((e.reason, e.type) for e in found)

    def aws_node_env(self) -> list[set[str]]:
        """Per aws-node pod and container, the AWS_* variables it was given."""
        pods = self.core.list_namespaced_pod("kube-system", label_selector="k8s-app=aws-node")
        return [
            {e.name for e in c.env or [] if e.name in IDENTITY_ENV and e.value is not None}
            for p in pods.items
            for c in p.spec.containers
        ]

    def restart_aws_node(self) -> None:
        """What `kubectl rollout restart ds/aws-node` sends."""
        patch = {
            "spec": {
                "template": {
                    "metadata": {
                        "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-05-01T10:00:00Z"}
                    }
                }
            }
        }
        self.apps.patch_namespaced_daemon_set("aws-node", "kube-system", patch)

    def annotate_aws_node_sa(self, role_arn: str) -> None:
        patch = {"metadata": {"annotations": {"eks.amazonaws.com/role-arn": role_arn}}}
        self.core.patch_namespaced_service_account("aws-node", "kube-system", patch)

    def rollout(self) -> dict[str, Any]:
        status = self.apps.read_namespaced_daemon_set("aws-node", "kube-system").status
        return {
            "desired": status.desired_number_scheduled,
            "updated": status.updated_number_scheduled,
            "ready": status.number_ready,
            "unavailable": status.number_unavailable,
        }


def irsa_role(
    env: SimEnv, name: str, *, sub: str = "system:serviceaccount:kube-system:aws-node"
) -> str:
    iam = env.client("iam")
    host = env.issuer_host
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{env.account}:oidc-provider/{host}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{host}:sub": sub, f"{host}:aud": "sts.amazonaws.com"}
                },
            }
        ],
    }
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    iam.attach_role_policy(RoleName=name, PolicyArn=CNI_POLICY)
    return arn


def pod_identity_role(env: SimEnv, name: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
    iam = env.client("iam")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    iam.attach_role_policy(RoleName=name, PolicyArn=CNI_POLICY)
    return arn


def detach_cni_from_node_role(env: SimEnv) -> None:
    env.client("iam").detach_role_policy(RoleName=env.node_role_name, PolicyArn=CNI_POLICY)


def test_node_role_with_cni_gives_test_pods_an_ip(sim_cluster: SimEnv) -> None:
    kube = Kube(sim_cluster)
    nodes = kube.core.list_node().items
    assert [n.status.conditions[0].status for n in nodes] == ["True", "True"]
    assert [n.metadata.labels["eks.amazonaws.com/nodegroup"] for n in nodes] == ["main", "main"]
    assert all(n.spec.provider_id.startswith("aws:///us-east-1") for n in nodes)
    kube.test_pod("probe", nodeName=nodes[1].metadata.name)
    sim_cluster.settle()
    pod = kube.pod("probe")
    assert (pod.status.phase, pod.spec.node_name) == ("Running", nodes[1].metadata.name)
    assert pod.status.pod_ip.startswith("10.0.")
    assert kube.aws_node_env() == [set(), set(), set(), set()]  # the node role, via IMDS
    assert kube.rollout() == {"desired": 2, "updated": 2, "ready": 2, "unavailable": None}


def test_node_role_without_cni_leaves_pods_without_ip(sim_cluster: SimEnv) -> None:
    kube = Kube(sim_cluster)
    detach_cni_from_node_role(sim_cluster)
    kube.test_pod("probe")
    sim_cluster.settle()
    pod = kube.pod("probe")
    assert (pod.status.phase, pod.status.pod_ip) == ("Pending", None)
    assert pod.status.container_statuses[0].state.waiting.reason == "ContainerCreating"
    assert kube.events("probe") == [("FailedCreatePodSandBox", "Warning")]
    sandbox = kube.core.list_namespaced_event(NS, field_selector="reason=FailedCreatePodSandBox")
    assert sandbox.items[0].message.endswith(
        'plugin type="aws-cni" name="aws-cni" failed (add): add cmd: failed to assign an IP '
        "address to container"
    )
    missing = kube.core.list_event_for_all_namespaces(field_selector="reason=MissingIAMPermissions")
    assert [(e.involved_object.kind, e.action, e.reporting_component) for e in missing.items] == [
        ("Pod", "ec2:AssignPrivateIpAddresses", "aws-node")
    ]
    assert missing.items[0].involved_object.name == pod_aws_node(kube, pod.spec.node_name)


def pod_aws_node(kube: Kube, node: str) -> str:
    pods = kube.core.list_namespaced_pod(
        "kube-system", label_selector="k8s-app=aws-node", field_selector=f"spec.nodeName={node}"
    ).items
    assert len(pods) == 1
    name: str = pods[0].metadata.name
    return name


def test_irsa_takes_effect_only_after_a_restart(sim_cluster: SimEnv) -> None:
    kube = Kube(sim_cluster)
    role = irsa_role(sim_cluster, "cni-irsa")
    kube.annotate_aws_node_sa(role)
    detach_cni_from_node_role(sim_cluster)
    kube.test_pod("stale")
    sim_cluster.settle()
    assert kube.aws_node_env() == [set()] * 4  # pods were not restarted: still the node role
    assert kube.pod("stale").status.pod_ip is None

    kube.restart_aws_node()
    ds = kube.apps.read_namespaced_daemon_set("aws-node", "kube-system")
    assert ds.metadata.generation == 2
    sim_cluster.wait_for(lambda: kube.rollout()["updated"] == 2 and kube.rollout()["ready"] == 2)
    ds = kube.apps.read_namespaced_daemon_set("aws-node", "kube-system")
    assert ds.status.observed_generation == 2
    assert kube.aws_node_env() == [IRSA_ENV | {"AWS_DEFAULT_REGION", "AWS_REGION"}] * 4
    sim_cluster.wait_for(lambda: kube.pod("stale").status.pod_ip is not None)
    assert kube.pod("stale").status.phase == "Running"  # the kubelet retried the sandbox


@pytest.mark.parametrize("fault", ["wrong-sub", "no-oidc-provider"])
def test_broken_irsa_keeps_new_aws_node_pods_not_ready(
    sim_cluster_factory: Factory, fault: str
) -> None:
    env = sim_cluster_factory(oidc_provider=fault != "no-oidc-provider")
    kube = Kube(env)
    sub = "system:serviceaccount:kube-system:aws-cni" if fault == "wrong-sub" else None
    role = irsa_role(env, "cni-irsa", **({"sub": sub} if sub else {}))
    kube.annotate_aws_node_sa(role)
    kube.restart_aws_node()
    env.settle()
    # one pod replaced (maxUnavailable 10% of 2 -> 1), never Ready: the rollout stalls there
    assert kube.rollout() == {"desired": 2, "updated": 1, "ready": 1, "unavailable": 1}
    ready = sorted(n.status.conditions[0].status for n in kube.core.list_node().items)
    assert ready == ["False", "True"]
    unhealthy = kube.core.list_namespaced_event("kube-system", field_selector="reason=Unhealthy")
    assert [e.message.startswith("Readiness probe failed:") for e in unhealthy.items] == [True]
    missing = kube.core.list_event_for_all_namespaces(field_selector="reason=MissingIAMPermissions")
    assert missing.items == []  # STS refused: no EC2 call was ever made


def test_pod_identity_needs_the_agent_add_on(sim_cluster: SimEnv) -> None:
    kube = Kube(sim_cluster)
    eks = sim_cluster.client("eks")
    role = pod_identity_role(sim_cluster, "cni-pod-identity")
    update = eks.update_addon(
        clusterName=sim_cluster.cluster_name,
        addonName="vpc-cni",
        podIdentityAssociations=[{"serviceAccount": "aws-node", "roleArn": role}],
    )["update"]
    assert (update["type"], update["status"]) == ("AddonUpdate", "InProgress")
    detach_cni_from_node_role(sim_cluster)
    sim_cluster.settle()  # the add-on update restarted aws-node; without the agent: no credentials
    assert kube.rollout() == {"desired": 2, "updated": 1, "ready": 1, "unavailable": 1}

    eks.create_addon(clusterName=sim_cluster.cluster_name, addonName="eks-pod-identity-agent")
    sim_cluster.wait_for(lambda: kube.rollout()["updated"] == 2 and kube.rollout()["ready"] == 2)
    assert (
        kube.aws_node_env()
        == [POD_IDENTITY_ENV | {"AWS_STS_REGIONAL_ENDPOINTS", "AWS_DEFAULT_REGION", "AWS_REGION"}]
        * 4
    )
    kube.test_pod("probe")
    sim_cluster.settle()
    assert kube.pod("probe").status.phase == "Running"


@pytest.mark.parametrize("works", [True, False])
def test_scale_up_adds_a_node_that_is_ready_only_with_a_working_identity(
    sim_cluster: SimEnv, works: bool
) -> None:
    kube = Kube(sim_cluster)
    eks = sim_cluster.client("eks")
    if not works:
        detach_cni_from_node_role(sim_cluster)
    update = eks.update_nodegroup_config(
        clusterName=sim_cluster.cluster_name,
        nodegroupName="main",
        scalingConfig={"minSize": 0, "maxSize": 10, "desiredSize": 3},
    )["update"]
    described = eks.describe_update(
        name=sim_cluster.cluster_name, updateId=update["id"], nodegroupName="main"
    )["update"]
    assert (described["type"], described["status"]) == ("ConfigUpdate", "Successful")
    sim_cluster.settle()
    ready = sorted(n.status.conditions[0].status for n in kube.core.list_node().items)
    assert ready == (["True"] * 3 if works else ["False", "True", "True"])
    instances = boto3.client("ec2").describe_instances(
        Filters=[
            {"Name": "tag:eks:nodegroup-name", "Values": ["main"]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
    )
    profiles = {
        i["IamInstanceProfile"]["Arn"] for r in instances["Reservations"] for i in r["Instances"]
    }
    assert profiles == {f"arn:aws:iam::{sim_cluster.account}:instance-profile/demo-node"}

    eks.update_nodegroup_config(
        clusterName=sim_cluster.cluster_name,
        nodegroupName="main",
        scalingConfig={"minSize": 0, "maxSize": 10, "desiredSize": 2},
    )
    sim_cluster.settle()
    assert sorted(n.status.conditions[0].status for n in kube.core.list_node().items) == [
        "True",
        "True",
    ]


def test_the_traffic_log_tells_reads_from_writes(sim_cluster: SimEnv) -> None:
    aws: FakeAws = sim_cluster.aws
    eks, iam = sim_cluster.client("eks"), sim_cluster.client("iam")
    eks.describe_cluster(name=sim_cluster.cluster_name)
    eks.describe_addon(clusterName=sim_cluster.cluster_name, addonName="vpc-cni")
    iam.list_attached_role_policies(RoleName=sim_cluster.node_role_name)
    assert aws.traffic.mutating_calls() == Counter()
    role = irsa_role(sim_cluster, "cni-irsa")
    eks.update_addon(
        clusterName=sim_cluster.cluster_name, addonName="vpc-cni", serviceAccountRoleArn=role
    )
    eks.tag_resource(resourceArn=sim_cluster.cluster_arn, tags={"cniguard/lock": "x"})
    assert aws.traffic.mutating_calls() == Counter(
        {"iam:CreateRole": 1, "iam:AttachRolePolicy": 1, "eks:UpdateAddon": 1, "eks:TagResource": 1}
    )
    sa = Kube(sim_cluster).core.read_namespaced_service_account("aws-node", "kube-system")
    assert sa.metadata.annotations == {"eks.amazonaws.com/role-arn": role}


def test_ipv6_clusters_need_the_ipv6_policy(sim_cluster_factory: Factory) -> None:
    env = sim_cluster_factory(ip_family="ipv6")
    kube = Kube(env)
    # AmazonEKS_CNI_Policy lacks ec2:AssignIpv6Addresses: no aws-node pod gets Ready
    assert kube.rollout() == {"desired": 2, "updated": 2, "ready": 0, "unavailable": 2}
    missing = kube.core.list_namespaced_event(
        "kube-system", field_selector="reason=MissingIAMPermissions"
    )
    assert sorted(e.action for e in missing.items) == ["ec2:AssignIpv6Addresses"] * 2
    ipv6 = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Resource": "*",
                "Action": [
                    "ec2:AssignIpv6Addresses",
                    "ec2:DescribeInstances",
                    "ec2:DescribeTags",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeInstanceTypes",
                ],
            }
        ],
    }
    iam = env.client("iam")
    arn = iam.create_policy(
        PolicyName="AmazonEKS_CNI_IPv6_Policy", PolicyDocument=json.dumps(ipv6)
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=env.node_role_name, PolicyArn=arn)
    env.wait_for(lambda: kube.rollout()["ready"] == 2)
    kube.test_pod("probe")
    env.settle()
    assert ":" in kube.pod("probe").status.pod_ip
