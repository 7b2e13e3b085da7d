"""`cniguard verify`: does a new pod still get an IP on every node group?

One pause pod per node group in a scratch namespace this run creates and labels as its own; each
pod's time-to-IP is measured from its creation to the first poll that shows ``status.podIP``. A pod
without an IP when the timeout ends fails its group with the events that say why (the kubelet's
``FailedCreatePodSandBox``, aws-node's ``MissingIAMPermissions`` on that node). The scratch
namespace is deleted on every way out (success, failure, timeout, error, Ctrl-C); a second Ctrl-C
during clean-up is held until it is done. The optional scaling test raises a managed node group's
desired size by one, tests a pod on the node that joins, and restores the size it found, unless
someone else changed the size meanwhile (then it says so and leaves it).
"""

from __future__ import annotations

import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from cniguard.remediate.kube_ops import (
    AWS_NODE,
    KUBE_SYSTEM,
    Event,
    KubeOps,
    KubeOpsError,
    PodState,
)
from cniguard.remediate.node_scaling import NodeGroups, Scaling, ScalingError
from cniguard.remediate.pause_image import pause_image
from cniguard.remediate.probe_pods import (
    NODEGROUP_LABEL,
    JsonDict,
    Node,
    NodeGroup,
    node_groups,
    parse_node,
    pod_manifest,
)
from cniguard.remediate.verify_report import EventNote, GroupResult, ScaleResult, VerifyResult

SANDBOX_REASONS = ("FailedCreatePodSandBox", "FailedScheduling", "Failed")
IAM_REASON = "MissingIAMPermissions"
DEADLINE_MARGIN = 300  # activeDeadlineSeconds beyond the run's own timeouts: a safety net only


