"""The AWS side of `cniguard apply`: carry out, observe and check every AWS plan operation.

``execute`` passes a plan operation's ``params`` to boto3 unchanged (they are the API's input) and
waits where AWS finishes later (an add-on until ACTIVE, or gone). ``observe`` reads the live facts
the plan judges the operation by, with the keys of the step's ``state_before``/``state_after``;
a missing role, provider or add-on reads as "not there", never as an error. Every API this module
can call is declared here as data (:data:`READ_ACTIONS`, :data:`WRITE_ACTIONS` and the extra IAM
actions a call needs, :data:`EXTRA_ACTIONS`), so `cniguard permissions --write` is generated.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, RefreshableCredentials
from botocore.exceptions import ClientError, NoCredentialsError

from cniguard import __version__
from cniguard.remediate.plan_model import Operation, canonical_document

LOCK_TAG = "cniguard.io/apply-lock"
MAX_ATTEMPTS = 6  # adaptive retries: throttling and 5xx are retried, AccessDenied is not
ADDON_TIMEOUT = 600.0  # seconds for an add-on to become ACTIVE (or be gone)
_MISSING = ("NoSuchEntity", "ResourceNotFoundException", "NoSuchEntityException")

# The API calls each plan operation makes (as IAM actions), for the change itself and its wait.
WRITE_ACTIONS: dict[str, tuple[str, ...]] = {
    "iam:CreateOpenIDConnectProvider": ("iam:CreateOpenIDConnectProvider",),
    "iam:DeleteOpenIDConnectProvider": ("iam:DeleteOpenIDConnectProvider",),
    "iam:AddClientIDToOpenIDConnectProvider": ("iam:AddClientIDToOpenIDConnectProvider",),
    "iam:RemoveClientIDFromOpenIDConnectProvider": ("iam:RemoveClientIDFromOpenIDConnectProvider",),
    "iam:CreateRole": ("iam:CreateRole",),
    "iam:DeleteRole": ("iam:DeleteRole",),
    "iam:UpdateAssumeRolePolicy": ("iam:UpdateAssumeRolePolicy",),
    "iam:CreatePolicy": ("iam:CreatePolicy",),
    "iam:DeletePolicy": ("iam:DeletePolicy",),
    "iam:AttachRolePolicy": ("iam:AttachRolePolicy",),
    "iam:DetachRolePolicy": ("iam:DetachRolePolicy",),
    "iam:PutRolePolicy": ("iam:PutRolePolicy",),
    "iam:DeleteRolePolicy": ("iam:DeleteRolePolicy",),
    "eks:CreateAddon": ("eks:CreateAddon", "eks:DescribeAddon"),
    "eks:DeleteAddon": ("eks:DeleteAddon", "eks:DescribeAddon"),
    "eks:UpdateAddon": ("eks:UpdateAddon", "eks:DescribeAddon"),
    "eks:CreatePodIdentityAssociation": ("eks:CreatePodIdentityAssociation",),
    "eks:DeletePodIdentityAssociation": (
        "eks:ListPodIdentityAssociations",
        "eks:DeletePodIdentityAssociation",
    ),
}
# IAM actions AWS authorizes beside the call itself (the service checks them, no API call runs).
EXTRA_ACTIONS: dict[str, tuple[str, ...]] = {
    "iam:CreateRole": ("iam:TagRole",),  # CreateRole with Tags
    "iam:CreateOpenIDConnectProvider": ("iam:TagOpenIDConnectProvider",),  # with Tags
    "eks:UpdateAddon": ("iam:PassRole", "iam:GetRole"),  # serviceAccountRoleArn / associations
    "eks:CreateAddon": ("iam:PassRole", "iam:GetRole"),
    "eks:CreatePodIdentityAssociation": ("iam:PassRole", "iam:GetRole"),
}
# Reads: observing state, the read-only checks, the lock tag and who the caller is.
READ_ACTIONS: tuple[str, ...] = (
    "sts:GetCallerIdentity",
    "iam:GetOpenIDConnectProvider",
    "iam:GetRole",
    "iam:GetPolicy",
    "iam:ListAttachedRolePolicies",
    "iam:GetRolePolicy",
    "eks:DescribeAddon",
    "eks:DescribePodIdentityAssociation",
    "eks:ListPodIdentityAssociations",
    "eks:ListTagsForResource",
)
LOCK_ACTIONS: tuple[str, ...] = ("eks:TagResource", "eks:UntagResource")
# Session: the optional --assume-role hop.
SESSION_ACTIONS: tuple[str, ...] = ("sts:AssumeRole",)
NO_PERMISSION_NEEDED = frozenset({"sts:GetCallerIdentity"})


class AwsOpError(Exception):
    """An AWS operation failed or did not reach its state in time; the message says which."""


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


@dataclass(frozen=True)
class Target:
    """Where the plan's cluster lives: its region for EKS, its ARN for the lock tag."""

    cluster: str
    cluster_arn: str
    region: str


