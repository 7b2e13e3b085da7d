"""`cniguard plan` on inventories: the order, nothing skipped, shared roles, and — judged by the
rules after the plan's effects — a cluster that really ends compliant and working."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from cniguard.config import Config
from cniguard.demo import build_fleet, demo_config
from cniguard.demo.builders import POD_IDENTITY_ENV, aws_node_sa, node_group, vpc_cni
from cniguard.engine import evaluate
from cniguard.iam.actions import ESSENTIAL_IPV4
from cniguard.iam.trust import analyze_irsa_trust, analyze_pod_identity_trust
from cniguard.model.codec import InputError
from cniguard.model.inventory import Inventory
from cniguard.remediate.commands import operation_commands
from cniguard.remediate.plan_model import (
    OPERATIONS,
    ClusterPlan,
    Plan,
    Target,
    plan_from_json,
)
from cniguard.remediate.planner import PlanOptions, build_plan
from core.scenarios import (
    ACCOUNT,
    CLUSTER_ARN,
    CNI_ROLE,
    NODE_ROLE,
    cluster,
    cni_managed,
    inline,
    inventory,
    kube,
    node_role,
)
from remediate.plan_effects import apply_plan

FULL_IRSA = [
    "oidc-provider",
    "create-role",
    "attach-policy",
    "bind",
    "restart-aws-node",
    "check-aws-node",
    "verify-network",
]
NEW_ROLE = f"arn:aws:iam::{ACCOUNT}:role/AmazonEKSVPCCNIRole-prod"


COMPLETE = {"scope": {"clusters": None, "regions": None}}  # read every cluster of every region


def _plan(inv: Inventory, target: Target = "irsa", *names: str, **kw: Any) -> Plan:
    if "scope" not in inv.meta:
        inv = replace(inv, meta={**inv.meta, **COMPLETE})
    return build_plan(
        inv,
        list(names) or [CLUSTER_ARN],
        PlanOptions(target=target, **kw),
        Config(),
    )


def _only(plan: Plan) -> ClusterPlan:
    assert len(plan.clusters) == 1
    return plan.clusters[0]


def _ids(cp: ClusterPlan) -> list[str]:
    return [s.id for s in cp.steps]


def _after(inv: Inventory, plan: Plan, name: str = "prod") -> tuple[str, bool | None]:
    """Mode and compliance of ``name`` once the plan's operations took effect (rules judge)."""
    result = evaluate(apply_plan(inv, plan))
    c = next(c for c in result.clusters if c.name == name)
    return c.cni_identity, c.compliant


def node_role_cluster(**kw: Any) -> Inventory:
    """aws-node on the node role (AmazonEKS_CNI_Policy), add-on without a role, no provider."""
    kw.setdefault("kube", kube(env=(), sa_role=None))
    kw.setdefault("addons", (vpc_cni(None),))
    inv = inventory(
        clusters=(cluster(**kw),),
        roles=(node_role(cni_managed()),),
    )
    return replace(inv, oidc_providers=())


def test_node_role_cluster_full_irsa_migration_in_order() -> None:
    inv = node_role_cluster()
    cp = _only(_plan(inv))
    assert (cp.status, cp.mode, cp.role_arn) == ("ready", "node_role", NEW_ROLE)
    detach = "detach-prod-node-AmazonEKS_CNI_Policy"
    assert _ids(cp) == [*FULL_IRSA, detach, "verify-after"]
    ops = {s.id: s.action.op for s in cp.steps}
    assert ops["oidc-provider"] == "iam:CreateOpenIDConnectProvider"
    assert ops["bind"] == "eks:UpdateAddon"  # the add-on manages aws-node
    assert ops[detach] == "iam:DetachRolePolicy"
    bind = cp.steps[3]
    assert bind.action.params == {
        "clusterName": "prod",
        "addonName": "vpc-cni",
        "serviceAccountRoleArn": NEW_ROLE,
        "resolveConflicts": "PRESERVE",
    }
    # the undo of the bind unsets the role (UpdateAddon without it) and restarts aws-node
    assert [u.op for u in bind.undo] == ["eks:UpdateAddon", "kube:RolloutRestart"]
    assert "serviceAccountRoleArn" not in bind.undo[0].params
    assert _after(inv, _plan(inv)) == ("irsa", True)


