"""The working copy changes are applied to, and what each change did (touched clusters, notes,
unknowns). Pure: the inventory is frozen; the world rebuilds it with ``dataclasses.replace``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from cniguard.analysis import IRSA_ENV, ROLE_ARN_ANNOTATION, normalize_role_arn
from cniguard.collect.iac.managed_policies import aws_managed_document
from cniguard.model.common import JsonDict
from cniguard.model.inventory import Cluster, Inventory, OidcProvider, Role
from cniguard.remediate.changes import Change


@dataclass
class Effect:
    """What one change did: the clusters it touches, notes, and why some of them are unknown."""

    change: Change
    touched: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    unknown: dict[str, list[str]] = field(default_factory=dict)  # cluster ARN -> reasons

    def mark_unknown(self, cluster_arn: str, reason: str) -> None:
        self.touched.add(cluster_arn)
        reasons = self.unknown.setdefault(cluster_arn, [])
        if reason not in reasons:
            reasons.append(reason)


@dataclass(frozen=True)
class Simulation:
    before: Inventory
    after: Inventory
    effects: tuple[Effect, ...]

    @property
    def touched(self) -> set[str]:
        return {arn for e in self.effects for arn in e.touched}


def role_refs(cluster: Cluster) -> set[str]:
    """Every role ARN (normalised) this cluster refers to, wherever it is named."""
    refs: set[str | None] = {cluster.auto_mode_node_role_arn}
    refs.update(g.role_arn for g in cluster.node_groups or ())
    refs.update(f.pod_execution_role_arn for f in cluster.fargate_profiles or ())
    refs.update(e.principal_arn for e in cluster.access_entries or ())
    refs.update(a.service_account_role_arn for a in cluster.addons or ())
    for pia in cluster.pod_identity_associations or ():
        refs.update((pia.role_arn, pia.target_role_arn))
    kube = cluster.kube
    if kube is not None:
        refs.update(m.role_arn for m in kube.aws_auth or ())
        refs.update(sa.annotations.get(ROLE_ARN_ANNOTATION) for sa in kube.service_accounts or ())
        for pod in kube.pods or ():
            refs.update(c.env_value(IRSA_ENV) for c in pod.containers)
    return {normalize_role_arn(r) for r in refs if r}


def is_arn(ref: str) -> bool:
    return ref.startswith("arn:")


def arn_account(arn: str) -> str | None:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[4] else None


class World:
    """The mutable working copy the changes are applied to, in order."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.roles: dict[str, Role] = {r.arn: r for r in inventory.roles}
        self.providers: list[OidcProvider] = list(inventory.oidc_providers)
        self.clusters: dict[str, Cluster] = {c.arn: c for c in inventory.clusters}
        self.refs: dict[str, set[str]] = {}
        for c in inventory.clusters:
            self._index(c)

    def _index(self, cluster: Cluster) -> set[str]:
        refs = role_refs(cluster)
        for ref in refs:
            self.refs.setdefault(ref, set()).add(cluster.arn)
        return refs

    # --- lookups ---------------------------------------------------------------------------
    def users(self, role_arn: str) -> set[str]:
        return set(self.refs.get(normalize_role_arn(role_arn), ()))

    def iam_unread(self, account: str) -> bool:
        if account not in self.inventory.accounts:
            return True
        return any(
            g.what.startswith("iam") and g.cluster is None and g.account in (account, None)
            for g in self.inventory.gaps
        )

    def resolve_roles(self, ref: str, effect: Effect) -> list[Role]:
        if is_arn(ref):
            found = self.roles.get(ref) or next(
                (
                    r
                    for r in self.roles.values()
                    if normalize_role_arn(r.arn) == normalize_role_arn(ref)
                ),
                None,
            )
            matches = [found] if found else []
        else:
            matches = [r for r in self.roles.values() if r.name == ref]
            if len(matches) > 1:
                effect.notes.append(
                    f"role name {ref} matches {len(matches)} roles "
                    f"({', '.join(r.arn for r in matches)}): applied to all of them"
                )
        if not matches:
            self._unresolved_role(ref, effect)
        return matches

    def _unresolved_role(self, ref: str, effect: Effect) -> None:
        """A role absent from the inventory touches no cluster, unless it may be unread."""
        reason = f"role {ref} is not in the inventory (not read)"
        if is_arn(ref):
            for arn in self.users(ref):
                effect.mark_unknown(arn, reason)
            accounts = {arn_account(ref)} - {None}
        else:
            for role_ref, users in self.refs.items():
                if role_ref.rsplit("/", 1)[-1] == ref:
                    for arn in users:
                        effect.mark_unknown(arn, reason)
            accounts = {c.account for c in self.clusters.values()}
        for account in sorted(a for a in accounts if a and self.iam_unread(a)):
            for c in self.clusters.values():
                if c.account == account:
                    effect.mark_unknown(
                        c.arn, f"the IAM of account {account} was not read: {ref} may be its role"
                    )
        if not effect.touched:
            effect.notes.append(
                f"role {ref} is not in the inventory: the change touches no cluster"
            )

    def resolve_clusters(self, ref: str, effect: Effect) -> list[Cluster]:
        matches = [c for c in self.clusters.values() if ref in (c.arn, c.name)]
        if len(matches) > 1:
            effect.notes.append(
                f"cluster name {ref} matches {len(matches)} clusters: applied to all of them"
            )
        if not matches:
            effect.notes.append(f"cluster {ref} is not in the inventory: the change touches none")
        return matches

    def policy_document(self, arn: str) -> tuple[JsonDict | str | None, str | None]:
        """A managed policy's document: from any role carrying it, else the bundled AWS copy."""
        for role in self.roles.values():
            for p in role.policies or ():
                if p.arn == arn and p.document is not None:
                    return p.document, p.version
            if role.permissions_boundary_arn == arn and role.permissions_boundary is not None:
                return role.permissions_boundary, None
        bundled = aws_managed_document(arn)
        return bundled if bundled else (None, None)

    # --- writes ----------------------------------------------------------------------------
    def set_role(self, role: Role, effect: Effect, **fields: object) -> None:
        self.roles[role.arn] = replace(role, **fields)  # type: ignore[arg-type]
        effect.touched |= self.users(role.arn)

    def set_cluster(self, old: Cluster, new: Cluster, effect: Effect) -> None:
        """Replace a cluster; it and every cluster sharing a role with it (before or after) are
        touched, since role usage across clusters changes (CNI014)."""
        self.clusters[old.arn] = new
        effect.touched.add(old.arn)
        for ref in role_refs(old) | self._index(new):
            effect.touched |= self.refs.get(ref, set())

    def build(self) -> Inventory:
        return replace(
            self.inventory,
            roles=tuple(self.roles.values()),
            oidc_providers=tuple(self.providers),
            clusters=tuple(self.clusters.values()),
        )


# --- role changes ----------------------------------------------------------------------------
