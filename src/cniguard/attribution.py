"""Which coverage gaps a cluster's verdicts depend on.

A gap that names a cluster belongs to it. A gap that names only an account (and maybe a region)
is attributed by what it is about, so that one unreadable role does not make every cluster of
the account incomplete:

- an IAM role (``iam:role``, ``iam:role-policies``): the clusters that use it as a node role, as
  aws-node's IRSA / Pod Identity role or as the association's target role;
- a managed policy (``iam:policy``): the clusters whose such roles attach it or use it as their
  permissions boundary;
- the OIDC providers (``iam:oidc-providers``): the clusters of the account whose provider was
  not found among the ones read;
- CloudTrail (``cloudtrail``): an IAM event name read in the account's IAM home region concerns
  every cluster of the account (IAM is global); another event name concerns the clusters of its
  region; a lookup by resource name concerns the clusters using that role or provider.

Anything else that names no cluster (clusters could not be listed, an account could not be
entered, a reader failed unexpectedly) stays account (and region) wide.
"""

from __future__ import annotations

from cniguard.analysis import ClusterView, normalize_role_arn
from cniguard.model.inventory import Gap

ROLE_GAPS = frozenset({"iam:role", "iam:role-policies"})
POLICY_GAPS = frozenset({"iam:policy"})
PROVIDER_GAPS = frozenset({"iam:oidc-providers"})
TRAIL_GAPS = frozenset({"cloudtrail"})
# The change history's event names: IAM ones are logged once, in the partition's home region
IAM_EVENTS = (
    "AttachRolePolicy",
    "DetachRolePolicy",
    "DeleteRolePolicy",
    "PutRolePolicy",
    "UpdateAssumeRolePolicy",
    "DeleteRole",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
    "RemoveRoleFromInstanceProfile",
    "DeleteOpenIDConnectProvider",
    "RemoveClientIDFromOpenIDConnectProvider",
)
REGIONAL_EVENTS = (
    "CreateAddon",
    "UpdateAddon",
    "DeleteAddon",
    "CreatePodIdentityAssociation",
    "UpdatePodIdentityAssociation",
    "DeletePodIdentityAssociation",
    "CreateAccessEntry",
    "DeleteAccessEntry",
    "UpdateClusterConfig",
    "ModifyInstanceMetadataOptions",
    "CreateLaunchTemplateVersion",
    "ModifyLaunchTemplate",
    "ReplaceIamInstanceProfileAssociation",
)


def verdict_roles(view: ClusterView) -> dict[str, str]:
    """Normalised ARN -> ARN of every role this cluster's CNI verdicts read."""
    arns: list[str] = [u.role_arn for u in view.node_roles or ()]
    for arn in (
        view.binding.role_arn,
        view.configured_binding.role_arn,
        view.pod_identity_role or None,
        view.pod_identity_target,
    ):
        if arn:
            arns.append(arn)
    return {normalize_role_arn(a): a for a in arns}


def _uses_policy(view: ClusterView, policy_arn: str) -> bool:
    for arn in verdict_roles(view).values():
        role = view.index.role(arn)
        if role is None:
            continue
        if role.permissions_boundary_arn == policy_arn:
            return True
        if any(p.arn == policy_arn for p in role.policies or ()):
            return True
    return False


def _trail_subjects(view: ClusterView) -> set[str]:
    """Role names and OIDC provider ARNs / hosts the cluster's change history is about."""
    subjects = {arn.rsplit("/", 1)[-1] for arn in verdict_roles(view).values()}
    subjects |= set(verdict_roles(view).values())
    issuer = view.cluster.oidc_issuer
    if issuer:
        host = issuer.removeprefix("https://").rstrip("/")
        subjects.add(host)
        subjects.add(f"arn:aws:iam::{view.cluster.account}:oidc-provider/{host}")
    return subjects


def concerns(view: ClusterView, gap: Gap) -> bool:
    """Whether ``gap`` (one naming no cluster) can change a verdict on this cluster."""
    c = view.cluster
    if gap.account not in (None, c.account):
        return False
    if gap.what in TRAIL_GAPS and gap.resource:
        if gap.resource in IAM_EVENTS:
            return True  # IAM events are global: every cluster of the account
        if gap.region not in (None, c.region):
            return False
        if gap.resource in REGIONAL_EVENTS:
            return True
        return gap.resource in _trail_subjects(view)
    if gap.region not in (None, c.region):
        return False
    if gap.what in ROLE_GAPS and gap.resource:
        return normalize_role_arn(gap.resource) in verdict_roles(view)
    if gap.what in POLICY_GAPS and gap.resource:
        return _uses_policy(view, gap.resource)
    if gap.what in PROVIDER_GAPS:
        return c.oidc_issuer is None or view.oidc_provider is None
    return True


def cluster_gaps(view: ClusterView) -> list[Gap]:
    """Gaps naming this cluster, and the account / region gaps its verdicts depend on."""
    index, c = view.index, view.cluster
    wide = [*index.gaps_by_account.get(c.account, ()), *index.gaps_by_account.get(None, ())]
    return [*index.gaps_by_cluster.get(c.arn, ()), *(g for g in wide if concerns(view, g))]


def trail_gaps(view: ClusterView) -> list[Gap]:
    """The CloudTrail gaps this cluster's change history depends on."""
    return [g for g in cluster_gaps(view) if g.what in TRAIL_GAPS]
