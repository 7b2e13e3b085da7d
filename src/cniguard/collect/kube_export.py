"""Reads ``kubectl get ... -o json`` exports (one file, or a folder of ``*.json`` files).

A file may hold Lists or single objects, several JSON documents one after another, and any mix
of DaemonSet, ServiceAccount, Pod, Event (core/v1 and events.k8s.io/v1), Node and ConfigMap.
A bad file becomes a Gap naming it (and the line of a JSON error); the other files are still read.
Every entry of a folder is read or named in a Gap: other files, folders that cannot be listed,
special files (never opened); symlinked folders are followed.
A kind that appears in no file is "not read" (``None``) with a Gap, never an empty tuple.

``kubectl`` prints an empty result as ``{"kind": "List", "items": []}``, which names no kind; such
a file counts as a read of the resource its name says (``pods.json``, ``kube-system-events.json``,
``ds.json``), so an export with no stuck pods still reads as "none" rather than "unknown".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cniguard.collect.gap_cap import cap_gaps
from cniguard.collect.kube_parse import GAP_WHAT, KIND_FIELDS, KubeCollection, KubeField
from cniguard.collect.walk import Unread, check_file, walk
from cniguard.model.common import JsonDict, Origin
from cniguard.model.inventory import Gap
from cniguard.model.kube import KubeState

RESOURCE_NAMES: dict[str, str] = {
    "pods": "Pod",
    "pod": "Pod",
    "po": "Pod",
    "events": "Event",
    "event": "Event",
    "ev": "Event",
    "nodes": "Node",
    "node": "Node",
    "no": "Node",
    "daemonsets": "DaemonSet",
    "daemonset": "DaemonSet",
    "ds": "DaemonSet",
    "serviceaccounts": "ServiceAccount",
    "serviceaccount": "ServiceAccount",
    "sa": "ServiceAccount",
    "configmaps": "ConfigMap",
    "configmap": "ConfigMap",
    "cm": "ConfigMap",
}
# Object names that appear in file names and are not resources ("aws-node-pods.json": pods)
_OBJECT_NAMES = re.compile(r"aws[-_.]?node|aws[-_.]?auth|kube[-_.]?system")
MANIFEST = "cniguard-export.json"
MANIFEST_SCHEMA = "cniguard.kube-export/v1"
# Keys whose values are when something happened (deletionTimestamp lies in the future: left out).
TIMESTAMP_KEYS = frozenset(
    {
        "creationTimestamp",
        "firstTimestamp",
        "lastTimestamp",
        "eventTime",
        "lastObservedTime",
        "deprecatedFirstTimestamp",
        "deprecatedLastTimestamp",
        "lastHeartbeatTime",
        "lastTransitionTime",
        "lastProbeTime",
        "startTime",
        "startedAt",
        "finishedAt",
    }
)
_WHITESPACE = re.compile(r"\s*")


def read_export(path: Path, *, cluster: str) -> tuple[KubeState, list[Gap]]:
    """The Kubernetes state of ``cluster`` as exported to ``path``, and what it lacks.

    ``collected_at`` is the newest timestamp found in the exported objects (event times, creation
    and condition times): it depends only on the export's content, so a saved export evaluates
    the same way every time, and it is not reset by copying the files. Only when the objects carry
    no timestamp is the newest modification time of the files used.
    """
    reader = _ExportReader(KubeCollection(cluster))
    manifest = path / MANIFEST
    files: list[Path] = []
    if path.is_dir():
        for entry in walk(path):
            if isinstance(entry, Unread):
                reader.file_gap(entry.path, entry.reason)
            elif entry.suffix.lower() != ".json":
                reader.file_gap(entry, "not a *.json export file: not read")
            elif entry != manifest:
                files.append(entry)
        if not files:
            reader.file_gap(path, "the folder holds no *.json export files")
    elif path.exists():
        unsafe = check_file(path)
        if unsafe is not None:
            reader.file_gap(path, unsafe.reason)
        else:
            files.append(path)
    else:
        reader.file_gap(path, "no such file or folder")
    for file in sorted(files):
        reader.read_file(file)
    stated = reader.read_manifest(manifest) if manifest.is_file() else {}

    collection = reader.collection
    for kube_field in sorted(set(GAP_WHAT) - collection.read - set(stated)):
        collection.gaps.append(
            Gap(
                what=GAP_WHAT[kube_field],
                reason=f"not in the export {path}",
                cluster=cluster,
                resource=str(path),
            )
        )
    newest = reader.read_at or reader.newest_timestamp or reader.newest_mtime
    collected_at = newest.isoformat(timespec="seconds").replace("+00:00", "Z") if newest else None
    gaps = cap_gaps(collection.gaps, reader.repeats())
    return collection.state(collected_at=collected_at, context=None), gaps


@dataclass
class _ExportReader:
    collection: KubeCollection
    newest_timestamp: datetime | None = None
    newest_mtime: datetime | None = None
    unknown_kinds: set[str] = field(default_factory=set)
    read_at: datetime | None = None  # when ``cniguard kube-export`` read the cluster
    _first_gaps: dict[tuple[str, str, int | None], Gap] = field(default_factory=dict)
    _repeats: dict[tuple[str, str, int | None], int] = field(default_factory=dict)

    def repeats(self) -> dict[Gap, int]:
        """Further occurrences of each file gap, beyond the first."""
        return {self._first_gaps[key]: count for key, count in self._repeats.items()}

    def read_manifest(self, path: Path) -> dict[KubeField, bool]:
        """Honour ``cniguard kube-export``'s manifest: a part it read in full is read (also when
        empty), provided its file is there and was read without a gap; a part it could not read
        gets the reason it recorded. Returns the parts the manifest speaks for."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.file_gap(path, f"unreadable export manifest: {exc}")
            return {}
        data = data if isinstance(data, dict) else {}
        resources = data.get("resources")
        if data.get("schema") != MANIFEST_SCHEMA or not isinstance(resources, dict):
            self.file_gap(path, f"not a {MANIFEST_SCHEMA} manifest")
            return {}
        self.read_at = _parse_time(str(data.get("collected_at") or ""))
        broken = {g.resource for g in self.collection.gaps}
        stated: dict[KubeField, bool] = {}
        for kube_field in GAP_WHAT:
            entry = resources.get(kube_field)
            if not isinstance(entry, dict):
                continue
            file = path.parent / str(entry.get("file") or "")
            if entry.get("read") is True and file.is_file() and str(file) not in broken:
                self.collection.read.add(kube_field)
                if kube_field == "pods":  # both pod lists were read
                    self.collection.pod_scopes |= {"aws-node", "workloads"}
                    # and every Running pod, when the export says so (older ones do not)
                    self.collection.running_read = entry.get("running_pods") is True
                stated[kube_field] = True
            elif entry.get("read") is False:
                operations = entry.get("operations")
                self.collection.gaps.append(
                    Gap(
                        what=GAP_WHAT[kube_field],
                        reason=f"not read by cniguard kube-export: {entry.get('reason')}",
                        cluster=self.collection.cluster,
                        operation=", ".join(map(str, operations)) if operations else None,
                        resource=str(path),
                    )
                )
                stated[kube_field] = False
        return stated

    def file_gap(self, path: Path, reason: str, line: int | None = None) -> None:
        key = (str(path), reason, line)
        if key in self._first_gaps:  # a repeat: counted, not built again (millions of bad items)
            self._repeats[key] = self._repeats.get(key, 0) + 1
            return
        gap = Gap(
            what="k8s:export",
            reason=reason,
            cluster=self.collection.cluster,
            resource=str(path),
            line=line,
        )
        self._first_gaps[key] = gap
        self.collection.gaps.append(gap)

    def read_file(self, path: Path) -> None:
        try:
            data = path.read_bytes()
            mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except OSError as exc:
            self.file_gap(path, f"cannot read the file: {exc.strerror or exc}")
            return
        try:
            documents = _json_documents(data.decode("utf-8-sig"))
        except UnicodeDecodeError:
            self.file_gap(path, "not UTF-8 text (binary file?)")
            return
        except json.JSONDecodeError as exc:
            self.file_gap(path, f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno)
            return
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            self.file_gap(path, f"invalid JSON: {exc}"[:300])
            return
        except RecursionError:
            self.file_gap(path, "JSON nested too deeply to read")
            return
        if not documents:
            self.file_gap(path, "the file is empty")
            return
        self.newest_mtime = max(filter(None, (self.newest_mtime, mtime)))
        self.unknown_kinds = set()
        for document in documents:
            self._read_document(path, document)
        if self.unknown_kinds:
            kinds = ", ".join(sorted(self.unknown_kinds))
            self.file_gap(path, f"objects of kinds the audit does not read were skipped: {kinds}")

    def _read_document(self, path: Path, document: Any) -> None:
        if not isinstance(document, dict):
            self.file_gap(path, "a JSON document is not a Kubernetes object or List")
            return
        kind = document.get("kind")
        if not isinstance(kind, str) or not kind:
            self.file_gap(path, "a JSON object has no kind")
        elif kind == "List" or (kind.endswith("List") and "items" in document):
            self._read_list(path, document, kind)
        else:
            self._read_object(path, kind, document)

    def _read_list(self, path: Path, document: JsonDict, kind: str) -> None:
        items = document.get("items")
        if not isinstance(items, list):
            self.file_gap(path, f"the {kind} has no list of items")
            return
        # Typed lists (PodList) omit kind/apiVersion on their items, as the API returns them.
        item_kind = kind.removesuffix("List") if kind != "List" else None
        api_version = document.get("apiVersion")
        if not items:
            hinted = item_kind or _kind_from_file_name(path)
            if hinted in KIND_FIELDS:
                self.collection.read.add(KIND_FIELDS[hinted])
            if hinted == "Pod":  # an empty pod list: its file name says which pods it lists
                name = path.name.lower()
                scopes = {"aws-node"} if "aws-node" in name or "kube-system" in name else set()
                scopes |= {"workloads"} if "pending" in name or "stuck" in name else set()
                self.collection.pod_scopes |= scopes or {"aws-node", "workloads"}
            return
        for item in items:
            if not isinstance(item, dict):
                self.file_gap(path, f"an item of the {kind} is not an object")
                continue
            own_kind = item.get("kind", item_kind)
            typed = item if api_version is None else {"apiVersion": api_version, **item}
            if isinstance(own_kind, str) and own_kind:
                self._read_object(path, own_kind, typed)
            else:
                self.file_gap(path, f"an item of the {kind} has no kind")

    def _read_object(self, path: Path, kind: str, obj: JsonDict) -> None:
        if kind not in KIND_FIELDS:
            self.unknown_kinds.add(kind)
            return
        self.collection.add(kind, obj, Origin(source="k8s", file=str(path)), resource=str(path))
        stamp = _newest_timestamp(obj)
        if stamp is not None:
            self.newest_timestamp = max(filter(None, (self.newest_timestamp, stamp)))


def _json_documents(text: str) -> list[Any]:
    """Every JSON value in ``text``: ``kubectl get a -o json; kubectl get b -o json`` appends."""
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    index = _skip_space(text, 0)
    while index < len(text):
        document, index = decoder.raw_decode(text, index)
        documents.append(document)
        index = _skip_space(text, index)
    return documents


def _skip_space(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    return match.end() if match else index


def _kind_from_file_name(path: Path) -> str | None:
    """The resource a file name gives: its last resource word, object names left out."""
    words = re.split(r"[-_.\s]+", _OBJECT_NAMES.sub(" ", path.stem.lower()))
    return next((RESOURCE_NAMES[w] for w in reversed(words) if w in RESOURCE_NAMES), None)


def _newest_timestamp(obj: JsonDict) -> datetime | None:
    newest: datetime | None = None
    stack: list[Any] = [obj]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key, child in value.items():
                if key in TIMESTAMP_KEYS and isinstance(child, str):
                    stamp = _parse_time(child)
                    if stamp is not None and (newest is None or stamp > newest):
                        newest = stamp
                else:
                    stack.append(child)
        elif isinstance(value, list):
            stack.extend(value)
    return newest


def _parse_time(text: str) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(text)
        return stamp.astimezone(UTC) if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None
