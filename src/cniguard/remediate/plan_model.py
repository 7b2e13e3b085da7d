"""A migration plan as data (``cniguard.plan/v1``): what `plan` writes and `apply` carries out.

Every step says, for a person, what must hold before it, what it changes, how that is verified and
how it is undone; and, for `apply`, the same as machine-readable operations: ``action`` (what to
do), ``undo`` (the operations that put it back, in order), ``state_before`` / ``state_after`` (the
live facts the step expects to find before it acts and after it is done) and a ``fingerprint`` of
``state_before`` so a plan whose world has moved on is refused step by step, not only as a whole.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from cniguard.model.codec import InputError

PLAN_SCHEMA = "cniguard.plan/v1"

Target = Literal["irsa", "pod_identity"]
StepKind = Literal["aws", "kube", "check"]
PlanStatus = Literal["ready", "blocked", "nothing_to_do"]

# The operations a step's ``action`` / ``undo`` may name, and the live facts (``state_*`` keys)
# each one is judged by. `apply` implements exactly these; `plan` emits nothing else.
OPERATIONS: dict[str, str] = {
    "iam:CreateOpenIDConnectProvider": "provider_exists: bool",
    "iam:DeleteOpenIDConnectProvider": "provider_exists: bool",
    "iam:AddClientIDToOpenIDConnectProvider": "client_ids: sorted list",
    "iam:RemoveClientIDFromOpenIDConnectProvider": "client_ids: sorted list",
    "iam:CreateRole": "role_exists: bool",
    "iam:DeleteRole": "role_exists: bool",
    "iam:UpdateAssumeRolePolicy": "trust: canonical JSON",
    "iam:CreatePolicy": "policy_exists: bool",
    "iam:DeletePolicy": "policy_exists: bool",
    "iam:AttachRolePolicy": "attached: bool",
    "iam:DetachRolePolicy": "attached: bool",
    "iam:PutRolePolicy": "inline_document: canonical JSON or null",
    "iam:DeleteRolePolicy": "inline_document: canonical JSON or null",
    "eks:CreateAddon": "addon_exists: bool",
    "eks:DeleteAddon": "addon_exists: bool",
    "eks:UpdateAddon": "service_account_role_arn: str|null; pod_identity_roles: {sa: role}",
    "eks:CreatePodIdentityAssociation": "association_role: str|null",
    "eks:DeletePodIdentityAssociation": "association_role: str|null",
    "kube:AnnotateServiceAccount": "annotation: str|null",
    "kube:RolloutRestart": "(none: always allowed; verified by the rollout)",
    "check:OidcProvider": "(read-only)",
    "check:PodIdentityAgent": "(read-only)",
    "check:RoleTrust": "(read-only)",
    "check:AwsNodeIdentity": "(read-only)",
    "check:TestPods": "(read-only: `cniguard verify` on every node group)",
}


@dataclass(frozen=True)
class Operation:
    """One thing `apply` does: an AWS API call, a Kubernetes change, or a read-only check."""

    op: str  # a key of OPERATIONS
    params: dict[str, Any] = field(default_factory=dict)  # for AWS: exactly the API's input
    context: dict[str, Any] = field(default_factory=dict)  # what else apply needs to know


@dataclass(frozen=True)
class Step:
    id: str  # unique within its cluster's plan, stable across re-plans of the same situation
    title: str
    kind: StepKind
    precondition: str
    change: str
    verify: str
    rollback: str
    commands: tuple[str, ...]
    action: Operation
    undo: tuple[Operation, ...] = ()
    state_before: dict[str, Any] = field(default_factory=dict)
    state_after: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    blocked_by: tuple[str, ...] = ()  # why this step must not run (e.g. a shared node role)


@dataclass(frozen=True)
class ClusterPlan:
    cluster: str  # name
    arn: str
    account: str
    region: str
    target: Target
    status: PlanStatus
    mode: str  # the CNI identity mode the plan starts from
    blocked_by: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    role_arn: str | None = None  # the dedicated role aws-node ends up with


@dataclass(frozen=True)
class Plan:
    generated_at: str
    inventory_fingerprint: str
    clusters: tuple[ClusterPlan, ...]

    def to_json(self) -> dict[str, Any]:
        from cniguard.model.codec import dump_python

        return {
            "schema": PLAN_SCHEMA,
            "generated_at": self.generated_at,
            "inventory_fingerprint": self.inventory_fingerprint,
            "clusters": [dump_python(c) for c in self.clusters],
        }


def state_fingerprint(op: str, state: dict[str, Any]) -> str:
    """Stable hash of the facts a step's precondition depends on."""
    text = json.dumps({"op": op, "state": state}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def canonical_document(document: Any) -> str | None:
    """A policy document as canonical JSON (dicts and JSON strings alike), for state comparison."""
    if document is None:
        return None
    if isinstance(document, str):
        from cniguard.iam.policy import decode_document

        document = decode_document(document)
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def plan_from_json(data: Any, *, source: str = "plan") -> Plan:
    """Load a plan file's JSON; a wrong schema or shape is one clear InputError."""
    if not isinstance(data, dict) or data.get("schema") != PLAN_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise InputError(f"{source}: not a {PLAN_SCHEMA} document (schema: {found!r})")
    from pydantic import TypeAdapter, ValidationError

    try:
        clusters = TypeAdapter(tuple[ClusterPlan, ...]).validate_python(data.get("clusters"))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{source}: clusters.{where}: {first['msg']}") from None
    return Plan(
        generated_at=str(data.get("generated_at", "")),
        inventory_fingerprint=str(data.get("inventory_fingerprint", "")),
        clusters=clusters,
    )
