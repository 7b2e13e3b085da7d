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
        (
            "healthy-irsa",
            {"CNI015": ["pass"], "CNI030": ["pass"], "CNI031": ["pass"], "CNI032": ["pass"]},
        ),
        (
            "stale-pods",
            {"CNI015": ["fail"], "CNI030": ["pass"], "CNI031": ["pass"], "CNI032": ["pass"]},
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
