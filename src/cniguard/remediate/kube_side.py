"""The Kubernetes side of `cniguard apply`: the plan's kube operations and checks over KubeOps.

A thin adapter from plan operations to :mod:`cniguard.remediate.kube_ops` (the guarded reads and
writes) and :func:`cniguard.remediate.verify.verify` (a test pod on every node group), so apply
has no Kubernetes code of its own.
"""

from __future__ import annotations

from typing import Any

from cniguard.remediate.kube_ops import AWS_NODE, KUBE_SYSTEM, KubeOps, KubeOpsError
from cniguard.remediate.plan_model import Operation

ROLLOUT_TIMEOUT = 900.0  # seconds, as `kubectl rollout status --timeout=15m` in the plan
# An aws-node pod is ready about a minute after it starts (liveness starts at 60 s); one that has
# not moved the rollout on in five minutes will not: roll back instead of waiting the timeout.
ROLLOUT_STALL = 300.0


class KubeSide:
    """Observe, change and check what a plan asks of one cluster's Kubernetes API."""

    def __init__(
        self, ops: KubeOps, *, cluster: str, region: str, rollout_timeout: float = ROLLOUT_TIMEOUT
    ) -> None:
        self.ops = ops
        self.cluster = cluster
        self.region = region
        self.rollout_timeout = rollout_timeout

    def _aws_node_only(self, op: Operation) -> None:
        p = op.params
        name = p.get("name") or p.get("daemonset")
        if (p.get("namespace"), name) != (KUBE_SYSTEM, AWS_NODE):
            raise KubeOpsError(
                f"{op.op} on {p.get('namespace')}/{name}: apply changes only "
                f"{KUBE_SYSTEM}/{AWS_NODE}"
            )

    def observe(self, op: Operation) -> dict[str, Any]:
        if op.op == "kube:AnnotateServiceAccount":
            self._aws_node_only(op)
            return {"annotation": self.ops.aws_node_role_arn()}
        if op.op == "kube:RolloutRestart":
            return {}
        raise KubeOpsError(f"{op.op} is not a Kubernetes operation cniguard carries out")

    def execute(self, op: Operation) -> None:
        self._aws_node_only(op)
        if op.op == "kube:AnnotateServiceAccount":
            value = op.params.get("value")
            if value:
                self.ops.set_aws_node_role_arn(str(value))
            else:
                self.ops.remove_aws_node_role_arn()
        elif op.op == "kube:RolloutRestart":
            self.ops.rollout_restart()
            self.ops.wait_rollout(self.rollout_timeout, stall=ROLLOUT_STALL)
        else:
            raise KubeOpsError(f"{op.op} is not a Kubernetes operation cniguard carries out")

    def check(self, op: Operation) -> str | None:
        if op.op == "check:AwsNodeIdentity":
            return self._identity(str(op.params["expect"]), op.params.get("role_arn"))
        if op.op == "check:TestPods":
            return self._test_pods(float(op.params.get("timeout", 120)))
        raise KubeOpsError(f"{op.op} is not a Kubernetes check")

    def _identity(self, expect: str, role_arn: str | None) -> str | None:
        pods = self.ops.aws_node_identities()
        if not pods:
            return "no aws-node pod found"
        wrong = []
        for pod in pods:
            if not pod.ready:
                wrong.append(f"{pod.pod} is not ready")
            for c in pod.containers:
                if c.unresolved:
                    wrong.append(f"{pod.pod}/{c.name}: identity env set indirectly (unknown)")
                elif expect == "irsa" and c.role_arn != role_arn:
                    wrong.append(f"{pod.pod}/{c.name}: AWS_ROLE_ARN={c.role_arn or 'unset'}")
                elif expect == "pod_identity" and (c.role_arn or not c.pod_identity):
                    wrong.append(f"{pod.pod}/{c.name}: not on the Pod Identity env")
        return "; ".join(wrong[:10]) or None

    def _test_pods(self, timeout: float) -> str | None:
        from cniguard.remediate.verify import VerifyOptions, verify

        result = verify(
            self.ops, VerifyOptions(cluster=self.cluster, region=self.region, timeout=timeout)
        )
        if result.ok:
            return None
        bad = [f"{g.group}: {g.status} ({g.message})" for g in result.groups if g.status != "ok"]
        return "; ".join(bad) or "; ".join(result.notes) or "no node group could be tested"