def test_new_role_trust_is_exactly_aws_node_of_this_cluster() -> None:
    inv = node_role_cluster()
    create = next(s for s in _only(_plan(inv)).steps if s.id == "create-role")
    trust = json.loads(create.action.params["AssumeRolePolicyDocument"])
    c = inv.clusters[0]
    analysis = analyze_irsa_trust(trust, issuer=c.oidc_issuer, service_account="aws-node")
    assert (analysis.can_assume, analysis.broad, analysis.other_subjects) == (True, (), ())
    # another service account of the same cluster cannot assume it
    other = analyze_irsa_trust(trust, issuer=c.oidc_issuer, service_account="aws-node-v2")
    assert other.can_assume is False
    assert create.action.params["Tags"] == [
        {"Key": "created-by", "Value": "cniguard"},
        {"Key": "owner", "Value": "team"},
        {"Key": "cost-center", "Value": "cc-1"},
        {"Key": "environment", "Value": "prod"},
    ]
    assert create.state_before == {"role_exists": False}
    assert len(create.fingerprint) == 24


def test_daemonset_service_account_is_the_one_trusted_and_bound() -> None:
    """The Helm chart can rename the ServiceAccount: trust and binding follow the DaemonSet."""
    base = node_role_cluster().clusters[0]
    assert base.kube is not None and base.kube.daemonsets is not None
    ds = replace(base.kube.daemonsets[0], service_account="aws-vpc-cni")
    k = replace(
        base.kube,
        daemonsets=(ds,),
        service_accounts=(replace(aws_node_sa(None), name="aws-vpc-cni"),),
    )
    inv = replace(node_role_cluster(), clusters=(replace(base, addons=(), kube=k),))
    cp = _only(_plan(inv))
    create = next(s for s in cp.steps if s.id == "create-role")
    assert (
        "system:serviceaccount:kube-system:aws-vpc-cni"
        in create.action.params["AssumeRolePolicyDocument"]
    )
    bind = next(s for s in cp.steps if s.id == "bind")
    assert (bind.kind, bind.action.op, bind.action.params["name"]) == (
        "kube",
        "kube:AnnotateServiceAccount",
        "aws-vpc-cni",
    )


def test_pod_identity_without_agent_installs_it_first() -> None:
    inv = node_role_cluster()
    cp = _only(_plan(inv, "pod_identity"))
    assert _ids(cp)[:4] == ["pod-identity-agent", "create-role", "attach-policy", "bind"]
    agent, create, _, bind = cp.steps[:4]
    assert agent.action.op == "eks:CreateAddon"
    assert agent.action.params == {"clusterName": "prod", "addonName": "eks-pod-identity-agent"}
    trust = json.loads(create.action.params["AssumeRolePolicyDocument"])
    analysis = analyze_pod_identity_trust(
        trust, cluster_arn=CLUSTER_ARN, cluster_name="prod", account=ACCOUNT
    )
    assert (analysis.can_assume, analysis.broad) == (True, ())
    # another cluster's Pod Identity cannot hand it out
    other = analyze_pod_identity_trust(
        trust,
        cluster_arn=CLUSTER_ARN.replace("/prod", "/dev"),
        cluster_name="dev",
        account=ACCOUNT,
    )
    assert other.can_assume is False
    assert bind.action.params["podIdentityAssociations"] == [
        {"serviceAccount": "aws-node", "roleArn": NEW_ROLE}
    ]
    assert _after(inv, _plan(inv, "pod_identity")) == ("pod_identity", True)


def test_self_managed_aws_node_is_annotated_or_associated() -> None:
    """No vpc-cni add-on: IRSA annotates the ServiceAccount, Pod Identity creates the association."""
    inv = node_role_cluster(addons=())
    irsa = _only(_plan(inv))
    bind = next(s for s in irsa.steps if s.id == "bind")
    assert (bind.kind, bind.action.op) == ("kube", "kube:AnnotateServiceAccount")
    assert bind.state_before == {"annotation": None}
    assert [u.op for u in bind.undo] == ["kube:AnnotateServiceAccount", "kube:RolloutRestart"]
    assert _after(inv, _plan(inv)) == ("irsa", True)
    pi = _only(_plan(inv, "pod_identity"))
    bind = next(s for s in pi.steps if s.id == "bind")
    assert bind.action.op == "eks:CreatePodIdentityAssociation"
    assert _after(inv, _plan(inv, "pod_identity")) == ("pod_identity", True)


