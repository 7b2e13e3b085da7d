"""`cniguard verify` against the simulated EKS cluster: real API paths, control loops, moto IAM.

Pods get an IP in the simulation only when aws-node's identity really grants the CNI actions
(decided from moto's IAM state by an oracle independent of cniguard), so these tests show that
verify tells a working CNI from a broken one, names the events that say why, and leaves the
cluster as it found it on every way out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from cniguard.cli.main import app
from cniguard.collect.kube_live import api_client_for_context
from cniguard.remediate.kube_ops import KubeOps, KubeOpsError
from cniguard.remediate.node_scaling import EksNodeGroups
from cniguard.remediate.verify import Interrupted, RunClock, VerifyOptions, verify
from fakes.fleet import CNI_POLICY, EC2_TRUST
from fakes.sim_fixtures import SimEnv

Factory = Callable[..., SimEnv]
SANDBOX_TEXT = re.compile(
    r"^FailedCreatePodSandBox: Failed to create pod sandbox: rpc error: code = Unknown desc = "
    r'failed to setup network for sandbox "\w{64}": plugin type="aws-cni" name="aws-cni" failed '
    r"\(add\): add cmd: failed to assign an IP address to container$"
)


def namespaces(env: SimEnv) -> list[str]:
    return sorted(n["metadata"]["name"] for n in env.sim.store.items("namespaces"))


def ready_nodes(env: SimEnv) -> int:
    return sum(
        any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
        for n in env.nodes()
    )


def healthy(factory: Factory, **options: Any) -> SimEnv:
    env = factory(**options)
    env.wait_for(lambda: ready_nodes(env) == len(env.nodes()))
    return env


def run_cli(
    env: SimEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *extra: str
) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "verify.json"
    args = [
        "verify",
        "--cluster",
        env.cluster_name,
        "--kube-context",
        f"{env.cluster_name}={env.context}",
        "--kubeconfig",
        str(env.kubeconfig_path),
        "--format",
        "json",
        "-o",
        str(out),
        *extra,
    ]
    result = CliRunner().invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert out.exists(), result.output
    return result.exit_code, json.loads(out.read_text(encoding="utf-8"))


def node_names(env: SimEnv, group: str) -> set[str]:
    return {n.name for n in env.sim.nodes.values() if n.nodegroup == group}


def test_every_group_of_a_healthy_cluster_gets_an_ip(
    sim_cluster_factory: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = healthy(sim_cluster_factory, node_groups={"general": 2, "spot": 1})
    before = namespaces(env)
    code, document = run_cli(env, tmp_path, monkeypatch, "--timeout", "20")
    assert code == 0
    assert document["schema"] == "cniguard.verify/v1"
    assert (document["cluster"], document["ok"], document["cleanup"]) == ("demo", True, "deleted")
    assert document["namespace"].startswith("cniguard-verify-")
    groups = document["groups"]
    assert [(g["group"], g["kind"], g["status"]) for g in groups] == [
        ("general", "managed", "ok"),
        ("spot", "managed", "ok"),
    ]
    for group in groups:
        assert group["node"] in node_names(env, group["group"])
        assert re.fullmatch(r"10\.0\.\d+\.\d+", group["ip"])
        assert 0 <= group["seconds_to_ip"] < 20
        assert group["pod"].startswith(f"probe-{group['group']}-")
    assert namespaces(env) == before
    assert env.pods(document["namespace"]) == []


def test_a_node_role_without_the_cni_policy_fails_with_the_event_text(
    sim_cluster_factory: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = healthy(sim_cluster_factory, node_groups={"general": 1})
    env.client("iam").detach_role_policy(RoleName=env.node_role_name, PolicyArn=CNI_POLICY)
    before = namespaces(env)
    code, document = run_cli(env, tmp_path, monkeypatch, "--timeout", "3")
    assert code == 1
    (group,) = document["groups"]
    assert (group["group"], group["status"], group["ip"]) == ("general", "failed", None)
    (node,) = node_names(env, "general")
    assert group["message"].startswith(f"no pod IP after 3s (pod Pending on {node}): ")
    reasons = [e["reason"] for e in group["events"]]
    assert reasons == ["FailedCreatePodSandBox", "MissingIAMPermissions"]
    sandbox, missing = group["events"]
    assert SANDBOX_TEXT.match(f"{sandbox['reason']}: {sandbox['message']}")
    assert group["message"].endswith(sandbox["message"])
    assert re.fullmatch(
        r"Unauthorized operation: failed to call ec2:\w+ due to missing permissions\. Please "
        r"refer https://github\.com/aws/amazon-vpc-cni-k8s/blob/master/docs/iam-policy\.md to "
        r"attach relevant policy to IAM role",
        missing["message"],
    )
    assert missing["object"].startswith("Pod/kube-system/aws-node-")
    assert document["cleanup"] == "deleted"
    assert namespaces(env) == before


def test_a_group_without_a_ready_node_cannot_be_tested(
    sim_cluster_factory: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = healthy(sim_cluster_factory, node_groups={"general": 1})
    iam = env.client("iam")
    role = iam.create_role(RoleName="batch-node", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    iam.create_instance_profile(InstanceProfileName="batch-node")
    iam.add_role_to_instance_profile(InstanceProfileName="batch-node", RoleName="batch-node")
    batch = env.sim.add_node(role["Role"]["Arn"], karpenter_nodepool="batch")
    env.settle()
    code, document = run_cli(env, tmp_path, monkeypatch, "--timeout", "20")
    assert code == 3
    assert [(g["group"], g["kind"], g["status"]) for g in document["groups"]] == [
        ("batch", "karpenter", "no_nodes"),
        ("general", "managed", "ok"),
    ]
    no_nodes = document["groups"][0]
    assert no_nodes["message"] == f"no Ready, schedulable node (nodes: {batch.name})"
    assert (no_nodes["pod"], no_nodes["ip"]) == (None, None)


def ops_for(env: SimEnv) -> KubeOps:
    return KubeOps(api_client_for_context(env.context, str(env.kubeconfig_path)))


class Interrupting(RunClock):
    """A clock whose n-th sleep is a Ctrl-C (the run is then cleaning up or waiting)."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.sleeps = 0
        self.at = at
        self.sleep = self._sleep

    def _sleep(self, seconds: float) -> None:
        self.sleeps += 1
        if self.sleeps == self.at:
            raise KeyboardInterrupt
        super().sleep(min(seconds, 0.05))


