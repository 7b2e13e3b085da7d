"""CNI001-CNI004: are the CNI's EC2 permissions there, and where do they sit?"""

from __future__ import annotations

from collections.abc import Iterator

from cniguard.analysis import ClusterView
from cniguard.iam.actions import ESSENTIAL_IPV4, ESSENTIAL_IPV6, MUTATING_ACTIONS
from cniguard.model.finding import Finding
from cniguard.rules.base import Rule, rule
from cniguard.rules.common import dedicated_status, imds_exposure, node_groups_label

CNI_ROLE_DOC = "https://docs.aws.amazon.com/eks/latest/userguide/cni-iam-role.html"
IAM_POLICY_DOC = "https://github.com/aws/amazon-vpc-cni-k8s/blob/master/docs/iam-policy.md"
IMDS_DOC = (
    "https://docs.aws.amazon.com/eks/latest/best-practices/identity-and-access-management.html"
)


def _runs(view: ClusterView, r: Rule) -> Iterator[Finding] | None:
    """None when aws-node runs; otherwise the findings to yield instead (unknown, or nothing)."""
    runs, why = view.aws_node_runs
    if runs:
        return None
    if runs is None:
        return iter(
            [
                r.finding(
                    view,
                    "unknown",
                    f"Cannot tell whether aws-node runs: {why}.",
                    evidence={"missing": why},
                )
            ]
        )
    return iter(())


def _incomplete_node_roles(view: ClusterView, r: Rule) -> Iterator[Finding]:
    """Unknowns for node roles that may exist but could not be seen."""
    for group in view.unresolved_node_groups:
        yield r.finding(
            view,
            "unknown",
            f"The role of node group {group.name} is not known.",
            resource=group.name,
            evidence={"node_group": group.name},
            origin=group.origin,
        )
    if view.node_sources_unread:
        yield r.finding(
            view,
            "unknown",
            f"Other node roles may exist: {view.node_sources_unread}.",
            resource=f"{view.cluster.arn}/node-roles",
            evidence={"missing": view.node_sources_unread},
        )


