"""The journal of one `cniguard apply` run on one cluster: what was about to change, what did.

One JSON file per run (``<cluster>-<run id>.json`` in the journal folder), rewritten whole and
atomically at every transition (a temporary file in the same folder, fsync, ``os.replace``, fsync
of the folder), so a run killed at any instant leaves either the previous or the next record,
never half of one. A step is journaled ``started`` with the state observed before the change and
``done`` with the state observed after it; undo operations likewise. The journal also holds the
cluster's lock: a run whose journal is unfinished refuses every other run on the same cluster
until it is resumed (``--resume``) or rolled back (``--rollback``).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cniguard.model.codec import InputError, dump_python
from cniguard.remediate.plan_model import ClusterPlan

JOURNAL_SCHEMA = "cniguard.journal/v1"
# Runs in these states still own their cluster (their lock holds).
UNFINISHED = frozenset({"running", "rolling_back", "rollback_failed"})
# Step statuses that mean "this run changed it" (so a rollback must look at it).
CHANGED = frozenset({"started", "done", "verified", "failed"})


def default_journal_dir() -> Path:
    """``cniguard-journal`` in the user state directory (e.g. ~/.local/state/cniguard/)."""
    from platformdirs import user_state_path

    return user_state_path("cniguard") / "cniguard-journal"


def plan_fingerprint(cluster_plan: ClusterPlan) -> str:
    """Hash of exactly the cluster plan being applied (a resume must use the same plan)."""
    text = json.dumps(dump_python(cluster_plan), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def write_atomically(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` as JSON so a crash leaves the old or the new file whole."""
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)  # atomic rename (os.replace)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


@dataclass
class Journal:
    """One run's journal file; ``data`` is its JSON, written by :meth:`save` after each change."""

    path: Path
    data: dict[str, Any]

    @classmethod
    def create(
        cls, folder: Path, cluster_plan: ClusterPlan, run_id: str, plan_file: str, lock_tag: str
    ) -> Journal:
        folder.mkdir(parents=True, exist_ok=True)
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in cluster_plan.cluster)
        data = {
            "schema": JOURNAL_SCHEMA,
            "run_id": run_id,
            "plan_file": plan_file,
            "plan_fingerprint": plan_fingerprint(cluster_plan),
            "cluster": cluster_plan.cluster,
            "cluster_arn": cluster_plan.arn,
            "account": cluster_plan.account,
            "region": cluster_plan.region,
            "host": socket.gethostname(),
            "user": _user(),
            "pid": os.getpid(),
            "started_at": now(),
            "updated_at": now(),
            "status": "running",
            "lock": {"tag": lock_tag, "value": run_id, "held": False},
            "steps": [
                {
                    "id": s.id,
                    "op": s.action.op,
                    "status": "pending",
                    "before": None,
                    "after": None,
                    "error": None,
                    "undo": [{"op": u.op, "status": "pending"} for u in s.undo],
                }
                for s in cluster_plan.steps
            ],
        }
        journal = cls(folder / f"{safe}-{run_id}.json", data)
        journal.save()
        return journal

    @classmethod
    def load(cls, path: Path) -> Journal:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a readable journal: {exc}") from None
        if not isinstance(data, dict) or data.get("schema") != JOURNAL_SCHEMA:
            raise InputError(f"{path}: not a {JOURNAL_SCHEMA} document")
        return cls(path, data)

    @property
    def run_id(self) -> str:
        return str(self.data["run_id"])

    @property
    def status(self) -> str:
        return str(self.data["status"])

    def save(self) -> None:
        self.data["updated_at"] = now()
        self.data["pid"] = os.getpid()
        write_atomically(self.path, self.data)

    def step(self, step_id: str) -> dict[str, Any]:
        for record in self.data["steps"]:
            if record["id"] == step_id:
                return dict(record)
        raise KeyError(step_id)

    def update_step(self, step_id: str, **fields: Any) -> None:
        for record in self.data["steps"]:
            if record["id"] == step_id:
                record.update(fields)
                record["at"] = now()
                self.save()
                return
        raise KeyError(step_id)

    def update_undo(self, step_id: str, index: int, **fields: Any) -> None:
        for record in self.data["steps"]:
            if record["id"] == step_id:
                record["undo"][index].update(fields, at=now())
                self.save()
                return
        raise KeyError(step_id)

    def set(self, **fields: Any) -> None:
        self.data.update(fields)
        self.save()

    def describe(self) -> str:
        d = self.data
        return (
            f"run {d['run_id']} ({d['status']}; started {d['started_at']} by {d['user']} on "
            f"{d['host']}, pid {d['pid']}; journal {self.path})"
        )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def unfinished_runs(folder: Path, cluster_arn: str) -> list[Journal]:
    """The journals in ``folder`` of runs on ``cluster_arn`` that still hold it."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            journal = Journal.load(path)
        except InputError:
            continue  # not ours: another file in the folder
        if journal.data.get("cluster_arn") == cluster_arn and journal.status in UNFINISHED:
            found.append(journal)
    return found
