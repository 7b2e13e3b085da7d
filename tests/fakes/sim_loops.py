"""The control loops of the simulated cluster, one :func:`step` at a time: namespace deletion,
the aws-node DaemonSet controller, aws-node readiness, node readiness, the scheduler and the
kubelet's pod networking. Each returns whether it changed anything, so a caller can run them
until the cluster settles."""

from __future__ import annotations

import copy
import math
import time
from typing import TYPE_CHECKING, Any

from fakes import sim_objects as objs
from fakes.kube_api import ApiError, now_iso

if TYPE_CHECKING:
    from fakes.sim_cluster import SimCluster

EVENT_REPEAT_SECONDS = 1.0
# the calls ipamd makes to get a pod an IP (a running aws-node fails on these first)
ALLOCATION_ACTIONS = (
    "ec2:AssignPrivateIpAddresses",
    "ec2:CreateNetworkInterface",
    "ec2:AssignIpv6Addresses",
)  # a repeated event bumps its count at most this often


def step(sim: SimCluster) -> bool:
    with sim.store.lock:
        changed = _finalize_namespaces(sim)
        changed = _daemonset(sim) or changed
        changed = _aws_node_readiness(sim) or changed
        changed = _node_readiness(sim) or changed
        changed = _schedule(sim) or changed
        return _network(sim) or changed


def aws_node_pods(sim: SimCluster) -> dict[str, dict[str, Any]]:
    """The aws-node pods by node name."""
    return {
        p["spec"]["nodeName"]: p
        for p in sim.store.items("pods", "kube-system")
        if _owned_by_aws_node(p)
    }


def _owned_by_aws_node(pod: dict[str, Any]) -> bool:
    return any(
        o.get("kind") == "DaemonSet" and o.get("name") == "aws-node"
        for o in pod["metadata"].get("ownerReferences", [])
    )


def _ready(pod: dict[str, Any] | None) -> bool:
    if pod is None:
        return False
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in pod.get("status", {}).get("conditions", [])
    )


def record_event(
    sim: SimCluster,
    involved: dict[str, Any],
    reason: str,
    message: str,
    **how: Any,
) -> bool:
    """Record an event about ``involved``; a repeat bumps the first one's count. True if new."""
    key = (involved["metadata"]["uid"], reason)
    found = sim._event_keys.get(key)
    existing = sim.store.get("events", *found) if found else None
    if existing is not None:
        due = time.monotonic() - sim._event_times.get(key, 0) >= EVENT_REPEAT_SECONDS
        if existing.get("count") is not None and due:
            bumped = copy.deepcopy(existing)
            bumped["count"] += 1
            bumped["lastTimestamp"] = now_iso()
            bumped["message"] = message
            sim.store.put("events", bumped)
            sim._event_times[key] = time.monotonic()
        return False
    body = objs.event(involved, reason, message, **how)
    sim.store.put("events", body)
    sim._event_keys[key] = (body["metadata"]["namespace"], body["metadata"]["name"])
    sim._event_times[key] = time.monotonic()
    return True


# namespaces ------------------------------------------------------------------------------------


def _finalize_namespaces(sim: SimCluster) -> bool:
    changed = False
    for ns in sim.store.items("namespaces"):
        if ns.get("status", {}).get("phase") != "Terminating":
            continue
        name = ns["metadata"]["name"]
        for plural in list(sim.store.objects):
            if plural in ("namespaces", "nodes"):
                continue
            for obj in sim.store.items(plural, name):
                sim.store.remove(plural, name, obj["metadata"]["name"])
        sim.store.remove("namespaces", "", name)
        changed = True
    return changed


# the aws-node DaemonSet controller -------------------------------------------------------------


def _max_unavailable(ds: dict[str, Any], desired: int) -> int:
    raw = ds["spec"].get("updateStrategy", {}).get("rollingUpdate", {}).get("maxUnavailable", 1)
    if isinstance(raw, str) and raw.endswith("%"):
        return max(1, math.ceil(desired * int(raw[:-1]) / 100))
    return max(1, int(raw))