def test_ctrl_c_while_waiting_still_deletes_the_scratch_namespace(
    sim_cluster_factory: Factory,
) -> None:
    env = healthy(sim_cluster_factory, node_groups={"general": 1})
    env.block_ips("general")  # the pod waits for an IP: the interrupt comes while waiting
    before = namespaces(env)
    options = VerifyOptions(cluster="demo", timeout=30, run_id="c7rl")
    with pytest.raises(Interrupted) as caught:
        verify(ops_for(env), options, clock=Interrupting(at=1))
    assert caught.value.cleanup == "deleted"
    assert namespaces(env) == before
    assert env.pods("cniguard-verify-c7rl") == []


def test_a_timeout_still_deletes_the_scratch_namespace(sim_cluster_factory: Factory) -> None:
    env = healthy(sim_cluster_factory, node_groups={"general": 1})
    env.block_ips("general")
    before = namespaces(env)
    result = verify(ops_for(env), VerifyOptions(cluster="demo", timeout=1.5, poll=0.2))
    (group,) = result.groups
    (node,) = node_names(env, "general")
    assert group.status == "failed"
    assert group.message.startswith(f"no pod IP after 1.5s (pod Pending on {node}): ")
    assert [e.reason for e in group.events] == ["FailedCreatePodSandBox"]
    assert result.cleanup == "deleted"
    assert namespaces(env) == before


def test_cleanup_refuses_a_namespace_that_is_not_the_runs_own(sim_cluster_factory: Factory) -> None:
    env = healthy(sim_cluster_factory, node_groups={"general": 1})
    env.sim.store.put(
        "namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cniguard-verify-f00d"}},
    )
    with pytest.raises(
        KubeOpsError, match="refusing to delete /api/v1/namespaces/cniguard-verify-f00d"
    ):
        ops_for(env).delete_scratch_namespace("f00d")
    assert "cniguard-verify-f00d" in namespaces(env)
    assert ops_for(env).delete_scratch_namespace("beef") is False


