"""verify's pure parts: which groups are tested, the pods it creates, the image, the report."""

from __future__ import annotations

import json
from typing import Any

from cniguard.remediate.kube_ops import WRITE_RBAC, DaemonSetState, _identity
from cniguard.remediate.pause_image import pause_image
from cniguard.remediate.probe_pods import (
    NodeGroup,
    is_own_namespace,
    namespace_manifest,
    node_groups,
    parse_node,
    pod_manifest,
)
from cniguard.remediate.verify_report import (
    EventNote,
    GroupResult,
    ScaleResult,
    VerifyResult,
    exit_code,
    render_table,
    to_json,
)


def node(
    name: str,
    labels: dict[str, str],
    *,
    ready: bool = True,
    unschedulable: bool = False,
    taints: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/os": "linux", **labels}},
        "spec": {"unschedulable": unschedulable, "taints": taints or []},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


MNG = "eks.amazonaws.com/nodegroup"
POOL = "karpenter.sh/nodepool"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
NOT_READY_TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}


def test_groups_come_from_node_labels_and_skip_nodes_aws_node_does_not_run_on() -> None:
    items = [
        node("a1", {MNG: "general"}),
        node("a2", {MNG: "general"}, ready=False, taints=[NOT_READY_TAINT]),
        node("g1", {MNG: "gpu"}, taints=[GPU_TAINT, NOT_READY_TAINT]),
        node("k1", {POOL: "default"}),
        node("e1", {"alpha.eksctl.io/nodegroup-name": "legacy"}),
        node("s1", {"node.kubernetes.io/instance-type": "m5.large"}),
        node("c1", {MNG: "drained"}, unschedulable=True),
        node("f1", {"eks.amazonaws.com/compute-type": "fargate"}),
        node("h1", {"eks.amazonaws.com/compute-type": "hybrid"}),
        node("u1", {"eks.amazonaws.com/compute-type": "auto", POOL: "system"}),
        node("w1", {"kubernetes.io/os": "windows", MNG: "win"}),
    ]
    groups = node_groups(items)
    assert [(g.kind, g.name, g.key, g.nodes, g.usable) for g in groups] == [
        ("karpenter", "default", POOL, ("k1",), ("k1",)),
        ("managed", "drained", MNG, ("c1",), ()),
        ("managed", "general", MNG, ("a1", "a2"), ("a1",)),
        ("managed", "gpu", MNG, ("g1",), ("g1",)),
        (
            "self-managed",
            "instance-type=m5.large",
            "node.kubernetes.io/instance-type",
            ("s1",),
            ("s1",),
        ),
        ("self-managed", "legacy", "alpha.eksctl.io/nodegroup-name", ("e1",), ("e1",)),
    ]
    gpu = next(g for g in groups if g.name == "gpu")
    assert gpu.taints == (GPU_TAINT,)  # never the not-ready taint


