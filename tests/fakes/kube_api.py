"""A small stateful Kubernetes API server on 127.0.0.1 for the simulated cluster.

It serves the resources in :data:`RESOURCES` at their real paths with the real verbs, list
shapes (``<Kind>List`` with ``metadata.resourceVersion``, ``limit``/``continue`` paging), label
and field selectors (unsupported field labels are refused as the real server does), the three
PATCH content types, optimistic concurrency on PUT and ``Status`` bodies for errors. Behaviour
(admission, controllers) is left to the owner through :class:`Hooks`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fakes.kube_patch import PATCH_TYPES, PatchError, apply_patch


@dataclass(frozen=True)
class Resource:
    group: str
    plural: str
    kind: str
    namespaced: bool
    verbs: frozenset[str]
    fields: frozenset[str] = frozenset()  # field labels beyond metadata.name/namespace

    @property
    def api_version(self) -> str:
        return f"{self.group}/v1" if self.group else "v1"

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


_READ = frozenset({"get", "list"})
_EVENT_FIELDS = frozenset(
    {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    }
)
RESOURCES = {
    r.plural if not r.group else f"{r.group}/{r.plural}": r
    for r in (
        Resource("", "namespaces", "Namespace", False, _READ | {"create", "delete"}),
        Resource(
            "",
            "pods",
            "Pod",
            True,
            _READ | {"create", "delete", "deletecollection"},
            frozenset(
                {
                    "spec.nodeName",
                    "spec.restartPolicy",
                    "spec.schedulerName",
                    "spec.serviceAccountName",
                    "spec.hostNetwork",
                    "status.phase",
                    "status.podIP",
                    "status.nominatedNodeName",
                }
            ),
        ),
        Resource(
            "", "serviceaccounts", "ServiceAccount", True, _READ | {"create", "patch", "update"}
        ),
        Resource("", "events", "Event", True, _READ | {"create"}, _EVENT_FIELDS),
        Resource("", "nodes", "Node", False, _READ, frozenset({"spec.unschedulable"})),
        Resource("", "configmaps", "ConfigMap", True, _READ),
        Resource("apps", "daemonsets", "DaemonSet", True, _READ | {"patch", "update"}),
        Resource("events.k8s.io", "events", "Event", True, _READ),
    )
}
_FIELD_ALIASES = {"source": "source.component"}
_FIELD_DEFAULTS = {"spec.hostNetwork": "false"}  # the API selects an unset hostNetwork as false
_SELECTOR_TERM = re.compile(
    r"^(!?)([\w./-]+)\s*(?:(==|=|!=)\s*([\w./-]*)|\s+(in|notin)\s+\((.*)\))?$"
)


class ApiError(Exception):
    """An error answer: HTTP status, ``reason`` and message, as a ``Status`` body."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def not_found(resource: Resource, name: str) -> ApiError:
    details = {
        "name": name,
        "kind": resource.plural,
        **({"group": resource.group} if resource.group else {}),
    }
    return ApiError(404, "NotFound", f'{resource.qualified} "{name}" not found', details)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Hooks:
    """What the cluster's owner decides: admission of new objects, views of stored ones."""

    admit: Callable[[Resource, dict[str, Any]], None] = lambda resource, obj: None
    changed: Callable[[], None] = lambda: None  # after every write through the API


