"""`cniguard plan`: the exact, ordered migration of aws-node's CNI permissions off the node role.

Pure: derived from the same facts the rules use (binding, node roles, OIDC provider, IP family,
the report's identity modes), so a plan never disagrees with the audit. The order is the one that
cannot break a running cluster (domain.md A2): provider or agent → role with the exact trust →
the policy of the cluster's IP family → bind → restart aws-node → every aws-node pod on the new
identity → a test pod gets an IP on every node group → only then detach from every node role, and
never from a role another cluster still depends on → verify again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from cniguard.analysis import KUBE_SYSTEM, ClusterView, InventoryIndex, normalize_role_arn, roles_in
from cniguard.config import Config
from cniguard.engine import evaluate
from cniguard.iam.actions import ALL_CNI_ACTIONS, MUTATING_ACTIONS
from cniguard.iam.policy import PolicyParseError, parse_statements
from cniguard.model.codec import InputError, inventory_fingerprint
from cniguard.model.finding import ClusterResult, Report
from cniguard.model.inventory import Cluster, Inventory, PolicyAttachment
from cniguard.remediate import steps as S
from cniguard.remediate.plan_model import ClusterPlan, Plan, Step, Target, canonical_document
from cniguard.remediate.trust import (
    IPV6_POLICY_NAME,
    cni_policy_arn,
    irsa_trust,
    partition_of,
    pod_identity_trust,
    provider_arn,
)
from cniguard.rules.common import dedicated_status

DEFAULT_ROLE_NAME = "AmazonEKSVPCCNIRole-{cluster}"
MAX_ROLE_NAME = 64
# Modes whose aws-node does not depend on a node role's CNI grant.
_INDEPENDENT = ("irsa", "pod_identity", "not_applicable")


@dataclass(frozen=True)
class PlanOptions:
    target: Target
    role_name: str = DEFAULT_ROLE_NAME  # "{cluster}" is replaced by the cluster's name
    contexts: dict[str, str] | None = None  # cluster name or ARN -> kubeconfig context
    verify_timeout: int = 120


def select_clusters(inventory: Inventory, wanted: Sequence[str]) -> list[Cluster]:
    """The clusters named by name or ARN; an unknown or ambiguous name is an InputError."""
    chosen: dict[str, Cluster] = {}
    for name in wanted:
        found = [c for c in inventory.clusters if name in (c.arn, c.name)]
        if not found:
            known = ", ".join(sorted(c.name for c in inventory.clusters)[:10]) or "none"
            raise InputError(f"no cluster {name!r} in the inventory (clusters: {known})")
        if len(found) > 1:
            arns = ", ".join(c.arn for c in found)
            raise InputError(f"cluster name {name!r} is ambiguous; use one of: {arns}")
        chosen.setdefault(found[0].arn, found[0])
    return list(chosen.values())


def build_plan(
    inventory: Inventory,
    clusters: Sequence[str],
    options: PlanOptions,
    config: Config | None = None,
    *,
    report: Report | None = None,
    generated_at: str | None = None,
) -> Plan:
    config = config or Config()
    selected = select_clusters(inventory, clusters)
    report = report or evaluate(inventory, config)
    index = InventoryIndex(inventory)
    views = {c.arn: ClusterView(c, index, config) for c in inventory.clusters}
    index.role_usage = roles_in(views.values())
    results = {r.arn: r for r in report.clusters}
    planner = _Planner(inventory, report, views, results, options, config)
    return Plan(
        generated_at=generated_at
        or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        inventory_fingerprint=inventory_fingerprint(inventory),
        clusters=tuple(planner.cluster(views[c.arn]) for c in selected),
    )


def node_role_dependents(
    report: Report, views: Sequence[ClusterView], role_arn: str, *, except_cluster: str
) -> list[str]:
    """Other clusters whose aws-node may still need ``role_arn``'s CNI grant (any account or
    region of the inventory): their CNI does not run on a dedicated identity known to work."""
    modes = {r.arn: r for r in report.clusters}
    key = normalize_role_arn(role_arn)
    found = []
    for view in views:
        arn = view.cluster.arn
        if arn == except_cluster or view.node_roles is None:
            continue
        if not any(normalize_role_arn(u.role_arn) == key for u in view.node_roles):
            continue
        result = modes.get(arn)
        mode = result.cni_identity if result else "unknown"
        works = dedicated_status(view).works if mode == "mixed" else None
        if mode in _INDEPENDENT or (mode == "mixed" and works):
            continue
        found.append(f"{view.cluster.name} ({arn}, mode {mode})")
    return found


def unread_clusters(inventory: Inventory, account: str) -> str | None:
    """Why clusters of ``account`` (any region: IAM roles are global) may exist unseen, or None.
    A node role is only safe to change when every cluster that could use it was read."""
    if inventory.kind != "live":
        return None
    scope = inventory.meta.get("scope")
    if not isinstance(scope, dict):
        return "the inventory does not record what it was narrowed to (collect it again)"
    if scope.get("clusters"):
        return f"only clusters {', '.join(scope['clusters'])} were read"
    if scope.get("regions"):
        return f"only regions {', '.join(scope['regions'])} were read"
    for gap in inventory.gaps:
        if gap.account == account and gap.operation == "eks:ListClusters":
            return f"the clusters of {account} in {gap.region} could not be listed ({gap.reason})"
    return None


class _Planner:
    def __init__(
        self,
        inventory: Inventory,
        report: Report,
        views: dict[str, ClusterView],
        results: dict[str, ClusterResult],
        options: PlanOptions,
        config: Config,
    ) -> None:
        self.inventory = inventory
        self.report = report
        self.views = views
        self.results = results
        self.options = options
        self.config = config

    def failing(self, cluster_arn: str, rule_id: str) -> bool:
        return any(
            f.cluster == cluster_arn and f.rule_id == rule_id and f.status == "fail"
            for f in self.report.findings
        )

    def cluster(self, view: ClusterView) -> ClusterPlan:
        c = view.cluster
        result = self.results[c.arn]
        base = ClusterPlan(
            cluster=c.name,
            arn=c.arn,
            account=c.account,
            region=c.region,
            target=self.options.target,
            status="blocked",
            mode=result.cni_identity,
        )
        blocked = self._cluster_blockers(view, result)
        if blocked:
            return replace(base, blocked_by=tuple(blocked))
        if result.compliant:
            return replace(
                base,
                status="nothing_to_do",
                role_arn=view.binding.role_arn,
                warnings=(f"aws-node already runs on a working {result.cni_identity} role",),
            )
        ctx = _Context(self, view)
        try:
            steps = ctx.steps()
        except _Blocked as exc:
            return replace(base, blocked_by=(str(exc),), warnings=tuple(ctx.warnings))
        step_blocks = [f"step {s.id}: {b}" for s in steps for b in s.blocked_by]
        return replace(
            base,
            status="blocked" if step_blocks else "ready",
            blocked_by=tuple(step_blocks),
            warnings=tuple(dict.fromkeys(ctx.warnings)),
            steps=tuple(steps),
            role_arn=ctx.role_arn,
        )

    def _cluster_blockers(self, view: ClusterView, result: ClusterResult) -> list[str]:
        c = view.cluster
        if not c.arn.startswith("arn:"):
            return [
                "a plan needs a live inventory (`cniguard scan`/`collect`); for IaC, change "
                "the code: see the findings of `cniguard iac`"
            ]
        if result.cni_identity == "not_applicable":
            return [f"aws-node does not run here: {'; '.join(result.reasons)}"]
        if result.cni_identity == "unknown":
            return [
                "the CNI identity mode is unknown: "
                + "; ".join(result.reasons)
                + " (re-scan with Kubernetes access, e.g. --kube-context, and the missing "
                "permissions)"
            ]
        out = []
        if c.ip_family is None:
            out.append("the cluster's IP family was not read: the policy to attach is not known")
        if view.vpc_cni_addon is None:
            out.append(
                "the cluster's add-ons were not read: whether EKS manages aws-node is not known"
            )
        if self.options.target == "irsa" and c.oidc_issuer is None:
            out.append("the cluster's OIDC issuer was not read")
        return out


class _Blocked(Exception):
    """The cluster cannot be planned; the message says why."""


class _Context:
    """Planning of one cluster: which role, which steps."""

    def __init__(self, planner: _Planner, view: ClusterView) -> None:
        self.p = planner
        self.view = view
        self.c = view.cluster
        self.target = planner.options.target
        self.partition = partition_of(self.c.arn)
        self.sa = view.service_account_name
        self.context = (planner.options.contexts or {}).get(self.c.name) or (
            planner.options.contexts or {}
        ).get(self.c.arn, self.c.arn)
        self.warnings: list[str] = []
        self.role_arn: str | None = None

    def ops(self, step: S.StepSpec) -> Step:
        return S.finish(step, region=self.c.region, context=self.context)

    def steps(self) -> list[Step]:
        view = self.view
        if view.daemonset is None:
            self.warnings.append(
                "the aws-node DaemonSet was not read: the plan assumes its ServiceAccount is "
                f"{KUBE_SYSTEM}/{self.sa}"
            )
        binding = view.binding
        if binding.kind in ("irsa", "pod_identity") and binding.kind != self.target:
            raise _Blocked(
                f"aws-node already uses {binding.kind} role {binding.role_arn}; switching between "
                "IRSA and Pod Identity is not planned (plan with --to "
                f"{binding.kind.replace('_', '-')})"
            )
        steps: list[Step] = []
        steps += self.prerequisites()
        existing = self.reusable_role()
        steps += self.role(existing)
        steps += self.policy(existing)
        bind = self.bind()
        steps += bind
        if bind or self.pods_stale():
            steps.append(self.ops(S.restart(self.c, self.sa)))
        steps.append(self.ops(S.check_identity(self.c, self.target, self.role_arn)))
        steps.append(self.ops(S.test_pods(self.c, self.p.options.verify_timeout, "verify-network")))
        detach = self.detach()
        steps += detach
        if detach:
            steps.append(
                self.ops(S.test_pods(self.c, self.p.options.verify_timeout, "verify-after"))
            )
        return steps

    def reusable_role(self) -> str | None:
        """The bound dedicated role, when fixing it in place is safe: it is not shared with another
        cluster (a change for this one would break the others) and no Deny or boundary cancels it.
        Otherwise the plan makes a new role for this cluster and leaves the old one unchanged."""
        binding = self.view.binding
        if binding.kind != self.target or binding.role_arn is None:
            return None
        role = self.view.index.role(binding.role_arn)
        if role is None:
            raise _Blocked(f"the bound role {binding.role_arn} was not read")
        others = self._other_users(binding.role_arn)
        if others:
            self.warnings.append(
                f"aws-node's role {binding.role_arn} is also the CNI role of "
                f"{', '.join(others)} (CNI014): this cluster gets a role of its own and the shared "
                "one is left unchanged"
            )
            return None
        status = dedicated_status(self.view)
        if not role.exists or "CNI004" in status.causes:
            self.warnings.append(
                f"aws-node's role {binding.role_arn} cannot grant the CNI's actions "
                f"({'; '.join(status.problems)}): a new role replaces it; the old one is left "
                "unchanged"
            )
            return None
        return role.arn

    def _other_users(self, role_arn: str) -> list[str]:
        return sorted(
            {
                cluster
                for cluster, how in self.view.index.role_usage.get(normalize_role_arn(role_arn), [])
                if cluster != self.c.arn and how.startswith("aws-node")
            }
        )

    # --- 1. OIDC provider or Pod Identity agent -------------------------------------------------
    def prerequisites(self) -> list[Step]:
        c = self.c
        if self.target == "pod_identity":
            addons = self.c.addons or ()
            if any(a.name == "eks-pod-identity-agent" for a in addons):
                return [self.ops(S.agent_check(c))]
            if c.auto_mode:
                self.warnings.append(
                    "Auto Mode nodes run the Pod Identity agent themselves; the add-on is "
                    "installed for the other nodes"
                )
            return [self.ops(S.agent_install(c))]
        assert c.oidc_issuer is not None
        provider = self.view.oidc_provider
        arn = provider_arn(self.partition, c.account, c.oidc_issuer)
        if provider is None:
            raise _Blocked("the account's IAM OIDC providers were not read")
        if provider is False:
            return [self.ops(S.provider_create(c, arn, self.tags()))]
        if "sts.amazonaws.com" not in provider.client_ids:
            return [self.ops(S.provider_client_id(c, provider.arn, provider.client_ids))]
        return [self.ops(S.provider_check(c, provider.arn))]

    # --- 2. the role and its trust ---------------------------------------------------------------
    def trust(self) -> dict[str, Any]:
        c = self.c
        if self.target == "irsa":
            assert c.oidc_issuer is not None
            return irsa_trust(self.partition, c.account, c.oidc_issuer, KUBE_SYSTEM, self.sa)
        return pod_identity_trust(c.arn, KUBE_SYSTEM, self.sa)

    def role(self, existing: str | None) -> list[Step]:
        c = self.c
        if existing is not None:
            role = self.view.index.role(existing)
            assert role is not None
            self.role_arn = role.arn
            if self.p.failing(c.arn, "CNI012") or self.p.failing(c.arn, "CNI013"):
                return [self.ops(S.trust_update(role.name, role.trust_policy, self.trust()))]
            return [self.ops(S.trust_check(role.name))]
        name = self.p.options.role_name.replace("{cluster}", c.name)[:MAX_ROLE_NAME]
        arn = f"arn:{self.partition}:iam::{c.account}:role/{name}"
        self.role_arn = arn
        role = self.view.index.role(arn)
        if role is not None and role.exists:
            if canonical_document(role.trust_policy) != canonical_document(self.trust()):
                raise _Blocked(
                    f"role {name} already exists with another trust policy; choose another "
                    "name with --role-name"
                )
            others = self._other_users(arn)
            if others:
                raise _Blocked(
                    f"role {name} is already the CNI role of {', '.join(others)}; "
                    "choose another name with --role-name"
                )
            return [self.ops(S.trust_check(name))]
        return [self.ops(S.role_create(name, self.trust(), self.tags(), c))]

    def tags(self) -> list[dict[str, str]]:
        """The required tags, with the cluster's values; missing ones are named once."""
        tags = self.c.tags or {}
        out = [{"Key": "created-by", "Value": "cniguard"}]
        out += [{"Key": k, "Value": tags[k]} for k in self.p.config.required_tags if k in tags]
        missing = [k for k in self.p.config.required_tags if k not in tags]
        if missing:
            self.warnings.append(
                f"the cluster has no {', '.join(missing)} tag(s), so the new resources lack them "
                "too (CNI021): tag the cluster, or tag the role after the plan"
            )
        return out

    # --- 3. the policy of the cluster's IP family ------------------------------------------------
    def policy(self, existing: str | None) -> list[Step]:
        c = self.c
        assert self.role_arn is not None and c.ip_family is not None
        role_name = self.role_arn.rsplit("/", 1)[-1]
        if existing is not None:
            grant = self.view.dedicated_grant
            if grant is not None and self.view.check_grant(grant)[0]:
                return []
        arn = cni_policy_arn(self.partition, c.account, c.ip_family)
        steps = []
        if c.ip_family == "ipv6" and not self._policy_known(arn):
            steps.append(self.ops(S.policy_create(IPV6_POLICY_NAME, arn, self.partition)))
        steps.append(self.ops(S.attach(role_name, arn)))
        return steps

    def _policy_known(self, arn: str) -> bool:
        return any(
            p.arn == arn
            for r in self.p.inventory.roles
            for p in r.policies or ()
            if p.kind == "managed"
        )

    # --- 4. bind, 5. restart ---------------------------------------------------------------------
    def bind(self) -> list[Step]:
        view, c = self.view, self.c
        assert self.role_arn is not None
        want = normalize_role_arn(self.role_arn)
        configured = view.configured_binding
        if (
            configured.kind == self.target
            and configured.role_arn
            and normalize_role_arn(configured.role_arn) == want
        ):
            return []
        addon = view.vpc_cni_addon
        if addon:
            if self.target == "irsa":
                old = addon.service_account_role_arn
                return [self.ops(S.bind_addon_irsa(c, self.role_arn, old, self.sa))]
            owned = [
                a
                for a in c.pod_identity_associations or ()
                if a.arn is not None and a.arn in addon.pod_identity_association_arns
            ]
            previous = {a.service_account: a.role_arn for a in owned}
            return [self.ops(S.bind_addon_pod_identity(c, self.role_arn, previous, self.sa))]
        if self.target == "irsa":
            if view.service_account is None:
                raise _Blocked("the aws-node ServiceAccount was not read")
            return [
                self.ops(S.bind_annotation(c, self.role_arn, view.annotation_role or None, self.sa))
            ]
        if view.pod_identity_role is None:
            raise _Blocked("the cluster's pod identity associations were not read")
        return [self.ops(S.bind_association(c, self.role_arn, self.sa))]

    def pods_stale(self) -> bool:
        env = self.view.pod_env
        if env is None:
            return True  # not read: restarting is the only way to be sure
        if self.target == "pod_identity":
            return bool(env.without or env.irsa_roles or env.indirect)
        want = normalize_role_arn(self.role_arn or "")
        return bool(
            env.without
            or env.pod_identity
            or env.indirect
            or any(normalize_role_arn(r) != want for r in env.irsa_roles)
        )

    # --- 8. detach from every node role -----------------------------------------------------------
    def detach(self) -> list[Step]:
        view = self.view
        if view.node_roles is None:
            raise _Blocked("the cluster's node groups were not read")
        steps = []
        views = list(self.p.views.values())
        for use in view.node_roles:
            grant = view.role_grant(use.role_arn)
            role = view.index.role(use.role_arn)
            if grant is None or role is None:
                self.warnings.append(
                    f"node role {use.role_arn} was not read: it may still grant "
                    "the CNI's actions (re-scan before the detach)"
                )
                continue
            mutating = grant.granted(MUTATING_ACTIONS)
            if not mutating:
                continue
            shared = node_role_dependents(
                self.p.report, views, use.role_arn, except_cluster=self.c.arn
            )
            unseen = unread_clusters(self.p.inventory, self.c.account)
            names = set(grant.policies_granting(mutating))
            for attachment in role.policies or ():
                if attachment.name not in names:
                    continue
                step = self.ops(S.detach_step(role.name, attachment, use.via))
                blockers = list(step.blocked_by)
                if not _only_cni(attachment):
                    blockers.append(
                        f"{attachment.kind} policy {attachment.name} grants more than the CNI's "
                        "actions: remove the CNI statements from it by hand"
                    )
                if unseen:
                    blockers.append(
                        f"{unseen}: a cluster there may still use node role {role.name} for its "
                        "CNI (re-plan over every region, without --clusters)"
                    )
                if shared:
                    blockers.append(
                        f"node role {role.name} is also used by {'; '.join(shared)}, whose "
                        "aws-node still depends on it: migrate those clusters first"
                    )
                steps.append(replace(step, blocked_by=tuple(blockers)))
        if any(not use.linux for use in view.node_roles):
            self.warnings.append("Windows node roles are not changed: aws-node does not run there")
        return steps


def _only_cni(attachment: PolicyAttachment) -> bool:
    """The policy grants nothing but CNI actions, so removing it removes nothing else."""
    if attachment.arn and attachment.arn.endswith(
        (":policy/AmazonEKS_CNI_Policy", f":policy/{IPV6_POLICY_NAME}")
    ):
        return True
    if attachment.document is None:
        return False
    try:
        statements = parse_statements(attachment.document)
    except PolicyParseError:
        return False
    allowed = {a.lower() for a in ALL_CNI_ACTIONS} | {"ec2:describetags"}
    return all(
        st.effect == "Deny" or (not st.not_actions and all(a in allowed for a in st.actions))
        for st in statements
    )
