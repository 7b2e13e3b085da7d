"""What a plan's operations do to an inventory, written from the AWS/EKS behaviour (not from the
planner): the tests run a plan through this and let the *rules* judge the result, so a plan that
leaves a cluster non-compliant or broken cannot pass."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from cniguard.demo.builders import CNI_POLICY_DOC, POD_IDENTITY_ENV, irsa_env
from cniguard.iam.trust import issuer_host
from cniguard.model.inventory import (
    Addon,
    Cluster,
    Inventory,
    OidcProvider,
    PodIdentityAssociation,
    PolicyAttachment,
    Role,
)
from cniguard.model.kube import Container, Pod
from cniguard.remediate.plan_model import ClusterPlan, Operation, Plan

ANNOTATION = "eks.amazonaws.com/role-arn"


class _World:
    def __init__(self, inventory: Inventory) -> None:
        self.inv = inventory
        self.policies: dict[str, Any] = {}

    def role(self, account: str, name: str) -> Role:
        for r in self.inv.roles:
            if r.account == account and r.name == name:
                return r
        raise AssertionError(f"role {name} does not exist in {account}")

    def put_role(self, role: Role) -> None:
        others = tuple(r for r in self.inv.roles if r.arn != role.arn)
        self.inv = replace(self.inv, roles=(*others, role))

    def put_cluster(self, cluster: Cluster) -> None:
        clusters = tuple(cluster if c.arn == cluster.arn else c for c in self.inv.clusters)
        self.inv = replace(self.inv, clusters=clusters)

    def cluster(self, arn: str) -> Cluster:
        return next(c for c in self.inv.clusters if c.arn == arn)


def apply_plan(inventory: Inventory, plan: Plan) -> Inventory:
    """Run every step of every ready (or partly blocked) cluster plan, stopping at a blocked step."""
    world = _World(inventory)
    for cp in plan.clusters:
        for step in cp.steps:
            if step.blocked_by:
                break
            _apply(world, cp, step.action)
    return world.inv


def _apply(world: _World, cp: ClusterPlan, op: Operation) -> None:
    p = op.params
    account = cp.account
    cluster = world.cluster(cp.arn)
    match op.op:
        case "iam:CreateOpenIDConnectProvider":
            provider = OidcProvider(
                arn=op.context["arn"],
                url=issuer_host(p["Url"]),
                client_ids=tuple(p["ClientIDList"]),
                account=account,
            )
            world.inv = replace(world.inv, oidc_providers=(*world.inv.oidc_providers, provider))
        case "iam:AddClientIDToOpenIDConnectProvider":
            world.inv = replace(
                world.inv,
                oidc_providers=tuple(
                    replace(pr, client_ids=(*pr.client_ids, p["ClientID"]))
                    if pr.arn == p["OpenIDConnectProviderArn"]
                    else pr
                    for pr in world.inv.oidc_providers
                ),
            )
        case "iam:CreateRole":
            partition = cp.arn.split(":")[1]
            world.put_role(
                Role(
                    arn=f"arn:{partition}:iam::{account}:role/{p['RoleName']}",
                    name=p["RoleName"],
                    account=account,
                    trust_policy=json.loads(p["AssumeRolePolicyDocument"]),
                    policies=(),
                    tags={t["Key"]: t["Value"] for t in p["Tags"]},
                )
            )
        case "iam:UpdateAssumeRolePolicy":
            role = world.role(account, p["RoleName"])
            world.put_role(replace(role, trust_policy=json.loads(p["PolicyDocument"])))
        case "iam:CreatePolicy":
            world.policies[op.context["arn"]] = json.loads(p["PolicyDocument"])
        case "iam:AttachRolePolicy":
            role = world.role(account, p["RoleName"])
            arn = p["PolicyArn"]
            doc = CNI_POLICY_DOC if arn.endswith(":aws:policy/AmazonEKS_CNI_Policy") else None
            doc = world.policies.get(arn, doc)
            assert doc is not None, f"no document known for {arn}"
            name = arn.rsplit("/", 1)[-1]
            attachment = PolicyAttachment(name=name, kind="managed", arn=arn, document=doc)
            world.put_role(replace(role, policies=(*(role.policies or ()), attachment)))
        case "iam:DetachRolePolicy":
            role = world.role(account, p["RoleName"])
            kept = tuple(a for a in role.policies or () if a.arn != p["PolicyArn"])
            world.put_role(replace(role, policies=kept))
        case "iam:DeleteRolePolicy":
            role = world.role(account, p["RoleName"])
            kept = tuple(
                a
                for a in role.policies or ()
                if not (a.kind == "inline" and a.name == p["PolicyName"])
            )
            world.put_role(replace(role, policies=kept))
        case "eks:CreateAddon":
            world.put_cluster(
                replace(cluster, addons=(*(cluster.addons or ()), Addon(p["addonName"])))
            )
        case "eks:UpdateAddon":
            _update_addon(world, cluster, p)
        case "kube:AnnotateServiceAccount":
            _annotate(world, cluster, p["value"])
        case "eks:CreatePodIdentityAssociation":
            assoc = PodIdentityAssociation(
                arn=f"{cluster.arn}/assoc-{p['serviceAccount']}",
                namespace=p["namespace"],
                service_account=p["serviceAccount"],
                role_arn=p["roleArn"],
            )
            world.put_cluster(
                replace(
                    cluster,
                    pod_identity_associations=(*(cluster.pod_identity_associations or ()), assoc),
                )
            )
        case "kube:RolloutRestart":
            _restart(world, cluster)
        case op_name if op_name.startswith("check:"):
            pass
        case other:
            raise AssertionError(f"unexpected operation {other}")


def _update_addon(world: _World, cluster: Cluster, p: dict[str, Any]) -> None:
    addon = next(a for a in cluster.addons or () if a.name == p["addonName"])
    others = tuple(a for a in cluster.addons or () if a.name != p["addonName"])
    if "podIdentityAssociations" in p:  # EKS replaces the add-on's associations, then restarts
        assocs = tuple(
            PodIdentityAssociation(
                arn=f"{cluster.arn}/addon-{a['serviceAccount']}",
                namespace="kube-system",
                service_account=a["serviceAccount"],
                role_arn=a["roleArn"],
                owner_arn=f"{cluster.arn}/addon/vpc-cni",
            )
            for a in p["podIdentityAssociations"]
        )
        kept = tuple(
            a
            for a in cluster.pod_identity_associations or ()
            if a.arn not in addon.pod_identity_association_arns
        )
        addon = replace(addon, pod_identity_association_arns=tuple(a.arn or "" for a in assocs))
        world.put_cluster(
            replace(cluster, addons=(*others, addon), pod_identity_associations=kept + assocs)
        )
        _restart(world, world.cluster(cluster.arn))
        return
    role = p.get("serviceAccountRoleArn")  # absent: the add-on's role is unset
    addon = replace(addon, service_account_role_arn=role)
    world.put_cluster(replace(cluster, addons=(*others, addon)))
    _annotate(world, world.cluster(cluster.arn), role)  # EKS annotates the SA itself


def _annotate(world: _World, cluster: Cluster, value: str | None) -> None:
    kube = cluster.kube
    assert kube is not None and kube.service_accounts is not None
    accounts = []
    for sa in kube.service_accounts:
        if sa.namespace == "kube-system" and sa.name == "aws-node":
            annotations = {k: v for k, v in sa.annotations.items() if k != ANNOTATION}
            if value:
                annotations[ANNOTATION] = value
            accounts.append(replace(sa, annotations=annotations))
        else:
            accounts.append(sa)
    world.put_cluster(replace(cluster, kube=replace(kube, service_accounts=tuple(accounts))))


def _restart(world: _World, cluster: Cluster) -> None:
    """New aws-node pods get the env of the identity bound at restart time."""
    kube = cluster.kube
    assert kube is not None and kube.pods is not None
    sa = next(s for s in kube.service_accounts or () if s.name == "aws-node")
    role = sa.annotations.get(ANNOTATION)
    association = any(
        a.service_account == "aws-node" for a in cluster.pod_identity_associations or ()
    )
    agent = any(a.name == "eks-pod-identity-agent" for a in cluster.addons or ())
    env = irsa_env(role) if role else (POD_IDENTITY_ENV if association and agent else ())
    pods: list[Pod] = []
    for pod in kube.pods:
        if (pod.labels or {}).get("k8s-app") == "aws-node":
            containers = tuple(
                replace(c, env=env, ready=True, restart_count=0) for c in pod.containers
            ) or (Container(name="aws-node", env=env, ready=True),)
            pods.append(replace(pod, containers=containers, ready=True))
        else:
            pods.append(pod)
    world.put_cluster(replace(cluster, kube=replace(kube, pods=tuple(pods))))
