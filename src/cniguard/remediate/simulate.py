"""Apply proposed changes to a copy of the inventory, and say which clusters each one touches.

Pure: the inventory is frozen and every change builds new objects with ``dataclasses.replace``.
"Touched" is conservative on purpose: a cluster is touched when it references a changed role
anywhere (node groups, access entries, aws-auth, add-on, ServiceAccount, pod identity association
and its target, running pods' env), uses a changed OIDC provider's issuer, or shares a role with a
cluster whose own binding or node roles changed (CNI014 judges that sharing). The impact evaluation
re-runs the rules only on touched clusters, so anything a change can alter must be in that set.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from cniguard.analysis import (
    AWS_NODE,
    IRSA_ENV,
    KUBE_SYSTEM,
    POD_IDENTITY_ENV,
    ROLE_ARN_ANNOTATION,
    normalize_role_arn,
)
from cniguard.iam.trust import issuer_host
from cniguard.model.common import JsonDict
from cniguard.model.inventory import (
    Cluster,
    Inventory,
    PodIdentityAssociation,
    PolicyAttachment,
    Role,
)
from cniguard.model.kube import EnvVar, KubeState, Pod
from cniguard.remediate.changes import (
    AttachRolePolicy,
    Change,
    DeleteAccessEntry,
    DeleteAddon,
    DeleteOidcProvider,
    DeletePodIdentityAssociation,
    DeletePolicy,
    DeleteRole,
    DeleteRolePermissionsBoundary,
    DeleteRolePolicy,
    DetachRolePolicy,
    PutRolePermissionsBoundary,
    PutRolePolicy,
    RemoveOidcClientId,
    RemoveRoleFromInstanceProfile,
    SetOidcClientIds,
    SetPolicyDocument,
    UpdateAddon,
    UpdateAssumeRolePolicy,
    UpdatePodIdentityAssociation,
)
from cniguard.remediate.simulate_world import (
    Effect,
    Simulation,
    World,
    arn_account,
)

IDENTITY_ENV = (
    IRSA_ENV,
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    POD_IDENTITY_ENV,
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
)
IRSA_TOKEN_FILE = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"  # noqa: S105
POD_IDENTITY_URI = "http://169.254.170.23/v1/credentials"
POD_IDENTITY_TOKEN_FILE = (
    "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"  # noqa: S105
)


def _policies(world: World, role: Role, effect: Effect) -> tuple[PolicyAttachment, ...] | None:
    if role.policies is None:
        for arn in world.users(role.arn):
            effect.mark_unknown(arn, f"the policies of role {role.arn} were not read")
    return role.policies


def _attach(world: World, change: AttachRolePolicy, effect: Effect) -> None:
    document, version = world.policy_document(change.policy_arn)
    if document is None:
        effect.notes.append(f"the document of {change.policy_arn} is not known")
    for role in world.resolve_roles(change.role, effect):
        policies = _policies(world, role, effect)
        if policies is None or any(p.arn == change.policy_arn for p in policies):
            continue
        name = change.policy_arn.rsplit("/", 1)[-1]
        added = PolicyAttachment(name, "managed", change.policy_arn, document, version)
        world.set_role(role, effect, policies=(*policies, added))


def _detach(world: World, role_ref: str, policy_arn: str, effect: Effect) -> None:
    for role in world.resolve_roles(role_ref, effect):
        policies = _policies(world, role, effect)
        if policies is None:
            continue
        kept = tuple(p for p in policies if not (p.kind == "managed" and p.arn == policy_arn))
        if len(kept) == len(policies):
            effect.notes.append(f"{policy_arn} is not attached to {role.arn}: nothing to detach")
        world.set_role(role, effect, policies=kept)


def _inline(
    world: World, role_ref: str, name: str, document: object, effect: Effect, *, put: bool
) -> None:
    for role in world.resolve_roles(role_ref, effect):
        policies = _policies(world, role, effect)
        if policies is None:
            continue
        kept = tuple(p for p in policies if not (p.kind == "inline" and p.name == name))
        if not put and len(kept) == len(policies):
            effect.notes.append(f"{role.arn} has no inline policy {name}: nothing to delete")
        if put:
            kept = (*kept, PolicyAttachment(name, "inline", document=document))  # type: ignore[arg-type]
        world.set_role(role, effect, policies=kept)


def _boundary(world: World, role_ref: str, arn: str | None, effect: Effect) -> None:
    document = None
    if arn is not None:
        document, _ = world.policy_document(arn)
        if document is None:
            effect.notes.append(f"the document of boundary {arn} is not known")
    for role in world.resolve_roles(role_ref, effect):
        world.set_role(role, effect, permissions_boundary_arn=arn, permissions_boundary=document)


def _policy_everywhere(
    world: World, arn: str, document: JsonDict | str | None, effect: Effect, *, delete: bool
) -> None:
    """A managed policy's document changes (or the policy goes) for every role using it."""
    account = arn_account(arn)
    for role in list(world.roles.values()):
        if role.policies is None and account in ("aws", role.account):
            for cluster_arn in world.users(role.arn):
                effect.mark_unknown(
                    cluster_arn, f"the policies of role {role.arn} were not read: it may use {arn}"
                )
            continue
        fields: dict[str, object] = {}
        if any(p.arn == arn for p in role.policies or ()):
            fields["policies"] = tuple(
                p if p.arn != arn else replace(p, document=document, version=None)
                for p in role.policies or ()
                if not (delete and p.arn == arn)
            )
        if role.permissions_boundary_arn == arn:
            fields["permissions_boundary"] = document
            if delete:
                fields["permissions_boundary_arn"] = None
        if fields:
            world.set_role(role, effect, **fields)
    if not effect.touched:
        effect.notes.append(f"no role in the inventory uses {arn}")


