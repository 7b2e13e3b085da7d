"""`--format asff`: valid BatchImportFindings input per botocore's model, stable Ids, fail closed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from typer.testing import CliRunner

from cniguard.cli.main import app
from cniguard.model.finding import Location
from cniguard.report import render
from cniguard.report.asff_format import AsffError, to_asff
from exports.reports import ME, T1, T2, arn, cluster, finding, report

ROLE = f"arn:aws:iam::{ME}:role/a-node"
OIDC = f"arn:aws:iam::{ME}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"


def model_errors(findings: list[dict[str, Any]]) -> str:
    """botocore's own validation of a BatchImportFindings request ('' when valid)."""
    model = botocore.session.get_session().get_service_model("securityhub")
    shape = model.operation_model("BatchImportFindings").input_shape
    assert shape is not None
    report: str = ParamValidator().validate({"Findings": findings}, shape).generate_report()
    return report


def test_a_failing_role_finding_is_this_asff_document() -> None:
    failing = finding("CNI002", "fail", arn("a"), resource=ROLE, severity="critical")
    [doc] = to_asff(report([cluster("a")], [failing]))
    types = ["Software and Configuration Checks/AWS Security Best Practices/permissions"]
    assert doc == {
        "SchemaVersion": "2018-10-08",
        "Id": f"cniguard/{ME}/us-east-1/a/CNI002/{failing.fingerprint}",
        "ProductArn": f"arn:aws:securityhub:us-east-1:{ME}:product/{ME}/default",
        "GeneratorId": "cniguard/CNI002",
        "AwsAccountId": ME,
        "Region": "us-east-1",
        "Types": types,
        "CreatedAt": T1,
        "UpdatedAt": T1,
        "Severity": {"Label": "CRITICAL"},
        "FindingProviderFields": {"Severity": {"Label": "CRITICAL"}, "Types": types},
        "Title": "CNI002: Title of CNI002",
        "Description": f"CNI002 is fail on {ROLE}.",
        "Resources": [
            {"Type": "AwsEksCluster", "Id": arn("a"), "Partition": "aws", "Region": "us-east-1"},
            {"Type": "AwsIamRole", "Id": ROLE, "Partition": "aws", "Region": "us-east-1"},
        ],
        "Compliance": {"Status": "FAILED"},
        "RecordState": "ACTIVE",
        "ProductFields": {
            "ProviderName": "cniguard",
            "ProviderVersion": "0.1.0",
            "cniguard/status": "fail",
            "cniguard/fingerprint": failing.fingerprint,
            "cniguard/resource": ROLE,
        },
        "Workflow": {"Status": "NEW"},
        "Remediation": {
            "Recommendation": {
                "Text": "Fix CNI002.",
                "Url": "https://docs.aws.amazon.com/eks/latest/userguide/cni-iam-role.html",
            }
        },
    }
    assert model_errors([doc]) == ""
    untitled = {k: v for k, v in doc.items() if k != "Title"}
    assert 'Missing required parameter in Findings[0]: "Title"' in model_errors([untitled])


def test_unknown_is_a_warning_passes_are_left_out_and_suppressions_are_kept() -> None:
    findings = [
        finding("CNI001", "unknown", arn("a")),
        finding("CNI010", "pass", arn("a"), resource=OIDC),
        finding("CNI010", "fail", arn("b"), resource=OIDC),
        finding("CNI020", "fail", arn("b"), severity="info", suppressed=True),
    ]
    docs = to_asff(report([cluster("a"), cluster("b")], findings))
    assert [
        (d["GeneratorId"], d["Compliance"]["Status"], d["Workflow"]["Status"], d["Severity"])
        for d in docs
    ] == [
        ("cniguard/CNI001", "WARNING", "NEW", {"Label": "HIGH"}),
        ("cniguard/CNI010", "FAILED", "NEW", {"Label": "HIGH"}),
        ("cniguard/CNI020", "FAILED", "SUPPRESSED", {"Label": "INFORMATIONAL"}),
    ]
    assert docs[0]["Description"] == f"Could not be decided: CNI001 is unknown on {arn('a')}."
    assert [r["Type"] for r in docs[1]["Resources"]] == ["AwsEksCluster", "Other"]
    assert model_errors(docs) == ""


def test_the_id_is_stable_across_scans_and_distinct_per_resource() -> None:
    first = to_asff(report([cluster("a")], [finding("CNI002", "fail", arn("a"), resource=ROLE)]))
    later = to_asff(
        report([cluster("a")], [finding("CNI002", "fail", arn("a"), resource=ROLE)], at=T2)
    )
    other_role = to_asff(
        report([cluster("a")], [finding("CNI002", "fail", arn("a"), resource=ROLE + "2")])
    )
    assert first[0]["Id"] == later[0]["Id"] != other_role[0]["Id"]
    assert (first[0]["UpdatedAt"], later[0]["UpdatedAt"]) == (T1, T2)


def test_texts_longer_than_security_hub_takes_are_shortened() -> None:
    long = finding("CNI002", "fail", arn("a"))
    long = type(long)(**{**long.__dict__, "message": "m" * 2000, "remediation": "r" * 600})
    [doc] = to_asff(report([cluster("a")], [long]))
    assert doc["Description"] == "m" * 1023 + "…"
    assert doc["Remediation"]["Recommendation"]["Text"] == "r" * 511 + "…"
    assert model_errors([doc]) == ""


def test_a_finding_without_an_aws_account_is_refused_with_its_name() -> None:
    iac = finding(
        "CNI002", "fail", "infra/eks/main.tf#aws_eks_cluster.main", location=Location("x")
    )
    with pytest.raises(AsffError) as caught:
        render(report([], [iac]), "asff")
    assert str(caught.value) == (
        f"ASFF needs an AWS account and region; finding {iac.fingerprint} of "
        "infra/eks/main.tf#aws_eks_cluster.main has account '' and region ''"
    )


def test_the_demo_fleet_as_asff_is_a_valid_import_of_every_fail_and_unknown() -> None:
    result = CliRunner().invoke(app, ["demo", "--format", "asff"])
    docs = json.loads(result.stdout)
    assert model_errors(docs) == ""
    demo = json.loads(CliRunner().invoke(app, ["demo", "--format", "json"]).stdout)
    wanted = [f["fingerprint"] for f in demo["findings"] if f["status"] in ("fail", "unknown")]
    assert [d["ProductFields"]["cniguard/fingerprint"] for d in docs] == wanted
    assert len({d["Id"] for d in docs}) == len(docs)


def test_asff_of_an_iac_audit_is_one_error_line() -> None:
    fixture = Path(__file__).resolve().parents[1] / "fixtures/terraform/auto_mode"
    result = CliRunner().invoke(app, ["iac", str(fixture), "--format", "asff"])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("cniguard: error: ASFF needs an AWS account and region; finding ")
    assert line.endswith("has account '${account}' and region '${region}'")
    assert result.stdout == ""
