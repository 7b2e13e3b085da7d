"""Which clusters reach beyond the scanned code: clusters only named by their children (defined
elsewhere), and module calls cniguard does not evaluate that may add to a cluster.

A module call that is not evaluated may create an add-on, a pod identity association, an access
entry or a node role for the clusters it is given (an input holding a cluster's name or ARN, or
the same unresolved expression); one that cannot be tied to a cluster may touch every cluster of
its root module, and one with "eks" in its source and no input about a cluster may define a
cluster of its own. Modules that create none of these (VPC, security groups, KMS...) are left
out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from cniguard.collect.iac.terraform.mapping_base import _CHILDREN, _ClusterRef, _same
from cniguard.collect.iac.terraform.mapping_nodes import NodeMapper
from cniguard.collect.iac.terraform.records import Problem, ResourceInstance
from cniguard.collect.iac.terraform.values import Unknown, Value

# Registry modules known to create no EKS add-on, pod identity association, access entry or node
# group (checked against their upstream resources; a role they create becomes a node role only
# through an access entry elsewhere, which is then read or a gap of its own).
_HARMLESS = re.compile(
    r"^(?:registry\.terraform\.io/)?(?:"
    r"terraform-aws-modules/(?:vpc|security-group|kms|ecr|s3-bucket|key-pair|acm|alb|efs|"
    r"secrets-manager|eventbridge|sqs|sns|route53|cloudwatch|dynamodb-table)/aws"
    r"(?://modules/[\w-]+)?|"
    r"terraform-aws-modules/(?:lambda|ec2-instance)/aws|"
    r"cloudposse/(?:vpc/aws|dynamic-subnets/aws|security-group/aws)"
    r")$"
)
# inputs that name the cluster a module works on
_CLUSTER_INPUTS = frozenset(
    {"cluster_name", "cluster_id", "eks_cluster_id", "eks_cluster_name", "cluster"}
)
_EKS = re.compile(r"eks", re.IGNORECASE)
_REGISTRY = r"^(?:registry\.terraform\.io/)?"
# aws-ia/eks-blueprints-addon: one Helm release and its IRSA role; it matters only when the chart
# it installs is the VPC CNI's
_ADDON_CHART = re.compile(_REGISTRY + r"aws-ia/eks-blueprints-addon/aws$")
# aws-ia/eks-blueprints-teams: team namespaces with their service accounts (IRSA-annotated), RBAC
# and a team IAM role; it reaches aws-node only through a namespace called kube-system
_TEAMS = re.compile(_REGISTRY + r"aws-ia/eks-blueprints-teams/aws$")


def cannot_touch(call: Problem) -> bool:
    """A module call that cannot add to a cluster's CNI identity or node roles."""
    if call.source is None:
        return False
    if _HARMLESS.match(call.source.strip()):
        return True
    if _ADDON_CHART.match(call.source.strip()):
        charts = [value for name, value in call.inputs if name == "chart"]
        return bool(charts) and all(isinstance(c, str) and "vpc-cni" not in c for c in charts)
    if _TEAMS.match(call.source.strip()):
        # the namespace of each service account is its key
        return all(
            isinstance(value, dict) and "kube-system" not in value
            for name, value in call.inputs
            if name == "namespaces"
        )
    return False


def _leaves(value: Value) -> Iterator[Value]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _names(value: Value, ref: _ClusterRef) -> bool:
    """Whether a value names this cluster (its name or ARN, by value, by reference or as the same
    unresolved expression)."""
    if isinstance(value, str):
        # its name, or its ARN (placeholder or literal)
        return isinstance(ref.name, str) and (
            value == ref.name or value.endswith(f":cluster/{ref.name}")
        )
    if isinstance(value, Unknown):
        if value.owner == ref.qualified:
            return True
        return isinstance(ref.name, Unknown) and _same(value, ref.name)
    return False


def _cluster_inputs(call: Problem) -> list[Value]:
    return [
        value
        for name, value in call.inputs
        if name in _CLUSTER_INPUTS and isinstance(value, str | Unknown)
    ]


def module_reach(refs: list[_ClusterRef], calls: list[Problem]) -> dict[str, list[Problem]]:
    """Cluster id -> the module calls not evaluated that may add to that cluster."""
    reach: dict[str, list[Problem]] = {}
    for call in calls:
        values = [leaf for _, value in call.inputs for leaf in _leaves(value)]
        tied = [r for r in refs if not r.module_call and any(_names(v, r) for v in values)]
        if not tied:
            # it cannot be tied: it may name any cluster of its root module
            tied = [r for r in refs if not r.module_call]
        tied += [r for r in refs if r.module_call == call.address]
        for ref in tied:
            reach.setdefault(ref.id, []).append(call)
    return reach


def _anchor(call: Problem) -> ResourceInstance:
    """A module call standing in for the cluster resource it names (gaps point at it)."""
    lines = {"cluster_name": call.origin.line} if call.origin.line is not None else {}
    return ResourceInstance(call.address, "module", {}, call.origin, lines, None, call.scope)


def external_refs(mapper: NodeMapper, calls: list[Problem]) -> list[_ClusterRef]:
    """Clusters the scanned code does not define but whose children it holds: one per name (a
    literal, a data source's name) or per unresolved expression (a variable, a module output)."""
    found: list[_ClusterRef] = []

    def add(item: ResourceInstance, value: Value) -> None:
        if not isinstance(value, str | Unknown):
            return
        if any(_names(value, r) for r in found):
            return
        label = (value or "(empty)") if isinstance(value, str) else value.expr
        ref_id = f"tf:{item.scope}/cluster:{label}"
        found.append(_ClusterRef(item, ref_id, ref_id.removeprefix("tf:"), value, external=True))

    for resource_type in _CHILDREN:
        for item in mapper.by_type[resource_type]:
            value = (
                mapper.tagged_cluster(item)
                if resource_type == "aws_autoscaling_group"
                else item.values.get("cluster_name")
            )
            if not mapper.placement(item, value).clusters:
                add(item, value)
    if not mapper.refs:
        for call in calls:
            for value in _cluster_inputs(call):
                add(_anchor(call), value)
    for call in calls:
        # an EKS module of unknown code given no cluster (no input about a cluster or its OIDC
        # provider) may define one of its own
        if _EKS.search(call.source or "") and not any(
            "cluster" in name or "oidc" in name for name, _ in call.inputs
        ):
            ref_id = f"tf:{call.scope}/{call.address}"
            found.append(
                _ClusterRef(
                    _anchor(call),
                    ref_id,
                    ref_id.removeprefix("tf:"),
                    f"{call.address} (module not evaluated)",
                    external=True,
                    module_call=call.address,
                )
            )
    return found
