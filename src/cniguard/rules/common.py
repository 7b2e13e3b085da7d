"""Judgements several rules share: does the dedicated identity work, can pods reach IMDS."""

from __future__ import annotations

from dataclasses import dataclass

from cniguard.analysis import ClusterView, NodeRoleUse
from cniguard.iam.actions import ESSENTIAL_IPV4, ESSENTIAL_IPV6
from cniguard.iam.evaluate import RoleGrant
from cniguard.model.inventory import NodeGroup


@dataclass(frozen=True)
class DedicatedStatus:
    """Whether aws-node's dedicated identity (IRSA / Pod Identity) actually works."""

    works: bool | None  # None: unknown
    problems: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    causes: tuple[str, ...] = ()  # rule ids that explain a failure


def dedicated_status(view: ClusterView) -> DedicatedStatus:
    """Memoised on the view: several rules and the identity mode ask."""
    status = view.memo.get("dedicated_status")
    if not isinstance(status, DedicatedStatus):
        status = view.memo["dedicated_status"] = _dedicated_status(view)
    return status


def _dedicated_status(view: ClusterView) -> DedicatedStatus:
    binding = view.binding
    if binding.kind not in ("irsa", "pod_identity"):
        return DedicatedStatus(works=False, problems=("no dedicated identity is bound",))
    if binding.role_arn is None:
        return DedicatedStatus(works=None, unknown=("the bound role ARN is not known",))
    role = view.dedicated_role
    if role is None:
        return DedicatedStatus(works=None, unknown=(f"role {binding.role_arn} was not read",))
    if not role.exists:
        return DedicatedStatus(
            works=False, problems=(f"role {role.arn} does not exist",), causes=("CNI004",)
        )
    target = view.grant_role
    if target is None:
        return DedicatedStatus(
            works=None, unknown=(f"target role {view.pod_identity_target} was not read",)
        )
    if not target.exists:
        return DedicatedStatus(
            works=False, problems=(f"target role {target.arn} does not exist",), causes=("CNI004",)
        )
    problems: list[str] = []
    unknown: list[str] = []
    causes: list[str] = []
    grant = view.dedicated_grant
    assert grant is not None
    ok, missing, why = view.check_grant(grant)
    if ok is False:
        denied = [a for a in missing if grant.level(a) == "denied"]
        problems.append(f"{target.arn} lacks {', '.join(missing)}")
        causes.append("CNI004" if denied else "CNI001")
        if _wrong_family(view, grant):
            causes.append("CNI003")
    elif ok is None:
        unknown.append(f"{target.arn}: {why}")
    trust = view.trust
    if trust is not None:
        if trust.can_assume is None:
            unknown.append(f"trust policy of {role.arn} could not be read")
        elif not trust.can_assume:
            problems.extend(trust.assume_problems)
            causes.append("CNI012")
    if binding.kind == "irsa":
        provider = view.oidc_provider
        if provider is False:
            problems.append("no IAM OIDC provider exists for the cluster's issuer")
            causes.append("CNI010")
        elif provider is None:
            unknown.append("the cluster's OIDC issuer or provider list was not read")
        elif "sts.amazonaws.com" not in provider.client_ids:
            problems.append(f"OIDC provider {provider.arn} lacks client id sts.amazonaws.com")
            causes.append("CNI010")
    if problems:
        return DedicatedStatus(False, tuple(problems), tuple(unknown), tuple(dict.fromkeys(causes)))
    if unknown:
        return DedicatedStatus(None, (), tuple(unknown))
    return DedicatedStatus(True)


def _wrong_family(view: ClusterView, grant: RoleGrant) -> bool:
    """The role grants the other IP family's actions (IPv6 policy on an IPv4 cluster or back)."""
    other = ESSENTIAL_IPV4 if view.cluster.ip_family == "ipv6" else ESSENTIAL_IPV6
    return bool(grant.grants(other))


def imds_exposure(groups: tuple[NodeGroup, ...]) -> tuple[bool | None, list[str]]:
    """Whether pods on these node groups can read the node's credentials from IMDS.

    Reachable when IMDSv1 is allowed (tokens optional) or the hop limit is above 1
    (domain.md A4). Unknown when no group's settings were read.
    """
    reachable: list[str] = []
    unknown: list[str] = []
    for g in groups:
        opts = g.metadata_options
        if opts is None:
            unknown.append(g.name)
            continue
        if opts.http_endpoint == "disabled":
            continue
        if opts.http_tokens == "optional":
            reachable.append(f"{g.name}: IMDSv1 allowed (HttpTokens=optional)")
        elif opts.hop_limit is not None and opts.hop_limit > 1:
            reachable.append(f"{g.name}: hop limit {opts.hop_limit}")
        elif opts.http_tokens is None or opts.hop_limit is None:
            unknown.append(g.name)  # one setting unread: pods may still reach IMDS
    if reachable:
        return True, reachable
    if unknown or not groups:
        return None, [f"{n}: metadata options not read" for n in unknown]
    return False, []


def node_groups_label(use: NodeRoleUse) -> str:
    return ", ".join(use.via) or "worker nodes"