@dataclass
class Store:
    """Objects by plural (``pods``, ``apps/daemonsets``) and (namespace, name)."""

    objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = field(default_factory=dict)
    revision: int = 1000
    lock: threading.RLock = field(default_factory=threading.RLock)

    def table(self, plural: str) -> dict[tuple[str, str], dict[str, Any]]:
        return self.objects.setdefault(plural, {})

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.table(plural).get((namespace, name))

    def items(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [
            obj
            for (ns, _), obj in sorted(self.table(plural).items())
            if namespace is None or ns == namespace
        ]

    def put(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Store ``obj`` (new or changed) with a new resourceVersion; fills uid and timestamp."""
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now_iso())
        self.revision += 1
        meta["resourceVersion"] = str(self.revision)
        self.table(plural)[(meta.get("namespace", ""), meta["name"])] = obj
        return obj

    def remove(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.table(plural).pop((namespace, name), None)
        if found is not None:
            self.revision += 1
        return found


def _lookup(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return _FIELD_DEFAULTS.get(path, "")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_label_selector(selector: str) -> Callable[[dict[str, str]], bool]:
    terms = []
    for term in re.split(r",(?![^()]*\))", selector):
        raw = term.strip()
        if not raw:
            continue
        found = _SELECTOR_TERM.match(raw)
        if found is None:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {raw!r}")
        terms.append(found.groups())

    def matches(labels: dict[str, str]) -> bool:
        for negated, key, op, value, set_op, values in terms:
            if set_op:
                options = {v.strip() for v in values.split(",")}
                ok = (
                    labels.get(key) in options if set_op == "in" else labels.get(key) not in options
                )
            elif op:
                ok = (labels.get(key) == value) if op in ("=", "==") else labels.get(key) != value
            else:
                ok = (key in labels) != bool(negated)
            if not ok:
                return False
        return True

    return matches


def parse_field_selector(resource: Resource, selector: str) -> Callable[[dict[str, Any]], bool]:
    allowed = resource.fields | {"metadata.name", "metadata.namespace"}
    terms = []
    for raw in filter(None, (t.strip() for t in selector.split(","))):
        found = re.match(r"^([\w.]+)\s*(==|=|!=)\s*(.*)$", raw)
        if found is None:
            raise ApiError(400, "BadRequest", f"invalid selector: '{selector}'")
        key, op, value = found.groups()
        if key not in allowed:
            raise ApiError(400, "BadRequest", f"field label not supported: {key}")
        terms.append((_FIELD_ALIASES.get(key, key), op != "!=", value))
    return lambda obj: all((_lookup(obj, k) == v) == eq for k, eq, v in terms)


def discovery(segments: list[str]) -> dict[str, Any] | None:
    """The legacy (v1) discovery documents for :data:`RESOURCES` (None: not a discovery path)."""
    if segments == ["api"]:
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    groups = sorted({r.group for r in RESOURCES.values() if r.group})
    if segments == ["apis"]:
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                    "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"},
                }
                for g in groups
            ],
        }
    group = "" if segments == ["api", "v1"] else segments[1] if len(segments) == 3 else None
    if group is None or (group and (group not in groups or segments[2] != "v1")):
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/v1" if group else "v1",
        "resources": [
            {
                "name": r.plural,
                "singularName": r.kind.lower(),
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": sorted(r.verbs),
            }
            for r in RESOURCES.values()
            if r.group == group
        ],
    }


class KubeApi:
    """The HTTP front of a :class:`Store`; ``view`` turns a stored object into its answer."""

    def __init__(
        self,
        store: Store,
        hooks: Hooks,
        view: Callable[[Resource, dict[str, Any]], dict[str, Any]],
    ) -> None:
        self.store, self.hooks, self.view = store, hooks, view
        self.requests: list[tuple[str, str]] = []  # (verb, path) of every request
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    # routing --------------------------------------------------------------------------------

    def route(self, method: str, target: str, content_type: str, body: bytes) -> tuple[int, Any]:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        segments = [s for s in parts.path.split("/") if s]
        if segments in (["version"], ["version", ""]):
            return 200, {
                "major": "1",
                "minor": "31",
                "gitVersion": "v1.31.4-eks-sim",
                "platform": "linux/amd64",
            }
        if method == "GET" and len(segments) <= 3 and segments[:1] in (["api"], ["apis"]):
            found = discovery(segments)  # what kubectl asks before any request
            if found is not None:
                return 200, found
        if segments[:2] == ["api", "v1"]:
            group, rest = "", segments[2:]
        elif len(segments) >= 3 and segments[0] == "apis" and segments[2] == "v1":
            group, rest = segments[1], segments[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        resource = RESOURCES.get(f"{group}/{rest[0]}" if group else rest[0]) if rest else None
        if resource is None or len(rest) > 2:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) == 2 else None
        if resource.namespaced and name is not None and namespace is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        verb = {
            ("GET", False): "list",
            ("GET", True): "get",
            ("POST", False): "create",
            ("PUT", True): "update",
            ("PATCH", True): "patch",
            ("DELETE", True): "delete",
            ("DELETE", False): "deletecollection",
        }.get((method, name is not None))
        if query.get("watch") in ("true", "1"):
            verb = "watch"
        if verb is None or verb not in resource.verbs:
            raise ApiError(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            )
        payload = json.loads(body) if body else None
        with self.store.lock:
            answer = self._serve(
                verb, resource, namespace or "", name or "", query, content_type, payload
            )
        if verb not in ("get", "list"):
            self.hooks.changed()
        return answer

    def _serve(
        self,
        verb: str,
        resource: Resource,
        namespace: str,
        name: str,
        query: dict[str, str],
        content_type: str,
        payload: Any,
    ) -> tuple[int, Any]:
        if verb == "list":
            return 200, self._list(resource, namespace or None, query)
        if verb == "get":
            return 200, self.view(resource, self._existing(resource, namespace, name))
        if verb == "create":
            return 201, self.view(resource, self._create(resource, namespace, payload))
        if verb == "delete":
            existing = self._existing(resource, namespace, name)
            return 200, self.view(resource, self._delete(resource, existing))
        if verb == "deletecollection":
            doomed = self._selected(resource, namespace or None, query)
            deleted = [self.view(resource, self._delete(resource, obj)) for obj in doomed]
            return 200, self._list_body(resource, deleted, "")
        existing = self._existing(resource, namespace, name)
        if verb == "patch":
            if content_type not in PATCH_TYPES:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types "
                    f"include: {', '.join(PATCH_TYPES)}",
                )
            try:
                changed = apply_patch(content_type, existing, payload)
            except PatchError as exc:
                raise ApiError(422, "Invalid", str(exc)) from exc
        else:
            if not isinstance(payload, dict):
                raise ApiError(400, "BadRequest", "the body of the request is not an object")
            sent = payload.get("metadata", {}).get("resourceVersion")
            if sent is not None and sent != existing["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {resource.qualified} "{name}": the object '
                    "has been modified; please apply your changes to the latest version and try "
                    "again",
                    {
                        "name": name,
                        "kind": resource.plural,
                        **({"group": resource.group} if resource.group else {}),
                    },
                )
            changed = payload
        return 200, self.view(resource, self._update(resource, existing, changed))

    @staticmethod
    def _plural(resource: Resource) -> str:
        return (
            "events"
            if resource.group == "events.k8s.io"
            else (f"{resource.group}/{resource.plural}" if resource.group else resource.plural)
        )

    def _existing(self, resource: Resource, namespace: str, name: str) -> dict[str, Any]:
        found = self.store.get(self._plural(resource), namespace, name)
        if found is None:
            raise not_found(resource, name)
        return found

    def _selected(
        self, resource: Resource, namespace: str | None, query: dict[str, str]
    ) -> list[dict[str, Any]]:
        labels = parse_label_selector(query.get("labelSelector", ""))
        fields = parse_field_selector(resource, query.get("fieldSelector", ""))
        return [
            obj
            for obj in self.store.items(self._plural(resource), namespace)
            if labels(obj["metadata"].get("labels") or {}) and fields(obj)
        ]

    def _list(
        self, resource: Resource, namespace: str | None, query: dict[str, str]
    ) -> dict[str, Any]:
        items = self._selected(resource, namespace, query)
        start = int(query.get("continue") or 0)
        limit = int(query.get("limit") or 0)
        end = start + limit if limit else len(items)
        token = str(end) if end < len(items) else ""
        return self._list_body(resource, [self.view(resource, o) for o in items[start:end]], token)

    def _list_body(
        self, resource: Resource, items: list[dict[str, Any]], token: str
    ) -> dict[str, Any]:
        bare = [{k: v for k, v in i.items() if k not in ("kind", "apiVersion")} for i in items]
        metadata = {
            "resourceVersion": str(self.store.revision),
            **({"continue": token} if token else {}),
        }
        return {
            "kind": f"{resource.kind}List",
            "apiVersion": resource.api_version,
            "metadata": metadata,
            "items": bare,
        }

    def _create(self, resource: Resource, namespace: str, payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise ApiError(400, "BadRequest", "the body of the request is not an object")
        obj = json.loads(json.dumps(payload))
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(
                secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5)
            )
        if not meta.get("name"):
            raise ApiError(
                422,
                "Invalid",
                f'{resource.kind} "" is invalid: metadata.name: Required value: name or '
                "generateName is required",
                {"kind": resource.kind},
            )
        if resource.namespaced:
            if meta.get("namespace") not in (None, namespace):
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            meta["namespace"] = namespace
            ns = self.store.get("namespaces", "", namespace)
            if ns is None:
                raise not_found(RESOURCES["namespaces"], namespace)
            if ns.get("status", {}).get("phase") == "Terminating":
                raise ApiError(
                    403,
                    "Forbidden",
                    f'{resource.plural} "{meta["name"]}" is forbidden: unable to create new '
                    f"content in namespace {namespace} because it is being terminated",
                    {"name": meta["name"], "kind": resource.plural},
                )
        if (
            self.store.get(self._plural(resource), meta.get("namespace", ""), meta["name"])
            is not None
        ):
            raise ApiError(
                409,
                "AlreadyExists",
                f'{resource.qualified} "{meta["name"]}" already exists',
                {
                    "name": meta["name"],
                    "kind": resource.plural,
                    **({"group": resource.group} if resource.group else {}),
                },
            )
        for key in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
            meta.pop(key, None)
        obj["kind"], obj["apiVersion"] = resource.kind, resource.api_version
        self.hooks.admit(resource, obj)
        return self.store.put(self._plural(resource), obj)

    def _update(
        self, resource: Resource, existing: dict[str, Any], changed: dict[str, Any]
    ) -> dict[str, Any]:
        meta = changed.setdefault("metadata", {})
        for key in ("name", "namespace", "uid", "creationTimestamp", "generation"):
            if key in existing["metadata"]:
                meta[key] = existing["metadata"][key]
        if "status" in existing:
            changed["status"] = existing["status"]  # the main resource ignores status changes
        if "spec" in existing and changed.get("spec") != existing["spec"] and "generation" in meta:
            meta["generation"] = int(meta["generation"]) + 1
        if changed == existing:
            return existing
        return self.store.put(self._plural(resource), changed)

    def _delete(self, resource: Resource, existing: dict[str, Any]) -> dict[str, Any]:
        meta = existing["metadata"]
        if resource.plural == "namespaces":
            existing["status"] = {"phase": "Terminating"}
            meta["deletionTimestamp"] = now_iso()
            existing.setdefault("spec", {})["finalizers"] = ["kubernetes"]
            return self.store.put("namespaces", existing)
        self.store.remove(self._plural(resource), meta.get("namespace", ""), meta["name"])
        gone: dict[str, Any] = json.loads(json.dumps(existing))
        gone["metadata"]["deletionTimestamp"] = now_iso()
        gone["metadata"]["deletionGracePeriodSeconds"] = 0
        return gone

    # HTTP -----------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
                api.requests.append((self.command, self.path))
                try:
                    status, answer = api.route(self.command, self.path, content_type, body)
                except ApiError as exc:
                    status, answer = exc.code, exc.status()
                except (ValueError, KeyError, TypeError) as exc:
                    error = ApiError(400, "BadRequest", f"bad request: {exc}")
                    status, answer = 400, error.status()
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read api.requests."""

        return Handler
