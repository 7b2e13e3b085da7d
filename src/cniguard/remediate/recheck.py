"""Right before a node-role detach: does another cluster's aws-node depend on the role now?

The plan checked this at plan time; clusters may have been created or changed since. The live
state of the plan's scope is collected again, evaluated, and the planner's own
``node_role_dependents`` answers. Fails closed: a scope that could not be read fully (an account
or region not entered, a cluster whose node groups were not read) counts as a dependent.
"""

from __future__ import annotations

from collections.abc import Callable

from cniguard.analysis import ClusterView, InventoryIndex, roles_in
from cniguard.config import Config
from cniguard.engine import evaluate
from cniguard.model.inventory import Inventory
from cniguard.remediate.planner import node_role_dependents, unread_clusters

# Gaps that hide whole clusters from the re-check.
_SCOPE_GAPS = ("account", "eks:clusters")


def dependents_in(
    inventory: Inventory, config: Config, role_arn: str, cluster_arn: str
) -> list[str]:
    """Other clusters that may still need ``role_arn``'s CNI grant, or what could not be read."""
    unread = [
        f"unread scope {g.account or '?'}/{g.region or '*'} ({g.what}: {g.reason})"
        for g in inventory.gaps
        if g.what in _SCOPE_GAPS
    ]
    narrowed = unread_clusters(inventory, cluster_arn.split(":")[4])
    if narrowed:
        unread.append(narrowed)
    report = evaluate(inventory, config)
    index = InventoryIndex(inventory)
    views = [ClusterView(c, index, config) for c in inventory.clusters]
    index.role_usage = roles_in(views)
    unread += [
        f"{v.cluster.name} ({v.cluster.arn}: its node groups could not be read)"
        for v in views
        if v.node_roles is None and v.cluster.arn != cluster_arn
    ]
    return unread + node_role_dependents(report, views, role_arn, except_cluster=cluster_arn)


def live_dependents(
    collect: Callable[[], Inventory], config: Config, cluster_arn: str
) -> Callable[[str], list[str]]:
    """A re-check that collects the live state afresh every time it is asked."""

    def check(role_arn: str) -> list[str]:
        return dependents_in(collect(), config, role_arn, cluster_arn)

    return check
