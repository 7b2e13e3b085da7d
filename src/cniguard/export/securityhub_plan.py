"""What a Security Hub import sends: pure, so the rules about archiving are tested without AWS.

Security Hub takes a custom integration's findings only from the account they belong to, so one
run imports the caller's account; findings of other accounts are counted, never sent. What was
imported before is read back from Security Hub itself (GetFindings on this integration's product
ARN and cniguard's GeneratorId prefix), not from a local store: Security Hub is the state that
matters, and a store may be absent, stale or another machine's. A previously imported finding is
archived only when this scan read its cluster without a gap and the check no longer fails; a
cluster that was not read (another region, a shard, a failed call) keeps its findings as they are.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from cniguard.model.finding import Finding, Report
from cniguard.report.asff_format import (
    GENERATOR_PREFIX,
    ID_PREFIX,
    asff_finding,
    finding_id,
    product_arn,
)

AsffFinding = dict[str, Any]
# what an archived copy of a finding keeps of the one Security Hub holds (the fields the finding
# provider owns; Security Hub adds its own, which BatchImportFindings must not be sent)
_KEPT = (
    "SchemaVersion",
    "Id",
    "ProductArn",
    "GeneratorId",
    "AwsAccountId",
    "Region",
    "Types",
    "CreatedAt",
    "Severity",
    "FindingProviderFields",
    "Title",
    "Description",
    "Resources",
    "Compliance",
    "Remediation",
)


@dataclass(frozen=True)
class RegionPlan:
    region: str
    product_arn: str
    active: tuple[AsffFinding, ...]  # failing or undecided now: created or updated by Id
    archive: tuple[AsffFinding, ...]  # imported before, resolved in a cluster read now
    kept: tuple[str, ...]  # imported before, cluster not read (or read with gaps): untouched

    @property
    def new(self) -> int:
        return sum(1 for f in self.active if f["CreatedAt"] == f["UpdatedAt"])


@dataclass(frozen=True)
class ImportPlan:
    account: str
    regions: tuple[RegionPlan, ...]
    other_accounts: dict[str, int]  # account -> findings to import that this run cannot send

    def summary(self) -> list[str]:
        """One line per region, then the accounts left out: what is (or would be) sent."""
        lines = [
            f"{r.region}: {len(r.active)} active ({r.new} new, {len(r.active) - r.new} updated), "
            f"{len(r.archive)} archived, {len(r.kept)} left as they are (cluster not read)"
            for r in self.regions
        ]
        if not self.regions:
            lines.append(f"no findings of account {self.account} to send or archive")
        if self.other_accounts:
            skipped = ", ".join(f"{a}: {n}" for a, n in sorted(self.other_accounts.items()))
            lines.append(
                f"not sent (Security Hub takes findings only from their own account; run in "
                f"each account): {skipped}"
            )
        return lines


def is_ours(finding: AsffFinding, product: str) -> bool:
    """An ACTIVE finding this integration imported (GetFindings filters are checked again here:
    a filter the service ignored must not let another product's findings be archived)."""
    return (
        finding.get("ProductArn") == product
        and str(finding.get("GeneratorId", "")).startswith(GENERATOR_PREFIX)
        and str(finding.get("Id", "")).startswith(ID_PREFIX)
        and finding.get("RecordState") == "ACTIVE"
    )


def plan_import(
    report: Report,
    account: str,
    previous: dict[str, list[AsffFinding]],
) -> ImportPlan:
    """The findings to send per region; ``previous`` holds, per region, what is ACTIVE there.
    Every finding sent carries the scan's time as ``UpdatedAt``."""
    now = report.generated_at
    mine = [f for f in report.findings if f.account == account]
    others = Counter(
        f.account for f in report.findings if f.account != account and f.status != "pass"
    )
    read = _clusters_read(report, account)
    regions = sorted({f.region for f in mine if f.status != "pass"} | set(previous))
    plans = []
    for region in regions:
        product = product_arn(account, region, _partition(mine))
        current = [f for f in mine if f.region == region]
        held = {p["Id"]: p for p in previous.get(region, []) if is_ours(p, product)}
        active = tuple(
            asff_finding(
                f,
                now,
                report.tool_version,
                created_at=held[finding_id(f)]["CreatedAt"] if finding_id(f) in held else None,
            )
            for f in current
            if f.status != "pass"
        )
        passing = {finding_id(f): f for f in current if f.status == "pass"}
        sent = {a["Id"] for a in active}
        archive, kept = [], []
        for fid, old in sorted(held.items()):
            if fid in sent:
                continue
            if _cluster_of(old) not in read:
                kept.append(fid)
            elif fid in passing:
                archive.append(
                    asff_finding(
                        passing[fid],
                        now,
                        report.tool_version,
                        created_at=old["CreatedAt"],
                        archived=True,
                    )
                )
            else:  # the check is gone from a cluster read in full (the rule no longer applies)
                archive.append(
                    {k: old[k] for k in _KEPT if k in old}
                    | {"UpdatedAt": now, "RecordState": "ARCHIVED"}
                )
        if active or archive or kept:
            plans.append(
                RegionPlan(
                    region,
                    product,
                    active,
                    tuple(archive),
                    tuple(kept),
                )
            )
    return ImportPlan(account, tuple(plans), dict(sorted(others.items())))


def _clusters_read(report: Report, account: str) -> set[str]:
    """Clusters of ``account`` read in full: no gap names them, their account or their region."""
    gaps = [g for g in report.coverage.get("gaps") or [] if isinstance(g, dict)]

    def touched(arn: str, region: str) -> bool:
        return any(
            g.get("cluster") == arn
            or (
                g.get("cluster") is None
                and g.get("account") in (account, None)
                and g.get("region") in (region, None)
            )
            for g in gaps
        )

    return {c.arn for c in report.clusters if c.account == account and not touched(c.arn, c.region)}


def _cluster_of(finding: AsffFinding) -> str | None:
    for resource in finding.get("Resources") or []:
        if resource.get("Type") == "AwsEksCluster":
            return str(resource.get("Id"))
    return None


def _partition(findings: list[Finding]) -> str:
    """The partition of the clusters (aws, aws-cn, aws-us-gov); aws when there are none."""
    parts = findings[0].cluster.split(":") if findings else []
    return parts[1] if len(parts) > 1 and parts[1] else "aws"