def _daemonset(sim: SimCluster) -> bool:
    ds = sim.store.get("apps/daemonsets", "kube-system", "aws-node")
    if ds is None:
        return False
    changed = False
    eligible = {
        n.name: n for n in sim.nodes.values() if objs.fits_node(ds["spec"]["template"]["spec"], n)
    }
    pods = aws_node_pods(sim)
    current_hash = objs.template_hash(ds["spec"]["template"])
    for node_name, pod in list(pods.items()):
        if node_name not in eligible:
            sim.store.remove("pods", "kube-system", pod["metadata"]["name"])
            del pods[node_name]
            changed = True
    budget = _max_unavailable(ds, len(eligible)) - sum(
        1 for n in eligible if not _ready(pods.get(n))
    )
    outdated = sorted(
        (
            p
            for p in pods.values()
            if p["metadata"]["labels"].get("controller-revision-hash") != current_hash
        ),
        key=lambda p: (_ready(p), p["spec"]["nodeName"]),
    )
    for pod in outdated:
        if _ready(pod):
            if budget <= 0:
                break
            budget -= 1
        sim.store.remove("pods", "kube-system", pod["metadata"]["name"])
        del pods[pod["spec"]["nodeName"]]
        changed = True
    for name, node in sorted(eligible.items()):
        if name in pods:
            continue
        pod = objs.daemon_pod(ds, node)
        try:
            sim._admit_pod(pod)
        except ApiError as failure:
            changed = (
                record_event(
                    sim,
                    ds,
                    "FailedCreate",
                    f"Error creating: {failure.message}",
                    component="daemonset-controller",
                    host=None,
                )
                or changed
            )
            continue
        pod["status"] = objs.pod_status(
            pod, scheduled=True, ip=node.ip, ready=False, waiting="PodInitializing"
        )
        pods[name] = sim.store.put("pods", pod)
        changed = True
    ready = sum(1 for n in eligible if _ready(pods.get(n)))
    updated = sum(
        1
        for p in pods.values()
        if p["metadata"]["labels"].get("controller-revision-hash") == current_hash
    )
    status = {
        "currentNumberScheduled": len(pods),
        "desiredNumberScheduled": len(eligible),
        "numberMisscheduled": 0,
        "numberReady": ready,
        "numberAvailable": ready,
        "numberUnavailable": len(eligible) - ready,
        "updatedNumberScheduled": updated,
        "observedGeneration": ds["metadata"]["generation"],
    }
    if status["numberAvailable"] == 0:
        del status["numberAvailable"]  # the API omits zero counts
    if status["numberUnavailable"] == 0:
        del status["numberUnavailable"]
    annotation = str(ds["metadata"]["generation"])
    annotations = ds["metadata"].setdefault("annotations", {})
    if (
        ds.get("status") != status
        or annotations.get("deprecated.daemonset.template.generation") != annotation
    ):
        new = copy.deepcopy(ds)
        new["status"] = status
        new["metadata"]["annotations"]["deprecated.daemonset.template.generation"] = annotation
        sim.store.put("apps/daemonsets", new)
        changed = True
    return changed


def _aws_node_readiness(sim: SimCluster) -> bool:
    changed = False
    for node_name, found in aws_node_pods(sim).items():
        pod = found
        if _ready(pod) or node_name not in sim.nodes:
            continue
        verdict = sim.verdict(pod)
        node = sim.nodes[node_name]
        if verdict.works:
            new = copy.deepcopy(pod)
            new["status"] = objs.pod_status(pod, scheduled=True, ip=node.ip, ready=True)
            sim.store.put("pods", new)
            changed = True
            continue
        if pod["status"]["phase"] == "Pending":  # the init container ran; ipamd keeps failing
            new = copy.deepcopy(pod)
            new["status"] = objs.pod_status(
                pod, scheduled=True, ip=node.ip, ready=False, waiting=None
            )
            sim.store.put("pods", new)
            changed = True
        pod = sim.store.get("pods", "kube-system", pod["metadata"]["name"]) or pod
        changed = (
            record_event(
                sim,
                pod,
                "Unhealthy",
                objs.READINESS_FAILED % now_iso(),
                component="kubelet",
                host=node_name,
            )
            or changed
        )
        if verdict.credentials and verdict.missing:
            changed = _missing_permissions(sim, pod, verdict.missing[0]) or changed
    return changed


def _missing_permissions(sim: SimCluster, aws_node: dict[str, Any], action: str) -> bool:
    return record_event(
        sim,
        aws_node,
        "MissingIAMPermissions",
        objs.MISSING_PERMISSIONS.format(action=action),
        component="aws-node",
        host=aws_node["spec"]["nodeName"],
        action=action,
    )


def _node_readiness(sim: SimCluster) -> bool:
    changed = False
    pods = aws_node_pods(sim)
    for name, node in sim.nodes.items():
        ready = _ready(pods.get(name))
        current = sim.store.get("nodes", "", name)
        assert current is not None
        was = any(
            c["type"] == "Ready" and c["status"] == "True" for c in current["status"]["conditions"]
        )
        if was != ready:
            fresh = node.object(ready)
            fresh["metadata"] = current["metadata"]
            sim.store.put("nodes", fresh)
            changed = True
    return changed


# the scheduler and the kubelet -----------------------------------------------------------------


def _node_ready(sim: SimCluster, name: str) -> bool:
    node = sim.store.get("nodes", "", name)
    return (
        node is not None
        and not node["spec"].get("taints")
        and any(
            c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"]
        )
    )


