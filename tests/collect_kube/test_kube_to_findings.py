"""End to end: each recorded export, through read_export and the engine, gives its findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from cniguard.collect.kubernetes import read_export
from cniguard.engine import evaluate
from cniguard.model.inventory import Cluster, Inventory
from cniguard.model.kube import KubeState

FIXTURES = Path(__file__).parent.parent / "fixtures" / "kube"
ARN = "arn:aws:eks:us-east-1:111122223333:cluster/prod"
KUBE_RULES = ("CNI015", "CNI030", "CNI031", "CNI032")


def statuses(state: KubeState) -> dict[str, list[str]]:
    cluster = Cluster(arn=ARN, name="prod", account="111122223333", region="us-east-1", kube=state)
    inventory = Inventory(
        kind="live",
        generated_at="2025-06-02T10:15:00Z",
        clusters=(cluster,),
        sources=("aws", "k8s"),
    )
    report = evaluate(inventory, generated_at="2025-06-02T10:15:00Z")
    return {
        rule: sorted(f.status for f in report.findings if f.rule_id == rule) for rule in KUBE_RULES
    }


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        # pods.json lists kube-system pods only: stuck workload pods were not exported (CNI030)
        (
            "healthy-irsa",
            {"CNI015": ["pass"], "CNI030": ["unknown"], "CNI031": ["pass"], "CNI032": ["pass"]},
        ),
        (
            "stale-pods",
            {"CNI015": ["fail"], "CNI030": ["unknown"], "CNI031": ["pass"], "CNI032": ["pass"]},
        ),
        # Unannotated aws-node and no add-on read: the binding is unknown, the symptoms are not.
        (
            "stuck",
            {"CNI015": ["unknown"], "CNI030": ["fail"], "CNI031": ["fail"], "CNI032": ["fail"]},
        ),
    ],
)
def test_fixture_findings(fixture: str, expected: dict[str, list[str]]) -> None:
    state, _ = read_export(FIXTURES / fixture, cluster=ARN)

    assert statuses(state) == expected


def test_an_export_without_aws_node_pods_leaves_them_unread(tmp_path: Path) -> None:
    """Only workload pods exported: the DaemonSet schedules aws-node pods nobody listed."""
    import json
    import shutil

    for name in ("daemonset.json", "serviceaccounts.json", "events.json", "nodes.json"):
        shutil.copy(FIXTURES / "stale-pods" / name, tmp_path / name)
    pending = {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": ""},
        "items": [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "web-1", "namespace": "default"},
                "spec": {"nodeName": "ip-10-0-1-23.ec2.internal"},
                "status": {"phase": "Running"},
            }
        ],
    }
    (tmp_path / "pending-pods.json").write_text(json.dumps(pending))
    state, _ = read_export(tmp_path, cluster=ARN)
    assert (state.aws_node_pods_read, state.workload_pods_read) == (False, True)
    assert statuses(state)["CNI015"] == ["unknown"]


def test_role_arn_through_value_from_is_not_a_stale_pod() -> None:
    """AWS_ROLE_ARN from a configMapKeyRef: IRSA is set, which role is not readable: unknown."""
    from dataclasses import replace

    from cniguard.model.kube import EnvVar

    state, _ = read_export(FIXTURES / "healthy-irsa", cluster=ARN)

    def by_reference(var: EnvVar) -> EnvVar:
        return EnvVar(var.name, None) if var.name == "AWS_ROLE_ARN" else var

    pods = tuple(
        replace(
            p,
            containers=tuple(
                replace(c, env=tuple(by_reference(v) for v in c.env)) for c in p.containers
            ),
        )
        for p in state.pods or ()
    )
    assert statuses(replace(state, pods=pods))["CNI015"] == ["unknown"]