def test_the_scaling_test_raises_checks_the_new_node_and_restores_the_size(
    sim_cluster_factory: Factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = healthy(sim_cluster_factory, node_groups={"general": 1})
    eks = env.client("eks")
    eks.update_nodegroup_config(
        clusterName="demo",
        nodegroupName="general",
        scalingConfig={"minSize": 1, "maxSize": 1, "desiredSize": 1},
    )
    env.settle()
    old = node_names(env, "general")
    env.aws.traffic.calls.clear()
    code, document = run_cli(
        env,
        tmp_path,
        monkeypatch,
        "--timeout",
        "20",
        "--scale-node-group",
        "general",
        "--region",
        env.region,
    )
    assert code == 0, document
    scale = document["scale_test"]
    assert (scale["status"], scale["restored"]) == ("ok", True)
    assert (scale["desired_before"], scale["desired_raised"], scale["max_before"]) == (1, 2, 1)
    assert scale["node"] not in old
    assert scale["ip"] and scale["seconds_to_ip"] is not None
    config = eks.describe_nodegroup(clusterName="demo", nodegroupName="general")["nodegroup"]
    assert config["scalingConfig"] == {"minSize": 1, "maxSize": 1, "desiredSize": 1}
    assert env.aws.traffic.calls["eks:UpdateNodegroupConfig"] == 2
    env.settle()
    assert len(node_names(env, "general")) == 1


def test_the_scaling_test_leaves_a_size_someone_else_changed(sim_cluster_factory: Factory) -> None:
    env = healthy(sim_cluster_factory, node_groups={"general": 1})
    eks = env.client("eks")

    class Meddler(EksNodeGroups):
        """Someone sets desired size 3 while the test waits for its node."""

        def update_status(self, nodegroup: str, update_id: str) -> tuple[str, list[str]]:
            config = {"minSize": 0, "maxSize": 10, "desiredSize": 3}
            if self.scaling(nodegroup).desired == 2:
                eks.update_nodegroup_config(
                    clusterName="demo", nodegroupName=nodegroup, scalingConfig=config
                )
            return super().update_status(nodegroup, update_id)

    groups = Meddler(boto3.Session(), env.region, "demo")
    options = VerifyOptions(cluster="demo", timeout=20, poll=0.2, scale_node_group="general")
    result = verify(ops_for(env), options, nodegroups=groups)
    scale = result.scale_test
    assert scale is not None
    assert (scale.status, scale.restored) == ("failed", False)
    assert scale.message.endswith(
        "NOT restored: the size changed meanwhile (desired 3, max 10); left as is. To restore: "
        "aws eks update-nodegroup-config --cluster-name demo --nodegroup-name general "
        "--scaling-config minSize=0,maxSize=10,desiredSize=1"
    )
    config = eks.describe_nodegroup(clusterName="demo", nodegroupName="general")["nodegroup"]
    assert config["scalingConfig"]["desiredSize"] == 3
    assert result.cleanup == "deleted"


def test_a_new_node_that_never_gets_ready_fails_the_scaling_test_and_the_size_is_restored(
    sim_cluster_factory: Factory,
) -> None:
    env = healthy(sim_cluster_factory, node_groups={"general": 1})
    env.client("iam").detach_role_policy(RoleName=env.node_role_name, PolicyArn=CNI_POLICY)
    old = node_names(env, "general")
    options = VerifyOptions(
        cluster="demo", timeout=1, poll=0.2, scale_node_group="general", scale_timeout=2
    )
    groups = EksNodeGroups(boto3.Session(), env.region, "demo")
    result = verify(ops_for(env), options, nodegroups=groups)
    assert [g.status for g in result.groups] == ["failed"]
    scale = result.scale_test
    assert scale is not None
    assert (scale.status, scale.restored, scale.node) == ("failed", True, None)
    joined = re.fullmatch(r"no new Ready node after 2s \(new nodes: (\S+)\)", scale.message)
    assert joined is not None and joined.group(1) not in old
    config = env.client("eks").describe_nodegroup(clusterName="demo", nodegroupName="general")
    assert config["nodegroup"]["scalingConfig"]["desiredSize"] == 1
    assert result.cleanup == "deleted"