def _instance_profile(world: World, change: RemoveRoleFromInstanceProfile, effect: Effect) -> None:
    profile = change.instance_profile.rsplit("/", 1)[-1]
    for role in world.resolve_roles(change.role, effect):
        key = normalize_role_arn(role.arn)
        gone = (
            f"{role.arn.split(':role/', 1)[0]}:role/(none: removed from instance profile {profile})"
        )
        world.roles.setdefault(gone, Role(gone, f"(none: {profile})", role.account, exists=False))
        effect.notes.append(
            f"the inventory does not record which instance profile a node group uses: every node "
            f"group running with {role.arn} is treated as losing it (pessimistic)"
        )
        for cluster in list(world.clusters.values()):
            groups = cluster.node_groups or ()
            if not any(g.role_arn and normalize_role_arn(g.role_arn) == key for g in groups):
                continue
            new_groups = tuple(
                replace(g, role_arn=gone)
                if g.role_arn and normalize_role_arn(g.role_arn) == key
                else g
                for g in groups
            )
            world.set_cluster(cluster, replace(cluster, node_groups=new_groups), effect)


# --- OIDC providers ----------------------------------------------------------------------------


def _provider_users(world: World, host: str) -> set[str]:
    return {
        c.arn
        for c in world.clusters.values()
        if c.oidc_issuer and issuer_host(c.oidc_issuer).lower() == host.lower()
    }


def _provider(world: World, arn: str, effect: Effect, client_ids: Iterable[str] | None) -> None:
    """Delete the provider (client_ids None) or set its client ids."""
    host = arn.split(":oidc-provider/", 1)[-1]
    effect.touched |= _provider_users(world, host)
    found = [p for p in world.providers if p.arn.lower() == arn.lower()]
    if not found:
        account = arn_account(arn)
        if account not in world.inventory.oidc_providers_read:
            for cluster_arn in _provider_users(world, host):
                effect.mark_unknown(
                    cluster_arn, f"the OIDC providers of account {account} were not read"
                )
        effect.notes.append(f"OIDC provider {arn} is not in the inventory")
        return
    if client_ids is None:
        world.providers = [p for p in world.providers if p not in found]
    else:
        ids = tuple(client_ids)
        world.providers = [replace(p, client_ids=ids) if p in found else p for p in world.providers]


# --- cluster changes ----------------------------------------------------------------------------


def _aws_node_sa(kube: KubeState) -> str:
    ds = next(
        (d for d in kube.daemonsets or () if d.namespace == KUBE_SYSTEM and d.name == AWS_NODE),
        None,
    )
    return ds.service_account if ds else AWS_NODE


def _set_annotation(cluster: Cluster, role_arn: str | None) -> Cluster:
    """EKS writes the add-on's serviceAccountRoleArn onto the aws-node ServiceAccount."""
    kube = cluster.kube
    if kube is None or kube.service_accounts is None:
        return cluster
    name = _aws_node_sa(kube)
    accounts = []
    for sa in kube.service_accounts:
        if sa.namespace == KUBE_SYSTEM and sa.name == name:
            notes = {k: v for k, v in sa.annotations.items() if k != ROLE_ARN_ANNOTATION}
            annotations = {**notes, ROLE_ARN_ANNOTATION: role_arn} if role_arn else notes
            accounts.append(replace(sa, annotations=annotations))
        else:
            accounts.append(sa)
    return replace(cluster, kube=replace(kube, service_accounts=tuple(accounts)))