def test_ipv6_cluster_gets_the_ipv6_policy() -> None:
    inv = node_role_cluster(ip_family="ipv6")
    cp = _only(_plan(inv))
    assert _ids(cp)[:4] == ["oidc-provider", "create-role", "create-ipv6-policy", "attach-policy"]
    attach = cp.steps[3]
    assert attach.action.params["PolicyArn"] == (
        f"arn:aws:iam::{ACCOUNT}:policy/AmazonEKS_CNI_IPv6_Policy"
    )
    document = json.loads(cp.steps[2].action.params["PolicyDocument"])
    assert "ec2:AssignIpv6Addresses" in document["Statement"][0]["Action"]
    assert _after(inv, _plan(inv)) == ("irsa", True)


def test_every_node_role_is_detached_karpenter_and_self_managed_too() -> None:
    karpenter_role = f"arn:aws:iam::{ACCOUNT}:role/KarpenterNodeRole-prod"
    groups = (
        node_group("ng", NODE_ROLE),
        node_group("karpenter-default", karpenter_role, kind="karpenter"),
        node_group("asg-batch", NODE_ROLE, kind="self_managed"),
    )
    inv = node_role_cluster(node_groups=groups)
    karpenter = replace(node_role(cni_managed()), arn=karpenter_role, name="KarpenterNodeRole-prod")
    inv = replace(inv, roles=(*inv.roles, karpenter))
    cp = _only(_plan(inv))
    detaches = [
        (s.action.params["RoleName"], s.action.op) for s in cp.steps if s.id.startswith("detach-")
    ]
    assert detaches == [
        ("prod-node", "iam:DetachRolePolicy"),
        ("KarpenterNodeRole-prod", "iam:DetachRolePolicy"),
    ]
    assert _ids(cp)[-1] == "verify-after"
    assert _after(inv, _plan(inv)) == ("irsa", True)


def test_inline_cni_statement_is_deleted_and_restored_on_undo() -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Resource": "*",
                "Action": list(ESSENTIAL_IPV4),
            }
        ],
    }
    inv = node_role_cluster()
    inv = replace(inv, roles=(node_role(inline("cni-inline", doc)),))
    cp = _only(_plan(inv))
    step = next(s for s in cp.steps if s.id.startswith("detach-"))
    assert (step.action.op, step.blocked_by) == ("iam:DeleteRolePolicy", ())
    assert step.undo[0].op == "iam:PutRolePolicy"
    assert json.loads(step.undo[0].params["PolicyDocument"]) == doc
    assert step.state_before == {"inline_document": step.undo[0].params["PolicyDocument"]}


def test_policy_with_more_than_the_cni_is_blocked_for_a_hand_edit() -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}],
    }
    inv = node_role_cluster()
    inv = replace(inv, roles=(node_role(inline("ec2-admin", doc)),))
    cp = _only(_plan(inv))
    assert cp.status == "blocked"
    assert cp.blocked_by == (
        "step detach-prod-node-ec2-admin: inline policy ec2-admin grants more than the CNI's "
        "actions: remove the CNI statements from it by hand",
    )
    assert _ids(cp)[: len(FULL_IRSA)] == FULL_IRSA  # the migration itself is still planned


