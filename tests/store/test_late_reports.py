"""A report stored late (a retried watch round, a slow shard) never undoes a newer observation.

The finding, its incidents and the KPIs end as if the reports had been stored in time order.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from cniguard.model.finding import Finding, IdentityMode
from cniguard.store import save_report
from cniguard.store.database import get_engine
from cniguard.store.kpi import compute_kpis
from cniguard.store.queries import cluster_incidents, list_findings
from cniguard.store.schema import StoredFinding
from cniguard.store.scope import as_utc

from .factory import arn, cluster, finding, report
from .reference_kpi import reference_kpis

FAIL = finding("CNI001", "alpha", severity="critical")
PASS = finding("CNI001", "alpha", status="pass", severity="critical")
UNKNOWN = finding("CNI001", "alpha", status="unknown", severity="critical")
NOON = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)


def _store(url: str, *scans: tuple[str, Finding | None]) -> None:
    """One report per (hour, finding); ``None``: alpha read in full and the finding absent."""
    for hour, found in scans:
        mode: IdentityMode = "none" if found is not None and found.status != "pass" else "irsa"
        findings = [found] if found is not None else []
        save_report(url, report(f"2026-03-02T{hour}:00:00Z", [cluster("alpha", mode)], findings))


def _last_judged(url: str) -> list[dt.datetime | None]:
    with Session(get_engine(url)) as session:
        return [as_utc(t) if t is not None else None
                for t in session.scalars(select(StoredFinding.last_judged_at))]


def _outcome(url: str) -> tuple[list[tuple[str, str, str | None]], list[tuple[str, str | None]]]:
    """(state, last_seen, resolved_at) of each finding; (opened_at, resolved_at) of incidents."""
    engine = get_engine(url)
    return (
        [(f["state"], f["last_seen"], f["resolved_at"]) for f in list_findings(engine)],
        [(i["opened_at"], i["resolved_at"]) for i in cluster_incidents(engine, arn("alpha"))],
    )


def _kpis(url: str) -> tuple[dict[str, object], int]:
    engine = get_engine(url)
    kpis = compute_kpis(engine, now=NOON)
    assert kpis == reference_kpis(engine, now=NOON)
    return kpis["mttr_hours"], kpis["open_findings_by_severity"]["critical"]


def test_an_older_pass_does_not_resolve_a_newer_failure(db_url: str) -> None:
    _store(db_url, ("10", FAIL), ("08", PASS))
    assert _outcome(db_url) == (
        [("open", "2026-03-02T10:00:00Z", None)], [("2026-03-02T10:00:00Z", None)])
    assert _kpis(db_url) == ({"cni_incidents": None, "resolved_incidents": 0}, 1)


def test_an_older_failure_does_not_reopen_a_newer_fix(db_url: str) -> None:
    _store(db_url, ("06", FAIL), ("10", PASS), ("08", FAIL))
    assert _outcome(db_url) == (
        [("resolved", "2026-03-02T06:00:00Z", "2026-03-02T10:00:00Z")],
        [("2026-03-02T06:00:00Z", "2026-03-02T10:00:00Z")],
    )
    assert _kpis(db_url) == ({"cni_incidents": 4.0, "resolved_incidents": 1}, 0)


def test_an_older_failure_does_not_rewrite_a_newer_one(db_url: str) -> None:
    newer = finding("CNI001", "alpha", severity="critical", evidence={"seen": "10:00"})
    older = finding("CNI001", "alpha", severity="critical", evidence={"seen": "08:00"})
    _store(db_url, ("10", newer), ("08", older))
    assert [f["evidence"] for f in list_findings(get_engine(db_url), details=True)] == [{"seen": "10:00"}]


def test_an_older_failure_behind_a_newer_unknown_opens(db_url: str) -> None:
    """In time order the failure opens and the unknown keeps it open: stored late, the same."""
    _store(db_url, ("10", UNKNOWN), ("08", FAIL))
    engine = get_engine(db_url)
    assert [(f["state"], f["status"], f["first_seen"], f["last_seen"])
            for f in list_findings(engine)] == [
        ("open", "unknown", "2026-03-02T08:00:00Z", "2026-03-02T10:00:00Z")]
    assert _outcome(db_url)[1] == [("2026-03-02T08:00:00Z", None)]
    assert _kpis(db_url) == ({"cni_incidents": None, "resolved_incidents": 0}, 1)


def test_in_order_history_still_resolves_and_reopens(db_url: str) -> None:
    _store(db_url, ("06", FAIL), ("08", PASS), ("10", FAIL))
    assert _outcome(db_url) == (
        [("open", "2026-03-02T10:00:00Z", None)],
        [("2026-03-02T10:00:00Z", None), ("2026-03-02T06:00:00Z", "2026-03-02T08:00:00Z")],
    )
    assert _kpis(db_url) == ({"cni_incidents": 2.0, "resolved_incidents": 1}, 1)


def test_an_older_failure_does_not_reopen_a_fix_confirmed_later(db_url: str) -> None:
    """The 12:00 pass judged a finding already resolved at 10:00: the 11:00 failure stays out."""
    _store(db_url, ("06", FAIL), ("10", PASS), ("12", PASS))
    assert _last_judged(db_url) == [NOON]
    _store(db_url, ("11", FAIL))
    assert _outcome(db_url) == (
        [("resolved", "2026-03-02T06:00:00Z", "2026-03-02T10:00:00Z")],
        [("2026-03-02T06:00:00Z", "2026-03-02T10:00:00Z")],
    )
    assert _last_judged(db_url) == [NOON]
    assert _kpis(db_url) == ({"cni_incidents": 4.0, "resolved_incidents": 1}, 0)


def test_an_older_failure_does_not_reopen_a_clean_read_confirmed_later(db_url: str) -> None:
    """The same when the fix and its confirmation are reads of alpha without the finding."""
    _store(db_url, ("06", FAIL), ("10", None), ("12", None), ("11", FAIL))
    assert _outcome(db_url) == (
        [("resolved", "2026-03-02T06:00:00Z", "2026-03-02T10:00:00Z")],
        [("2026-03-02T06:00:00Z", "2026-03-02T10:00:00Z")],
    )
    assert _last_judged(db_url) == [NOON]
    assert _kpis(db_url) == ({"cni_incidents": 4.0, "resolved_incidents": 1}, 0)


def test_an_older_failure_after_the_last_judgement_still_opens(db_url: str) -> None:
    """A failure newer than every judgement, behind only an ``unknown``, opens at its own time."""
    _store(db_url, ("06", FAIL), ("08", PASS), ("10", UNKNOWN), ("09", FAIL))
    assert _outcome(db_url) == (
        [("open", "2026-03-02T10:00:00Z", None)],
        [("2026-03-02T09:00:00Z", None), ("2026-03-02T06:00:00Z", "2026-03-02T08:00:00Z")],
    )
    assert _last_judged(db_url) == [dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)]
    assert _kpis(db_url) == ({"cni_incidents": 2.0, "resolved_incidents": 1}, 1)


def test_an_unknown_is_not_a_judgement(db_url: str) -> None:
    _store(db_url, ("06", UNKNOWN), ("08", FAIL), ("10", UNKNOWN))
    assert _last_judged(db_url) == [dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)]
