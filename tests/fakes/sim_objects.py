"""The Kubernetes objects of a simulated EKS cluster, shaped like the real ones: the aws-node
DaemonSet and ServiceAccount of the VPC CNI manifest, nodes, pod statuses and events, plus the
scheduling predicates (node selector, node affinity, taints) the simulated scheduler applies.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from fakes.kube_api import micro_now, now_iso

CNI_VERSION = "v1.19.0"
ECR_ACCOUNT = "602401143452"
ECR_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/")
NOT_READY_TAINT = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
NETWORK_NOT_READY = (
    "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
    "message:Network plugin returns error: cni plugin not initialized"
)
SANDBOX_FAILED = (
    "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for "
    'sandbox "{sandbox}": plugin type="aws-cni" name="aws-cni" failed (add): add cmd: failed to '
    "assign an IP address to container"
)
MISSING_PERMISSIONS = (
    "Unauthorized operation: failed to call {action} due to missing permissions. Please refer "
    "https://github.com/aws/amazon-vpc-cni-k8s/blob/master/docs/iam-policy.md to attach relevant "
    "policy to IAM role"
)
READINESS_FAILED = (
    'Readiness probe failed: {"level":"info","ts":"%s","caller":"/usr/local/go/src/runtime/'
    'proc.go:283","msg":"timeout: failed to connect service \\"unix:///var/run/aws-node/'
    'ipamd.sock\\" within 5s"}'
)
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def suffix(length: int = 5) -> str:
    return "".join(secrets.choice(_NAME_CHARS) for _ in range(length))


def ecr_registry(region: str) -> str:
    return f"{ECR_ACCOUNT}.dkr.ecr.{region}.amazonaws.com"


def pause_image(region: str) -> str:
    """The EKS pause image: pullable on a cluster without internet access."""
    return f"{ecr_registry(region)}/eks/pause:3.10"


def template_hash(template: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


@dataclass
class SimNode:
    """A worker node: its EC2 instance in moto and the role its instance profile carries."""

    name: str
    role_arn: str
    ip: str
    instance_id: str
    zone: str
    labels: dict[str, str] = field(default_factory=dict)
    nodegroup: str | None = None

    def object(self, ready: bool) -> dict[str, Any]:
        condition: dict[str, Any] = {
            "type": "Ready",
            "status": "True" if ready else "False",
            "reason": "KubeletReady" if ready else "KubeletNotReady",
            "message": "kubelet is posting ready status" if ready else NETWORK_NOT_READY,
            "lastHeartbeatTime": now_iso(),
            "lastTransitionTime": now_iso(),
        }
        spec: dict[str, Any] = {"providerID": f"aws:///{self.zone}/{self.instance_id}"}
        if not ready:
            spec["taints"] = [dict(NOT_READY_TAINT)]
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.name, "labels": dict(self.labels)},
            "spec": spec,
            "status": {
                "conditions": [condition],
                "addresses": [
                    {"type": "InternalIP", "address": self.ip},
                    {"type": "Hostname", "address": self.name},
                    {"type": "InternalDNS", "address": self.name},
                ],
                "nodeInfo": {
                    "architecture": "amd64",
                    "bootID": self.instance_id,
                    "containerRuntimeVersion": "containerd://1.7.25",
                    "kernelVersion": "6.1.128-136.201.amzn2023.x86_64",
                    "kubeProxyVersion": "v1.31.4-eks-sim",
                    "kubeletVersion": "v1.31.4-eks-sim",
                    "machineID": self.instance_id,
                    "operatingSystem": "linux",
                    "osImage": "Amazon Linux 2023.6.20250203",
                    "systemUUID": self.instance_id,
                },
            },
        }


def node_labels(
    name: str, zone: str, *, nodegroup: str | None, extra: dict[str, str]
) -> dict[str, str]:
    labels = {
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "node.kubernetes.io/instance-type": "m5.large",
        "topology.kubernetes.io/zone": zone,
        "topology.kubernetes.io/region": zone[:-1],
    }
    if nodegroup is not None:
        labels["eks.amazonaws.com/nodegroup"] = nodegroup
        labels["eks.amazonaws.com/capacityType"] = "ON_DEMAND"
    return {**labels, **extra}


def aws_node_daemonset(region: str, ip_family: str) -> dict[str, Any]:
    """kube-system/aws-node as the VPC CNI add-on manifest installs it (generation 1)."""
    registry = ecr_registry(region)
    ipv6 = "true" if ip_family == "ipv6" else "false"
    env = [
        {"name": "ADDITIONAL_ENI_TAGS", "value": "{}"},
        {"name": "AWS_VPC_CNI_NODE_PORT_SUPPORT", "value": "true"},
        {"name": "AWS_VPC_K8S_CNI_LOGLEVEL", "value": "DEBUG"},
        {"name": "ENABLE_IPv4", "value": "false" if ip_family == "ipv6" else "true"},
        {"name": "ENABLE_IPv6", "value": ipv6},
        {"name": "ENABLE_PREFIX_DELEGATION", "value": ipv6},
        {"name": "ENABLE_IMDS_ONLY_MODE", "value": "false"},
        {"name": "DISABLE_NETWORK_RESOURCE_PROVISIONING", "value": "false"},
        {"name": "VPC_CNI_VERSION", "value": CNI_VERSION},
        {"name": "WARM_ENI_TARGET", "value": "1"},
        {"name": "MY_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "MY_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                            {
                                "key": "kubernetes.io/arch",
                                "operator": "In",
                                "values": ["amd64", "arm64"],
                            },
                            {
                                "key": "eks.amazonaws.com/compute-type",
                                "operator": "NotIn",
                                "values": ["fargate", "hybrid", "auto"],
                            },
                        ]
                    }
                ]
            }
        }
    }
    labels = {
        "k8s-app": "aws-node",
        "app.kubernetes.io/name": "aws-node",
        "app.kubernetes.io/instance": "aws-vpc-cni",
        "app.kubernetes.io/version": CNI_VERSION,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": "aws-node",
            "namespace": "kube-system",
            "labels": labels,
            "annotations": {"deprecated.daemonset.template.generation": "1"},
            "generation": 1,
        },
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "aws-node"}},
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "10%", "maxSurge": 0},
            },
            "revisionHistoryLimit": 10,
            "template": {
                "metadata": {
                    "labels": {
                        "k8s-app": "aws-node",
                        "app.kubernetes.io/name": "aws-node",
                        "app.kubernetes.io/instance": "aws-vpc-cni",
                    }
                },
                "spec": {
                    "serviceAccountName": "aws-node",
                    "hostNetwork": True,
                    "priorityClassName": "system-node-critical",
                    "terminationGracePeriodSeconds": 10,
                    "tolerations": [{"operator": "Exists"}],
                    "affinity": affinity,
                    "initContainers": [
                        {
                            "name": "aws-vpc-cni-init",
                            "image": f"{registry}/amazon-k8s-cni-init:{CNI_VERSION}-eksbuild.1",
                            "env": [{"name": "DISABLE_TCP_EARLY_DEMUX", "value": "false"}],
                            "securityContext": {"privileged": True},
                        }
                    ],
                    "containers": [
                        {
                            "name": "aws-node",
                            "image": f"{registry}/amazon-k8s-cni:{CNI_VERSION}-eksbuild.1",
                            "env": env,
                            "ports": [{"containerPort": 61678, "name": "metrics"}],
                            "readinessProbe": {
                                "exec": {
                                    "command": [
                                        "/app/grpc-health-probe",
                                        "-addr=unix:///var/run/aws-node/ipamd.sock",
                                        "-connect-timeout=5s",
                                        "-rpc-timeout=5s",
                                    ]
                                },
                                "initialDelaySeconds": 1,
                                "timeoutSeconds": 10,
                            },
                            "resources": {"requests": {"cpu": "25m"}},
                        },
                        {
                            "name": "aws-eks-nodeagent",
                            "image": f"{registry}/amazon/aws-network-policy-agent:v1.1.5-eksbuild.1",
                            "args": ["--enable-ipv6=" + ipv6, "--enable-network-policy=false"],
                            "env": [
                                {
                                    "name": "MY_NODE_NAME",
                                    "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}},
                                }
                            ],
                            "resources": {"requests": {"cpu": "25m"}},
                        },
                    ],
                },
            },
        },
        "status": {
            "currentNumberScheduled": 0,
            "desiredNumberScheduled": 0,
            "numberMisscheduled": 0,
            "numberReady": 0,
            "observedGeneration": 0,
        },
    }


def service_account(namespace: str, name: str, annotations: dict[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if name == "aws-node":
        meta["labels"] = {"k8s-app": "aws-node", "app.kubernetes.io/name": "aws-node"}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}


def namespace_object(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def aws_auth(node_roles: list[str]) -> dict[str, Any]:
    entries = "".join(
        f"- rolearn: {arn}\n  username: system:node:{{{{EC2PrivateDNSName}}}}\n"
        "  groups:\n  - system:bootstrappers\n  - system:nodes\n"
        for arn in sorted(set(node_roles))
    )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "aws-auth", "namespace": "kube-system"},
        "data": {"mapRoles": entries},
    }


def daemon_pod(ds: dict[str, Any], node: SimNode) -> dict[str, Any]:
    """A new pod of DaemonSet ``ds`` for ``node``, as the DaemonSet controller creates it."""
    template = copy.deepcopy(ds["spec"]["template"])
    meta = template.get("metadata", {})
    spec = template["spec"]
    spec["nodeName"] = node.name
    spec["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchFields": [
                            {"key": "metadata.name", "operator": "In", "values": [node.name]}
                        ]
                    }
                ]
            }
        }
    }
    labels = {
        **meta.get("labels", {}),
        "controller-revision-hash": template_hash(ds["spec"]["template"]),
        "pod-template-generation": str(ds["metadata"]["generation"]),
    }
    owner = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "name": ds["metadata"]["name"],
        "uid": ds["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    name = ds["metadata"]["name"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-{suffix()}",
            "generateName": f"{name}-",
            "namespace": ds["metadata"]["namespace"],
            "labels": labels,
            "annotations": dict(meta.get("annotations", {})),
            "ownerReferences": [owner],
        },
        "spec": spec,
    }


def pod_status(
    pod: dict[str, Any],
    *,
    scheduled: bool,
    ip: str | None,
    ready: bool,
    waiting: str | None = None,
    unschedulable: str | None = None,
) -> dict[str, Any]:
    """A pod's status: Pending (unscheduled, ContainerCreating, ErrImagePull) or Running."""
    spec = pod["spec"]
    running = ip is not None and waiting is None
    scheduled_condition: dict[str, Any] = {"type": "PodScheduled", "status": str(scheduled)}
    if unschedulable is not None:
        scheduled_condition.update(reason="Unschedulable", message=unschedulable)
    conditions = [scheduled_condition]
    if scheduled:
        ready_reason = {} if ready else {"reason": "ContainersNotReady"}
        conditions += [
            {"type": "PodReadyToStartContainers", "status": str(ip is not None)},
            {"type": "Initialized", "status": "True"},
            {"type": "ContainersReady", "status": str(ready), **ready_reason},
            {"type": "Ready", "status": str(ready), **ready_reason},
        ]
    status: dict[str, Any] = {
        "phase": "Running" if running else "Pending",
        "conditions": conditions,
        "qosClass": "BestEffort",
    }
    if not scheduled:
        return status
    status["startTime"] = pod.get("status", {}).get("startTime") or now_iso()
    if ip is not None:
        status["podIP"], status["podIPs"] = ip, [{"ip": ip}]
    state: dict[str, Any]
    if running:
        state = {"running": {"startedAt": status["startTime"]}}
    else:
        state = {"waiting": {"reason": waiting or "ContainerCreating"}}
    status["containerStatuses"] = [
        {
            "name": c["name"],
            "image": c.get("image", ""),
            "imageID": "",
            "ready": ready,
            "started": running,
            "restartCount": 0,
            "state": state,
        }
        for c in spec.get("containers", [])
    ]
    return status


