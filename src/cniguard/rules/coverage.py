"""CNI090: what of this cluster could not be read. Rules that needed it report ``unknown``."""

from __future__ import annotations

from collections.abc import Iterator

from cniguard.analysis import ClusterView
from cniguard.attribution import cluster_gaps
from cniguard.model.finding import Finding
from cniguard.rules.base import Rule, rule


@rule(
    "CNI090",
    "Part of this cluster could not be read",
    "info",
    "coverage",
    "A scan that silently skips what it cannot read reports a false pass; cniguard names every gap "
    "so the missing permission or export can be supplied.",
    "Grant the auditor the permissions of `cniguard permissions` (and Kubernetes read access), or "
    "supply the missing export, then scan again.",
    aws_node=False,
)
def cni090(view: ClusterView, r: Rule) -> Iterator[Finding]:
    gaps = cluster_gaps(view)
    live = not view.is_iac and view.inventory.kind == "live"
    not_collected = []
    if live and "k8s" not in view.inventory.sources:
        not_collected.append("Kubernetes state (use --kube, --kube-context or --kube-export)")
    elif live and view.kube is None:
        not_collected.append("Kubernetes state of this cluster")
    if live and "cloudtrail" not in view.inventory.sources:
        not_collected.append("CloudTrail")
    if not gaps and not not_collected:
        yield r.finding(view, "pass", "Everything in scope for this cluster was read.")
        return
    items = [
        {
            "what": g.what,
            "reason": g.reason,
            "operation": g.operation,
            "resource": g.resource,
            "region": g.region,
        }
        for g in gaps
    ]
    text = "; ".join(f"{g.what}: {g.reason}" for g in gaps[:5])
    if not_collected:
        text = "; ".join([*not_collected, text]) if text else "; ".join(not_collected)
        text = "not collected: " + text if not gaps else text
    yield r.finding(
        view,
        "fail",
        f"Not read for this cluster: {text}.",
        evidence={"gaps": items, "not_collected": not_collected},
    )


RULES = (cni090,)