def _restart_aws_node(cluster: Cluster, effect: Effect) -> Cluster:
    """aws-node pods as they start after the change: the webhooks inject the identity that the
    ServiceAccount annotation or the pod identity association names (new nodes get this too)."""
    kube = cluster.kube
    if kube is None or kube.pods is None:
        return cluster
    if kube.service_accounts is None:
        effect.mark_unknown(
            cluster.arn,
            "the aws-node ServiceAccount was not read: which identity restarted pods get is unknown",
        )
        return cluster
    name = _aws_node_sa(kube)
    sa = next(
        (s for s in kube.service_accounts if s.namespace == KUBE_SYSTEM and s.name == name), None
    )
    role = sa.annotations.get(ROLE_ARN_ANNOTATION) if sa else None
    env: tuple[EnvVar, ...] = ()
    if role:
        env = (EnvVar(IRSA_ENV, role), EnvVar("AWS_WEB_IDENTITY_TOKEN_FILE", IRSA_TOKEN_FILE))
    elif any(
        a.namespace == KUBE_SYSTEM and a.service_account == name
        for a in cluster.pod_identity_associations or ()
    ):
        env = (
            EnvVar(POD_IDENTITY_ENV, POD_IDENTITY_URI),
            EnvVar("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", POD_IDENTITY_TOKEN_FILE),
        )

    def restarted(pod: Pod) -> Pod:
        if pod.namespace != KUBE_SYSTEM or not (
            (pod.labels or {}).get("k8s-app") == AWS_NODE or pod.owner_name == AWS_NODE
        ):
            return pod
        containers = tuple(
            replace(c, env=(*(v for v in c.env if v.name not in IDENTITY_ENV), *env))
            for c in pod.containers
        )
        return replace(pod, containers=containers)

    return replace(cluster, kube=replace(kube, pods=tuple(restarted(p) for p in kube.pods)))


def _owned_by(arn: str | None, owner: str | None, addon_arns: tuple[str, ...], addon: str) -> bool:
    return (arn is not None and arn in addon_arns) or (
        owner is not None and ":addon/" in owner and f"/{addon}/" in owner
    )


def _update_addon(world: World, change: UpdateAddon, effect: Effect) -> None:
    for cluster in world.resolve_clusters(change.cluster, effect):
        if cluster.addons is None:
            effect.mark_unknown(cluster.arn, "the cluster's add-ons were not read")
            continue
        addon = next((a for a in cluster.addons if a.name == change.addon), None)
        if addon is None:
            effect.notes.append(
                f"{cluster.name} has no {change.addon} add-on: the call would fail "
                "(ResourceNotFoundException); nothing changes"
            )
            continue
        new = addon
        updated = cluster
        if change.set_role:
            new = replace(new, service_account_role_arn=change.role_arn)
            if change.addon == "vpc-cni":
                updated = _set_annotation(updated, change.role_arn)
        if change.set_associations:
            pias = updated.pod_identity_associations
            if pias is not None:
                kept = tuple(
                    p
                    for p in pias
                    if not _owned_by(
                        p.arn, p.owner_arn, addon.pod_identity_association_arns, addon.name
                    )
                )
                added = tuple(
                    PodIdentityAssociation(None, KUBE_SYSTEM, sa, role)
                    for sa, role in change.associations
                )
                updated = replace(updated, pod_identity_associations=kept + added)
            new = replace(new, pod_identity_association_arns=())
        addons = tuple(new if a is addon else a for a in cluster.addons)
        updated = replace(updated, addons=addons)
        if change.addon == "vpc-cni":
            updated = _restart_aws_node(updated, effect)
        world.set_cluster(cluster, updated, effect)


def _delete_addon(world: World, change: DeleteAddon, effect: Effect) -> None:
    for cluster in world.resolve_clusters(change.cluster, effect):
        if cluster.addons is None:
            effect.mark_unknown(cluster.arn, "the cluster's add-ons were not read")
            continue
        addon = next((a for a in cluster.addons if a.name == change.addon), None)
        if addon is None:
            effect.notes.append(f"{cluster.name} has no {change.addon} add-on: nothing to delete")
            continue
        updated = replace(cluster, addons=tuple(a for a in cluster.addons if a is not addon))
        if not change.preserve and updated.pod_identity_associations is not None:
            updated = replace(
                updated,
                pod_identity_associations=tuple(
                    p
                    for p in updated.pod_identity_associations
                    if not _owned_by(
                        p.arn, p.owner_arn, addon.pod_identity_association_arns, addon.name
                    )
                ),
            )
        if change.addon == "vpc-cni" and not change.preserve:
            effect.mark_unknown(
                cluster.arn,
                "deleting the vpc-cni add-on without preserve removes aws-node itself: new pods "
                "get no IP whatever IAM grants (the rules judge IAM, not a cluster without its CNI)",
            )
        if change.addon == "vpc-cni":
            updated = _restart_aws_node(updated, effect)
        world.set_cluster(cluster, updated, effect)


