"""One run stored as shards (``--run-id``): which shards are in, and what the run did not read.

Each shard stores its own scan tagged with the run id and its shard i of N, so the run is known
to be whole only when all N shards are stored. Each shard also records the accounts the whole run
covers (``coverage.collection.accounts_in_scope``: every account before the ``--shard`` split), so
a run missing a shard names the accounts nobody read. A shard stored twice (a retried Job) counts
once, at its newest copy.

Nothing here decides what a finding's absence means: resolution is per report (``scope.py``), and
a shard's report lists only its own accounts' clusters, so a missing shard resolves nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from cniguard.store.schema import Scan
from cniguard.store.scope import coverage_gaps

# gaps that mean an account, its regions or one region's clusters were not read at all
_UNREAD_ACCOUNT = ("account", "regions")
_UNREAD_REGION = "eks:clusters"
_UNREAD_ORG = "organizations:accounts"  # the run does not know which accounts it covers


def _texts(value: Any) -> set[str]:
    return {str(v) for v in value} if isinstance(value, list | tuple) else set()


@dataclass(frozen=True)
class RunCoverage:
    """What the stored shards of one run read, and what the run as a whole did not."""

    run_id: str
    shards: int
    stored: tuple[int, ...]
    scan_ids: tuple[int, ...]
    accounts_in_scope: tuple[str, ...]
    accounts_read: tuple[str, ...]
    regions_read: tuple[str, ...]
    asked_regions: tuple[str, ...] | None  # None: every region enabled in each account
    not_read: tuple[tuple[str, str | None], ...]  # (account, region; None: all of them)
    accounts_known: bool  # every stored shard recorded the run's accounts (and could list them)
    clusters: int
    gaps: int

    @property
    def missing(self) -> tuple[int, ...]:
        return tuple(i for i in range(self.shards) if i not in self.stored)

    @property
    def complete(self) -> bool:
        """Every shard stored and every account and region in scope read."""
        return not self.missing and not self.not_read and self.accounts_known

    @property
    def regions_of_account(self) -> list[str] | None:
        """The regions of an account the run did not read (None: every enabled region)."""
        return list(self.asked_regions) if self.asked_regions is not None else None

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "complete": self.complete,
            "shards": self.shards,
            "shards_stored": list(self.stored),
            "shards_missing": list(self.missing),
            "scan_ids": list(self.scan_ids),
            "accounts_known": self.accounts_known,
            "accounts_in_scope": len(self.accounts_in_scope),
            "accounts_read": len(self.accounts_read),
            "regions_read": list(self.regions_read),
            "not_read": [
                {"account": account, "regions": [region] if region else self.regions_of_account}
                for account, region in self.not_read
            ],
            "clusters": self.clusters,
            "gaps": self.gaps,
        }


def run_coverage(conn: Connection, run_id: str) -> RunCoverage | None:
    """The coverage of run ``run_id`` over its stored shards (None: no shard of it is stored)."""
    rows = conn.execute(
        select(Scan.id, Scan.shard_index, Scan.shard_count, Scan.coverage)
        .where(Scan.run_id == run_id)
        .order_by(Scan.generated_at, Scan.id)
    ).all()
    if not rows:
        return None
    newest = {int(index): (scan_id, coverage) for scan_id, index, _, coverage in rows}
    in_scope: set[str] = set()
    read: set[str] = set()
    regions: set[str] = set()
    asked: set[str] = set()
    every_region = False  # some shard read every enabled region (no --regions)
    unread: set[tuple[str, str | None]] = set()
    clusters = gaps = 0
    accounts_known = True
    for _scan_id, coverage in newest.values():
        collection = coverage.get("collection") or {}
        in_scope |= _texts(collection.get("accounts_in_scope"))
        accounts_known = accounts_known and "accounts_in_scope" in collection
        scoped = _texts((collection.get("scope") or {}).get("regions"))
        asked |= scoped
        every_region = every_region or not scoped
        read |= _texts(coverage.get("accounts"))
        regions |= _texts(coverage.get("regions"))
        clusters += int(coverage.get("clusters") or 0)
        found = coverage_gaps(coverage)
        gaps += len(found)
        for gap in found:
            accounts_known = accounts_known and gap.what != _UNREAD_ORG
            if gap.account and gap.what in _UNREAD_ACCOUNT:
                unread.add((gap.account, None))
            elif gap.account and gap.region and gap.what == _UNREAD_REGION:
                unread.add((gap.account, gap.region))
    unread |= {(account, None) for account in in_scope - read}
    whole = {account for account, region in unread if region is None}
    return RunCoverage(
        run_id=run_id,
        shards=int(rows[-1].shard_count),
        stored=tuple(sorted(newest)),
        scan_ids=tuple(newest[i][0] for i in sorted(newest)),
        accounts_in_scope=tuple(sorted(in_scope)),
        accounts_read=tuple(sorted(read)),
        regions_read=tuple(sorted(regions)),
        asked_regions=None if every_region else tuple(sorted(asked)),
        not_read=tuple(
            sorted(
                (u for u in unread if u[1] is None or u[0] not in whole),
                key=lambda u: (u[0], u[1] or ""),
            )
        ),
        accounts_known=accounts_known,
        clusters=clusters,
        gaps=gaps,
    )


def latest_run(conn: Connection, until: dt.datetime | None = None) -> RunCoverage | None:
    """The coverage of the run of the newest scan stored as part of a run (up to ``until``)."""
    query = select(Scan.run_id).where(Scan.run_id.is_not(None))
    if until is not None:
        query = query.where(Scan.generated_at <= until)
    run_id = conn.scalar(query.order_by(Scan.generated_at.desc(), Scan.id.desc()).limit(1))
    return run_coverage(conn, run_id) if run_id is not None else None
