"""Live collection: every account, region and cluster in scope into one :class:`Inventory`.

Accounts are entered side by side; then each account's regions, clusters and every part of each
cluster, the EC2 instances of regions with clusters (and their instance profiles), OIDC providers
and Kubernetes state are read, each read starting as soon as what it needs is known. An IAM role
is requested the moment a reader sees its ARN and read once per account (:mod:`roles`); a last
sweep over the finished clusters requests any role not seen yet. CloudTrail readers start as soon
as a region shows clusters and run at their own rate. A failed read becomes a gap on its own
scope and leaves its field ``None``; nothing stops the other reads. At ``--deadline`` the scan
stops reading: every later attempt fails at once as a gap, and the inventory holds what was read.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from cniguard.attribution import IAM_EVENTS, REGIONAL_EVENTS
from cniguard.collect.aws import cloudtrail, ec2, eks, iam
from cniguard.collect.aws.calls import CallLog
from cniguard.collect.aws.context import RunContext
from cniguard.collect.aws.drafts import ClusterDraft, assemble
from cniguard.collect.aws.errors import Where, gap_from_error
from cniguard.collect.aws.kube_wiring import KubeRequest, kube_requests, kube_roles, read_kube
from cniguard.collect.aws.roles import AccountRoles
from cniguard.collect.aws.scope import AccountScope, account_regions, enter_account, plan_accounts
from cniguard.collect.aws.tasks import TaskGroup, iam_lane
from cniguard.collect.aws.time_bounds import TimeBounds, seconds_text
from cniguard.collect.options import LiveOptions
from cniguard.model.common import SourceKind
from cniguard.model.inventory import (
    CloudTrailEvent,
    Gap,
    Inventory,
    OidcProvider,
    Role,
)


class KubeTargetError(ValueError):
    """Kubernetes input was given for a cluster the scan does not cover."""


class Progress(Protocol):
    """Receives how much work was found and done (``kind``: accounts, regions, clusters)."""

    def add(self, kind: str, total: int) -> None: ...

    def advance(self, kind: str) -> None: ...


class _NoProgress:
    def add(self, kind: str, total: int) -> None:
        return None

    def advance(self, kind: str) -> None:
        return None


@dataclass
class _Results:
    """What the tasks of one run produce (each list is appended to under the GIL only)."""

    drafts: list[ClusterDraft] = field(default_factory=list)
    regions: set[str] = field(default_factory=set)
    providers: list[OidcProvider] = field(default_factory=list)
    providers_read: list[str] = field(default_factory=list)
    events: list[CloudTrailEvent] = field(default_factory=list)
    trail_read: dict[tuple[str, str], bool] = field(default_factory=dict)  # all lookups worked
    roles: dict[str, Role] = field(default_factory=dict)
    scopes: dict[str, AccountScope] = field(default_factory=dict)
    account_roles: dict[str, AccountRoles] = field(default_factory=dict)
    trail_started: set[tuple[str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


# Threads per unit of --concurrency: the global bound on reads in flight is this many lanes
# (account and region, or account IAM) each running its --concurrency reads.
LANES_IN_FLIGHT = 8


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class _Run:
    def __init__(self, options: LiveOptions, progress: Progress) -> None:
        self.options = options
        self.progress = progress
        self.bounds = TimeBounds(deadline=options.deadline, call_timeout=options.call_timeout)
        self.log = CallLog(self.bounds)
        self.results = _Results()
        self.kube = kube_requests(options)
        end = _now()
        self.window = (end - dt.timedelta(days=options.cloudtrail_days), end)

    def run(self, base: boto3.Session) -> Inventory:
        started = time.monotonic()
        self.plan = plan_accounts(self.options, self.log, base)
        self.progress.add("accounts", len(self.plan.accounts))
        per_lane = max(1, self.options.concurrency)
        workers = per_lane * LANES_IN_FLIGHT
        pool = ThreadPoolExecutor(workers, "cniguard-read")
        trail_pool = ThreadPoolExecutor(workers, "cniguard-trail")
        drained = False
        try:
            tasks = TaskGroup(pool, self.log, per_lane=per_lane)
            self.ctx = RunContext(self.log, tasks, self.options, follow=self._follow)
            trail_tasks = TaskGroup(trail_pool, self.log, per_lane=per_lane)
            self.trail = RunContext(self.log, trail_tasks, self.options)
            for account in self.plan.accounts:
                self.ctx.tasks.spawn(self._enter, account, what="account", where=Where(account))
            if self._wait(self.ctx.tasks):
                self._sweep()  # past the deadline its reads fail at once, as gaps naming roles
                drained = self._wait(self.ctx.tasks)
            drained = self._wait(self.trail.tasks) and drained
        finally:
            pool.shutdown(wait=drained, cancel_futures=True)
            trail_pool.shutdown(wait=drained, cancel_futures=True)
        if self.bounds.expired():
            self.log.add_gap(self._deadline_gap(drained))
        self._check_kube_targets()
        scopes = sorted(self.results.scopes.values(), key=lambda s: s.account)
        return self._inventory(scopes, self.plan.caller, time.monotonic() - started)

    def _wait(self, tasks: TaskGroup) -> bool:
        """Wait for ``tasks`` until the deadline; then, since every further attempt fails at
        once, only for the calls in flight (one call timeout). False: some never ended."""
        if tasks.wait(self.bounds.remaining()):
            return True
        return tasks.wait(self.bounds.grace())

    def _check_kube_targets(self) -> None:
        """A --kube-export/--kube-context cluster that was not scanned is a mistake in the
        command, unless a region's cluster list could not be read (then it may be there)."""
        found = {key for d in self.results.drafts for key in (d.name, d.arn)}
        missing = sorted(set(self.kube) - found)
        if not missing:
            return
        if any(g.what == "eks:clusters" for g in self.log.gaps) or self.bounds.expired():
            for target in missing:
                self.log.add_gap(
                    Gap(
                        what="k8s",
                        reason="a cluster named by --kube-export or --kube-context "
                        "was not found, and some cluster lists could not be read",
                        resource=target,
                    )
                )
            return
        scanned = ", ".join(sorted(d.name for d in self.results.drafts)) or "none"
        raise KubeTargetError(
            "--kube-export/--kube-context name clusters that are not in scope: "
            f"{', '.join(missing)} (scanned: {scanned})"
        )

    def _deadline_gap(self, drained: bool) -> Gap:
        limit = seconds_text(self.options.deadline or 0)
        reason = f"the scan stopped reading at its --deadline of {limit}"
        reason += (
            "; each read it did not make is a gap"
            if drained
            else "; reads that had not ended (e.g. a Kubernetes API) were abandoned"
        )
        return Gap(what="scan:deadline", reason=reason, error_code="DeadlinePassed")

    # accounts, regions, clusters -----------------------------------------------------------

    def _enter(self, account: str) -> None:
        scope = enter_account(self.plan, account, self.options, self.log)
        if scope is None:
            self.progress.advance("accounts")
            return
        roles = AccountRoles(self.ctx, scope, self._found_role)
        with self.results.lock:
            self.results.scopes[account] = scope
            self.results.account_roles[account] = roles
        roles.start()
        where = Where(account)
        self.ctx.tasks.spawn(self._account, scope, what="account", where=where)
        self.ctx.tasks.spawn(
            self._providers, scope, what="iam:oidc-providers", where=where, lane=iam_lane(account)
        )

    def _account(self, scope: AccountScope) -> None:
        regions = account_regions(scope, self.options, self.log)
        self.progress.advance("accounts")
        if regions is None:
            return
        self.progress.add("regions", len(regions))
        for region in regions:
            self.ctx.tasks.spawn(
                self._region, scope, region, what="eks:clusters", where=Where(scope.account, region)
            )

    def _region(self, scope: AccountScope, region: str) -> None:
        drafts = eks.list_clusters(self.ctx, scope, region)
        self.progress.advance("regions")
        if drafts is None:
            return
        with self.results.lock:
            self.results.regions.add(region)
            self.results.drafts.extend(drafts)
        if not drafts:
            return
        self.results.account_roles[scope.account].clusters_listed(len(drafts))
        self.progress.add("clusters", len(drafts))
        for draft in drafts:
            eks.start_cluster(self.ctx, scope, draft, self._described)
        self.ctx.tasks.spawn(
            self._instances,
            scope,
            region,
            drafts,
            what="ec2:instances",
            where=Where(scope.account, region),
        )
        if self.options.cloudtrail:
            self._start_trail(scope, region, REGIONAL_EVENTS)
            self._start_trail(scope, cloudtrail.iam_home_region(scope.partition), IAM_EVENTS)

    def _described(self, draft: ClusterDraft) -> None:
        self.progress.advance("clusters")
        self._follow(draft)  # an Auto Mode node role
        request = self.kube.get(draft.name) or self.kube.get(draft.arn)
        if request is None and self.options.kube_live:
            request = KubeRequest()
        if request is not None:
            where = Where(draft.account, draft.region, draft.arn)
            self.ctx.tasks.spawn(self._kube, draft, request, what="k8s", where=where)

    def _kube(self, draft: ClusterDraft, request: KubeRequest) -> None:
        scope = self.results.scopes[draft.account]
        draft.kube, gaps = read_kube(request, draft, scope.clients.session, self.bounds.remaining)
        for gap in gaps:
            self.log.add_gap(gap)
        self._follow(draft)

    def _instances(self, scope: AccountScope, region: str, drafts: list[ClusterDraft]) -> None:
        try:
            facts = ec2.read_instances(scope, region)
        except (ClientError, BotoCoreError) as exc:
            for draft in drafts:  # every cluster of the region lacks its self-managed nodes
                where = Where(scope.account, region, draft.arn)
                self.log.add_gap(
                    gap_from_error(
                        exc, what="ec2:instances", operation="ec2:DescribeInstances", where=where
                    )
                )
            return
        by_name = {d.name: d for d in drafts}
        for draft in drafts:
            draft.instances = [f for f in facts if f.cluster_name == draft.name]
        profiles = {
            (f.cluster_name, f.profile_arn)
            for f in facts
            if f.profile_arn and f.cluster_name in by_name
        }
        roles = self.results.account_roles[scope.account]
        for cluster_name, profile in sorted(profiles):
            draft = by_name[cluster_name]
            where = Where(scope.account, region, draft.arn)
            roles.want_profile(profile, partial(self._profile_role, draft, profile), where)

    def _profile_role(self, draft: ClusterDraft, profile: str, role: str | None) -> None:
        draft.instance_roles[profile] = role
        self._follow(draft)

    def _providers(self, scope: AccountScope) -> None:
        found, complete = iam.read_oidc_providers(self.ctx, scope)
        with self.results.lock:
            self.results.providers.extend(found)
            if complete:
                self.results.providers_read.append(scope.account)

    def _start_trail(self, scope: AccountScope, region: str, names: tuple[str, ...]) -> None:
        key = (scope.account, region + ("#iam" if names is IAM_EVENTS else ""))
        with self.results.lock:
            if key in self.results.trail_started:
                return
            self.results.trail_started.add(key)
        self.trail.tasks.spawn(
            self._trail, scope, region, names, what="cloudtrail", where=Where(scope.account, region)
        )

    def _trail(self, scope: AccountScope, region: str, names: tuple[str, ...]) -> None:
        events, complete = cloudtrail.read_region(self.trail, scope, region, names, self.window)
        with self.results.lock:
            self.results.events.extend(events)
            key = (scope.account, region)
            self.results.trail_read[key] = self.results.trail_read.get(key, True) and complete

    # roles ---------------------------------------------------------------------------------

    def _follow(self, draft: ClusterDraft) -> None:
        """Request every role the draft references so far (each is read once per account)."""
        for arn in referenced_roles(draft):
            roles = self.results.account_roles.get(iam.arn_account(arn))
            if roles is not None:  # other accounts: the sweep records them as gaps
                roles.want_role(arn)

    def _found_role(self, role: Role) -> None:
        with self.results.lock:
            self.results.roles[role.arn] = role

    def _sweep(self) -> None:
        """Request the roles of the finished clusters; roles of unread accounts become gaps."""
        by_account: dict[str, set[str]] = {}
        for draft in self.results.drafts:
            for arn in referenced_roles(draft):
                by_account.setdefault(iam.arn_account(arn), set()).add(arn)
        for account, arns in sorted(by_account.items()):
            roles = self.results.account_roles.get(account)
            for arn in sorted(arns):
                if roles is not None:
                    roles.want_role(arn)
                    continue
                self.log.add_gap(
                    Gap(
                        what="iam:role",
                        reason="the role's account is not among the scanned "
                        "accounts (or could not be entered)",
                        account=account,
                        resource=arn,
                    )
                )

    # assembly ------------------------------------------------------------------------------

    def _inventory(self, scopes: list[AccountScope], caller: str, seconds: float) -> Inventory:
        res = self.results
        sources: list[SourceKind] = ["aws"]
        if self.kube or self.options.kube_live:
            sources.append("k8s")
        if self.options.cloudtrail:
            sources.append("cloudtrail")
        return Inventory(
            kind="live",
            generated_at=_now().isoformat().replace("+00:00", "Z"),
            clusters=tuple(sorted((assemble(d) for d in res.drafts), key=lambda c: c.arn)),
            roles=tuple(sorted(res.roles.values(), key=lambda r: r.arn)),
            oidc_providers=tuple(sorted(res.providers, key=lambda p: p.arn)),
            oidc_providers_read=tuple(sorted(res.providers_read)),
            cloudtrail_events=tuple(sorted(res.events, key=lambda e: (e.event_time, e.event_id))),
            cloudtrail_scopes=tuple(
                cloudtrail.scope_of(account, region, self.window)
                for (account, region), complete in sorted(res.trail_read.items())
                if complete
            ),
            accounts=tuple(sorted(s.account for s in scopes)),
            regions=tuple(sorted(res.regions)),
            gaps=tuple(sorted(self.log.gaps, key=_gap_key)),
            sources=tuple(sources),
            meta={
                "api_calls": dict(sorted(self.log.calls.items())),
                "api_calls_total": sum(self.log.calls.values()),
                "caller_account": caller,
                "accounts_in_scope": self.plan.in_scope,  # of the whole run, not just this shard
                "iam_strategy": {
                    account: strategy
                    for account, roles in sorted(res.account_roles.items())
                    if (strategy := roles.strategy) is not None
                },
                "collect_seconds": round(seconds, 3),
                # what the user narrowed the read to: a plan must know whether other clusters
                # that may share a node role were seen
                "scope": {
                    "clusters": list(self.options.clusters) if self.options.clusters else None,
                    "regions": list(self.options.regions) if self.options.regions else None,
                },
            },
        )


