"""CNI040-CNI041: CloudTrail says who removed the CNI's permissions or changed its trust, and when."""

from __future__ import annotations

from collections.abc import Iterator

from cniguard.analysis import ClusterView
from cniguard.iam.actions import ALL_CNI_ACTIONS
from cniguard.iam.policy import PolicyParseError, parse_statements
from cniguard.iam.trust import issuer_host
from cniguard.model.finding import Finding
from cniguard.model.inventory import CloudTrailEvent
from cniguard.rules.base import Rule, rule

CLOUDTRAIL_DOC = (
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/view-cloudtrail-events.html"
)
_REMOVALS = {
    "DetachRolePolicy",
    "DeleteRolePolicy",
    "PutRolePolicy",
    "PutRolePermissionsBoundary",
    "DeleteRole",
    "RemoveRoleFromInstanceProfile",
}


def _iam_events(view: ClusterView, names: set[str], subjects: list[str]) -> list[CloudTrailEvent]:
    """Successful IAM events about these role names / provider hosts, plus the account's events
    whose parameters could not be read (they may concern them)."""
    index, account = view.index, view.cluster.account
    found = list(index.unparsed_events.get(account, ()))
    for subject in dict.fromkeys(subjects):
        found.extend(index.events_by_subject.get((account, subject), ()))
    return [
        e
        for e in found
        if e.event_source == "iam.amazonaws.com" and e.event_name in names and not e.error_code
    ]


def _evidence(e: CloudTrailEvent) -> dict[str, object]:
    return {
        "event": e.event_name,
        "event_time": e.event_time,
        "who": e.principal_arn,
        "source_ip": e.source_ip,
        "user_agent": e.user_agent,
        "event_id": e.event_id,
        "region": e.region,
        "request": e.request_parameters or {},
    }


def _unreadable(view: ClusterView, r: Rule, e: CloudTrailEvent) -> Finding:
    return r.finding(
        view,
        "unknown",
        f"{e.event_name} by {e.principal_arn or 'someone'} at "
        f"{e.event_time} has no readable request parameters; it may concern this "
        "cluster's roles.",
        evidence=_evidence(e),
        key=e.event_id,
    )


def _denies_cni(document: object) -> bool:
    try:
        statements = parse_statements(document)  # type: ignore[arg-type]
    except PolicyParseError:
        return False
    return any(
        st.effect == "Deny" and any(st.matches_action(a) for a in ALL_CNI_ACTIONS)
        for st in statements
    )


def _removes(e: CloudTrailEvent, view: ClusterView) -> str | None:
    """Why this event took CNI permissions away from a role, or None if it did not."""
    params = e.request_parameters or {}
    name = e.event_name
    if name == "DetachRolePolicy":
        policy = str(params.get("policyArn", ""))
        return f"detached {policy}" if "cni" in policy.lower() else None
    if name == "DeleteRolePolicy":
        return f"deleted inline policy {params.get('policyName')}"
    if name == "PutRolePolicy":
        doc = params.get("policyDocument")
        return (
            f"added inline policy {params.get('policyName')} denying CNI actions"
            if doc and _denies_cni(doc)
            else None
        )
    if name == "PutRolePermissionsBoundary":
        return f"set permissions boundary {params.get('permissionsBoundary')}"
    if name == "DeleteRole":
        return "deleted the role"
    return f"removed the role from instance profile {params.get('instanceProfileName')}"