def _schedule(sim: SimCluster) -> bool:
    changed = False
    for pod in sim.store.items("pods"):
        spec = pod["spec"]
        if spec.get("nodeName"):
            continue
        load = dict.fromkeys(sim.nodes, 0)
        for other in sim.store.items("pods"):
            if other["spec"].get("nodeName") in load:
                load[other["spec"]["nodeName"]] += 1
        unfit = tainted = 0
        candidates = []
        for node in sim.nodes.values():
            taints = sim.store.get("nodes", "", node.name)["spec"].get("taints") or []  # type: ignore[index]
            if not objs.fits_node(spec, node):
                unfit += 1
            elif any(not objs.tolerates(spec, t) for t in taints):
                tainted += 1
            else:
                candidates.append(node.name)
        new = copy.deepcopy(pod)
        if candidates:
            chosen = min(candidates, key=lambda n: (load[n], n))
            new["spec"]["nodeName"] = chosen
            new["status"] = objs.pod_status(new, scheduled=True, ip=None, ready=False)
            sim.store.put("pods", new)
            changed = True
            continue
        reasons = []
        if unfit:
            reasons.append(f"{unfit} node(s) didn't match Pod's node affinity/selector")
        if tainted:
            reasons.append(
                f"{tainted} node(s) had untolerated taint {{node.kubernetes.io/not-ready: }}"
            )
        total = len(sim.nodes)
        why = ", ".join(reasons) or "no nodes available to schedule pods"
        message = (
            f"0/{total} nodes are available: {why}. preemption: 0/{total} nodes are available: "
            f"{total} Preemption is not helpful for scheduling."
        )
        new["status"] = objs.pod_status(
            pod, scheduled=False, ip=None, ready=False, unschedulable=message
        )
        if new["status"] != pod.get("status"):
            sim.store.put("pods", new)
            changed = True
        changed = (
            record_event(
                sim, pod, "FailedScheduling", message, component="default-scheduler", host=None
            )
            or changed
        )
    return changed


def _next_ip(sim: SimCluster, node: objs.SimNode) -> str:
    n = next(sim._ips)
    if sim.ip_family == "ipv6":
        return f"2600:1f18:4c2:{n // 65536:x}:{n % 65536:x}::1"
    base = node.ip.rsplit(".", 2)[0]
    return f"{base}.{100 + n // 250}.{n % 250 + 1}"


def _network(sim: SimCluster) -> bool:
    changed = False
    aws_node = aws_node_pods(sim)
    for pod in sim.store.items("pods"):
        spec = pod["spec"]
        node = sim.nodes.get(spec.get("nodeName") or "")
        if node is None or pod.get("status", {}).get("podIP") or _owned_by_aws_node(pod):
            continue
        if spec.get("hostNetwork"):
            changed = _start(sim, pod, node.ip) or changed
        elif not _node_ready(sim, node.name):
            changed = (
                record_event(
                    sim,
                    pod,
                    "NetworkNotReady",
                    f"network is not ready: {objs.NETWORK_NOT_READY}",
                    component="kubelet",
                    host=node.name,
                )
                or changed
            )
        else:
            cni = aws_node.get(node.name)
            verdict = sim.verdict(cni) if cni is not None else None
            if (
                verdict is not None
                and verdict.works
                and node.nodegroup not in sim.blocked_nodegroups
            ):
                changed = _start(sim, pod, _next_ip(sim, node)) or changed
                continue
            sandbox = objs.suffix(64)
            changed = (
                record_event(
                    sim,
                    pod,
                    "FailedCreatePodSandBox",
                    objs.SANDBOX_FAILED.format(sandbox=sandbox),
                    component="kubelet",
                    host=node.name,
                )
                or changed
            )
            if cni is not None and verdict is not None and verdict.credentials and verdict.missing:
                allocating = [a for a in ALLOCATION_ACTIONS if a in verdict.missing]
                action = (allocating or list(verdict.missing))[0]
                changed = _missing_permissions(sim, cni, action) or changed
            if not pod["status"].get("containerStatuses"):
                new = copy.deepcopy(pod)
                new["status"] = objs.pod_status(pod, scheduled=True, ip=None, ready=False)
                sim.store.put("pods", new)
                changed = True
    return changed


def _start(sim: SimCluster, pod: dict[str, Any], ip: str) -> bool:
    """The sandbox has its IP: containers start, or fail to pull an image from outside ECR."""
    images = [
        c.get("image", "")
        for c in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]
    ]
    foreign = [i for i in images if not objs.ECR_IMAGE.match(i)]
    new = copy.deepcopy(pod)
    if foreign:
        new["status"] = objs.pod_status(
            pod, scheduled=True, ip=ip, ready=False, waiting="ErrImagePull"
        )
        node = pod["spec"]["nodeName"]
        record_event(
            sim,
            pod,
            "Failed",
            f'Failed to pull image "{foreign[0]}": failed to pull and unpack image '
            f'"{foreign[0]}": failed to resolve reference "{foreign[0]}": dial tcp: lookup '
            "registry on 10.0.0.2:53: i/o timeout",
            component="kubelet",
            host=node,
        )
    else:
        new["status"] = objs.pod_status(pod, scheduled=True, ip=ip, ready=True)
    new["status"]["hostIP"] = sim.nodes[pod["spec"]["nodeName"]].ip
    sim.store.put("pods", new)
    return True