@rule(
    "CNI001",
    "aws-node has no working grant of the CNI's EC2 permissions",
    "critical",
    "permissions",
    "Without the EC2 network-interface permissions aws-node cannot attach ENIs or assign IPs: new "
    "pods hang in ContainerCreating, new nodes stay NotReady and scaling stops.",
    "Give aws-node a dedicated IRSA (or EKS Pod Identity) role with AmazonEKS_CNI_Policy (IPv4) or "
    "the IPv6 CNI policy, bind it through the vpc-cni add-on's serviceAccountRoleArn, restart the "
    "aws-node pods, and verify a test pod gets an IP.",
    references=(CNI_ROLE_DOC, IAM_POLICY_DOC),
    binding=True,
)
def cni001(view: ClusterView, r: Rule) -> Iterator[Finding]:
    skip = _runs(view, r)
    if skip is not None:
        yield from skip
        return
    binding = view.binding
    base = {
        "binding": binding.kind,
        "binding_source": binding.source,
        "ip_family": view.cluster.ip_family,
    }
    if binding.kind in ("irsa", "pod_identity"):
        status = dedicated_status(view)
        resource = binding.role_arn or view.cluster.arn
        evidence = {
            **base,
            "role": binding.role_arn,
            "problems": list(status.problems),
            "unknown": list(status.unknown),
            "causes": list(status.causes),
        }
        if status.works is False:
            yield r.finding(
                view,
                "fail",
                f"aws-node is bound to {binding.kind} role {binding.role_arn} ({binding.reason}), "
                f"but it cannot get the CNI permissions from it: {'; '.join(status.problems)}.",
                resource=resource,
                evidence=evidence,
                origin=view.origin_of(view.dedicated_role),
            )
        elif status.works is None:
            yield r.finding(
                view,
                "unknown",
                f"Cannot verify role {binding.role_arn}: {'; '.join(status.unknown)}.",
                resource=resource,
                evidence=evidence,
            )
        else:
            yield r.finding(
                view,
                "pass",
                f"aws-node gets the CNI permissions from {binding.kind} role {binding.role_arn}.",
                resource=resource,
                evidence=evidence,
            )
        return
    uses = view.node_roles
    if uses is None:
        yield r.finding(
            view,
            "unknown",
            "aws-node falls back to the node role, but the cluster's node groups were not read.",
            evidence={**base, "missing": "node groups"},
        )
        return
    linux = [u for u in uses if u.linux]
    if not linux and not view.unresolved_node_groups and not view.node_sources_unread:
        yield r.finding(
            view,
            "fail",
            "aws-node runs, no dedicated identity is bound and no Linux "
            "node role is known to grant the CNI permissions.",
            evidence=base,
        )
        return
    for use in linux:
        grant = view.role_grant(use.role_arn)
        evidence = {**base, "node_role": use.role_arn, "used_by": list(use.via)}
        origin = view.origin_of(view.index.role(use.role_arn), *use.node_groups)
        if grant is None:
            yield r.finding(
                view,
                "unknown",
                f"Node role {use.role_arn} was not read.",
                resource=use.role_arn,
                evidence=evidence,
            )
            continue
        ok, missing, why = view.check_grant(grant)
        if ok is False:
            evidence["missing_actions"] = list(missing)
            yield r.finding(
                view,
                "fail",
                f"No dedicated identity is bound to aws-node and node role {use.role_arn} "
                f"({node_groups_label(use)}) lacks {', '.join(missing)}: pods on these nodes get no IP.",
                resource=use.role_arn,
                evidence=evidence,
                origin=origin,
            )
        elif ok is None:
            yield r.finding(
                view,
                "unknown",
                f"Node role {use.role_arn}: {why}.",
                resource=use.role_arn,
                evidence=evidence,
            )
        else:
            yield r.finding(
                view,
                "pass",
                f"Node role {use.role_arn} grants the CNI permissions (misplaced: see CNI002).",
                resource=use.role_arn,
                evidence=evidence,
            )
    yield from _incomplete_node_roles(view, r)


