"""OCSF Detection Finding (class 2004, category 2) events, the shape Prowler emits.

Built with ``py-ocsf-models`` (the models Prowler uses), so every event is checked against the
OCSF schema as it is made. Every check is an event, as in Prowler: ``status_code`` is ``FAIL``,
``PASS`` or ``UNKNOWN`` (could not be decided, never a pass). ``finding_info.uid`` is the ASFF
``Id``, so a SIEM can join both exports. Times follow OCSF: epoch milliseconds plus ``*_dt``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from cniguard.model.finding import Finding, Report, Severity
from cniguard.report.asff_format import finding_id

STATUS_CODE = {"fail": "FAIL", "pass": "PASS", "unknown": "UNKNOWN"}
SEVERITY_NAME: dict[Severity, str] = {
    "critical": "Critical",
    "high": "High",
    "medium": "Medium",
    "low": "Low",
    "info": "Informational",
}


def render(report: Report) -> str:
    return json.dumps(to_ocsf(report), indent=2, ensure_ascii=False) + "\n"


def to_ocsf(report: Report) -> list[dict[str, Any]]:
    when = datetime.fromisoformat(report.generated_at)
    return [
        _event(f, when, report.tool_version).model_dump(mode="json", exclude_none=True)
        for f in report.findings
    ]


def _event(finding: Finding, when: datetime, tool_version: str) -> Any:
    from py_ocsf_models.events.base_event import SeverityID, StatusID
    from py_ocsf_models.events.findings.detection_finding import (
        DetectionFinding,
        DetectionFindingTypeID,
    )
    from py_ocsf_models.events.findings.finding import ActivityID, FindingInformation
    from py_ocsf_models.objects.metadata import Metadata
    from py_ocsf_models.objects.product import Product
    from py_ocsf_models.objects.remediation import Remediation

    from cniguard.rules import RULES_BY_ID

    rule = RULES_BY_ID.get(finding.rule_id)
    millis = int(when.timestamp() * 1000)
    severity = SeverityID[SEVERITY_NAME[finding.severity]]
    suppressed = finding.suppression is not None and not finding.suppression.expired
    status = StatusID.Suppressed if suppressed else StatusID.New
    references = list(rule.references) if rule is not None else []
    is_aws = finding.cluster.startswith("arn:")
    return DetectionFinding(
        message=finding.message,
        activity_id=ActivityID.Create,
        activity_name=ActivityID.Create.name,
        finding_info=FindingInformation(
            uid=finding_id(finding) if is_aws else f"cniguard/{finding.fingerprint}",
            title=finding.title,
            desc=rule.rationale if rule is not None and rule.rationale else finding.title,
            types=[rule.category] if rule is not None else None,
            name=finding.resource,
            created_time=millis,
            created_time_dt=when,
        ),
        time=millis,
        time_dt=when,
        severity_id=severity,
        severity=severity.name,
        status_id=status,
        status=status.name,
        status_code=STATUS_CODE[finding.status],
        status_detail=finding.message,
        risk_details=rule.rationale if rule is not None else None,
        remediation=Remediation(desc=finding.remediation or finding.title, references=references)
        if finding.remediation or references
        else None,
        resources=_resources(finding, is_aws),
        cloud=_cloud(finding) if is_aws else None,
        metadata=Metadata(
            event_code=finding.rule_id,
            product=Product(
                uid="cniguard", name="cniguard", vendor_name="cniguard", version=tool_version
            ),
            profiles=["cloud", "datetime"] if is_aws else ["datetime"],
        ),
        type_uid=DetectionFindingTypeID.Create,
        type_name=f"Detection Finding: {DetectionFindingTypeID.Create.name}",
        unmapped={
            "cniguard": {
                "fingerprint": finding.fingerprint,
                "cluster": finding.cluster,
                "evidence": finding.evidence,
                **(
                    {"location": {"file": finding.location.file, "line": finding.location.line}}
                    if finding.location is not None
                    else {}
                ),
                **(
                    {"suppression": finding.suppression.reason}
                    if finding.suppression is not None
                    else {}
                ),
            }
        },
    )


def _resources(finding: Finding, is_aws: bool) -> list[Any]:
    from py_ocsf_models.objects.group import Group
    from py_ocsf_models.objects.resource_details import ResourceDetails

    partition = finding.cluster.split(":")[1] if is_aws else None
    region = finding.region or None
    cluster = ResourceDetails(
        uid=finding.cluster,
        name=finding.cluster.rsplit("/", 1)[-1],
        type="AwsEksCluster" if is_aws else "Cluster",
        group=Group(name="eks"),
        cloud_partition=partition,
        region=region,
    )
    if finding.resource == finding.cluster:
        return [cluster]
    role = ":role/" in finding.resource
    other = ResourceDetails(
        uid=finding.resource,
        name=finding.resource.rsplit("/", 1)[-1],
        type="AwsIamRole" if role else "Other",
        group=Group(name="iam" if role else "eks"),
        cloud_partition=partition,
        region=region,
    )
    return [cluster, other]


def _cloud(finding: Finding) -> Any:
    from py_ocsf_models.objects.account import Account, TypeID
    from py_ocsf_models.objects.cloud import Cloud

    account = Account(
        name=finding.account,
        type_id=TypeID.AWS_Account,
        type=TypeID.AWS_Account.name.replace("_", " "),
        uid=finding.account,
    )
    return Cloud(account=account, provider="aws", region=finding.region or None)