def _gap_key(gap: Gap) -> tuple[str, ...]:
    return (
        gap.account or "",
        gap.region or "",
        gap.cluster or "",
        gap.what,
        gap.operation or "",
        gap.resource or "",
    )


def referenced_roles(draft: ClusterDraft) -> Iterable[str]:
    """Every IAM role ARN this cluster's identity questions depend on."""
    cluster = assemble(draft)
    for group in cluster.node_groups or ():
        if group.role_arn:
            yield group.role_arn
    for profile in cluster.fargate_profiles or ():
        if profile.pod_execution_role_arn:
            yield profile.pod_execution_role_arn
    for addon in cluster.addons or ():
        if addon.service_account_role_arn:
            yield addon.service_account_role_arn
    for assoc in cluster.pod_identity_associations or ():
        yield from (a for a in (assoc.role_arn, assoc.target_role_arn) if a)
    for entry in cluster.access_entries or ():
        yield entry.principal_arn
    if cluster.auto_mode_node_role_arn:
        yield cluster.auto_mode_node_role_arn
    yield from kube_roles(draft.kube)


def collect_live(options: LiveOptions, progress: Progress | None = None) -> Inventory:
    """Read everything in scope; raises botocore errors only when the base credentials fail."""
    run = _Run(options, progress or _NoProgress())
    return run.run(boto3.Session(profile_name=options.profile))
