"""What one report actually read: the fail-closed test that decides whether a finding may resolve.

A finding absent from a later report is resolved only when that report read its cluster (the
cluster is listed and its CNI identity mode is known) and no coverage gap of the report touches it.
A gap touches a finding when it names the finding's cluster, or (naming no cluster) its resource,
or (naming neither) is account/region wide over it. CloudTrail gaps only touch the CloudTrail rules
(CNI04x): other rules never read events.

A gap is not the only sign that a report did not judge a rule: a live source it did not collect
(``coverage.sources``; a report that does not list them collected none) leaves the rules that need
it ``unknown``, and a rule that raised leaves one ``unknown`` finding. Both carry another resource
(the cluster) and so another fingerprint than the failure they replace, so the scope also refuses
to resolve a rule that needs a source the report lacks, or that the report left ``unknown`` on
that cluster.

Shards of one run (``--run-id``) are stored as separate reports of one run: each lists only the
clusters of its own accounts, so this test never lets a shard resolve what another shard (or a
shard that failed) was to read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cniguard.model.finding import ClusterResult, Finding, Report
from cniguard.rules import RULES_BY_ID

CLOUDTRAIL_RULE_PREFIX = "CNI04"
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def parse_time(value: str) -> dt.datetime:
    """An ISO-8601 timestamp as an aware UTC datetime (naive values are taken as UTC)."""
    parsed = dt.datetime.fromisoformat(value)
    return as_utc(parsed)


def as_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


@dataclass(frozen=True)
class GapRef:
    """The parts of a coverage gap that say what it covers."""

    what: str
    account: str | None
    region: str | None
    cluster: str | None
    resource: str | None

    @classmethod
    def from_json(cls, raw: Any) -> GapRef:
        data = raw if isinstance(raw, dict) else {}

        def text(key: str) -> str | None:
            value = data.get(key)
            return str(value) if value not in (None, "") else None

        return cls(
            what=text("what") or "",
            account=text("account"),
            region=text("region"),
            cluster=text("cluster"),
            resource=text("resource"),
        )

    def touches(self, rule_id: str, cluster: str, account: str, region: str, resource: str) -> bool:
        if self.what.startswith("cloudtrail") and not rule_id.startswith(CLOUDTRAIL_RULE_PREFIX):
            return False
        if self.cluster is not None:
            return self.cluster == cluster
        if self.resource is not None:
            return self.resource == resource
        return self.account in (None, account) and self.region in (None, region)


def report_gaps(report: Report) -> tuple[GapRef, ...]:
    return coverage_gaps(report.coverage)


def coverage_gaps(coverage: dict[str, Any]) -> tuple[GapRef, ...]:
    """The gaps of a report's ``coverage`` (as stored with its scan)."""
    gaps = coverage.get("gaps") or []
    return tuple(GapRef.from_json(g) for g in gaps) if isinstance(gaps, list) else ()


def cluster_gaps(cluster: ClusterResult, gaps: Iterable[GapRef]) -> bool:
    """Whether any gap names this cluster (or is account/region wide over it)."""
    return any(
        g.cluster == cluster.arn
        or (
            g.cluster is None
            and g.resource is None
            and g.account in (None, cluster.account)
            and g.region in (None, cluster.region)
        )
        for g in gaps
    )


def report_sources(report: Report) -> frozenset[str]:
    """The kinds of collection the report attempted (none when it does not say)."""
    sources = report.coverage.get("sources")
    return frozenset(str(s) for s in sources) if isinstance(sources, list | tuple) else frozenset()


def rule_needs(rule_id: str) -> tuple[str, ...]:
    """The live sources the rule cannot judge without (none for a rule not in the catalogue)."""
    rule = RULES_BY_ID.get(rule_id)
    return rule.needs if rule is not None else ()


class ScanScope:
    """The clusters one report read, its gaps and sources, and the rules it left undecided."""

    def __init__(self, report: Report) -> None:
        self.gaps = report_gaps(report)
        self.sources = report_sources(report)
        self.read_clusters = {c.arn for c in report.clusters if c.cni_identity != "unknown"}
        self.undecided = {(f.rule_id, f.cluster) for f in report.findings if f.status == "unknown"}

    def can_resolve(
        self, rule_id: str, cluster: str, account: str, region: str, resource: str
    ) -> bool:
        """Whether this report judged the rule on that resource, so its absence means fixed."""
        if cluster not in self.read_clusters or (rule_id, cluster) in self.undecided:
            return False
        if any(need not in self.sources for need in rule_needs(rule_id)):
            return False
        return not any(g.touches(rule_id, cluster, account, region, resource) for g in self.gaps)


def strongest(findings: Iterable[Finding]) -> dict[str, Finding]:
    """One finding per fingerprint; when a report repeats one, an active failure wins."""
    order = {"fail": 1, "unknown": 2, "pass": 0}
    chosen: dict[str, Finding] = {}
    for finding in findings:
        key = (finding.active, order[finding.status])
        current = chosen.get(finding.fingerprint)
        if current is None or key > (current.active, order[current.status]):
            chosen[finding.fingerprint] = finding
    return chosen


class RunError(ValueError):
    """A run id or shard the store cannot accept (one line, for exit 2)."""


@dataclass(frozen=True)
class RunTag:
    """Which run a report belongs to (``coverage.run``): shard ``index`` of ``count``."""

    run_id: str
    index: int
    count: int

    def as_json(self) -> dict[str, Any]:
        return {"id": self.run_id, "shard": self.index, "shards": self.count}


def check_run_id(value: str) -> str:
    """``value`` if it can name a run: 1-128 letters, digits, ``.``, ``_``, ``:``, ``-``."""
    if not RUN_ID.fullmatch(value):
        raise RunError(
            f"--run-id expects 1-128 letters, digits, '.', '_', ':' or '-', got {value!r}"
        )
    return value


def tag_run(report: Report, run_id: str, shard: tuple[int, int] | None) -> Report:
    """``report`` marked as shard ``shard`` (i, N) of run ``run_id``; unsharded: shard 0 of 1."""
    index, count = shard if shard is not None else (0, 1)
    tag = RunTag(check_run_id(run_id), index, count)
    return dataclasses.replace(report, coverage={**report.coverage, "run": tag.as_json()})


def run_of(report: Report) -> RunTag | None:
    """The run ``report`` is a shard of (None: stored on its own); a malformed tag is an error."""
    raw = report.coverage.get("run")
    if raw is None:
        return None
    data = raw if isinstance(raw, dict) else {}
    run_id, index, count = data.get("id"), data.get("shard"), data.get("shards")
    if (
        isinstance(run_id, str)
        and isinstance(index, int)
        and isinstance(count, int)
        and not isinstance(index, bool)
        and not isinstance(count, bool)
        and 0 <= index < count
    ):
        return RunTag(check_run_id(run_id), index, count)
    raise RunError(f"coverage.run expects {{id, shard, shards}}, 0 <= shard < shards: {raw!r}")
