"""CNI040-CNI041: CloudTrail says who removed the CNI's permissions or changed its trust, and when.

A change fails only where it matters to this cluster's aws-node: it hit the dedicated identity
itself (its role, trust, OIDC provider, association, add-on binding), or aws-node depends on the
node role it hit (no working dedicated identity). A change that does not matter (the node role's
CNI policy detached while aws-node runs on a working IRSA role: a migration's last step) is a
pass whose evidence names the change and why it did not matter.
"""

from __future__ import annotations

from collections.abc import Iterator

from cniguard.analysis import ClusterView, normalize_role_arn
from cniguard.attribution import trail_gaps
from cniguard.iam.actions import ALL_CNI_ACTIONS
from cniguard.iam.policy import PolicyParseError, parse_statements
from cniguard.iam.trust import issuer_host
from cniguard.model.finding import Finding, Status
from cniguard.model.inventory import CloudTrailEvent
from cniguard.rules.base import Rule, rule
from cniguard.rules.common import dedicated_status

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


def _dedicated_roles(view: ClusterView) -> set[str]:
    """Normalised ARNs of aws-node's dedicated identity (bound, configured, association target)."""
    arns = (view.binding.role_arn, view.configured_binding.role_arn, view.pod_identity_target)
    return {normalize_role_arn(a) for a in arns if a}


def _node_role_matters(view: ClusterView) -> tuple[Status, str]:
    """Whether aws-node depends on the CNI grant of its node roles: fail (yes), pass (no), unknown."""
    runs, why = view.aws_node_runs
    if runs is False:
        return "pass", f"aws-node does not run on this cluster ({why})"
    binding = view.binding
    if binding.kind == "none":
        return (
            "fail",
            f"aws-node has no dedicated identity ({binding.reason}) and uses the node role",
        )
    if binding.kind == "unknown":
        return "unknown", f"which identity aws-node uses is unknown: {binding.reason}"
    status = dedicated_status(view)
    if status.works is False:
        return "fail", (
            f"aws-node's {binding.kind} role {binding.role_arn} does not work "
            f"({'; '.join(status.problems)}), so it depends on the node role"
        )
    if status.works is None:
        return "unknown", (
            f"whether aws-node's {binding.kind} role works is unknown: {'; '.join(status.unknown)}"
        )
    env = view.pod_env
    if env is not None and env.without:
        return "fail", (
            f"aws-node pods {', '.join(env.without)} run without the dedicated identity and use "
            "the node role"
        )
    return "pass", (
        f"aws-node runs with working {binding.kind} role {binding.role_arn}, not with the node role"
    )


def _verdict(
    r: Rule,
    view: ClusterView,
    e: CloudTrailEvent,
    status: Status,
    what: str,
    why: str,
    resource: str,
) -> Finding:
    who = f"{e.principal_arn or 'someone'} {what} at {e.event_time}"
    if status == "fail":
        text = f"{who} (from {e.source_ip or 'unknown address'}): {why}."
    elif status == "pass":
        text = f"{who}; this does not matter to aws-node: {why}."
    else:
        text = f"{who}; whether this matters to aws-node is unknown: {why}."
    return r.finding(
        view,
        status,
        text,
        resource=resource,
        evidence={**_evidence(e), "matters": status == "fail", "why": why},
        key=e.event_id,
    )


def _trail_unknown(view: ClusterView, r: Rule) -> Iterator[Finding]:
    gaps = trail_gaps(view)
    if gaps:
        text = "; ".join(f"{g.resource or g.what} in {g.region}: {g.reason}" for g in gaps[:5])
        yield r.finding(
            view,
            "unknown",
            f"CloudTrail could not be read in full for this cluster: {text}.",
            evidence={
                "gaps": [
                    {"resource": g.resource, "region": g.region, "reason": g.reason} for g in gaps
                ]
            },
            key="cloudtrail-gaps",
        )


@rule(
    "CNI040",
    "CloudTrail: the CNI's permissions were removed from a role aws-node depends on",
    "high",
    "change-history",
    "CNI outages usually follow an IAM clean-up: a DetachRolePolicy of AmazonEKS_CNI_Policy from a "
    "node role, a deleted inline policy or role, a new boundary. The event names who, when and from "
    "where. A removal fails only where aws-node depended on it: on its dedicated role, or on a node "
    "role while the cluster has no working dedicated identity; the same removal on a cluster that "
    "runs aws-node with a working IRSA / Pod Identity role (a migration's last step) passes, and "
    "the pass names the event.",
    "Restore the permissions (preferably on a dedicated IRSA role rather than the node role), and "
    "talk to the principal named in the evidence so the clean-up is not repeated.",
    references=(CLOUDTRAIL_DOC,),
    needs=("cloudtrail",),
    iac=False,
    aws_node=False,
)
def cni040(view: ClusterView, r: Rule) -> Iterator[Finding]:
    roles = {u.role_arn.rsplit("/", 1)[-1]: u.role_arn for u in view.node_roles or ()}
    dedicated = _dedicated_roles(view)
    for arn in (view.binding.role_arn, view.configured_binding.role_arn, view.pod_identity_target):
        if arn:
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
    gaps = list(_trail_unknown(view, r))
    found = found or bool(gaps)
    yield from gaps
    for e in sorted(_iam_events(view, _REMOVALS, list(roles)), key=lambda e: e.event_time):
        if not isinstance(e.request_parameters, dict):
            found = True
            yield _unreadable(view, r, e)
            continue
        role_name = str(e.request_parameters.get("roleName", ""))
        if role_name not in roles:
            continue
        what = _removes(e, view)
        if what is None:
            continue
        arn = roles[role_name]
        if normalize_role_arn(arn) in dedicated:
            status: Status = "fail"
            why = f"{role_name} is aws-node's dedicated {view.binding.kind} identity"
        else:
            status, why = _node_role_matters(view)
        found = found or status != "pass"
        yield _verdict(r, view, e, status, f"{what} from role {role_name}", why, arn)
    if not found:
        yield r.finding(
            view,
            "pass",
            "CloudTrail shows no removal of CNI permissions that aws-node depends on in the "
            "period read.",
        )