def event(
    involved: dict[str, Any],
    reason: str,
    message: str,
    *,
    component: str,
    host: str | None,
    action: str | None = None,
    kind: str = "Warning",
) -> dict[str, Any]:
    """A core/v1 Event about ``involved``: from the kubelet or scheduler (``source``), or from a
    component that reports through events.k8s.io (``action`` set; empty ``source``)."""
    meta = involved["metadata"]
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{meta['name']}.{secrets.token_hex(8)}",
            "namespace": meta.get("namespace") or "default",
        },
        "involvedObject": {
            "kind": involved["kind"],
            "namespace": meta.get("namespace", ""),
            "name": meta["name"],
            "uid": meta["uid"],
            "apiVersion": involved["apiVersion"],
            "resourceVersion": meta.get("resourceVersion", ""),
        },
        "reason": reason,
        "message": message,
        "type": kind,
        "reportingComponent": component,
        "reportingInstance": host or "",
    }
    if action is None:
        body.update(
            source={"component": component, **({"host": host} if host else {})},
            firstTimestamp=now_iso(),
            lastTimestamp=now_iso(),
            count=1,
            eventTime=None,
        )
    else:
        body.update(source={}, action=action, eventTime=micro_now(), firstTimestamp=None)
    return body


def events_v1(core: dict[str, Any]) -> dict[str, Any]:
    """The events.k8s.io/v1 view of a core/v1 Event."""
    body: dict[str, Any] = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": core["metadata"],
        "eventTime": core.get("eventTime") or core.get("firstTimestamp"),
        "reportingController": core.get("reportingComponent", ""),
        "reportingInstance": core.get("reportingInstance", ""),
        "action": core.get("action", ""),
        "reason": core["reason"],
        "regarding": core["involvedObject"],
        "note": core["message"],
        "type": core["type"],
    }
    if core.get("source"):
        body["deprecatedSource"] = core["source"]
        body["deprecatedFirstTimestamp"] = core.get("firstTimestamp")
        body["deprecatedLastTimestamp"] = core.get("lastTimestamp")
        body["deprecatedCount"] = core.get("count")
    return body