def test_the_test_pod_is_a_small_pause_pod_pinned_to_its_group() -> None:
    group = NodeGroup("managed", "gpu", MNG, "gpu", ("g1",), ("g1",), (GPU_TAINT,))
    image = pause_image("us-west-2")
    pod = pod_manifest(
        group, namespace="cniguard-verify-ab12", run_id="ab12", image=image, deadline_seconds=1020
    )
    assert pod["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "cniguard",
        "app.kubernetes.io/name": "cniguard-verify",
        "cniguard.io/verify-run": "ab12",
    }
    assert pod["metadata"]["annotations"] == {
        "cniguard.io/group": "gpu",
        "cniguard.io/group-kind": "managed",
    }
    spec = pod["spec"]
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux", MNG: "gpu"}
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"] == [
        {
            "matchExpressions": [
                {
                    "key": "eks.amazonaws.com/compute-type",
                    "operator": "NotIn",
                    "values": ["fargate", "auto", "hybrid"],
                },
                {"key": "karpenter.sh/nodepool", "operator": "DoesNotExist"},
                {"key": "karpenter.sh/provisioner-name", "operator": "DoesNotExist"},
            ]
        }
    ]
    assert spec["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert (spec["hostNetwork"], spec["automountServiceAccountToken"]) == (False, False)
    assert (spec["activeDeadlineSeconds"], spec["restartPolicy"]) == (1020, "Never")
    (container,) = spec["containers"]
    assert container["image"] == "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.8"
    assert container["resources"] == {
        "requests": {"cpu": "10m", "memory": "16Mi"},
        "limits": {"cpu": "50m", "memory": "32Mi"},
    }
    assert pod["metadata"]["name"].startswith("probe-gpu-")


def test_a_self_managed_pod_keeps_off_managed_and_karpenter_nodes_and_a_node_pin() -> None:
    group = NodeGroup(
        "self-managed",
        "instance-type=m5.large",
        "node.kubernetes.io/instance-type",
        "m5.large",
        ("s1",),
        ("s1",),
        (),
    )
    new = parse_node(node("s2", {"kubernetes.io/hostname": "ip-10-0-0-2"}))
    pod = pod_manifest(
        group, namespace="ns", run_id="r", image="img", deadline_seconds=60, node=new
    )
    assert pod["spec"]["nodeSelector"] == {
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": "m5.large",
        "kubernetes.io/hostname": "ip-10-0-0-2",
    }
    term = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    keys = [e["key"] for e in term["nodeSelectorTerms"][0]["matchExpressions"]]
    assert keys == ["eks.amazonaws.com/compute-type", MNG, POOL, "karpenter.sh/provisioner-name"]
    unlabelled = parse_node(node("s3", {}))
    pinned = pod_manifest(
        group, namespace="ns", run_id="r", image="img", deadline_seconds=60, node=unlabelled
    )
    term = pinned["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["nodeSelectorTerms"][0]["matchFields"] == [
        {"key": "metadata.name", "operator": "In", "values": ["s3"]}
    ]
    assert pinned["metadata"]["name"] != pod["metadata"]["name"]


def test_only_the_runs_own_labelled_namespace_counts_as_its_own() -> None:
    own = namespace_manifest("ab12")
    assert own["metadata"]["name"] == "cniguard-verify-ab12"
    assert is_own_namespace(own, "ab12")
    assert not is_own_namespace(own, "cd34")
    unlabelled = {"metadata": {"name": "cniguard-verify-ab12", "labels": {}}}
    assert not is_own_namespace(unlabelled, "ab12")


def test_pause_image_uses_the_regions_eks_registry() -> None:
    assert pause_image("eu-west-1") == "602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/pause:3.8"
    assert pause_image("af-south-1").startswith("877085696533.dkr.ecr.af-south-1.amazonaws.com/")
    assert pause_image("ap-east-2").startswith("533267051163.dkr.ecr.ap-east-2.amazonaws.com/")
    assert pause_image("cn-north-1").startswith("918309763551.dkr.ecr.cn-north-1.amazonaws.com.cn/")
    assert pause_image("us-gov-west-1").startswith("013241004608.dkr.ecr.us-gov-west-1.")
    assert pause_image("eusc-de-east-1").startswith(
        "877088126301.dkr.ecr.eusc-de-east-1.amazonaws.eu/"
    )


def test_rollout_status_follows_kubectl() -> None:
    state = DaemonSetState(
        "aws-node", "kube-system", "aws-node", "RollingUpdate", 4, 3, 3, 3, 3, 3, None
    )
    assert state.rollout_message() == "waiting for the daemon set spec update to be observed"
    observed = DaemonSetState(
        "aws-node", "kube-system", "aws-node", "RollingUpdate", 4, 4, 3, 1, 3, 3, None
    )
    assert observed.rollout_message() == "1 out of 3 new pods have been updated"
    updated = DaemonSetState(
        "aws-node", "kube-system", "aws-node", "RollingUpdate", 4, 4, 3, 3, 2, 2, None
    )
    assert updated.rollout_message() == "2 of 3 updated pods are available"
    done = DaemonSetState(
        "aws-node", "kube-system", "aws-node", "RollingUpdate", 4, 4, 3, 3, 3, 3, None
    )
    assert done.rollout_message() is None


def test_aws_node_identity_reads_both_containers_and_fails_closed_on_indirect_values() -> None:
    pod = {
        "metadata": {"name": "aws-node-x"},
        "spec": {
            "nodeName": "n1",
            "serviceAccountName": "aws-node",
            "containers": [
                {
                    "name": "aws-node",
                    "env": [
                        {"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::111122223333:role/cni"}
                    ],
                },
                {
                    "name": "aws-eks-nodeagent",
                    "env": [
                        {"name": "AWS_ROLE_ARN", "valueFrom": {"configMapKeyRef": {"name": "x"}}}
                    ],
                },
                {"name": "sidecar", "env": []},
            ],
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    identity = _identity(pod)
    assert (identity.pod, identity.node, identity.ready, identity.service_account) == (
        "aws-node-x",
        "n1",
        True,
        "aws-node",
    )
    assert [(c.name, c.role_arn, c.pod_identity, c.unresolved) for c in identity.containers] == [
        ("aws-node", "arn:aws:iam::111122223333:role/cni", False, False),
        ("aws-eks-nodeagent", None, False, True),
    ]


def test_write_rbac_declares_exactly_what_the_operations_use() -> None:
    assert [(r["apiGroups"], r["resources"], r["verbs"], r["namespace"]) for r in WRITE_RBAC] == [
        ([""], ["namespaces"], ["create", "get", "delete"], None),
        ([""], ["pods"], ["create", "list"], None),
        ([""], ["events"], ["list"], None),
        ([""], ["nodes"], ["list"], None),
        ([""], ["serviceaccounts"], ["get", "patch"], "kube-system"),
        (["apps"], ["daemonsets"], ["get", "patch"], "kube-system"),
    ]


SANDBOX = EventNote(
    "FailedCreatePodSandBox",
    "failed to assign an IP address to container",
    "Pod/cniguard-verify-ab12/probe-gpu-1",
    3,
    "2025-01-01T00:00:10Z",
)


def result(*groups: GroupResult, scale: ScaleResult | None = None) -> VerifyResult:
    return VerifyResult(
        "prod", "2025-01-01T00:00:00Z", "cniguard-verify-ab12", groups, scale, "deleted"
    )


OK = GroupResult("general", "managed", "ok", "a1", "probe-general-1", "10.0.0.5", 2.0)
FAILED = GroupResult(
    "gpu", "managed", "failed", "g1", "probe-gpu-1", message="no pod IP", events=(SANDBOX,)
)
NO_NODES = GroupResult("drained", "managed", "no_nodes", message="no Ready, schedulable node")


def test_exit_codes() -> None:
    assert exit_code(result(OK)) == 0
    assert exit_code(result(OK, FAILED, NO_NODES)) == 1
    assert exit_code(result(OK, NO_NODES)) == 3
    assert exit_code(result()) == 3
    assert exit_code(result(OK, scale=ScaleResult("general", "failed"))) == 1


def test_json_report_schema() -> None:
    document = json.loads(to_json(result(OK, FAILED)))
    assert document["schema"] == "cniguard.verify/v1"
    assert document["ok"] is False
    assert document["scale_test"] is None
    assert document["groups"][1] == {
        "group": "gpu",
        "kind": "managed",
        "status": "failed",
        "node": "g1",
        "pod": "probe-gpu-1",
        "ip": None,
        "seconds_to_ip": None,
        "message": "no pod IP",
        "events": [
            {
                "reason": "FailedCreatePodSandBox",
                "message": "failed to assign an IP address to container",
                "object": "Pod/cniguard-verify-ab12/probe-gpu-1",
                "count": 3,
                "last_seen": "2025-01-01T00:00:10Z",
            }
        ],
    }


def test_table_names_every_group_its_time_to_ip_and_the_event_text() -> None:
    text = render_table(result(OK, FAILED, NO_NODES), width=200)
    assert "IP 10.0.0.5 after 2.0s" in text
    assert (
        "gpu: FailedCreatePodSandBox (Pod/cniguard-verify-ab12/probe-gpu-1, x3): failed to "
        "assign an IP address to container" in text
    )
    assert "no Ready, schedulable node" in text
    assert "scratch namespace cniguard-verify-ab12: deleted" in text
    assert text.rstrip().endswith("FAILED")
