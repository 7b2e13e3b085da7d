"""An in-memory AWS + Kubernetes world for the apply executor's unit tests.

It implements the executor's Backend and ClusterLock protocols over plain dicts, records every
write, and injects faults per operation: an exception before the change, or a "kill" after the
change took effect (a BaseException, as if the process died before the journal was written).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from cniguard.remediate.plan_model import Operation, canonical_document


class Killed(BaseException):
    """The process "died" right after a change took effect."""


@dataclass
class World:
    providers: dict[str, list[str]] = field(default_factory=dict)  # arn -> client ids
    roles: dict[str, str | None] = field(default_factory=dict)  # name -> canonical trust
    attached: dict[str, set[str]] = field(default_factory=dict)  # role -> policy arns
    addon_role: str | None = None
    annotation: str | None = None
    lock: str | None = None
    pods_ok: bool = True  # test pods get an IP
    detached_breaks_pods: bool = False  # pods fail while a node role lacks the CNI policy
    restarts: int = 0
    writes: list[str] = field(default_factory=list)
    fail: dict[str, Exception] = field(default_factory=dict)  # op -> raised before the change
    fail_times: dict[str, int] = field(default_factory=dict)  # op -> how many times (default 1)
    kill_after: str | None = None  # op after whose change the "process dies"

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(
            {
                "providers": self.providers,
                "roles": self.roles,
                "attached": {k: sorted(v) for k, v in self.attached.items() if v},
                "addon_role": self.addon_role,
                "annotation": self.annotation,
            }
        )

    def _maybe_fail(self, op: Operation) -> None:
        if op.op in self.fail:
            left = self.fail_times.get(op.op, 1)
            if left <= 1:
                exc = self.fail.pop(op.op)
            else:
                self.fail_times[op.op] = left - 1
                exc = self.fail[op.op]
            raise exc

    # Backend ---------------------------------------------------------------------------------

    def observe(self, op: Operation) -> dict[str, Any]:
        p = op.params
        match op.op:
            case "iam:CreateOpenIDConnectProvider":
                return {"provider_exists": op.context["arn"] in self.providers}
            case "iam:DeleteOpenIDConnectProvider":
                return {"provider_exists": p["OpenIDConnectProviderArn"] in self.providers}
            case "iam:CreateRole" | "iam:DeleteRole":
                return {"role_exists": p["RoleName"] in self.roles}
            case "iam:AttachRolePolicy" | "iam:DetachRolePolicy":
                return {"attached": p["PolicyArn"] in self.attached.get(p["RoleName"], set())}
            case "eks:UpdateAddon":
                return {"service_account_role_arn": self.addon_role, "pod_identity_roles": {}}
            case "kube:AnnotateServiceAccount":
                return {"annotation": self.annotation}
        raise AssertionError(f"no observation for {op.op}")

    def execute(self, op: Operation) -> None:
        self._maybe_fail(op)
        p = op.params
        self.writes.append(op.op)
        match op.op:
            case "iam:CreateOpenIDConnectProvider":
                self.providers[op.context["arn"]] = list(p["ClientIDList"])
            case "iam:DeleteOpenIDConnectProvider":
                del self.providers[p["OpenIDConnectProviderArn"]]
            case "iam:CreateRole":
                self.roles[p["RoleName"]] = canonical_document(p["AssumeRolePolicyDocument"])
            case "iam:DeleteRole":
                del self.roles[p["RoleName"]]
            case "iam:AttachRolePolicy":
                self.attached.setdefault(p["RoleName"], set()).add(p["PolicyArn"])
            case "iam:DetachRolePolicy":
                self.attached.get(p["RoleName"], set()).discard(p["PolicyArn"])
            case "eks:UpdateAddon":
                self.addon_role = p.get("serviceAccountRoleArn")
            case "kube:AnnotateServiceAccount":
                self.annotation = p.get("value")
            case "kube:RolloutRestart":
                self.restarts += 1
            case _:
                raise AssertionError(f"no execution for {op.op}")
        if self.kill_after == op.op:
            self.kill_after = None
            raise Killed(op.op)

    def check(self, op: Operation) -> str | None:
        self._maybe_fail(op)
        if op.op == "check:TestPods":
            if not self.pods_ok:
                return "group ng-1: pod got no IP in 120s"
            if self.detached_breaks_pods and any(
                "node" in role and not arns for role, arns in self.attached.items()
            ):
                return "group ng-1: FailedCreatePodSandBox"
        return None

    # ClusterLock -----------------------------------------------------------------------------

    def lock_holder(self) -> str | None:
        return self.lock

    def take_lock(self, run_id: str) -> None:
        self.writes.append("eks:TagResource")
        self.lock = run_id

    def release_lock(self) -> None:
        self.writes.append("eks:UntagResource")
        self.lock = None
