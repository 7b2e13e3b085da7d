"""Finding lifecycle across scans: open, resolve, re-open, and fail-closed when a scan saw less."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cniguard.store import save_report
from cniguard.store.database import get_engine
from cniguard.store.queries import cluster_incidents, list_findings
from cniguard.store.schema import Scan, ScanCluster

from .factory import arn, cluster, finding, report

D1, D2, D3, D4 = (f"2026-03-0{d}T06:00:00Z" for d in (1, 2, 3, 4))
NODE_ROLE = finding("CNI002", "alpha", severity="high")


def states(url: str) -> dict[str, tuple[str, str | None, str | None, str | None]]:
    """fingerprint -> (state, first_seen, last_seen, resolved_at)."""
    return {
        f["fingerprint"]: (f["state"], f["first_seen"], f["last_seen"], f["resolved_at"])
        for f in list_findings(get_engine(url))
    }


def test_scan_rows_are_written(db_url: str) -> None:
    scan_id = save_report(
        db_url,
        report(D1, [cluster("alpha", "node_role", production=True), cluster("beta", "irsa")],
               [NODE_ROLE], duration=12.5),
    )
    with Session(get_engine(db_url)) as s:
        scan = s.get(Scan, scan_id)
        assert scan is not None
        assert (scan.day, scan.kind, scan.tool_version, scan.duration_seconds) == (
            "2026-03-01", "live", "0.1.0", 12.5)
        rows = s.scalars(select(ScanCluster).order_by(ScanCluster.name)).all()
        assert [(r.name, r.identity_mode, r.production, r.compliant, r.complete) for r in rows] == [
            ("alpha", "node_role", True, False, True),
            ("beta", "irsa", False, True, True),
        ]


def test_resolve_then_reopen_counts_two_incidents(db_url: str) -> None:
    fp = NODE_ROLE.fingerprint
    clusters = [cluster("alpha", "node_role")]
    save_report(db_url, report(D1, clusters, [NODE_ROLE]))
    assert states(db_url) == {fp: ("open", "2026-03-01T06:00:00Z", "2026-03-01T06:00:00Z", None)}
    save_report(db_url, report(D2, clusters, []))
    assert states(db_url) == {
        fp: ("resolved", "2026-03-01T06:00:00Z", "2026-03-01T06:00:00Z", "2026-03-02T06:00:00Z")
    }
    save_report(db_url, report(D3, clusters, [NODE_ROLE]))
    assert states(db_url) == {fp: ("open", "2026-03-01T06:00:00Z", "2026-03-03T06:00:00Z", None)}
    incidents = cluster_incidents(get_engine(db_url), arn("alpha"))
    assert [(i["opened_at"], i["resolved_at"], i["resolution"]) for i in incidents] == [
        ("2026-03-03T06:00:00Z", None, None),
        ("2026-03-01T06:00:00Z", "2026-03-02T06:00:00Z", "fixed"),
    ]


def _after_second_scan(db_url: str, second: Any) -> str:
    save_report(db_url, report(D1, [cluster("alpha", "node_role")], [NODE_ROLE]))
    save_report(db_url, second)
    return states(db_url)[NODE_ROLE.fingerprint][0]


def test_gap_naming_the_cluster_keeps_it_open(db_url: str) -> None:
    gap = {"what": "iam:role", "reason": "AccessDenied", "cluster": arn("alpha")}
    assert _after_second_scan(db_url, report(D2, [cluster("alpha", "node_role")], gaps=[gap])) == (
        "open")


def test_account_wide_gap_keeps_it_open(db_url: str) -> None:
    gap = {"what": "iam:roles", "reason": "throttled", "account": "111122223333"}
    assert _after_second_scan(db_url, report(D2, [cluster("alpha", "node_role")], gaps=[gap])) == (
        "open")


def test_gap_on_another_resource_or_cloudtrail_does_not_block(db_url: str) -> None:
    gaps = [
        {"what": "iam:role", "reason": "AccessDenied", "resource": "arn:aws:iam::1:role/other"},
        {"what": "cloudtrail", "reason": "AccessDenied", "account": "111122223333"},
        {"what": "k8s:pods", "reason": "Forbidden", "cluster": arn("beta")},
    ]
    second = report(D2, [cluster("alpha", "irsa"), cluster("beta", "irsa")], gaps=gaps)
    assert _after_second_scan(db_url, second) == "resolved"


def test_cluster_missing_from_the_scan_keeps_it_open(db_url: str) -> None:
    assert _after_second_scan(db_url, report(D2, [cluster("beta", "irsa")])) == "open"


def test_cluster_with_unknown_identity_keeps_it_open(db_url: str) -> None:
    assert _after_second_scan(db_url, report(D2, [cluster("alpha", "unknown")])) == "open"


def test_unknown_status_keeps_an_open_finding_open(db_url: str) -> None:
    unknown = finding("CNI002", "alpha", status="unknown")
    assert _after_second_scan(db_url, report(D2, [cluster("alpha")], [unknown])) == "open"


def test_pass_resolves(db_url: str) -> None:
    passed = finding("CNI002", "alpha", status="pass")
    assert _after_second_scan(db_url, report(D2, [cluster("alpha")], [passed])) == "resolved"


def test_suppression_closes_the_incident_as_suppressed(db_url: str) -> None:
    suppressed = finding("CNI002", "alpha", suppressed=True)
    assert _after_second_scan(db_url, report(D2, [cluster("alpha")], [suppressed])) == "resolved"
    incidents = cluster_incidents(get_engine(db_url), arn("alpha"))
    assert [i["resolution"] for i in incidents] == ["suppressed"]


def test_an_older_report_does_not_resolve_a_newer_finding(db_url: str) -> None:
    save_report(db_url, report(D3, [cluster("alpha", "node_role")], [NODE_ROLE]))
    save_report(db_url, report(D2, [cluster("alpha", "irsa")]))
    assert states(db_url)[NODE_ROLE.fingerprint][0] == "open"


def test_unknown_findings_are_stored_but_not_open(db_url: str) -> None:
    unknown = finding("CNI015", "alpha", status="unknown", severity="medium")
    save_report(db_url, report(D1, [cluster("alpha")], [unknown]))
    engine = get_engine(db_url)
    assert list_findings(engine, "open") == []
    assert [(f["rule_id"], f["state"], f["resolved_at"]) for f in list_findings(engine)] == [
        ("CNI015", "unknown", None)
    ]


def test_state_filters(db_url: str) -> None:
    other = finding("CNI030", "alpha", severity="critical")
    save_report(db_url, report(D1, [cluster("alpha", "node_role")], [NODE_ROLE, other]))
    save_report(db_url, report(D4, [cluster("alpha", "node_role")], [NODE_ROLE]))
    engine = get_engine(db_url)
    assert [f["rule_id"] for f in list_findings(engine, "open")] == ["CNI002"]
    resolved = list_findings(engine, "resolved")
    assert [(f["rule_id"], f["severity"], f["cluster"], f["account"], f["region"],
             f["first_seen"], f["last_seen"], f["resolved_at"]) for f in resolved] == [
        ("CNI030", "critical", arn("alpha"), "111122223333", "eu-west-1",
         "2026-03-01T06:00:00Z", "2026-03-01T06:00:00Z", "2026-03-04T06:00:00Z"),
    ]
