"""read_export: the recorded fixtures turn into exact KubeState values; bad files become Gaps."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cniguard.collect.kubernetes import read_export
from cniguard.model.common import Origin
from cniguard.model.inventory import Gap
from cniguard.model.kube import AwsAuthRole, Container, EnvVar, Event, KubeState, Node

FIXTURES = Path(__file__).parent.parent / "fixtures" / "kube"
CLUSTER = "arn:aws:eks:us-east-1:111122223333:cluster/prod"
CNI_ROLE = "arn:aws:iam::111122223333:role/AmazonEKSVPCCNIRole"
NODE_ROLE = "arn:aws:iam::111122223333:role/eks-node-group-role"
N1, N2 = "ip-10-0-1-23.ec2.internal", "ip-10-0-2-41.ec2.internal"
NOT_READY_MESSAGE = (
    "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
    "message:Network plugin returns error: cni plugin not initialized"
)
MISSING_IAM = (
    "Unauthorized operation: failed to call ec2:{} due to missing permissions. Please refer "
    "https://github.com/aws/amazon-vpc-cni-k8s/blob/master/docs/iam-policy.md to attach relevant "
    "policy to IAM role"
)
SANDBOX_MESSAGE = (
    "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for "
    'sandbox "3f1b9c2e7d4a5b6c8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d": plugin '
    'type="aws-cni" name="aws-cni" failed (add): add cmd: failed to assign an IP address to '
    "container"
)


def identity_env(state: KubeState) -> list[tuple[str, str | None, str | None, str | None]]:
    """(pod, AWS_ROLE_ARN, AWS_CONTAINER_CREDENTIALS_FULL_URI, token file) of each aws-node pod."""
    assert state.pods is not None
    rows = []
    for pod in state.pods:
        main = next(c for c in pod.containers if c.name == "aws-node")
        token_file = main.env_value("AWS_WEB_IDENTITY_TOKEN_FILE") or main.env_value(
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
        )
        rows.append(
            (
                pod.name,
                main.env_value("AWS_ROLE_ARN"),
                main.env_value("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
                token_file,
            )
        )
    return rows


def test_healthy_irsa_cluster() -> None:
    folder = FIXTURES / "healthy-irsa"
    state, gaps = read_export(folder, cluster=CLUSTER)

    assert state.collected_at == "2025-06-02T10:14:00Z"  # newest node heartbeat
    assert state.context is None
    assert state.daemonsets is not None and len(state.daemonsets) == 1
    ds = state.daemonsets[0]
    assert (ds.namespace, ds.name, ds.service_account) == ("kube-system", "aws-node", "aws-node")
    assert (ds.desired, ds.ready, ds.unavailable, ds.generation) == (2, 2, None, 3)
    assert [c.name for c in ds.containers] == ["aws-node", "aws-eks-nodeagent"]
    assert ds.containers[0].image == (
        "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni:v1.19.2-eksbuild.1"
    )
    assert ds.containers[0].env_value("VPC_CNI_VERSION") == "v1.19.2"
    assert ds.containers[0].env_value("AWS_ROLE_ARN") is None  # injected into pods, not the DS
    assert ds.containers[1].env == (EnvVar("MY_NODE_NAME", None),)  # valueFrom: no literal
    assert ds.origin == Origin(source="k8s", file=str(folder / "daemonset.json"))

    assert state.service_accounts is not None
    assert [(sa.name, sa.annotations) for sa in state.service_accounts] == [
        (
            "aws-node",
            {
                "eks.amazonaws.com/role-arn": CNI_ROLE,
                "eks.amazonaws.com/sts-regional-endpoints": "true",
            },
        ),
        ("coredns", {}),
        ("kube-proxy", {}),
    ]
    assert state.pods is not None
    assert [(p.name, p.node_name, p.service_account, p.phase, p.ready) for p in state.pods] == [
        ("aws-node-7xk2p", N1, "aws-node", "Running", True),
        ("aws-node-q9d4m", N2, "aws-node", "Running", True),
    ]
    assert identity_env(state) == [
        (
            "aws-node-7xk2p",
            CNI_ROLE,
            None,
            "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
        ),
        (
            "aws-node-q9d4m",
            CNI_ROLE,
            None,
            "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
        ),
    ]
    pod = state.pods[0]
    assert (pod.owner_kind, pod.owner_name, pod.created_at) == (
        "DaemonSet",
        "aws-node",
        "2025-05-20T08:01:00Z",
    )
    agent = pod.containers[1]
    assert agent == Container(
        name="aws-eks-nodeagent",
        image="602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon/aws-network-policy-agent:"
        "v1.1.6-eksbuild.1",
        env=(
            EnvVar("MY_NODE_NAME", None),
            EnvVar("AWS_STS_REGIONAL_ENDPOINTS", "regional"),
            EnvVar("AWS_DEFAULT_REGION", "us-east-1"),
            EnvVar("AWS_REGION", "us-east-1"),
            EnvVar("AWS_ROLE_ARN", CNI_ROLE),
            EnvVar(
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
            ),
        ),
        ready=True,
        restart_count=0,
        waiting_reason=None,
    )
    assert state.events == ()  # events.json: an empty List, named by its file
    assert state.nodes is not None
    assert state.nodes[0] == Node(
        name=N1,
        labels={
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "eks.amazonaws.com/capacityType": "ON_DEMAND",
            "eks.amazonaws.com/nodegroup": "ng-general",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": N1,
            "kubernetes.io/os": "linux",
            "node.kubernetes.io/instance-type": "m5.large",
            "topology.kubernetes.io/region": "us-east-1",
            "topology.kubernetes.io/zone": "us-east-1a",
        },
        provider_id="aws:///us-east-1a/i-0a1b2c3d4e5f60718",
        ready=True,
        ready_reason="KubeletReady",
        ready_message="kubelet is posting ready status",
        origin=Origin(source="k8s", file=str(folder / "nodes.json")),
    )
    assert [n.provider_id for n in state.nodes] == [
        "aws:///us-east-1a/i-0a1b2c3d4e5f60718",
        "aws:///us-east-1b/i-0f9e8d7c6b5a40312",
    ]
    assert state.aws_auth is None  # no ConfigMap exported: unknown, not "none"
    assert gaps == [
        Gap(
            what="k8s:aws-auth",
            reason=f"not in the export {folder}",
            cluster=CLUSTER,
            resource=str(folder),
        )
    ]


def test_stale_pods_lack_the_identity_env_the_service_account_now_names() -> None:
    state, _ = read_export(FIXTURES / "stale-pods", cluster=CLUSTER)

    assert state.service_accounts is not None
    assert state.service_accounts[0].annotations == {"eks.amazonaws.com/role-arn": CNI_ROLE}
    assert identity_env(state) == [
        ("aws-node-5hx8z", None, None, None),
        ("aws-node-m2w7c", None, None, None),
    ]
    assert state.pods is not None
    assert [p.created_at for p in state.pods] == ["2025-03-01T12:00:00Z", "2025-03-01T12:01:00Z"]


def test_pod_identity_cluster() -> None:
    state, gaps = read_export(FIXTURES / "pod-identity", cluster=CLUSTER)

    assert state.service_accounts is not None
    assert state.service_accounts[0].name == "aws-node"
    assert state.service_accounts[0].annotations == {}
    token = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"
    assert identity_env(state) == [
        ("aws-node-c4n6b", None, "http://169.254.170.23/v1/credentials", token),
        ("aws-node-h7t2s", None, "http://169.254.170.23/v1/credentials", token),
    ]
    assert state.aws_auth == ()  # configmaps.json: read, and there is no aws-auth
    assert gaps == []


def test_stuck_pods_events_and_not_ready_nodes() -> None:
    folder = FIXTURES / "stuck"
    state, gaps = read_export(folder, cluster=CLUSTER)

    assert gaps == []
    assert state.collected_at == "2025-06-02T10:14:00Z"
    assert state.daemonsets is not None
    assert [(d.desired, d.ready, d.unavailable) for d in state.daemonsets] == [(2, 0, 2)]
    assert state.service_accounts is not None
    assert [(sa.name, sa.annotations) for sa in state.service_accounts] == [("aws-node", {})]
    assert state.pods is not None
    rows = [
        (
            p.namespace,
            p.name,
            p.phase,
            p.ready,
            [(c.name, c.waiting_reason, c.restart_count) for c in p.containers],
        )
        for p in state.pods
    ]
    assert rows == [
        ("default", "web-7d9c5b8f6-x2x7k", "Pending", False, [("web", "ContainerCreating", 0)]),
        (
            "kube-system",
            "aws-node-2kq9v",
            "Running",
            False,
            [("aws-node", "CrashLoopBackOff", 7), ("aws-eks-nodeagent", None, 0)],
        ),
        (
            "kube-system",
            "aws-node-8rj3t",
            "Running",
            False,
            [("aws-node", "CrashLoopBackOff", 6), ("aws-eks-nodeagent", None, 0)],
        ),
        (
            "shop",
            "checkout-6b8d9f7c5-p4m2n",
            "Pending",
            False,
            [("checkout", "ContainerCreating", 0)],
        ),
    ]
    assert state.events is not None
    assert [
        (
            e.namespace,
            e.involved_name,
            e.reason,
            e.count,
            e.first_seen,
            e.last_seen,
            e.reporting_component,
            e.action,
        )
        for e in state.events
    ] == [
        (
            "default",
            "web-7d9c5b8f6-x2x7k",
            "FailedCreatePodSandBox",
            41,
            "2025-06-02T09:30:05Z",
            "2025-06-02T10:12:40Z",
            "kubelet",
            None,
        ),
        (
            "kube-system",
            "aws-node-2kq9v",
            "Unhealthy",
            262,
            "2025-06-02T09:00:11Z",
            "2025-06-02T10:13:30Z",
            "kubelet",
            None,
        ),
        (
            "kube-system",
            "aws-node-2kq9v",
            "MissingIAMPermissions",
            88,
            "2025-06-02T09:00:20.512345Z",
            "2025-06-02T10:13:20.100000Z",
            "aws-node",
            "ec2:CreateNetworkInterface",
        ),
        (
            "kube-system",
            "aws-node-8rj3t",
            "MissingIAMPermissions",
            87,
            "2025-06-02T09:00:25.000001Z",
            "2025-06-02T10:13:25.000001Z",
            "aws-node",
            "ec2:DescribeNetworkInterfaces",
        ),
        (
            "shop",
            "checkout-6b8d9f7c5-p4m2n",
            "FailedCreatePodSandBox",
            40,
            "2025-06-02T09:31:04Z",
            "2025-06-02T10:13:02Z",
            "kubelet",
            None,
        ),
    ]  # the Normal "Scheduled" event is left out
    assert state.events[0] == Event(
        namespace="default",
        involved_kind="Pod",
        involved_name="web-7d9c5b8f6-x2x7k",
        reason="FailedCreatePodSandBox",
        message=SANDBOX_MESSAGE,
        type="Warning",
        count=41,
        first_seen="2025-06-02T09:30:05Z",
        last_seen="2025-06-02T10:12:40Z",
        reporting_component="kubelet",
        action=None,
        origin=Origin(source="k8s", file=str(folder / "events.json")),
    )
    v1_event = state.events[3]  # from events.k8s.io/v1 (regarding / note / series)
    assert (v1_event.involved_kind, v1_event.type, v1_event.message) == (
        "Pod",
        "Warning",
        MISSING_IAM.format("DescribeNetworkInterfaces"),
    )
    assert v1_event.origin == Origin(source="k8s", file=str(folder / "events-k8s-io.json"))
    assert state.nodes is not None
    assert [(n.name, n.ready, n.ready_reason, n.ready_message) for n in state.nodes] == [
        (N1, False, "KubeletNotReady", NOT_READY_MESSAGE),
        (N2, False, "KubeletNotReady", NOT_READY_MESSAGE),
    ]
    assert state.aws_auth == (
        AwsAuthRole(
            NODE_ROLE, "system:node:{{EC2PrivateDNSName}}", ("system:bootstrappers", "system:nodes")
        ),
    )


def test_aws_auth_config_map_alone() -> None:
    path = FIXTURES / "aws-auth.json"
    state, gaps = read_export(path, cluster=CLUSTER)

    assert state.aws_auth == (
        AwsAuthRole(
            NODE_ROLE, "system:node:{{EC2PrivateDNSName}}", ("system:bootstrappers", "system:nodes")
        ),
        AwsAuthRole(
            "arn:aws:iam::111122223333:role/KarpenterNodeRole-prod",
            "system:node:{{EC2PrivateDNSName}}",
            ("system:bootstrappers", "system:nodes"),
        ),
        AwsAuthRole(
            "arn:aws:iam::111122223333:role/platform-admins", "platform-admin", ("system:masters",)
        ),
    )
    assert state.collected_at == "2024-11-05T16:20:00Z"
    assert (state.daemonsets, state.service_accounts, state.pods, state.events, state.nodes) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert sorted(g.what for g in gaps) == [
        "k8s:daemonsets",
        "k8s:events",
        "k8s:nodes",
        "k8s:pods",
        "k8s:serviceaccounts",
    ]
    assert {g.reason for g in gaps} == {f"not in the export {path}"}


def _write(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value))
    return path


def _pod(name: str, namespace: str = "kube-system", **status: object) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"k8s-app": "aws-node"}},
        "spec": {"nodeName": N1, "containers": [{"name": "aws-node"}]},
        "status": {"phase": "Running", **status},
    }


def test_bad_files_become_gaps_and_the_rest_is_still_read(tmp_path: Path) -> None:
    _write(tmp_path / "nodes.json", {"apiVersion": "v1", "kind": "List", "items": []})
    (tmp_path / "broken.json").write_text('{"kind": "List",\n "items": [\n  {"kind": "Pod",,}]}')
    (tmp_path / "binary.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    (tmp_path / "empty.json").write_text("  \n")
    (tmp_path / "notes.txt").write_text("not an export: not read, and named as such")
    _write(
        tmp_path / "mixed.json",
        {
            "kind": "List",
            "items": [
                {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "coredns"}},
                {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kube-dns"}},
                {
                    "apiVersion": "apps/v1",
                    "kind": "DaemonSet",
                    "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
                },
                [1, 2],
            ],
        },
    )
    _write(
        tmp_path / "aws-auth.json",
        {
            "kind": "ConfigMap",
            "metadata": {"name": "aws-auth", "namespace": "kube-system"},
            "data": {"mapRoles": "- rolearn: [unclosed\n  username: x\n"},
        },
    )
    _write(
        tmp_path / "pods.json",
        _pod("aws-node-bad", containerStatuses=[{"name": "aws-node", "restartCount": "3"}]),
    )

    state, gaps = read_export(tmp_path, cluster=CLUSTER)

    assert state.nodes == ()
    assert state.daemonsets == ()  # DaemonSets were read; aws-node is not among them
    assert state.pods is None  # a malformed pod voids the pods: it could be the stale one
    assert state.aws_auth is None
    assert state.events is None and state.service_accounts is None
    by_file = {(Path(g.resource or "").name, g.what): (g.reason, g.line) for g in gaps}
    assert by_file[("broken.json", "k8s:export")] == (
        "invalid JSON: Expecting property name enclosed in double quotes (column 18)",
        3,
    )
    assert by_file[("binary.json", "k8s:export")] == ("not UTF-8 text (binary file?)", None)
    assert by_file[("empty.json", "k8s:export")] == ("the file is empty", None)
    assert by_file[("mixed.json", "k8s:export")] == (
        "objects of kinds the audit does not read were skipped: Deployment, Service",
        None,
    )
    assert by_file[("pods.json", "k8s:pods")] == (
        "malformed Pod kube-system/aws-node-bad: status.containerStatuses.0.restartCount: "
        "Input should be a valid integer",
        None,
    )
    aws_auth_reason, _ = by_file[("aws-auth.json", "k8s:aws-auth")]
    assert aws_auth_reason.startswith(
        "malformed ConfigMap kube-system/aws-auth: data.mapRoles is not valid YAML:"
    )
    assert {g.cluster for g in gaps} == {CLUSTER}
    assert by_file[("notes.txt", "k8s:export")] == ("not a *.json export file: not read", None)
    assert len(gaps) == 10  # the seven above, the non-object item, events and service accounts
    assert by_file[(tmp_path.name, "k8s:events")] == (f"not in the export {tmp_path}", None)


def test_concatenated_documents_typed_lists_and_a_missing_daemonset(tmp_path: Path) -> None:
    # `kubectl get ds -n kube-system -o json >> f; kubectl get --raw /api/v1/pods >> f`
    pod_list = {
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": "1"},
        "items": [{k: v for k, v in _pod("aws-node-a").items() if k not in ("kind", "apiVersion")}],
    }
    ds_list = {
        "kind": "List",
        "apiVersion": "v1",
        "items": [
            {
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": {"name": "kube-proxy", "namespace": "kube-system"},
            }
        ],
    }
    path = tmp_path / "export.json"
    path.write_text(json.dumps(ds_list, indent=2) + "\n" + json.dumps(pod_list) + "\n")

    state, gaps = read_export(path, cluster=CLUSTER)

    assert state.daemonsets == ()
    assert state.pods is not None
    assert [(p.name, p.containers) for p in state.pods] == [
        ("aws-node-a", (Container("aws-node"),)),
    ]
    assert sorted(g.what for g in gaps) == [
        "k8s:aws-auth",
        "k8s:events",
        "k8s:nodes",
        "k8s:serviceaccounts",
    ]


def test_an_empty_list_names_no_kind_unless_the_file_name_does(tmp_path: Path) -> None:
    _write(tmp_path / "export-1.json", {"apiVersion": "v1", "kind": "List", "items": []})
    _write(tmp_path / "kube-system-sa.json", {"apiVersion": "v1", "kind": "List", "items": []})

    state, _ = read_export(tmp_path, cluster=CLUSTER)

    assert state.service_accounts == ()
    assert state.pods is None


def test_collected_at_falls_back_to_the_file_time_without_timestamps(tmp_path: Path) -> None:
    path = _write(tmp_path / "pods.json", _pod("aws-node-a"))
    os.utime(path, (1_700_000_000, 1_700_000_000))

    state, _ = read_export(path, cluster=CLUSTER)

    assert state.collected_at == "2023-11-14T22:13:20Z"


def test_a_missing_path_is_one_gap_and_nothing_read(tmp_path: Path) -> None:
    missing = tmp_path / "nope"

    state, gaps = read_export(missing, cluster=CLUSTER)

    assert state == KubeState()
    assert gaps[0] == Gap(
        what="k8s:export", reason="no such file or folder", cluster=CLUSTER, resource=str(missing)
    )
    assert len(gaps) == 7


@pytest.mark.parametrize(
    ("obj", "expected_waiting"),
    [
        (
            _pod(
                "w",
                "default",
                phase="Pending",
                containerStatuses=[
                    {"name": "aws-node", "state": {"waiting": {"reason": "ContainerCreating"}}}
                ],
            ),
            "ContainerCreating",
        ),
        (
            _pod(
                "w",
                "default",
                phase="Pending",
                initContainerStatuses=[
                    {"name": "init", "state": {"waiting": {"reason": "PodInitializing"}}}
                ],
            ),
            None,
        ),
        (
            _pod(
                "w",
                "default",
                phase="Pending",
                containerStatuses=[
                    {"name": "aws-node", "state": {"waiting": {"reason": "ImagePullBackOff"}}}
                ],
            ),
            "not kept",
        ),
        (
            _pod(
                "w",
                "default",
                phase="Running",
                containerStatuses=[
                    {"name": "aws-node", "state": {"waiting": {"reason": "ContainerCreating"}}}
                ],
            ),
            "not kept",
        ),
        (_pod("w", "default", phase="Pending"), "not kept"),
    ],
)
def test_which_workload_pods_count_as_stuck(
    tmp_path: Path, obj: dict[str, object], expected_waiting: str | None
) -> None:
    state, _ = read_export(_write(tmp_path / "pods.json", obj), cluster=CLUSTER)

    assert state.pods is not None
    kept = [p.containers[0].waiting_reason for p in state.pods]
    assert kept == ([] if expected_waiting == "not kept" else [expected_waiting])


@pytest.mark.parametrize(
    ("namespace", "expected"),
    [("kube-system", ()), ("default", None)],
)
def test_only_kube_system_config_maps_tell_that_aws_auth_is_absent(
    tmp_path: Path, namespace: str, expected: tuple[()] | None
) -> None:
    config_map = {"kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": namespace}}

    state, _ = read_export(_write(tmp_path / "export.json", config_map), cluster=CLUSTER)

    assert state.aws_auth == expected
