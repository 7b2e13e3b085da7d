"""Engine: identity modes, compliance, fail-closed behaviour, suppressions, KPIs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace

import pytest

from cniguard.analysis import ClusterView
from cniguard.config import Config, Suppression
from cniguard.demo.builders import node_group, vpc_cni
from cniguard.engine import evaluate
from cniguard.model.finding import Finding
from cniguard.model.inventory import Cluster, FargateProfile, NodeGroup
from cniguard.rules import RULES
from cniguard.rules.base import Rule, rule
from core.scenarios import (
    CLUSTER_ARN,
    CNI_ROLE,
    NODE_ROLE,
    cluster,
    cni_managed,
    cni_role,
    inventory,
    kube,
    node_role,
)


def mode(inv: object) -> tuple[str, bool | None]:
    c = evaluate(inv).clusters[0]  # type: ignore[arg-type]
    return c.cni_identity, c.compliant


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (inventory, ("irsa", True)),
        (lambda: inventory(roles=(node_role(cni_managed()), cni_role())), ("mixed", False)),
        (
            lambda: inventory(
                clusters=(cluster(addons=(vpc_cni(None),), kube=kube(env=(), sa_role=None)),),
                roles=(node_role(cni_managed()),),
            ),
            ("node_role", False),
        ),
        (
            lambda: inventory(
                clusters=(cluster(addons=(vpc_cni(None),), kube=kube(env=(), sa_role=None)),),
                roles=(node_role(),),
            ),
            ("none", False),
        ),
        (
            lambda: inventory(
                clusters=(
                    cluster(
                        node_groups=(),
                        kube=None,
                        fargate_profiles=(FargateProfile("fp", "arn:aws:iam::1:role/f"),),
                        authentication_mode="API",
                    ),
                )
            ),
            ("not_applicable", None),
        ),
        (
            lambda: inventory(
                clusters=(
                    cluster(
                        node_groups=(NodeGroup("auto", "auto", "arn:aws:iam::1:role/a"),),
                        auto_mode=True,
                        kube=None,
                        authentication_mode="API",
                    ),
                )
            ),
            ("not_applicable", None),
        ),
        (
            lambda: inventory(
                clusters=(
                    cluster(
                        node_groups=(node_group("w", NODE_ROLE, os="windows"),),
                        kube=None,
                        authentication_mode="API",
                    ),
                )
            ),
            ("not_applicable", None),
        ),
        # the node role was not read: never a pass, never a mode guess
        (
            lambda: inventory(
                clusters=(cluster(addons=(vpc_cni(None),), kube=kube(env=(), sa_role=None)),),
                roles=(),
            ),
            ("unknown", None),
        ),
        # the IRSA role was not read: compliance unknown
        (lambda: inventory(roles=(node_role(),)), ("irsa", None)),
        # node groups not read and no kube: cannot tell whether aws-node runs
        (lambda: inventory(clusters=(cluster(node_groups=None, kube=None),)), ("unknown", None)),
    ],
)
def test_identity_mode_and_compliance(build: object, expected: tuple[str, bool | None]) -> None:
    assert mode(build()) == expected  # type: ignore[operator]


def test_binding_precedence_pods_over_annotation_over_addon() -> None:
    other = "arn:aws:iam::111122223333:role/other"
    inv = inventory(clusters=(cluster(addons=(vpc_cni(other),)),))
    view = ClusterView(
        inv.clusters[0], __import__("cniguard.analysis").analysis.InventoryIndex(inv), Config()
    )
    assert (view.binding.kind, view.binding.role_arn, view.binding.source) == (
        "irsa",
        CNI_ROLE,
        "pods",
    )
    no_pods = replace(inv.clusters[0], kube=replace(kube(), pods=None))
    view = ClusterView(no_pods, view.index, Config())
    assert (view.binding.role_arn, view.binding.source) == (CNI_ROLE, "service_account")
    no_kube = replace(inv.clusters[0], kube=None)
    view = ClusterView(no_kube, view.index, Config())
    assert (view.binding.role_arn, view.binding.source) == (other, "addon")


def test_no_addon_data_but_pods_known_decides() -> None:
    inv = inventory(clusters=(cluster(addons=None, pod_identity_associations=None),))
    assert mode(inv) == ("irsa", True)


def test_unknown_binding_without_kube_or_addon() -> None:
    inv = inventory(clusters=(cluster(addons=(vpc_cni(None),), kube=None),))
    report = evaluate(inv)
    assert report.clusters[0].cni_identity == "unknown"
    assert report.clusters[0].reasons == ("the aws-node ServiceAccount was not read",)
    cni001 = next(f for f in report.findings if f.rule_id == "CNI001")
    assert cni001.status == "unknown"


def test_a_rule_that_raises_becomes_unknown_not_a_crash() -> None:
    @rule("CNI999", "broken", "high", "permissions", "r", "fix")
    def broken(view: ClusterView, r: Rule) -> Iterator[Finding]:
        raise KeyError("boom")
        yield  # pragma: no cover

    report = evaluate(inventory(), rules=(*RULES, broken))
    f = next(f for f in report.findings if f.rule_id == "CNI999")
    assert (f.status, f.evidence) == ("unknown", {"error": "KeyError: 'boom'"})
    assert len(report.clusters) == 1


def test_every_cluster_is_in_the_report_even_when_empty() -> None:
    bare = Cluster(
        arn="arn:aws:eks:us-east-1:1:cluster/bare", name="bare", account="1", region="us-east-1"
    )
    report = evaluate(inventory(clusters=(cluster(), bare)))
    assert [c.name for c in report.clusters] == ["prod", "bare"]
    assert report.clusters[1].cni_identity == "unknown"
    bare_findings = [f for f in report.findings if f.cluster == bare.arn]
    assert {f.rule_id for f in bare_findings if f.status == "fail"} == {
        "CNI090"
    }  # says what is missing
    assert {f.status for f in bare_findings if f.rule_id != "CNI090"} == {"unknown"}


def test_live_scan_without_kubernetes_reports_unknown_for_k8s_rules() -> None:
    inv = inventory(sources=("aws", "cloudtrail"))
    report = evaluate(inv)
    for rule_id in ("CNI015", "CNI030", "CNI031", "CNI032"):
        f = next(f for f in report.findings if f.rule_id == rule_id)
        assert f.status == "unknown"
        assert (
            f.message
            == "Kubernetes state was not collected (use --kube, --kube-context or --kube-export)."
        )


def test_iac_inventories_skip_runtime_rules() -> None:
    inv = inventory(kind="iac", sources=("iac",))
    report = evaluate(inv)
    assert {f.rule_id for f in report.findings}.isdisjoint(
        {"CNI015", "CNI030", "CNI031", "CNI032", "CNI040", "CNI041"}
    )
    assert report.coverage["rules_not_applicable"] == [
        "CNI015",
        "CNI030",
        "CNI031",
        "CNI032",
        "CNI040",
        "CNI041",
    ]


def test_suppressions_apply_and_expire() -> None:
    inv = inventory(clusters=(cluster(tags={}),), roles=(node_role(cni_managed()), cni_role()))
    config = Config(
        today=dt.date(2026, 11, 27),
        suppressions=(
            Suppression("CNI002", NODE_ROLE, "migration ticket", dt.date(2027, 1, 1)),
            Suppression("CNI02?", "arn:aws:eks:*:cluster/prod", "old waiver", dt.date(2026, 1, 1)),
        ),
    )
    report = evaluate(inv, config)
    cni002 = next(f for f in report.findings if f.rule_id == "CNI002")
    assert cni002.suppression is not None and not cni002.suppression.expired and not cni002.active
    cni020 = next(f for f in report.findings if f.rule_id == "CNI020")
    assert cni020.suppression is not None and cni020.suppression.expired and cni020.active
    assert report.coverage["expired_suppressions"] == [
        {
            "rule": "CNI02?",
            "resource": "arn:aws:eks:*:cluster/prod",
            "reason": "old waiver",
            "expires": "2026-01-01",
            "finding": cni020.fingerprint,
        }
    ]
    assert report.kpis["suppressed_findings"] == 1
    # suppressing a finding never makes the cluster compliant
    assert report.clusters[0].compliant is False


def test_severity_override() -> None:
    report = evaluate(
        inventory(clusters=(cluster(tags={}),)), Config(severity_overrides={"CNI020": "high"})
    )
    assert next(f.severity for f in report.findings if f.rule_id == "CNI020") == "high"


def test_fingerprints_are_stable_and_distinct() -> None:
    a = evaluate(inventory()).findings
    b = evaluate(inventory()).findings
    assert [f.fingerprint for f in a] == [f.fingerprint for f in b]
    assert len({f.fingerprint for f in a}) == len(a)


def test_kpis_exact() -> None:
    prod_ok = cluster()
    dev_node = replace(
        cluster(addons=(vpc_cni(None),), kube=kube(env=(), sa_role=None)),
        arn="arn:aws:eks:us-east-1:111122223333:cluster/dev",
        name="dev",
        tags={"owner": "a", "cost-center": "b", "environment": "dev"},
    )
    inv = inventory(clusters=(prod_ok, dev_node), roles=(node_role(cni_managed()), cni_role()))
    k = evaluate(inv).kpis
    assert k["clusters"] == 2
    assert k["irsa_compliance_pct"] == 0.0  # prod shares the node role that grants CNI: mixed
    assert k["clusters_by_identity"]["mixed"] == 1 and k["clusters_by_identity"]["node_role"] == 1
    assert k["prod_clusters_on_node_role"] == 1
    assert k["open_findings_by_severity"] == {
        "critical": 0,
        "high": 2,
        "medium": 0,
        "low": 0,
        "info": 0,
    }
    assert k["node_role_findings_high_critical"] == 2
    assert k["coverage_pct"] == 100.0
    assert CLUSTER_ARN in {f.cluster for f in evaluate(inv).findings}


def test_unread_node_sources_make_fargate_only_unknown() -> None:
    fargate = (FargateProfile("fp", "arn:aws:iam::1:role/f"),)
    no_aws_auth = cluster(
        node_groups=(),
        kube=None,
        fargate_profiles=fargate,
        authentication_mode="API_AND_CONFIG_MAP",
    )
    no_entries = cluster(
        node_groups=(),
        kube=None,
        fargate_profiles=fargate,
        authentication_mode="API",
        access_entries=None,
    )
    for c, why in (
        (no_aws_auth, "the aws-auth ConfigMap was not read"),
        (no_entries, "access entries were not read"),
    ):
        report = evaluate(inventory(clusters=(c,)))
        assert report.clusters[0].cni_identity == "unknown"
        assert report.clusters[0].reasons == (f"{why} (self-managed nodes may exist)",)


def test_broken_dedicated_identity_is_mode_none() -> None:
    from cniguard.demo.builders import irsa_trust
    from core.scenarios import ACCOUNT, REGION

    wrong_sub = irsa_trust(
        ACCOUNT,
        REGION,
        "5A1B2C3D4E5F60718293A4B5C6D7E8F9",
        sub="system:serviceaccount:default:aws-node",
    )
    report = evaluate(inventory(roles=(node_role(), cni_role(trust=wrong_sub))))
    assert (report.clusters[0].cni_identity, report.clusters[0].compliant) == ("none", False)


def test_pod_identity_target_role_holds_the_permissions() -> None:
    from cniguard.demo.builders import EC2_TRUST, role
    from core.scenarios import pod_identity_cluster

    target = "arn:aws:iam::444455556666:role/cni-target"
    base = pod_identity_cluster()
    c = base.clusters[0]
    pia = replace(c.pod_identity_associations[0], target_role_arn=target)  # type: ignore[index]
    source = cni_role(trust=base.roles[1].trust_policy, policies=())
    chained = replace(c, pod_identity_associations=(pia,))
    granting = role("444455556666", "cni-target", trust=EC2_TRUST, policies=(cni_managed(),))
    ok = evaluate(replace(base, clusters=(chained,), roles=(node_role(), source, granting)))
    assert (ok.clusters[0].cni_identity, ok.clusters[0].compliant) == ("pod_identity", True)
    bare = replace(granting, policies=())
    broken = evaluate(replace(base, clusters=(chained,), roles=(node_role(), source, bare)))
    cni001 = next(f for f in broken.findings if f.rule_id == "CNI001")
    assert cni001.status == "fail" and f"{target} lacks" in cni001.message
    unread = evaluate(replace(base, clusters=(chained,), roles=(node_role(), source)))
    assert next(f.status for f in unread.findings if f.rule_id == "CNI001") == "unknown"
