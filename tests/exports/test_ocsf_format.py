"""`--format ocsf`: Detection Finding events that py-ocsf-models (Prowler's models) accepts."""

from __future__ import annotations

import json
from typing import Any

from py_ocsf_models.events.findings.detection_finding import DetectionFinding
from typer.testing import CliRunner

from cniguard.cli.main import app
from cniguard.model.finding import Location
from cniguard.report.asff_format import to_asff
from cniguard.report.ocsf_format import to_ocsf
from exports.reports import ME, arn, cluster, finding, report

ROLE = f"arn:aws:iam::{ME}:role/a-node"
T1_MS = 1796112000000  # 2026-12-01T08:00:00Z


def assert_valid(events: list[dict[str, Any]]) -> None:
    """Each event parses as a DetectionFinding and dumps back unchanged: no key the schema lacks
    (it would be dropped), no value it had to coerce."""
    for event in events:
        parsed = DetectionFinding.model_validate(event)
        assert parsed.model_dump(mode="json", exclude_none=True) == event


def test_a_failing_role_finding_is_this_detection_finding() -> None:
    failing = finding("CNI002", "fail", arn("a"), resource=ROLE, severity="critical")
    [event] = to_ocsf(report([cluster("a")], [failing]))
    assert_valid([event])
    assert {k: event[k] for k in ("class_uid", "category_uid", "type_uid", "activity_id")} == {
        "class_uid": 2004,
        "category_uid": 2,
        "type_uid": 200401,
        "activity_id": 1,
    }
    assert (event["severity_id"], event["severity"]) == (5, "Critical")
    assert (event["status_id"], event["status"], event["status_code"]) == (1, "New", "FAIL")
    assert (event["time"], event["time_dt"]) == (T1_MS, "2026-12-01T08:00:00Z")
    assert event["finding_info"]["uid"] == to_asff(report([cluster("a")], [failing]))[0]["Id"]
    assert event["finding_info"]["title"] == "Title of CNI002"
    assert event["finding_info"]["types"] == ["permissions"]
    assert event["metadata"]["event_code"] == "CNI002"
    assert event["metadata"]["product"] == {
        "name": "cniguard",
        "uid": "cniguard",
        "vendor_name": "cniguard",
        "version": "0.1.0",
    }
    assert event["cloud"] == {
        "account": {"name": ME, "type": "AWS Account", "type_id": 10, "uid": ME},
        "provider": "aws",
        "region": "us-east-1",
    }
    assert [(r["type"], r["uid"]) for r in event["resources"]] == [
        ("AwsEksCluster", arn("a")),
        ("AwsIamRole", ROLE),
    ]
    assert event["remediation"]["desc"] == "Fix CNI002."
    assert event["unmapped"] == {
        "cniguard": {
            "fingerprint": failing.fingerprint,
            "cluster": arn("a"),
            "evidence": {"checked": ROLE},
        }
    }


def test_every_check_is_an_event_and_unknown_never_reads_as_a_pass() -> None:
    findings = [
        finding("CNI001", "unknown", arn("a")),
        finding("CNI002", "pass", arn("a"), resource=ROLE),
        finding("CNI020", "fail", arn("a"), severity="info", suppressed=True),
    ]
    events = to_ocsf(report([cluster("a")], findings))
    assert_valid(events)
    assert [(e["status_code"], e["status_id"], e["severity_id"]) for e in events] == [
        ("UNKNOWN", 1, 4),
        ("PASS", 1, 4),
        ("FAIL", 3, 1),
    ]
    assert events[2]["unmapped"]["cniguard"]["suppression"] == "accepted risk (TICKET-1)"


def test_an_iac_finding_has_its_file_and_no_cloud_account() -> None:
    iac_id = "infra/eks/main.tf#aws_eks_cluster.main"
    iac = finding("CNI002", "fail", iac_id, location=Location("infra/eks/main.tf", 48))
    [event] = to_ocsf(report([], [iac]))
    assert_valid([event])
    assert "cloud" not in event
    assert event["metadata"]["profiles"] == ["datetime"]
    assert event["finding_info"]["uid"] == f"cniguard/{iac.fingerprint}"
    assert event["unmapped"]["cniguard"]["location"] == {"file": "infra/eks/main.tf", "line": 48}


def test_the_demo_fleet_as_ocsf_validates_event_by_event() -> None:
    events = json.loads(CliRunner().invoke(app, ["demo", "--format", "ocsf"]).stdout)
    demo = json.loads(CliRunner().invoke(app, ["demo", "--format", "json"]).stdout)
    assert_valid(events)
    assert [e["unmapped"]["cniguard"]["fingerprint"] for e in events] == [
        f["fingerprint"] for f in demo["findings"]
    ]
