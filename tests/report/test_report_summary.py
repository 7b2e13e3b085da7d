"""The numbers every human-readable format prints, computed once from the report."""

from __future__ import annotations

from dataclasses import replace

from cniguard.model.finding import Report
from cniguard.report.summary import (
    Summary,
    cluster_rows,
    gap_lines,
    rule_list,
    status_text,
    summarize,
)


def test_sample_summary(report: Report) -> None:
    assert summarize(report) == Summary(
        clusters=8,
        compliant=2,
        non_compliant=4,
        compliance_unknown=1,
        not_applicable=1,
        irsa_compliance_pct=28.6,
        irsa_compliance_pct_production=66.7,
        coverage_pct=25.0,
        node_role_high_critical=1,
        by_mode=(
            ("irsa", 2),
            ("pod_identity", 1),
            ("node_role", 1),
            ("mixed", 1),
            ("none", 1),
            ("not_applicable", 1),
            ("unknown", 1),
        ),
        open_by_severity=(("critical", 3), ("high", 1), ("medium", 2), ("low", 2), ("info", 1)),
        open_total=9,
        unknown_findings=1,
        suppressed=1,
        expired_suppressions=1,
        gaps=1,
    )


def test_empty_report_has_no_verdict_and_no_gap_list() -> None:
    empty = Report(
        kind="live",
        generated_at="2025-01-01T00:00:00+00:00",
        tool_version="0",
        clusters=(),
        findings=(),
    )
    s = summarize(empty)
    assert (s.clusters, s.irsa_compliance_pct, s.open_total, s.gaps) == (0, None, 0, None)
    assert gap_lines(empty) == ()
    assert cluster_rows(empty) == ()


def test_cluster_rows(report: Report) -> None:
    rows = cluster_rows(report)
    assert [(r.name, r.compliant) for r in rows] == [
        ("prod-payments", "yes"),
        ("prod-checkout", "no"),
        ("prod-search", "yes"),
        ("staging-data", "no"),
        ("dev-analytics", "unknown"),
        ("batch-fargate", "n/a"),
        ("legacy-ci", "no"),
        ("platform", "no"),
    ]
    checkout = rows[1]
    assert rule_list(checkout.failing) == "CNI002 (critical), CNI011 (medium), CNI021 (low)"
    assert [f.rule_id for f in checkout.suppressed] == ["CNI020"]
    assert rule_list(rows[4].unknown) == "CNI015 (medium)"


def test_findings_of_a_cluster_without_a_result_get_their_own_row(report: Report) -> None:
    orphan = replace(report.findings[1], cluster="arn:aws:eks:us-east-1:1:cluster/gone")
    rows = cluster_rows(replace(report, findings=(orphan,)))
    assert (rows[-1].name, rows[-1].cni_identity, rows[-1].compliant) == (
        "arn:aws:eks:us-east-1:1:cluster/gone",
        None,
        "unknown",
    )
    assert (rows[-1].account, rows[-1].region) == ("111122223333", "us-east-1")


def test_rule_listed_once_at_its_worst_severity(report: Report) -> None:
    worse = replace(report.findings[2], severity="critical")
    assert rule_list((report.findings[2], worse)) == "CNI011 (critical)"


def test_status_text(report: Report) -> None:
    assert [status_text(f) for f in report.findings[2:5]] == [
        "fail",
        "suppressed until 2099-12-31: cost-center is assigned by FinOps in Q3",
        "fail (suppression expired 2024-01-31: owner pending re-org)",
    ]


def test_gap_lines_name_what_where_and_why(report: Report) -> None:
    coverage = {
        "gaps": [
            {"what": "eks:addons", "reason": "AccessDenied", "account": "1", "region": "eu-west-1"},
            {"what": "cloudtrail", "operation": "cloudtrail:LookupEvents", "reason": "Throttled"},
            "free text gap",
        ]
    }
    assert gap_lines(replace(report, coverage=coverage)) == (
        "1/eu-west-1: eks:addons: AccessDenied",
        "cloudtrail:LookupEvents: Throttled",
        "free text gap",
    )