def client_config(run_id: str) -> Config:
    """Adaptive retries and a user agent that names cniguard and the run."""
    return Config(
        retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
        user_agent_extra=f"cniguard/{__version__} apply/{run_id}",
        connect_timeout=10,
        read_timeout=60,
    )


def session_name(run_id: str) -> str:
    """What CloudTrail shows as the role session of an --assume-role run."""
    return f"cniguard-apply-{run_id}"


def open_session(profile: str | None, assume_role: str | None, run_id: str) -> boto3.Session:
    """A session from ``--profile``, optionally hopping into ``--assume-role`` (renewed by
    botocore before it expires) with a session name that names cniguard and the run."""
    from cniguard.collect.aws.calls import new_session

    base = boto3.Session(profile_name=profile)
    if assume_role is None:
        return base
    source = base.get_credentials()
    if source is None:
        raise NoCredentialsError()
    config = client_config(run_id)
    fetcher = AssumeRoleCredentialFetcher(
        lambda service, **kw: base.client(service, config=config, **kw),
        source,
        assume_role,
        extra_args={"RoleSessionName": session_name(run_id)},
    )
    credentials = RefreshableCredentials.create_from_metadata(
        fetcher.fetch_credentials(), fetcher.fetch_credentials, "assume-role"
    )
    return new_session(credentials, region_name=base.region_name)