# scheduling predicates -------------------------------------------------------------------------


def _expression_holds(expression: dict[str, Any], values: dict[str, str]) -> bool:
    key, op = expression["key"], expression["operator"]
    wanted = expression.get("values") or []
    present = key in values
    if op == "In":
        return present and values[key] in wanted
    if op == "NotIn":
        return not present or values[key] not in wanted
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and values[key].isdigit():
        number, bound = int(values[key]), int(wanted[0])
        return number > bound if op == "Gt" else number < bound
    return False


def fits_node(spec: dict[str, Any], node: SimNode) -> bool:
    """nodeSelector and required node affinity, as the scheduler and the kubelet check them."""
    selector = spec.get("nodeSelector") or {}
    if any(node.labels.get(k) != v for k, v in selector.items()):
        return False
    required = (
        (spec.get("affinity") or {})
        .get("nodeAffinity", {})
        .get("requiredDuringSchedulingIgnoredDuringExecution")
    )
    if not required:
        return True
    return any(
        all(_expression_holds(e, node.labels) for e in term.get("matchExpressions") or [])
        and all(
            _expression_holds(e, {"metadata.name": node.name})
            for e in term.get("matchFields") or []
        )
        for term in required.get("nodeSelectorTerms", [])
    )


def tolerates(spec: dict[str, Any], taint: dict[str, str]) -> bool:
    for toleration in spec.get("tolerations") or []:
        effect_ok = not toleration.get("effect") or toleration["effect"] == taint["effect"]
        if toleration.get("operator") == "Exists" and not toleration.get("key"):
            if effect_ok:
                return True
            continue
        if toleration.get("key") != taint["key"] or not effect_ok:
            continue
        if toleration.get("operator") == "Exists" or toleration.get("value", "") == taint.get(
            "value", ""
        ):
            return True
    return False