def test_shared_node_role_is_never_detached_while_another_cluster_depends_on_it() -> None:
    inv = node_role_cluster()
    other = replace(
        inv.clusters[0],
        arn=CLUSTER_ARN.replace("/prod", "/batch"),
        name="batch",
        oidc_issuer=inv.clusters[0].oidc_issuer.replace("5A1B", "9F9F"),  # type: ignore[union-attr]
    )
    inv = replace(inv, clusters=(inv.clusters[0], other))
    cp = _only(_plan(inv))
    detach = next(s for s in cp.steps if s.id.startswith("detach-"))
    assert detach.blocked_by == (
        "node role prod-node is also used by batch "
        f"({other.arn}, mode node_role), whose aws-node still depends on it: migrate those "
        "clusters first",
    )
    assert cp.status == "blocked"
    # once batch runs on its own identity, prod's detach is ready
    both = _plan(inv, "irsa", "prod", "batch")
    assert [c.status for c in both.clusters] == ["blocked", "blocked"]
    migrated = apply_plan(inv, both)  # each stops before its detach
    assert _only(_plan(migrated)).status == "ready"


def test_mixed_cluster_gets_only_the_tail() -> None:
    inv = inventory(
        roles=(
            node_role(cni_managed()),
            replace(
                node_role(),
                arn=CNI_ROLE,
                name="prod-vpc-cni",
                trust_policy=inventory().roles[1].trust_policy,
                policies=(cni_managed(),),
            ),
        )
    )
    assert evaluate(inv).clusters[0].cni_identity == "mixed"
    cp = _only(_plan(inv))
    assert cp.role_arn == CNI_ROLE
    assert _ids(cp) == [
        "oidc-provider",
        "role-trust",
        "check-aws-node",
        "verify-network",
        "detach-prod-node-AmazonEKS_CNI_Policy",
        "verify-after",
    ]
    assert [s.kind for s in cp.steps[:4]] == ["check"] * 4
    assert _after(inv, _plan(inv)) == ("irsa", True)


def test_compliant_is_nothing_to_do_and_unknown_or_not_applicable_are_blocked() -> None:
    cp = _only(_plan(inventory()))
    assert (cp.status, cp.steps) == ("nothing_to_do", ())
    unread = node_role_cluster(kube=None)
    unread = replace(unread, sources=("aws",))
    cp = _only(_plan(unread))
    assert cp.status == "blocked" and cp.blocked_by[0].startswith(
        "the CNI identity mode is unknown"
    )
    fargate = node_role_cluster(
        node_groups=(),
        access_entries=(),
        kube=None,
        fargate_profiles=(),
        auto_mode=True,
        authentication_mode="API",
    )
    cp = _only(_plan(replace(fargate, sources=("aws",))))
    assert cp.blocked_by == (
        "aws-node does not run here: only Auto Mode compute: aws-node does not run",
    )


def test_broad_trust_of_an_unshared_role_is_tightened_but_a_shared_role_is_left_alone() -> None:
    loose = json.loads(json.dumps(inventory().roles[1].trust_policy))
    cond = loose["Statement"][0]["Condition"]
    sub = next(k for k in cond["StringEquals"] if k.endswith(":sub"))
    cond["StringLike"] = {sub: "system:serviceaccount:*"}
    del cond["StringEquals"][sub]
    inv = inventory(roles=(node_role(), replace(inventory().roles[1], trust_policy=loose)))
    cp = _only(_plan(inv))
    trust = next(s for s in cp.steps if s.id == "role-trust")
    assert trust.action.op == "iam:UpdateAssumeRolePolicy"
    assert json.loads(trust.undo[0].params["PolicyDocument"]) == loose
    assert _after(inv, _plan(inv)) == ("irsa", True)
    # the same role bound by a second cluster: a role of its own, the shared one untouched
    second = replace(inv.clusters[0], arn=CLUSTER_ARN.replace("/prod", "/dev"), name="dev")
    shared = replace(inv, clusters=(inv.clusters[0], second))
    cp = _only(_plan(shared))
    assert "role-trust" not in _ids(cp) and "create-role" in _ids(cp)
    assert cp.warnings[0].startswith(f"aws-node's role {CNI_ROLE} is also the CNI role of")


def test_a_narrowed_live_read_blocks_the_detach() -> None:
    inv = replace(node_role_cluster(), meta={"scope": {"clusters": ["prod"], "regions": None}})
    cp = _only(_plan(inv))
    detach = next(s for s in cp.steps if s.id.startswith("detach-"))
    assert detach.blocked_by == (
        "only clusters prod were read: a cluster there may still use node role prod-node for its "
        "CNI (re-plan over every region, without --clusters)",
    )