@rule(
    "CNI002",
    "A worker-node role grants the CNI's ENI-changing permissions",
    "high",
    "permissions",
    "Everything on a node can use its instance-profile credentials; ENI-changing EC2 permissions on "
    "the node role let any pod that reaches IMDS create, attach or delete network interfaces. The "
    "standard is a dedicated identity for kube-system/aws-node. Critical when pods can reach IMDS "
    "(IMDSv1 allowed or hop limit above 1).",
    "Move the CNI permissions to an IRSA or Pod Identity role for kube-system/aws-node, verify every "
    "aws-node pod runs with it, then detach AmazonEKS_CNI_Policy (or the equivalent statements) from "
    "the node role. Require IMDSv2 with hop limit 1 on the nodes.",
    references=(CNI_ROLE_DOC, IMDS_DOC),
    aws_node=False,
)
def cni002(view: ClusterView, r: Rule) -> Iterator[Finding]:
    uses = view.node_roles
    if uses is None:
        yield r.finding(
            view,
            "unknown",
            "The cluster's node groups were not read.",
            evidence={"missing": "node groups"},
        )
        return
    yield from _incomplete_node_roles(view, r)
    if not uses and not view.unresolved_node_groups and not view.node_sources_unread:
        yield r.finding(view, "pass", "The cluster has no EC2 worker-node roles.")
        return
    works = dedicated_status(view).works
    for use in uses:
        role = view.index.role(use.role_arn)
        origin = view.origin_of(role, *use.node_groups)
        grant = view.role_grant(use.role_arn)
        evidence: dict[str, object] = {"node_role": use.role_arn, "used_by": list(use.via)}
        if grant is None:
            yield r.finding(
                view,
                "unknown",
                f"Node role {use.role_arn} was not read.",
                resource=use.role_arn,
                evidence=evidence,
            )
            continue
        mutating = grant.granted(MUTATING_ACTIONS)
        if not mutating:
            if grant.unknown_reason:
                yield r.finding(
                    view,
                    "unknown",
                    f"Permissions of node role {use.role_arn} could "
                    f"not be evaluated: {grant.unknown_reason}.",
                    resource=use.role_arn,
                    evidence=evidence,
                )
            else:
                yield r.finding(
                    view,
                    "pass",
                    f"Node role {use.role_arn} grants no ENI-changing actions.",
                    resource=use.role_arn,
                    evidence=evidence,
                )
            continue
        reachable, imds = imds_exposure(use.node_groups)
        scoped = [a for a in mutating if grant.level(a) == "scoped"]
        evidence.update(
            policies=list(grant.policies_granting(mutating)),
            actions=list(mutating),
            scoped_actions=scoped,
            pods_reach_imds=reachable,
            imds=imds,
            dedicated_identity_works=works,
        )
        name = role.name if role else use.role_arn.rsplit("/", 1)[-1]
        policies = ", ".join(grant.policies_granting(mutating))
        if works:
            fix = (
                f"aws-node already runs with {view.binding.kind} role {view.binding.role_arn}: "
                f"verify every aws-node pod carries it (CNI015 passes) and a test pod gets an IP, "
                f"then remove {policies} from node role {name} "
                f"(aws iam detach-role-policy --role-name {name} --policy-arn <arn>)."
            )
        else:
            fix = r.remediation
        if reachable:
            fix += (
                " Pods can reach IMDS now: set HttpTokens=required and HttpPutResponseHopLimit=1."
            )
        exposure = {
            True: " Pods can reach these credentials through IMDS.",
            None: " Whether pods can reach IMDS is unknown.",
            False: "",
        }[reachable]
        yield r.finding(
            view,
            "fail",
            f"Node role {use.role_arn} ({node_groups_label(use)}) grants {len(mutating)} "
            f"ENI-changing action(s) through {policies}.{exposure}",
            resource=use.role_arn,
            evidence=evidence,
            remediation=fix,
            origin=origin,
            severity="critical" if reachable else None,
        )