def _binding_matters(view: ClusterView, kinds: tuple[str, ...]) -> tuple[Status, str]:
    """Whether aws-node's identity depends on a mechanism of ``kinds`` (irsa, pod_identity)."""
    binding = view.binding
    if binding.kind == "unknown":
        return "unknown", f"which identity aws-node uses is unknown: {binding.reason}"
    if binding.kind in kinds or view.configured_binding.kind in kinds:
        return "fail", f"aws-node's identity is {binding.kind} role {binding.role_arn}"
    return "pass", f"aws-node does not use {' or '.join(kinds)} (it uses {binding.kind})"


def _eks_change(view: ClusterView, e: CloudTrailEvent) -> tuple[Status, str, str] | None:
    """(status, what happened, why) of an add-on / association event, None if not about aws-node."""
    params = e.request_parameters or {}
    name = e.event_name
    if name.endswith("Addon"):
        if params.get("addonName") != "vpc-cni":
            return None
        keys = [k for k in ("serviceAccountRoleArn", "podIdentityAssociations") if k in params]
        if name == "DeleteAddon":
            return "fail", "deleted the vpc-cni add-on", "it held aws-node's binding"
        if not keys:
            return "pass", f"{name} of vpc-cni", "the add-on's identity binding was not changed"
        what = f"{name} of vpc-cni set {', '.join(keys)}"
        return "fail", what, "it changed aws-node's add-on binding"
    if name not in ("UpdatePodIdentityAssociation", "DeletePodIdentityAssociation"):
        return None
    ident = str(params.get("associationId", ""))
    what = f"{name} {ident}"
    for a in view.cluster.pod_identity_associations or ():
        if a.arn and a.arn.endswith(f"/{ident}"):
            if a.namespace == "kube-system" and a.service_account == view.service_account_name:
                return "fail", what, "it is aws-node's association"
            return "pass", what, f"it is the association of {a.namespace}/{a.service_account}"
    status, why = _binding_matters(view, ("pod_identity",))  # deleted: no longer listed
    return status, what, why


@rule(
    "CNI041",
    "CloudTrail: aws-node's dedicated identity changed (trust, OIDC provider, association, add-on)",
    "medium",
    "change-history",
    "A changed trust policy, a deleted OIDC provider, a deleted pod identity association or a "
    "rebound vpc-cni add-on breaks the dedicated identity silently; the event shows who did it and "
    "when, to match against the first failing pod. Only changes that hit what aws-node uses fail "
    "(a deleted OIDC provider does not matter to a cluster whose aws-node uses Pod Identity).",
    "Review the change in evidence; restore the trust (CNI012), the provider (CNI010), the "
    "association or the add-on binding if it broke aws-node.",
    references=(CLOUDTRAIL_DOC,),
    needs=("cloudtrail",),
    iac=False,
    aws_node=False,
)
def cni041(view: ClusterView, r: Rule) -> Iterator[Finding]:
    dedicated = {a.rsplit("/", 1)[-1]: a for a in _dedicated_roles(view)}
    host = issuer_host(view.cluster.oidc_issuer) if view.cluster.oidc_issuer else None
    gaps = list(_trail_unknown(view, r))
    found = bool(gaps)
    yield from gaps
    events = _iam_events(
        view,
        {
            "UpdateAssumeRolePolicy",
            "DeleteOpenIDConnectProvider",
            "RemoveClientIDFromOpenIDConnectProvider",
        },
        [*dedicated, *([host.lower()] if host else [])],
    )
    c = view.cluster
    eks = view.index.events_by_cluster.get((c.account, c.region, c.name), [])
    for e in sorted([*events, *eks], key=lambda e: e.event_time):
        if not isinstance(e.request_parameters, dict):
            found = True
            yield _unreadable(view, r, e)
            continue
        params = e.request_parameters
        status: Status
        if e.event_source == "eks.amazonaws.com":
            if e.error_code:
                continue
            change = _eks_change(view, e)
            if change is None:
                continue
            status, what, why = change
            resource = c.arn
        elif e.event_name == "UpdateAssumeRolePolicy":
            role_name = str(params.get("roleName", ""))
            if role_name not in dedicated:
                continue
            status, what = "fail", f"changed the trust policy of {role_name}"
            why, resource = f"{role_name} is aws-node's dedicated identity", dedicated[role_name]
        else:
            provider = str(params.get("openIDConnectProviderArn", ""))
            if host is None or not provider.lower().endswith(host.lower()):
                continue
            what = (
                "deleted OIDC provider"
                if e.event_name.startswith("Delete")
                else f"removed client id {params.get('clientID')} from"
            ) + f" {provider}"
            status, why = _binding_matters(view, ("irsa",))
            resource = provider
        found = found or status != "pass"
        yield _verdict(r, view, e, status, what, why, resource)
    if not found:
        yield r.finding(
            view,
            "pass",
            "CloudTrail shows no change to aws-node's dedicated identity (trust, OIDC provider, "
            "association, add-on binding) in the period read.",
        )


RULES = (cni040, cni041)