def test_an_inventory_without_its_scope_blocks_the_detach() -> None:
    cp = build_plan(node_role_cluster(), ["prod"], PlanOptions("irsa"), Config()).clusters[0]
    detach = next(s for s in cp.steps if s.id.startswith("detach-"))
    assert detach.blocked_by[0].startswith(
        "the inventory does not record what it was narrowed to (collect it again)"
    )


def test_cluster_selection_errors() -> None:
    with pytest.raises(InputError, match="no cluster 'nope' in the inventory"):
        _plan(inventory(), "irsa", "nope")
    fleet = build_fleet()
    plan = build_plan(fleet, ["checkout-prod", "checkout-prod"], PlanOptions("irsa"), demo_config())
    assert [c.cluster for c in plan.clusters] == ["checkout-prod"]


def test_demo_fleet_plans_round_trip_and_migrate_every_ready_cluster() -> None:
    fleet = build_fleet()
    names = [c.name for c in fleet.clusters]
    plan = build_plan(fleet, names, PlanOptions("irsa"), demo_config())
    assert plan_from_json(json.loads(json.dumps(plan.to_json()))) == plan
    statuses = {c.cluster: c.status for c in plan.clusters}
    assert statuses == {
        "payments-prod": "nothing_to_do",
        "checkout-prod": "ready",
        "search-prod": "blocked",
        "ledger-prod": "ready",
        "analytics-prod": "ready",
        "partner-prod": "blocked",
        "ml-staging": "ready",
        "web-staging": "ready",
        "api-staging": "ready",
        "batch-staging": "ready",
        "reporting-dev": "nothing_to_do",
        "sandbox-dev": "ready",
        "legacy-dev": "ready",
        "edge-dev": "blocked",
        "jobs-dev": "blocked",
        "windows-dev": "blocked",
    }
    after = evaluate(apply_plan(fleet, plan), demo_config())
    modes = {c.name: (c.cni_identity, c.compliant) for c in after.clusters}
    for name, status in statuses.items():
        if status == "ready":
            assert modes[name] == ("irsa", True), name


def test_plan_file_errors_are_one_line() -> None:
    with pytest.raises(InputError, match=r"not a cniguard\.plan/v1 document"):
        plan_from_json({"schema": "cniguard.report/v1"})
    with pytest.raises(InputError, match=r"plan: clusters\.0\.cluster: Field required"):
        plan_from_json({"schema": "cniguard.plan/v1", "clusters": [{"status": "maybe"}]})


def test_pod_identity_cluster_already_compliant() -> None:
    from core.scenarios import pod_identity_cluster

    cp = _only(_plan(pod_identity_cluster(), "pod_identity"))
    assert cp.status == "nothing_to_do"
    assert POD_IDENTITY_ENV  # the scenario's pods carry the agent env


def test_every_operation_a_plan_emits_is_in_the_vocabulary_apply_implements() -> None:
    """`apply` carries out exactly OPERATIONS; a planner change that emits anything else, or an
    operation without command lines for people, fails here instead of at apply time."""
    fleet = build_fleet()
    names = [c.name for c in fleet.clusters]
    inventories = [
        node_role_cluster(),
        node_role_cluster(addons=()),
        node_role_cluster(ip_family="ipv6"),
    ]
    plans = [
        build_plan(fleet, names, PlanOptions(t), demo_config()) for t in ("irsa", "pod_identity")
    ]
    plans += [_plan(inv, t) for inv in inventories for t in ("irsa", "pod_identity")]
    emitted = {
        op.op
        for plan in plans
        for cp in plan.clusters
        for step in cp.steps
        for op in (step.action, *step.undo)
    }
    assert emitted <= set(OPERATIONS), emitted - set(OPERATIONS)
    assert {
        "iam:CreateRole",
        "eks:UpdateAddon",
        "kube:AnnotateServiceAccount",
        "eks:CreatePodIdentityAssociation",
        "iam:DetachRolePolicy",
    } <= emitted
    for plan in plans:
        for cp in plan.clusters:
            for step in cp.steps:
                for op in (step.action, *step.undo):
                    assert operation_commands(op, region=cp.region, context=cp.arn), op.op
