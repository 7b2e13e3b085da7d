"""Security Hub import: read what this integration holds, then BatchImportFindings.

Batches of 100 (the API's limit). A finding Security Hub refuses with a transient error is sent
again, at most ``ATTEMPTS`` times in all; one refused for its input or for permissions is not (a
retry cannot help) and is reported. Throttled or failed calls are retried by botocore. After
sending, the findings are read back and compared, so "sent" means "Security Hub holds it".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cniguard.export.securityhub_plan import (
    AsffFinding,
    ImportPlan,
    RegionPlan,
    is_ours,
)
from cniguard.report.asff_format import GENERATOR_PREFIX, ID_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_securityhub import SecurityHubClient

JOURNAL_SCHEMA = "cniguard.securityhub-journal/v1"
OPERATIONS = ("securityhub:BatchImportFindings", "securityhub:GetFindings")
BATCH = 100
ATTEMPTS = 3
NOT_RETRIED = ("InvalidInput", "AccessDenied", "InvalidAccess")

ClientFor = Callable[[str], "SecurityHubClient"]


@dataclass
class SendResult:
    sent: int = 0
    calls: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # Id -> "ErrorCode: message"
    missing: list[str] = field(default_factory=list)  # sent, but not read back as sent


def held_findings(client: SecurityHubClient, product: str) -> list[AsffFinding]:
    """The ACTIVE findings this integration holds in the client's region."""
    filters: Any = {
        "ProductArn": [{"Value": product, "Comparison": "EQUALS"}],
        "GeneratorId": [{"Value": GENERATOR_PREFIX, "Comparison": "PREFIX"}],
        "Id": [{"Value": ID_PREFIX, "Comparison": "PREFIX"}],
        "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
    }
    found: list[AsffFinding] = []
    for page in client.get_paginator("get_findings").paginate(
        Filters=filters, PaginationConfig={"PageSize": 100}
    ):
        found.extend(dict(f) for f in page["Findings"])
    return [f for f in found if is_ours(f, product)]


def send_region(
    client: SecurityHubClient,
    plan: RegionPlan,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> SendResult:
    """Import a region's active and archived findings; retry transient refusals."""
    result = SendResult()
    pending = [*plan.active, *plan.archive]
    for attempt in range(ATTEMPTS):
        retry: list[AsffFinding] = []
        for batch in _batches(pending):
            answer = client.batch_import_findings(Findings=batch)  # type: ignore[arg-type]
            result.calls += 1
            by_id = {f["Id"]: f for f in batch}
            refused = {r["Id"]: r for r in answer["FailedFindings"]}
            result.sent += len(batch) - len(refused)
            for fid, refusal in refused.items():
                code = refusal["ErrorCode"]
                result.failed[fid] = f"{code}: {refusal['ErrorMessage']}"
                if not code.startswith(NOT_RETRIED) and fid in by_id:
                    retry.append(by_id[fid])
        if not retry or attempt == ATTEMPTS - 1:
            break
        for finding in retry:
            result.failed.pop(finding["Id"], None)
        pending = retry
        sleep(0.5 * 2**attempt)
    return result


def verify_region(client: SecurityHubClient, plan: RegionPlan, result: SendResult) -> None:
    """Read back: every active finding sent is held ACTIVE; every archived one no longer is."""
    held = {f["Id"] for f in held_findings(client, plan.product_arn)}
    for finding in plan.active:
        if finding["Id"] not in result.failed and finding["Id"] not in held:
            result.missing.append(finding["Id"])
    for finding in plan.archive:
        if finding["Id"] not in result.failed and finding["Id"] in held:
            result.missing.append(finding["Id"])


def _batches(findings: list[AsffFinding]) -> Iterator[list[AsffFinding]]:
    for start in range(0, len(findings), BATCH):
        yield findings[start : start + BATCH]


def read_previous(
    regions: list[str], account: str, client_for: ClientFor, partition: str = "aws"
) -> dict[str, list[AsffFinding]]:
    """Per region, what this integration holds ACTIVE there now."""
    from cniguard.report.asff_format import product_arn

    return {
        region: held_findings(client_for(region), product_arn(account, region, partition))
        for region in regions
    }


def send(
    plan: ImportPlan, client_for: ClientFor, journal: Path | None = None
) -> dict[str, SendResult]:
    """Send every region of the plan and read each back; results per region. ``journal`` is
    rewritten atomically before anything is sent and after each region."""
    from cniguard.remediate.journal import now, write_atomically

    record: dict[str, Any] = {
        "schema": JOURNAL_SCHEMA,
        "account": plan.account,
        "started_at": now(),
        "status": "sending",
        "regions": {
            r.region: {
                "active": [f["Id"] for f in r.active],
                "archive": [f["Id"] for f in r.archive],
                "result": None,
            }
            for r in plan.regions
        },
    }
    if journal is not None:
        journal.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(journal, record)
    results = {}
    for region in plan.regions:
        client = client_for(region.region)
        result = send_region(client, region)
        verify_region(client, region, result)
        results[region.region] = result
        record["regions"][region.region]["result"] = {
            "sent": result.sent,
            "calls": result.calls,
            "failed": result.failed,
            "missing": result.missing,
        }
        if journal is not None:
            write_atomically(journal, record)
    record["status"] = (
        "incomplete" if any(r.failed or r.missing for r in results.values()) else "done"
    )
    record["finished_at"] = now()
    if journal is not None:
        write_atomically(journal, record)
    return results
