"""What every part of the Terraform mapper shares: value helpers, gaps, and which cluster a child
resource belongs to (by name, by reference, or any cluster of its root module).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from cniguard.collect.iac.base import IacFragment
from cniguard.collect.iac.terraform.records import ResourceInstance
from cniguard.collect.iac.terraform.values import Unknown, Value, deep_unknown
from cniguard.model.common import JsonDict, Origin
from cniguard.model.inventory import (
    Cluster,
    Gap,
)

WHAT = "iac:terraform"
# resource types that belong to a cluster by its name
_CHILDREN = (
    "aws_eks_node_group",
    "aws_eks_addon",
    "aws_eks_fargate_profile",
    "aws_eks_pod_identity_association",
    "aws_eks_access_entry",
    "aws_autoscaling_group",
)


def _first(value: Value) -> dict[str, Value]:
    """The first block of a nested block list (``kubernetes_network_config[0]``)."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return {}


def _document(value: Value) -> JsonDict | str | None:
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return value
    return parsed if isinstance(parsed, dict) else value


def _strings(value: Value) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _describe(value: Value) -> str:
    return value.describe() if isinstance(value, Unknown) else f"a {type(value).__name__} value"


def _tags(value: Value) -> dict[str, str] | None:
    if isinstance(value, dict) and not deep_unknown(value):
        return {str(k): str(v) for k, v in value.items() if v is not None}
    return None if value is not None else {}


def _label(value: Value) -> str:
    """How an unresolved value is named in the model: by its expression."""
    return f"`{value.expr}` (unresolved)" if isinstance(value, Unknown) else "(unresolved)"


def _unexpanded(item: ResourceInstance) -> str:
    """Why a resource whose count / for_each is unknown may not exist (or exist many times)."""
    assert item.expansion is not None
    return f"{item.expanded_by}: cannot evaluate {item.expansion.describe()}"


def _maybe(item: ResourceInstance, name: str) -> str:
    """The name of a policy that a resource of unknown count / for_each may attach."""
    assert item.expansion is not None
    return f"{name} ({item.expanded_by} `{item.expansion.expr}` unresolved)"


def _same(left: Unknown, right: Unknown) -> bool:
    """Two unknowns from the same unresolved expression (the same value at apply time)."""
    return (left.expr, left.reason, left.file, left.line) == (
        right.expr,
        right.reason,
        right.file,
        right.line,
    )


def _arns_of(cluster: Cluster) -> set[str]:
    """Every role ARN the cluster's objects name (to tell which cluster a role gap concerns)."""
    arns = {cluster.auto_mode_node_role_arn}
    arns |= {g.role_arn for g in cluster.node_groups or ()}
    arns |= {f.pod_execution_role_arn for f in cluster.fargate_profiles or ()}
    arns |= {a.service_account_role_arn for a in cluster.addons or ()}
    arns |= {a.role_arn for a in cluster.pod_identity_associations or ()}
    arns |= {e.principal_arn for e in cluster.access_entries or ()}
    return {a for a in arns if a}


@dataclass(frozen=True)
class _ClusterRef:
    """A cluster resource and what its children may name it by."""

    item: ResourceInstance
    id: str
    qualified: str  # root-qualified address: the owner of its unresolved attributes
    name: Value  # a string, or the Unknown its name evaluated to
    external: bool = False  # named by children only: defined outside the scanned files
    module_call: str | None = None  # external: the module call not evaluated that may define it


@dataclass(frozen=True)
class _Placement:
    """The clusters a child resource may belong to."""

    clusters: tuple[_ClusterRef, ...]
    certain: bool  # exactly one cluster, named by value or by reference, and the child exists
    why: str | None  # why it is not certain (becomes a gap on each candidate cluster)