REGION_LABEL = "topology.kubernetes.io/region"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) stopped the run; ``cleanup`` says what happened to its namespace."""

    def __init__(self, cleanup: str) -> None:
        super().__init__(cleanup)
        self.cleanup = cleanup


@dataclass(frozen=True)
class VerifyOptions:
    cluster: str
    image: str | None = None  # None: the EKS pause image of the region
    region: str | None = None  # None: the nodes' topology.kubernetes.io/region
    timeout: float = 120.0  # per wait for pod IPs
    poll: float = 1.0
    scale_node_group: str | None = None
    scale_timeout: float = 600.0  # for the new node to be Ready
    cleanup_wait: float = 60.0  # for the scratch namespace to be gone
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))


@dataclass
class RunClock:
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


def verify(
    ops: KubeOps,
    options: VerifyOptions,
    *,
    nodegroups: NodeGroups | None = None,
    clock: RunClock | None = None,
) -> VerifyResult:
    """Run the test; raises KubeOpsError when it cannot be run (after cleaning up)."""
    return _Run(ops, options, nodegroups, clock or RunClock()).run()


class _Run:
    def __init__(
        self, ops: KubeOps, options: VerifyOptions, nodegroups: NodeGroups | None, clock: RunClock
    ) -> None:
        self.ops = ops
        self.options = options
        self.nodegroups = nodegroups
        self.clock = clock
        self.namespace: str | None = None
        self.notes: list[str] = []
        self.aws_node_pods: dict[str, str] = {}  # node -> aws-node pod
        self.image = options.image or ""

    def run(self) -> VerifyResult:
        started_at = self.clock.now().isoformat(timespec="seconds").replace("+00:00", "Z")
        nodes = self.ops.nodes()
        groups = node_groups(nodes)
        if not groups:
            self.notes.append("the cluster has no Linux EC2 node (the nodes aws-node runs on)")
        if any(g.usable for g in groups) or self.options.scale_node_group:
            self.image = self.options.image or pause_image(self._region(nodes))
        self._read_aws_node_pods()
        results: list[GroupResult] = []
        scale: ScaleResult | None = None
        try:
            self.namespace = self.ops.create_scratch_namespace(self.options.run_id)
            results = self._test_groups(groups)
            if self.options.scale_node_group is not None:
                scale = self._scale_test(self.options.scale_node_group, groups)
        except KeyboardInterrupt:
            raise Interrupted(self._cleanup_held()[0]) from None
        except BaseException:
            self._cleanup_held()
            raise
        cleanup, interrupted = self._cleanup_held()
        if interrupted:
            raise Interrupted(cleanup)
        return VerifyResult(
            cluster=self.options.cluster,
            started_at=started_at,
            namespace=self.namespace,
            groups=tuple(results),
            scale_test=scale,
            cleanup=cleanup,
            notes=tuple(self.notes),
        )

    def _region(self, nodes: list[JsonDict]) -> str:
        if self.options.region:
            return self.options.region
        found = {n.labels[REGION_LABEL] for n in map(parse_node, nodes) if REGION_LABEL in n.labels}
        if len(found) != 1:
            seen = ", ".join(sorted(found)) or "none"
            raise KubeOpsError(
                f"cannot tell the cluster's region from its nodes ({REGION_LABEL}: {seen}); "
                "give --region or --image"
            )
        return found.pop()

    # node groups ------------------------------------------------------------------------------

    def _test_groups(self, groups: list[NodeGroup]) -> list[GroupResult]:
        pods: dict[str, tuple[NodeGroup, float]] = {}
        for group in groups:
            if group.usable:
                pods[self._create_pod(group)] = (group, self.clock.monotonic())
        seen = self._wait_for_ips(set(pods), {p: t for p, (_, t) in pods.items()})
        events = self._events()
        results = []
        by_pod = {group: pod for pod, (group, _) in pods.items()}
        for group in groups:
            if not group.usable:
                results.append(_no_nodes(group))
                continue
            pod = by_pod[group]
            results.append(self._group_result(group, pod, seen.get(pod), events))
        return results

    def _create_pod(self, group: NodeGroup, node: Node | None = None) -> str:
        assert self.namespace is not None
        deadline = int(self.options.timeout + self.options.scale_timeout) + DEADLINE_MARGIN
        manifest = pod_manifest(
            group,
            namespace=self.namespace,
            run_id=self.options.run_id,
            image=self.image,
            deadline_seconds=deadline,
            node=node,
        )
        return self.ops.create_pod(manifest)

    def _wait_for_ips(
        self, pending: set[str], created: dict[str, float]
    ) -> dict[str, tuple[PodState, float | None]]:
        """Each pod's last state and, once it has an IP, seconds from creation to IP."""
        assert self.namespace is not None
        seen: dict[str, tuple[PodState, float | None]] = {}
        waiting = set(pending)
        deadline = self.clock.monotonic() + self.options.timeout
        while waiting:
            states = self.ops.probe_pods(self.namespace, self.options.run_id)
            now = self.clock.monotonic()
            for state in states:
                if state.name not in waiting:
                    continue
                if state.ip:
                    seen[state.name] = (state, round(now - created[state.name], 1))
                    waiting.discard(state.name)
                else:
                    seen[state.name] = (state, None)
                    if state.phase in ("Failed", "Succeeded"):  # it will never get an IP now
                        waiting.discard(state.name)
            if not waiting or now >= deadline:
                break
            self.clock.sleep(min(self.options.poll, max(0.0, deadline - now)))
        return seen

    def _group_result(
        self,
        group: NodeGroup,
        pod: str,
        seen: tuple[PodState, float | None] | None,
        events: list[Event],
    ) -> GroupResult:
        state, seconds = seen if seen else (None, None)
        node = state.node if state else None
        notes = self._notes_for(pod, node, events)
        if state is not None and state.ip and seconds is not None:
            return GroupResult(
                group=group.name,
                kind=group.kind,
                status="ok",
                node=node,
                pod=pod,
                ip=state.ip,
                seconds_to_ip=seconds,
                events=notes,
            )
        phase = state.phase if state else "unknown"
        message = f"no pod IP after {self.options.timeout:g}s (pod {phase}"
        message += f" on {node})" if node else ", not scheduled)"
        if notes:
            message += f": {notes[0].reason}: {notes[0].message}"
        return GroupResult(
            group=group.name,
            kind=group.kind,
            status="failed",
            node=node,
            pod=pod,
            message=message,
            events=notes,
        )

    def _notes_for(self, pod: str, node: str | None, events: list[Event]) -> tuple[EventNote, ...]:
        """Warnings about the pod, then aws-node's missing-permission events on its node."""
        aws_node = self.aws_node_pods.get(node or "")
        found = [
            e
            for e in events
            if (e.object_name == pod and e.namespace == self.namespace and e.type == "Warning")
            or (e.reason == IAM_REASON and aws_node is not None and e.object_name == aws_node)
        ]
        found.sort(key=lambda e: (e.reason == IAM_REASON, e.reason not in SANDBOX_REASONS))
        return tuple(
            EventNote(
                reason=e.reason,
                message=e.message,
                object=f"{e.object_kind}/{e.namespace}/{e.object_name}",
                count=e.count,
                last_seen=e.last_seen,
            )
            for e in found
        )

    def _events(self) -> list[Event]:
        """The scratch namespace's events and aws-node's IAM events (unreadable: a note)."""
        assert self.namespace is not None
        events: list[Event] = []
        for namespace, selector in ((self.namespace, None), (KUBE_SYSTEM, f"reason={IAM_REASON}")):
            try:
                events += self.ops.events(namespace, field_selector=selector)
            except KubeOpsError as exc:
                self.notes.append(f"events could not be read: {exc}")
        return events

    def _read_aws_node_pods(self) -> None:
        try:
            identities = self.ops.aws_node_identities()
        except KubeOpsError as exc:
            self.notes.append(
                f"{AWS_NODE} pods could not be read (their events are left out): {exc}"
            )
            return
        self.aws_node_pods = {i.node: i.pod for i in identities if i.node}

    # scaling test -----------------------------------------------------------------------------

    def _scale_test(self, nodegroup: str, groups: list[NodeGroup]) -> ScaleResult:
        if self.nodegroups is None:
            raise KubeOpsError("the scaling test needs EKS access (--profile/--region)")
        group = next(
            (g for g in groups if g.kind == "managed" and g.value == nodegroup),
            NodeGroup("managed", nodegroup, NODEGROUP_LABEL, nodegroup, (), (), ()),
        )
        result = ScaleResult(nodegroup=nodegroup, status="failed")
        try:
            before = self.nodegroups.scaling(nodegroup)
        except ScalingError as exc:
            return replace(result, message=str(exc))
        result = replace(result, desired_before=before.desired, max_before=before.maximum)
        if before.status != "ACTIVE":
            return replace(result, message=f"node group is {before.status}, not ACTIVE")
        top = before.desired + 1
        raised = replace(before, desired=top, maximum=max(before.maximum, top))
        try:
            update = self.nodegroups.resize(nodegroup, raised.desired, raised.maximum)
        except ScalingError as exc:
            return replace(result, message=str(exc))
        result = replace(result, desired_raised=raised.desired)
        try:
            result = self._scaled_node(group, update, result)
        finally:
            with _interrupts_held() as caught:
                result = self._restore(nodegroup, before, raised, result)
            if caught:
                raise KeyboardInterrupt
        return result

    def _scaled_node(self, group: NodeGroup, update: str, result: ScaleResult) -> ScaleResult:
        assert self.nodegroups is not None
        known = set(group.nodes)
        started = self.clock.monotonic()
        deadline = started + self.options.scale_timeout
        update_done = False
        while True:
            if not update_done:
                try:
                    status, errors = self.nodegroups.update_status(group.value, update)
                except ScalingError as exc:
                    self.notes.append(f"scale-up progress unknown ({exc}); waiting for the node")
                    status, errors = "unknown", []
                if status in ("Failed", "Cancelled"):
                    return replace(result, message=f"scale-up {status}: {'; '.join(errors)}")
                update_done = status == "Successful"
            fresh = [
                n
                for n in map(parse_node, self.ops.nodes())
                if n.labels.get(NODEGROUP_LABEL) == group.value and n.name not in known
            ]
            ready = sorted((n for n in fresh if n.ready and n.schedulable), key=lambda n: n.name)
            now = self.clock.monotonic()
            if ready:
                break
            if now >= deadline:
                joined = ", ".join(sorted(n.name for n in fresh)) or "none"
                return replace(
                    result,
                    message=f"no new Ready node after {self.options.scale_timeout:g}s "
                    f"(new nodes: {joined})",
                )
            self.clock.sleep(min(self.options.poll * 5, max(0.0, deadline - now)))
        node = ready[0]
        result = replace(result, node=node.name, seconds_to_node_ready=round(now - started, 1))
        pod = self._create_pod(group, node)
        created = self.clock.monotonic()
        state, seconds = self._wait_for_ips({pod}, {pod: created}).get(pod, (None, None))
        seen = (state, seconds) if state else None
        checked = self._group_result(group, pod, seen, self._events())
        return replace(
            result,
            status=checked.status if checked.status == "ok" else "failed",
            pod=pod,
            ip=checked.ip,
            seconds_to_ip=checked.seconds_to_ip,
            message=checked.message,
            events=checked.events,
        )

    def _restore(
        self, nodegroup: str, before: Scaling, raised: Scaling, result: ScaleResult
    ) -> ScaleResult:
        """Put back the size found, only if it is still the one this run set."""
        assert self.nodegroups is not None
        command = (
            f"aws eks update-nodegroup-config --cluster-name {self.options.cluster} "
            f"--nodegroup-name {nodegroup} --scaling-config "
            f"minSize={before.minimum},maxSize={before.maximum},desiredSize={before.desired}"
        )
        try:
            now = self.nodegroups.scaling(nodegroup)
            if (now.desired, now.maximum) != (raised.desired, raised.maximum):
                return _not_restored(
                    result,
                    f"the size changed meanwhile (desired {now.desired}, max {now.maximum}); "
                    f"left as is. To restore: {command}",
                )
            update = self.nodegroups.resize(nodegroup, before.desired, before.maximum)
            self._wait_update(nodegroup, update)
            after = self.nodegroups.scaling(nodegroup)
        except ScalingError as exc:
            return _not_restored(result, f"{exc}. To restore: {command}")
        if (after.desired, after.maximum) != (before.desired, before.maximum):
            return _not_restored(
                result,
                f"size is desired {after.desired}, max {after.maximum}. To restore: {command}",
            )
        return replace(result, restored=True)

    def _wait_update(self, nodegroup: str, update: str) -> None:
        assert self.nodegroups is not None
        deadline = self.clock.monotonic() + self.options.cleanup_wait
        while True:
            try:
                status, errors = self.nodegroups.update_status(nodegroup, update)
            except ScalingError as exc:
                self.notes.append(f"restore progress unknown ({exc}); checked the size instead")
                return
            if status in ("Failed", "Cancelled"):
                raise ScalingError(f"restoring the size: update {status}: {'; '.join(errors)}")
            if status == "Successful" or self.clock.monotonic() >= deadline:
                return
            self.clock.sleep(self.options.poll)

    # clean-up ---------------------------------------------------------------------------------

    def _cleanup_held(self) -> tuple[str, bool]:
        """Clean up with Ctrl-C held; whether one came meanwhile."""
        with _interrupts_held() as caught:
            cleanup = self._cleanup()
        return cleanup, bool(caught)

    def _cleanup(self) -> str:
        """Delete this run's namespace (even if its creation seemed to fail) and wait for it."""
        try:
            deleted = self.ops.delete_scratch_namespace(self.options.run_id)
        except KubeOpsError as exc:
            return f"NOT deleted: {exc}"
        if not deleted:
            return "not created" if self.namespace is None else "already gone"
        name = self.namespace or ""
        deadline = self.clock.monotonic() + self.options.cleanup_wait
        try:
            while self.ops.namespace_exists(name):
                if self.clock.monotonic() >= deadline:
                    return f"deletion requested; still terminating after {self.options.cleanup_wait:g}s"
                self.clock.sleep(self.options.poll)
        except KubeOpsError as exc:
            return f"deletion requested; could not confirm: {exc}"
        return "deleted"


def _no_nodes(group: NodeGroup) -> GroupResult:
    listed = ", ".join(group.nodes)
    return GroupResult(
        group=group.name,
        kind=group.kind,
        status="no_nodes",
        message=f"no Ready, schedulable node (nodes: {listed})",
    )


def _not_restored(result: ScaleResult, why: str) -> ScaleResult:
    message = f"{result.message}; " if result.message else ""
    return replace(result, status="failed", restored=False, message=f"{message}NOT restored: {why}")


@contextmanager
def _interrupts_held() -> Iterator[list[int]]:
    """Hold Ctrl-C (main thread only) for the block; yields the signals that came meanwhile."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield caught
    finally:
        signal.signal(signal.SIGINT, previous)