class AwsOps:
    """Carries out, observes and checks the AWS operations of one cluster's plan."""

    def __init__(
        self,
        session: boto3.Session,
        target: Target,
        run_id: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        addon_timeout: float = ADDON_TIMEOUT,
        poll: float = 2.0,
    ) -> None:
        self.target = target
        self.calls: Counter[str] = Counter()
        config = client_config(run_id)
        self.iam = session.client("iam", region_name=target.region, config=config)
        self.eks = session.client("eks", region_name=target.region, config=config)
        self.sts = session.client("sts", region_name=target.region, config=config)
        for c in (self.iam, self.eks, self.sts):
            c.meta.events.register("before-call", self._count)
        self._sleep = sleep
        self._clock = clock
        self._addon_timeout = addon_timeout
        self._poll = poll

    def _count(self, model: Any, **_: Any) -> None:
        from cniguard.collect.aws.calls import action_of

        self.calls[action_of(model)] += 1

    def caller_account(self) -> str:
        return str(self.sts.get_caller_identity()["Account"])

    # lock tag -------------------------------------------------------------------------------

    def lock_holder(self) -> str | None:
        tags = self.eks.list_tags_for_resource(resourceArn=self.target.cluster_arn)["tags"]
        value = tags.get(LOCK_TAG)
        return str(value) if value else None

    def take_lock(self, run_id: str) -> None:
        self.eks.tag_resource(resourceArn=self.target.cluster_arn, tags={LOCK_TAG: run_id})

    def release_lock(self) -> None:
        self.eks.untag_resource(resourceArn=self.target.cluster_arn, tagKeys=[LOCK_TAG])

    # observe --------------------------------------------------------------------------------

    def observe(self, op: Operation) -> dict[str, Any]:
        """The live facts ``op`` is judged by (every key its kind of step may name)."""
        p = op.params
        match op.op:
            case "iam:CreateOpenIDConnectProvider":
                return {"provider_exists": self._provider(op.context["arn"]) is not None}
            case "iam:DeleteOpenIDConnectProvider":
                arn = p["OpenIDConnectProviderArn"]
                return {"provider_exists": self._provider(arn) is not None}
            case "iam:AddClientIDToOpenIDConnectProvider" | (
                "iam:RemoveClientIDFromOpenIDConnectProvider"
            ):
                found = self._provider(p["OpenIDConnectProviderArn"])
                return {"client_ids": sorted(found["ClientIDList"]) if found else None}
            case "iam:CreateRole" | "iam:DeleteRole":
                return {"role_exists": self._role(p["RoleName"]) is not None}
            case "iam:UpdateAssumeRolePolicy":
                role = self._role(p["RoleName"])
                trust = role["AssumeRolePolicyDocument"] if role else None
                return {"trust": canonical_document(trust)}
            case "iam:CreatePolicy" | "iam:DeletePolicy":
                arn = op.context["arn"] if op.op == "iam:CreatePolicy" else p["PolicyArn"]
                found = self._missing_is_none(self.iam.get_policy, PolicyArn=arn)
                return {"policy_exists": found is not None}
            case "iam:AttachRolePolicy" | "iam:DetachRolePolicy":
                return {"attached": p["PolicyArn"] in self._attached(p["RoleName"])}
            case "iam:PutRolePolicy" | "iam:DeleteRolePolicy":
                found = self._missing_is_none(
                    self.iam.get_role_policy, RoleName=p["RoleName"], PolicyName=p["PolicyName"]
                )
                return {
                    "inline_document": canonical_document(
                        found["PolicyDocument"] if found else None
                    )
                }
            case "eks:CreateAddon" | "eks:DeleteAddon":
                return {"addon_exists": self._addon(p["clusterName"], p["addonName"]) is not None}
            case "eks:UpdateAddon":
                return self._addon_binding(p["clusterName"], p["addonName"])
            case "eks:CreatePodIdentityAssociation" | "eks:DeletePodIdentityAssociation":
                found = self._association(p["clusterName"], p["namespace"], p["serviceAccount"])
                return {"association_role": found["roleArn"] if found else None}
        raise AwsOpError(f"{op.op} is not an AWS operation cniguard carries out")

    def _missing_is_none(self, call: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return call(**kwargs)
        except ClientError as exc:
            if error_code(exc) in _MISSING:
                return None
            raise

    def _provider(self, arn: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._missing_is_none(
            self.iam.get_open_id_connect_provider, OpenIDConnectProviderArn=arn
        )
        return found

    def _role(self, name: str) -> dict[str, Any] | None:
        found = self._missing_is_none(self.iam.get_role, RoleName=name)
        return dict(found["Role"]) if found else None

    def _attached(self, role: str) -> set[str]:
        try:
            pages = self.iam.get_paginator("list_attached_role_policies").paginate(RoleName=role)
            return {a["PolicyArn"] for page in pages for a in page["AttachedPolicies"]}
        except ClientError as exc:
            if error_code(exc) in _MISSING:
                return set()  # a missing role has nothing attached
            raise

    def _addon(self, cluster: str, name: str) -> dict[str, Any] | None:
        found = self._missing_is_none(self.eks.describe_addon, clusterName=cluster, addonName=name)
        return dict(found["addon"]) if found else None

    def _addon_binding(self, cluster: str, name: str) -> dict[str, Any]:
        addon = self._addon(cluster, name)
        if addon is None:
            return {"service_account_role_arn": None, "pod_identity_roles": None}
        roles: dict[str, str] = {}
        for arn in addon.get("podIdentityAssociations") or ():
            association_id = str(arn).rsplit("/", 1)[-1]
            found = self.eks.describe_pod_identity_association(
                clusterName=cluster, associationId=association_id
            )["association"]
            roles[found["serviceAccount"]] = found["roleArn"]
        return {
            "service_account_role_arn": addon.get("serviceAccountRoleArn") or None,
            "pod_identity_roles": roles,
        }

    def _association(self, cluster: str, namespace: str, account: str) -> dict[str, Any] | None:
        listed = self.eks.list_pod_identity_associations(
            clusterName=cluster, namespace=namespace, serviceAccount=account
        )["associations"]
        if not listed:
            return None
        found = self.eks.describe_pod_identity_association(
            clusterName=cluster, associationId=listed[0]["associationId"]
        )
        return dict(found["association"])

    # execute --------------------------------------------------------------------------------

    def execute(self, op: Operation) -> None:
        """Carry out ``op``; add-on changes return once the add-on is ACTIVE (or gone)."""
        p = dict(op.params)
        match op.op:
            case "iam:CreateOpenIDConnectProvider":
                self.iam.create_open_id_connect_provider(**p)
            case "iam:DeleteOpenIDConnectProvider":
                self.iam.delete_open_id_connect_provider(**p)
            case "iam:AddClientIDToOpenIDConnectProvider":
                self.iam.add_client_id_to_open_id_connect_provider(**p)
            case "iam:RemoveClientIDFromOpenIDConnectProvider":
                self.iam.remove_client_id_from_open_id_connect_provider(**p)
            case "iam:CreateRole":
                self.iam.create_role(**p)
            case "iam:DeleteRole":
                self.iam.delete_role(**p)
            case "iam:UpdateAssumeRolePolicy":
                self.iam.update_assume_role_policy(**p)
            case "iam:CreatePolicy":
                self.iam.create_policy(**p)
            case "iam:DeletePolicy":
                self.iam.delete_policy(**p)
            case "iam:AttachRolePolicy":
                self.iam.attach_role_policy(**p)
            case "iam:DetachRolePolicy":
                self.iam.detach_role_policy(**p)
            case "iam:PutRolePolicy":
                self.iam.put_role_policy(**p)
            case "iam:DeleteRolePolicy":
                self.iam.delete_role_policy(**p)
            case "eks:CreateAddon":
                self.eks.create_addon(**p)
                self._wait_addon(p["clusterName"], p["addonName"], gone=False)
            case "eks:UpdateAddon":
                self.eks.update_addon(**p)
                self._wait_addon(p["clusterName"], p["addonName"], gone=False)
            case "eks:DeleteAddon":
                self.eks.delete_addon(**p)
                self._wait_addon(p["clusterName"], p["addonName"], gone=True)
            case "eks:CreatePodIdentityAssociation":
                self.eks.create_pod_identity_association(**p)
            case "eks:DeletePodIdentityAssociation":
                found = self._association(p["clusterName"], p["namespace"], p["serviceAccount"])
                if found is not None:  # already gone: nothing to delete
                    self.eks.delete_pod_identity_association(
                        clusterName=p["clusterName"], associationId=found["associationId"]
                    )
            case _:
                raise AwsOpError(f"{op.op} is not an AWS operation cniguard carries out")

    def _wait_addon(self, cluster: str, name: str, *, gone: bool) -> None:
        deadline = self._clock() + self._addon_timeout
        while True:
            addon = self._addon(cluster, name)
            status = None if addon is None else str(addon.get("status"))
            if (gone and addon is None) or (not gone and status == "ACTIVE"):
                return
            if status in ("CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED", "DEGRADED"):
                issues = "; ".join(
                    str(i.get("message", ""))
                    for i in (addon or {}).get("health", {}).get("issues", [])
                )
                raise AwsOpError(f"add-on {name} is {status}" + (f": {issues}" if issues else ""))
            if self._clock() >= deadline:
                want = "gone" if gone else "ACTIVE"
                raise AwsOpError(
                    f"add-on {name} not {want} after {self._addon_timeout:g}s ({status})"
                )
            self._sleep(self._poll)

    # read-only checks -----------------------------------------------------------------------

    def check(self, op: Operation) -> str | None:
        """None when the check holds, else what is wrong."""
        p = op.params
        match op.op:
            case "check:OidcProvider":
                found = self._provider(p["arn"])
                if found is None:
                    return f"IAM OIDC provider {p['arn']} does not exist"
                if "sts.amazonaws.com" not in found["ClientIDList"]:
                    return f"IAM OIDC provider {p['arn']} lacks client id sts.amazonaws.com"
                return None
            case "check:PodIdentityAgent":
                addon = self._addon(p["clusterName"], "eks-pod-identity-agent")
                if addon is None:
                    return "add-on eks-pod-identity-agent is not installed"
                status = addon.get("status")
                return None if status == "ACTIVE" else f"add-on eks-pod-identity-agent is {status}"
            case "check:RoleTrust":
                return None if self._role(p["RoleName"]) else f"role {p['RoleName']} does not exist"
        raise AwsOpError(f"{op.op} is not an AWS check")


def declared_actions() -> frozenset[str]:
    """Every IAM action this module's calls need (calls plus the extra authorizations)."""
    found = {*READ_ACTIONS, *LOCK_ACTIONS, *SESSION_ACTIONS}
    for actions in (*WRITE_ACTIONS.values(), *EXTRA_ACTIONS.values()):
        found.update(actions)
    return frozenset(found)