@rule(
    "CNI040",
    "CloudTrail: the CNI's permissions were removed from a role the cluster depends on",
    "high",
    "change-history",
    "CNI outages usually follow an IAM clean-up: a DetachRolePolicy of AmazonEKS_CNI_Policy from a "
    "node role, a deleted inline policy or role, a new boundary. The event names who, when and from "
    "where.",
    "Restore the permissions (preferably on a dedicated IRSA role rather than the node role), and "
    "talk to the principal named in the evidence so the clean-up is not repeated.",
    references=(CLOUDTRAIL_DOC,),
    needs=("cloudtrail",),
    iac=False,
    aws_node=False,
)
def cni040(view: ClusterView, r: Rule) -> Iterator[Finding]:
    roles = {u.role_arn.rsplit("/", 1)[-1]: u.role_arn for u in view.node_roles or ()}
    if view.configured_binding.role_arn:
        arn = view.configured_binding.role_arn
        roles[arn.rsplit("/", 1)[-1]] = arn
    found = False
    if view.node_roles is None or view.unresolved_node_groups:
        found = True
        yield r.finding(
            view,
            "unknown",
            "The cluster's node roles were not read, so their "
            "CloudTrail history cannot be matched.",
        )
    for e in sorted(_iam_events(view, _REMOVALS, list(roles)), key=lambda e: e.event_time):
        if not isinstance(e.request_parameters, dict):
            found = True
            yield _unreadable(view, r, e)
            continue
        role_name = str(e.request_parameters.get("roleName", ""))
        if role_name not in roles:
            continue
        why = _removes(e, view)
        if why is None:
            continue
        found = True
        yield r.finding(
            view,
            "fail",
            f"{e.principal_arn or 'someone'} {why} from role {role_name} at {e.event_time} "
            f"(from {e.source_ip or 'unknown address'}).",
            resource=roles[role_name],
            evidence=_evidence(e),
            key=e.event_id,
        )
    if not found:
        yield r.finding(
            view,
            "pass",
            "CloudTrail shows no removal of CNI permissions from the "
            "cluster's roles in the period read.",
        )


@rule(
    "CNI041",
    "CloudTrail: the CNI role's trust or the cluster's OIDC provider changed",
    "medium",
    "change-history",
    "A changed trust policy or a deleted OIDC provider breaks IRSA silently; the event shows who did "
    "it and when, to match against the first failing pod.",
    "Review the change in evidence; restore the trust (CNI012) or the provider (CNI010) if it broke "
    "aws-node.",
    references=(CLOUDTRAIL_DOC,),
    needs=("cloudtrail",),
    iac=False,
    aws_node=False,
)
def cni041(view: ClusterView, r: Rule) -> Iterator[Finding]:
    role = view.configured_binding.role_arn
    role_name = role.rsplit("/", 1)[-1] if role else None
    host = issuer_host(view.cluster.oidc_issuer) if view.cluster.oidc_issuer else None
    found = False
    events = _iam_events(
        view,
        {
            "UpdateAssumeRolePolicy",
            "DeleteOpenIDConnectProvider",
            "RemoveClientIDFromOpenIDConnectProvider",
        },
        [s for s in (role_name, host.lower() if host else None) if s],
    )
    for e in sorted(events, key=lambda e: e.event_time):
        if not isinstance(e.request_parameters, dict):
            found = True
            yield _unreadable(view, r, e)
            continue
        params = e.request_parameters
        if e.event_name == "UpdateAssumeRolePolicy":
            if role_name is None or params.get("roleName") != role_name:
                continue
            what, resource = f"changed the trust policy of {role_name}", role or ""
        else:
            provider = str(params.get("openIDConnectProviderArn", ""))
            if host is None or not provider.lower().endswith(host.lower()):
                continue
            what = (
                "deleted OIDC provider"
                if e.event_name.startswith("Delete")
                else f"removed client id {params.get('clientID')} from"
            ) + f" {provider}"
            resource = provider
        found = True
        yield r.finding(
            view,
            "fail",
            f"{e.principal_arn or 'someone'} {what} at {e.event_time}.",
            resource=resource,
            evidence=_evidence(e),
            key=e.event_id,
        )
    if not found:
        yield r.finding(
            view,
            "pass",
            "CloudTrail shows no change to the CNI role's trust or the "
            "cluster's OIDC provider in the period read.",
        )


RULES = (cni040, cni041)
