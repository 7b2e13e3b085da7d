"""What every IaC format collector returns, merged into one inventory by the `iac` command.

IaC has no real ARNs before deploy, so collectors name objects with stable synthetic ids that other
objects of the same code base reference consistently: clusters ``<format>:<where>`` (for example
``tf:infra/eks/module.eks.aws_eks_cluster.this[0]`` with the root module's folder, or
``cfn:<file>#<LogicalId>``), roles an ARN-shaped id whose last part is the role's
name when it is known (``arn:aws:iam::${account}:role/<name>``) or the resource address otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cniguard.model.inventory import Cluster, Gap, OidcProvider, Role


@dataclass
class IacFragment:
    """Clusters, roles and providers one format found in the files it read, and what it could not."""

    clusters: list[Cluster] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    oidc_providers: list[OidcProvider] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)
    # clusters read from a file that may only add node groups to a cluster defined elsewhere
    # (an eksctl config of node groups only): cluster id -> roles given the CNI policy by default
    node_group_files: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def extend(self, other: IacFragment) -> None:
        self.clusters.extend(other.clusters)
        self.roles.extend(other.roles)
        self.oidc_providers.extend(other.oidc_providers)
        self.gaps.extend(other.gaps)
        self.files_read.extend(other.files_read)
        self.node_group_files.update(other.node_group_files)
