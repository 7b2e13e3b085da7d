"""CNI030-CNI032: what users see when the CNI lacks permissions (domain.md A3, C)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from cniguard.analysis import AWS_NODE, KUBE_SYSTEM, ClusterView
from cniguard.model.finding import Finding
from cniguard.model.kube import Event, Pod
from cniguard.rules.base import Rule, rule

TROUBLESHOOT_DOC = "https://docs.aws.amazon.com/eks/latest/userguide/troubleshooting.html"
CNI_SANDBOX_MARKERS = (
    "aws-cni",
    "failed to assign an ip address to container",
    "error received from addnetwork grpc call",
)
NETWORK_NOT_READY_MARKERS = (
    "cni plugin not initialized",
    "networkpluginnotready",
    "cni config uninitialized",
    "network plugin is not ready",
)
SAMPLE = 10
# PodInitializing is how a pod with init containers waits when its sandbox cannot be created.
STUCK_REASONS = ("ContainerCreating", "PodInitializing")


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _stuck(pod: Pod) -> bool:
    return any(c.waiting_reason in STUCK_REASONS for c in pod.containers) or (
        pod.phase == "Pending" and pod.node_name is not None and not pod.containers
    )


def _sandbox_events(events: tuple[Event, ...]) -> dict[tuple[str, str], list[Event]]:
    by_pod: dict[tuple[str, str], list[Event]] = {}
    for e in events:
        if e.reason == "FailedCreatePodSandBox" and any(
            m in e.message.lower() for m in CNI_SANDBOX_MARKERS
        ):
            by_pod.setdefault((e.namespace, e.involved_name), []).append(e)
    return by_pod


@rule(
    "CNI030",
    "Pods stuck in ContainerCreating: the CNI cannot give them an IP",
    "critical",
    "symptoms",
    "Pods that wait in ContainerCreating with FailedCreatePodSandBox events from aws-cni are the "
    "first symptom of missing CNI permissions (or IP exhaustion): workloads do not start.",
    "Fix the cause linked in evidence.likely_cause (usually CNI001/CNI004/CNI010/CNI012); then "
    "delete the stuck pods or let their controllers retry.",
    references=(TROUBLESHOOT_DOC,),
    needs=("k8s",),
    iac=False,
)
def cni030(view: ClusterView, r: Rule) -> Iterator[Finding]:
    kube = view.kube
    if kube is None or kube.pods is None or not kube.workload_pods_read:
        yield r.finding(view, "unknown", "Pods were not read.", evidence={"missing": "k8s:pods"})
        return
    now = parse_time(kube.collected_at)
    threshold = dt.timedelta(minutes=view.config.stuck_pod_minutes)
    stuck: list[tuple[Pod, float | None]] = []
    for pod in kube.pods:
        if not _stuck(pod):
            continue
        created = parse_time(pod.created_at)
        age = (now - created) if now and created else None
        if age is None or age >= threshold:
            stuck.append((pod, age.total_seconds() / 60 if age is not None else None))
    if not stuck:
        yield r.finding(
            view,
            "pass",
            f"No pod waits in ContainerCreating beyond {view.config.stuck_pod_minutes} minutes.",
        )
        return
    if kube.events is None:
        yield r.finding(
            view,
            "unknown",
            f"{len(stuck)} pod(s) wait in ContainerCreating, but events "
            "were not read to tell whether the CNI is the cause.",
            evidence={"stuck_pods": len(stuck), "missing": "k8s:events"},
        )
        return
    sandbox = _sandbox_events(kube.events)
    cni_stuck = [(p, age) for p, age in stuck if (p.namespace, p.name) in sandbox]
    if not cni_stuck:
        yield r.finding(
            view,
            "pass",
            f"{len(stuck)} pod(s) wait in ContainerCreating, but none with aws-cni sandbox errors.",
            evidence={"stuck_pods": len(stuck)},
        )
        return
    messages = list(
        dict.fromkeys(e.message for p, _ in cni_stuck for e in sandbox[(p.namespace, p.name)])
    )
    nodes = sorted({p.node_name for p, _ in cni_stuck if p.node_name})
    yield r.finding(
        view,
        "fail",
        f"{len(cni_stuck)} pod(s) stuck in ContainerCreating with aws-cni sandbox failures on "
        f"{len(nodes)} node(s).",
        resource=f"{view.cluster.arn}/pods",
        evidence={
            "stuck_pods": len(cni_stuck),
            "pods": [
                {
                    "pod": f"{p.namespace}/{p.name}",
                    "node": p.node_name,
                    "age_minutes": round(age) if age is not None else None,
                }
                for p, age in cni_stuck[:SAMPLE]
            ],
            "nodes": nodes[:SAMPLE],
            "messages": messages[:3],
        },
    )


@rule(
    "CNI031",
    "Nodes NotReady: the network plugin is not ready",
    "critical",
    "symptoms",
    "aws-node writes the CNI configuration only after ipamd starts, and ipamd needs EC2 permissions: "
    "without them the node reports 'cni plugin not initialized' and never becomes Ready.",
    "Fix the cause linked in evidence.likely_cause; nodes become Ready once aws-node starts.",
    references=(TROUBLESHOOT_DOC,),
    needs=("k8s",),
    iac=False,
)
def cni031(view: ClusterView, r: Rule) -> Iterator[Finding]:
    kube = view.kube
    if kube is None or kube.nodes is None:
        yield r.finding(view, "unknown", "Nodes were not read.", evidence={"missing": "k8s:nodes"})
        return
    bad = [
        n
        for n in kube.nodes
        if n.ready is False
        and any(
            m in (n.ready_message or "").lower() or m in (n.ready_reason or "").lower()
            for m in NETWORK_NOT_READY_MARKERS
        )
    ]
    if not bad:
        yield r.finding(
            view, "pass", f"None of {len(kube.nodes)} node(s) is NotReady for the network plugin."
        )
        return
    yield r.finding(
        view,
        "fail",
        f"{len(bad)} of {len(kube.nodes)} node(s) NotReady: network plugin not ready.",
        resource=f"{view.cluster.arn}/nodes",
        evidence={
            "not_ready_nodes": len(bad),
            "nodes": [
                {
                    "name": n.name,
                    "node_group": n.labels.get("eks.amazonaws.com/nodegroup"),
                    "message": n.ready_message,
                }
                for n in bad[:SAMPLE]
            ],
        },
    )


@rule(
    "CNI032",
    "aws-node reports missing IAM permissions",
    "high",
    "symptoms",
    "Since v1.12 aws-node emits a MissingIAMPermissions event naming each EC2 call it was refused; "
    "that is direct proof the identity it runs with lacks the CNI policy.",
    "Grant the named actions to the identity aws-node runs with (see evidence.likely_cause), then "
    "restart aws-node.",
    references=("https://github.com/aws/amazon-vpc-cni-k8s/blob/master/docs/iam-policy.md",),
    needs=("k8s",),
    iac=False,
)
def cni032(view: ClusterView, r: Rule) -> Iterator[Finding]:
    kube = view.kube
    if kube is None or kube.events is None:
        yield r.finding(
            view, "unknown", "Events were not read.", evidence={"missing": "k8s:events"}
        )
        return
    events = [e for e in kube.events if e.reason == "MissingIAMPermissions"]
    pods = view.aws_node_pods or ()
    not_ready = [p.name for p in pods if p.ready is False]
    if not events:
        yield r.finding(
            view,
            "pass",
            "aws-node reported no missing IAM permissions.",
            evidence={"aws_node_pods_not_ready": not_ready},
        )
        return
    actions = sorted({e.action for e in events if e.action})
    reporters = sorted({e.involved_name for e in events if e.namespace == KUBE_SYSTEM})
    yield r.finding(
        view,
        "fail",
        f"aws-node reported MissingIAMPermissions {sum(e.count for e in events)} time(s) for "
        f"{', '.join(actions) or 'EC2 calls'}; {len(not_ready)} aws-node pod(s) not ready.",
        resource=f"{view.cluster.arn}/kube-system/daemonset/{AWS_NODE}",
        evidence={
            "actions": actions,
            "pods": reporters[:SAMPLE],
            "aws_node_pods_not_ready": not_ready,
            "message": events[0].message,
            "last_seen": max((e.last_seen or "") for e in events) or None,
        },
    )


RULES = (cni030, cni031, cni032)