def _pia_matches(arn: str | None, ref: str) -> bool:
    return arn is not None and (arn == ref or arn.endswith(f"/{ref}"))


def _pod_identity(
    world: World,
    change: DeletePodIdentityAssociation | UpdatePodIdentityAssociation,
    effect: Effect,
) -> None:
    for cluster in world.resolve_clusters(change.cluster, effect):
        pias = cluster.pod_identity_associations
        if pias is None:
            effect.mark_unknown(
                cluster.arn, "the cluster's pod identity associations were not read"
            )
            continue
        found = [p for p in pias if _pia_matches(p.arn, change.association)]
        if not found:
            effect.notes.append(
                f"{cluster.name} has no pod identity association {change.association}"
            )
            continue
        if isinstance(change, DeletePodIdentityAssociation):
            new = tuple(p for p in pias if p not in found)
        else:
            fields: dict[str, object] = {}
            if change.role_arn is not None:
                fields["role_arn"] = change.role_arn
            if change.set_target:
                fields["target_role_arn"] = change.target_role_arn
            new = tuple(replace(p, **fields) if p in found else p for p in pias)  # type: ignore[arg-type]
        updated = _restart_aws_node(replace(cluster, pod_identity_associations=new), effect)
        world.set_cluster(cluster, updated, effect)


def _access_entry(world: World, change: DeleteAccessEntry, effect: Effect) -> None:
    key = normalize_role_arn(change.principal_arn)
    for cluster in world.resolve_clusters(change.cluster, effect):
        entries = cluster.access_entries
        if entries is None:
            effect.mark_unknown(cluster.arn, "the cluster's access entries were not read")
            continue
        kept = tuple(e for e in entries if normalize_role_arn(e.principal_arn) != key)
        if len(kept) == len(entries):
            effect.notes.append(f"{cluster.name} has no access entry for {change.principal_arn}")
            continue
        world.set_cluster(cluster, replace(cluster, access_entries=kept), effect)


def _apply(world: World, change: Change, effect: Effect) -> None:
    match change:
        case AttachRolePolicy():
            _attach(world, change, effect)
        case DetachRolePolicy(role=role, policy_arn=arn):
            _detach(world, role, arn, effect)
        case DeleteRolePolicy(role=role, policy_name=name):
            _inline(world, role, name, None, effect, put=False)
        case PutRolePolicy(role=role, policy_name=name, document=document):
            _inline(world, role, name, document, effect, put=True)
        case DeleteRole(role=ref):
            for found in world.resolve_roles(ref, effect):
                world.set_role(found, effect, exists=False)
        case UpdateAssumeRolePolicy(role=ref, document=document):
            for found in world.resolve_roles(ref, effect):
                world.set_role(found, effect, trust_policy=document)
        case PutRolePermissionsBoundary(role=role, policy_arn=arn):
            _boundary(world, role, arn, effect)
        case DeleteRolePermissionsBoundary(role=role):
            _boundary(world, role, None, effect)
        case SetPolicyDocument(policy_arn=arn, document=document):
            if document is None:
                effect.notes.append(f"the new default version of {arn} is not known")
            _policy_everywhere(world, arn, document, effect, delete=False)
        case DeletePolicy(policy_arn=arn):
            effect.notes.append(
                "AWS refuses DeletePolicy while the policy is attached (DeleteConflict): "
                "evaluated as if it were first detached from every role"
            )
            _policy_everywhere(world, arn, None, effect, delete=True)
        case RemoveRoleFromInstanceProfile():
            _instance_profile(world, change, effect)
        case DeleteOidcProvider(provider_arn=arn):
            _provider(world, arn, effect, None)
        case RemoveOidcClientId(provider_arn=arn, client_id=client_id):
            current = next((p for p in world.providers if p.arn.lower() == arn.lower()), None)
            ids = [i for i in current.client_ids if i != client_id] if current else []
            _provider(world, arn, effect, ids)
        case SetOidcClientIds(provider_arn=arn, client_ids=ids):
            _provider(world, arn, effect, ids)
        case UpdateAddon():
            _update_addon(world, change, effect)
        case DeleteAddon():
            _delete_addon(world, change, effect)
        case DeletePodIdentityAssociation() | UpdatePodIdentityAssociation():
            _pod_identity(world, change, effect)
        case DeleteAccessEntry():
            _access_entry(world, change, effect)


def apply_changes(inventory: Inventory, changes: Iterable[Change]) -> Simulation:
    """The inventory after ``changes`` (in order), and what each change touched."""
    world = World(inventory)
    effects = []
    for change in changes:
        effect = Effect(change)
        _apply(world, change, effect)
        effects.append(effect)
    return Simulation(inventory, world.build(), tuple(effects))