@dataclass
class MapperBase:
    instances: list[ResourceInstance]
    fragment: IacFragment = field(default_factory=IacFragment)
    by_type: dict[str, list[ResourceInstance]] = field(default_factory=lambda: defaultdict(list))
    # role name, or "@" + root-qualified address -> the ARN of the role emitted for it
    role_arns: dict[str, str] = field(default_factory=dict)
    # gaps about a role's policies, by role key (None: any role); their cluster is told last
    role_gaps: list[tuple[str | None, Gap]] = field(default_factory=list)
    refs: list[_ClusterRef] = field(default_factory=list)

    def __post_init__(self) -> None:
        for instance in self.instances:
            self.by_type[instance.type].append(instance)

    # --- helpers -----------------------------------------------------------------------------

    def known(self, instance: ResourceInstance, key: str, cluster: str | None = None) -> Value:
        """The value of an attribute, or None with a gap when it could not be evaluated."""
        value = instance.values.get(key)
        found = deep_unknown(value) if not isinstance(value, Unknown) else value
        if found is None:
            return value
        self.gap(instance, f"{key}: cannot evaluate {found.describe()}", cluster, key)
        return None

    def make_gap(
        self, instance: ResourceInstance, reason: str, cluster: str | None, key: str | None = None
    ) -> Gap:
        return Gap(
            what=WHAT,
            reason=f"{instance.address}: {reason}",
            cluster=cluster,
            resource=instance.origin.file,
            line=instance.attribute_lines.get(key or "", instance.origin.line),
        )

    def gap(
        self, instance: ResourceInstance, reason: str, cluster: str | None, key: str | None = None
    ) -> None:
        self.fragment.gaps.append(self.make_gap(instance, reason, cluster, key))

    def role_gap(
        self, role: str | None, instance: ResourceInstance, reason: str, key: str | None
    ) -> None:
        self.role_gaps.append((role, self.make_gap(instance, reason, None, key)))

    def origin(self, instance: ResourceInstance, key: str | None = None) -> Origin:
        line = instance.attribute_lines.get(key or "") if key else None
        return Origin(source="iac", file=instance.origin.file, line=line or instance.origin.line)

    def expansion_gap(self, instance: ResourceInstance, cluster: str | None, effect: str) -> None:
        """A resource whose count / for_each is unknown: it may not exist, or exist many times."""
        if instance.expansion is not None:
            self.gap(instance, f"{_unexpanded(instance)}; {effect}", cluster, instance.expanded_by)

    # --- which cluster -----------------------------------------------------------------------

    def placement(self, item: ResourceInstance, value: Value) -> _Placement:
        """The clusters a child naming ``value`` as its cluster may belong to: by name, by
        reference to a cluster whose name is unresolved, or any cluster of this module."""
        if isinstance(value, str):
            named = tuple(r for r in self.refs if r.name == value)
            if named:
                return self.exists(item, named, None)
            unresolved = tuple(
                r for r in self.refs if isinstance(r.name, Unknown) and not r.external
            )
            why = f"cluster {value!r} may be a cluster whose name is unresolved"
            return _Placement(unresolved, False, why)
        if isinstance(value, Unknown):
            owned = tuple(r for r in self.refs if value.owner == r.qualified)
            if owned:
                return self.exists(item, owned, None)
            same = tuple(
                r for r in self.refs if isinstance(r.name, Unknown) and _same(r.name, value)
            )
            if len(same) == 1:
                return self.exists(item, same, None)
            why = f"cluster_name: cannot evaluate {value.describe()}; it may belong to any cluster"
            return _Placement(same or tuple(self.refs), False, why)
        return _Placement((), False, None)

    def exists(
        self, item: ResourceInstance, clusters: tuple[_ClusterRef, ...], why: str | None
    ) -> _Placement:
        if item.expansion is None and len(clusters) == 1:
            return _Placement(clusters, True, why)
        if item.expansion is not None:
            why = f"{_unexpanded(item)}; it may not exist"
        return _Placement(clusters, False, why or "several clusters share its name")

    def children(
        self, resource_type: str, ref: _ClusterRef, effect: str | None
    ) -> tuple[list[ResourceInstance], bool]:
        """Children that surely belong to this cluster and exist, and whether others may (a gap
        saying ``effect`` for each of those, unless None)."""
        found, unsure = [], False
        for item in self.by_type[resource_type]:
            place = self.placement(item, item.values.get("cluster_name"))
            if ref not in place.clusters:
                continue
            if place.certain:
                found.append(item)
                continue
            unsure = True
            if effect is not None:
                self.gap(item, f"{place.why} ({effect})", ref.id, "cluster_name")
        return found, unsure