@rule(
    "CNI003",
    "The CNI identity's permissions do not match the cluster's IP family",
    "high",
    "permissions",
    "IPv6 clusters need ec2:AssignIpv6Addresses (the IPv6 CNI policy); the IPv4 policy does not "
    "grant it, and an IPv6-only policy leaves an IPv4 cluster without ENI permissions.",
    "Attach the policy of the cluster's IP family to the CNI identity: AmazonEKS_CNI_Policy for IPv4, "
    "the AmazonEKS_CNI_IPv6_Policy document for IPv6.",
    references=(
        "https://docs.aws.amazon.com/eks/latest/userguide/cni-iam-role.html#cni-iam-role-create-ipv6-policy",
    ),
    binding=True,
)
def cni003(view: ClusterView, r: Rule) -> Iterator[Finding]:
    skip = _runs(view, r)
    if skip is not None:
        yield from skip
        return
    family = view.cluster.ip_family
    if family is None:
        yield r.finding(
            view,
            "unknown",
            "The cluster's IP family was not read.",
            evidence={"missing": "ip_family"},
        )
        return
    binding = view.binding
    if binding.kind in ("irsa", "pod_identity"):
        targets = [binding.role_arn] if binding.role_arn else []
    else:
        targets = [u.role_arn for u in view.node_roles or () if u.linux]
    if not targets:
        yield r.finding(view, "unknown", "No identity of aws-node is known to check.")
        return
    own, other = (
        (ESSENTIAL_IPV6, ESSENTIAL_IPV4) if family == "ipv6" else (ESSENTIAL_IPV4, ESSENTIAL_IPV6)
    )
    for arn in targets:
        grant = view.role_grant(arn)
        if grant is None:
            yield r.finding(view, "unknown", f"Role {arn} was not read.", resource=arn)
            continue
        has_own, has_other = grant.grants(own), grant.grants(other)
        evidence = {
            "ip_family": family,
            "role": arn,
            "missing_actions": list(grant.missing(own)),
            "grants_other_family": has_other,
        }
        if has_own is False and has_other:
            yield r.finding(
                view,
                "fail",
                f"{family.upper()} cluster, but role {arn} grants the "
                f"{'IPv4' if family == 'ipv6' else 'IPv6'} CNI actions and lacks "
                f"{', '.join(grant.missing(own))}.",
                resource=arn,
                evidence=evidence,
                origin=view.origin_of(view.index.role(arn)),
            )
        elif has_own is False and family == "ipv6":
            yield r.finding(
                view,
                "fail",
                f"IPv6 cluster, but role {arn} lacks {', '.join(grant.missing(own))}.",
                resource=arn,
                evidence=evidence,
                origin=view.origin_of(view.index.role(arn)),
            )
        elif has_own is None:
            yield r.finding(
                view,
                "unknown",
                f"Permissions of {arn} could not be evaluated: {grant.unknown_reason}.",
                resource=arn,
                evidence=evidence,
            )
        else:
            yield r.finding(
                view,
                "pass",
                f"Role {arn} grants the {family.upper()} CNI actions"
                if has_own
                else f"Role {arn} grants no IPv6-only permission set "
                "(missing permissions: see CNI001).",
                resource=arn,
                evidence=evidence,
            )


@rule(
    "CNI004",
    "The dedicated CNI role's grant is cancelled",
    "high",
    "permissions",
    "A role bound to aws-node only helps while it exists and its policies take effect: an explicit "
    "Deny, a permissions boundary without the actions, or a deleted role leaves aws-node without "
    "permissions even though the binding looks right.",
    "Remove the Deny (or add the CNI actions to the permissions boundary), or recreate the role with "
    "its trust and policy; then restart aws-node and verify a test pod gets an IP.",
    references=(
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html",
    ),
    binding=True,
)
def cni004(view: ClusterView, r: Rule) -> Iterator[Finding]:
    binding = view.binding
    if binding.kind == "none" or binding.role_arn is None:
        if binding.kind != "none":
            yield r.finding(view, "unknown", "The role bound to aws-node is not known.")
        return
    role = view.dedicated_role
    arn = binding.role_arn
    if role is None:
        yield r.finding(view, "unknown", f"Role {arn} was not read.", resource=arn)
        return
    origin = view.origin_of(role)
    if not role.exists:
        yield r.finding(
            view,
            "fail",
            f"aws-node is bound to role {arn}, which does not exist.",
            resource=arn,
            evidence={"role": arn, "exists": False},
            origin=origin,
        )
        return
    grant = view.dedicated_grant
    assert grant is not None
    denied = {
        a: list(grant.actions[a].denied_by) for a in view.required() if grant.level(a) == "denied"
    }
    if denied:
        by = sorted({d for names in denied.values() for d in names})
        yield r.finding(
            view,
            "fail",
            f"Role {arn} is bound to aws-node, but {', '.join(by)} cancel(s) "
            f"{len(denied)} CNI action(s): {', '.join(denied)}.",
            resource=arn,
            evidence={
                "role": arn,
                "denied": denied,
                "permissions_boundary": role.permissions_boundary_arn,
            },
            origin=origin,
        )
    elif grant.unknown_reason:
        yield r.finding(view, "unknown", f"Role {arn}: {grant.unknown_reason}.", resource=arn)
    else:
        yield r.finding(
            view, "pass", f"Nothing cancels the CNI permissions of role {arn}.", resource=arn
        )


RULES = (cni001, cni002, cni003, cni004)
