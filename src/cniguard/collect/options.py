"""What the user asked a live collection to cover (built by the CLI, read by the collectors)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LiveOptions:
    profile: str | None = None
    regions: tuple[str, ...] | None = None  # None: every region enabled for the account
    org: bool = False
    org_role: str = "OrganizationAccountAccessRole"
    accounts: tuple[str, ...] | None = None
    clusters: tuple[str, ...] | None = None  # names or ARNs
    kube_exports: tuple[tuple[str, str], ...] = ()  # (cluster name or ARN, path)
    kube_contexts: tuple[tuple[str, str], ...] = ()  # (cluster name or ARN, kubeconfig context)
    kube_live: bool = False  # connect to every cluster's endpoint with an EKS token
    cloudtrail: bool = True
    cloudtrail_days: int = 90
    concurrency: int = 8  # reads in flight per account and region (IAM: per account)
    shard: tuple[int, int] | None = None  # (i, N): only accounts whose index % N == i
    quiet: bool = False
    deadline: float | None = 15 * 60.0  # seconds after which the scan stops reading
    call_timeout: float = 30.0  # seconds to wait for one AWS response
