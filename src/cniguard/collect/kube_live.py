"""Reads the Kubernetes state of one cluster from its API with the official client.

Every read asks for raw JSON (``_preload_content=False``) so the live path and the export path
share one parser. Each part of the state is read on its own: a 403, a missing API or a timeout
leaves that part ``None`` with a Gap naming the request, and the other parts are still read.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from cniguard.collect.kube_parse import (
    AWS_AUTH,
    AWS_NODE,
    GAP_WHAT,
    KIND_FIELDS,
    KUBE_SYSTEM,
    KubeCollection,
    KubeField,
)
from cniguard.model.common import JsonDict, Origin
from cniguard.model.inventory import Gap
from cniguard.model.kube import KubeState
from cniguard.redact import redact_secrets

RbacRule = tuple[str, str, tuple[str, ...], str | None]
"""(API group, resource, verbs, namespace or None for cluster-wide): one grant the reads need."""

RBAC_RULES: tuple[RbacRule, ...] = (
    ("apps", "daemonsets", ("get",), KUBE_SYSTEM),
    ("", "serviceaccounts", ("list",), KUBE_SYSTEM),
    ("", "configmaps", ("get",), KUBE_SYSTEM),
    ("", "pods", ("list",), None),
    ("", "events", ("list",), None),
    ("", "nodes", ("list",), None),
)

API_VERSIONS = {"DaemonSet": "apps/v1"}  # every other kind read is core v1
PAGE_SIZE = 500
REQUEST_TIMEOUT = (5.0, 30.0)  # seconds: connect, read
SERVER_TIMEOUTS = 2  # timed-out requests after which this API server is not called again
Remaining = Callable[[], float | None]  # seconds left before the scan's deadline (None: none)
AWS_NODE_PODS = f"k8s-app={AWS_NODE}"
PENDING = "status.phase=Pending"  # stuck pods are Pending: never list every pod of the cluster
# Pods that can reach a node's IMDS credentials: only counted per node, never kept (a selectable
# pod field: kubernetes pkg/registry/core/pod/strategy.go ToSelectableFields)
RUNNING = "spec.hostNetwork=false,status.phase=Running"
EVENT_REASON_QUERIES = (
    (None, "reason=FailedCreatePodSandBox"),
    (None, "reason=MissingIAMPermissions"),
    (KUBE_SYSTEM, "reason=Unhealthy"),
)


def api_client_for_context(context: str, kubeconfig: str | None = None) -> client.ApiClient:
    """A client for one kubeconfig context (``kubeconfig`` None: $KUBECONFIG or ~/.kube/config)."""
    api = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=kubeconfig, context=context, client_configuration=_configuration()
    )
    return cast(client.ApiClient, api)


def api_client_for_eks(endpoint: str, ca_data_b64: str, token: str) -> client.ApiClient:
    """A client for an EKS endpoint (``describe_cluster``'s endpoint and CA) and a bearer token."""
    base64.b64decode(ca_data_b64, validate=True)  # a broken CA fails here, not at first request
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "eks",
                "cluster": {"server": endpoint, "certificate-authority-data": ca_data_b64},
            }
        ],
        "users": [{"name": "eks", "user": {"token": token}}],
        "contexts": [{"name": "eks", "context": {"cluster": "eks", "user": "eks"}}],
        "current-context": "eks",
    }
    api = config.new_client_from_config_dict(  # type: ignore[no-untyped-call]
        kubeconfig, context="eks", client_configuration=_configuration()
    )
    return cast(client.ApiClient, api)


def _configuration() -> client.Configuration:
    """Connection failures are retried twice; a read that timed out never is (urllib3 would try
    a silent API server four times per request, each for the whole read timeout)."""
    configuration = client.Configuration()
    configuration.retries = urllib3.Retry(total=2, connect=2, read=0, redirect=0, status=0)
    return configuration


_Request = tuple[str, Callable[[], list[Any]]]  # (operation as "GET <path>?<query>", the call)
_QUERY_NAMES = {"label_selector": "labelSelector", "field_selector": "fieldSelector"}


class _ReadError(Exception):
    """A part of the cluster that could not be read. API servers and proxies may echo the
    request's bearer token in their error text: it is redacted before it can become a gap."""

    def __init__(self, reason: str, code: str | None) -> None:
        reason = redact_secrets(reason)
        super().__init__(reason)
        self.reason = reason
        self.code = code


class _NotFound(Exception):
    """The API answered that the named object does not exist (read: there is none)."""


def _no_deadline() -> float | None:
    return None


def read_live(
    api: client.ApiClient,
    *,
    cluster: str,
    context: str | None,
    remaining: Remaining = _no_deadline,
) -> tuple[KubeState, list[Gap]]:
    """The cluster's Kubernetes state as the API shows it now, and what could not be read.

    No request outlives the scan's deadline (``remaining``), and an API server that timed out
    :data:`SERVER_TIMEOUTS` times is not called again: its other parts fail at once, as gaps."""
    collected_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    reader = _LiveReader(client.CoreV1Api(api), client.AppsV1Api(api), cluster, context)
    reader.remaining = remaining
    reader.read_all()
    state = reader.collection.state(collected_at=collected_at, context=context)
    return state, reader.collection.gaps


@dataclass
class RawRead:
    """The objects the live reads returned, by kind (each with kind and apiVersion), the parts
    read in full and the gaps of the others: what ``cniguard kube-export`` writes."""

    objects: dict[str, list[JsonDict]]
    read: set[KubeField]
    gaps: list[Gap]
    collected_at: str
    running_pods: bool = False  # every Running pod off the host network is among the pods


def read_live_raw(api: client.ApiClient, *, cluster: str, context: str | None) -> RawRead:
    """The same reads as :func:`read_live`, keeping the API's objects as they came."""
    collected_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    reader = _LiveReader(client.CoreV1Api(api), client.AppsV1Api(api), cluster, context)
    reader.raw = {}
    reader.read_all()
    parts = reader.collection.read - reader.collection.broken
    running = reader.collection.running_read
    return RawRead(reader.raw, parts, reader.collection.gaps, collected_at, running)


class _LiveReader:
    def __init__(
        self, core: client.CoreV1Api, apps: client.AppsV1Api, cluster: str, context: str | None
    ) -> None:
        self.core = core
        self.apps = apps
        self.context = context
        self.collection = KubeCollection(cluster)
        self.raw: dict[str, list[JsonDict]] | None = None  # kind -> objects, when kept
        self.remaining: Remaining = _no_deadline
        self.timeouts = 0

    def read_all(self) -> None:
        core, apps, ns = self.core, self.apps, KUBE_SYSTEM
        daemonset = f"/apis/apps/v1/namespaces/{ns}/daemonsets/{AWS_NODE}"
        self._read("DaemonSet", [self._get(daemonset, apps.read_namespaced_daemon_set, AWS_NODE)])
        accounts = f"/api/v1/namespaces/{ns}/serviceaccounts"
        self._read(
            "ServiceAccount", [self._list(accounts, core.list_namespaced_service_account, ns)]
        )
        aws_auth = f"/api/v1/namespaces/{ns}/configmaps/{AWS_AUTH}"
        self._read("ConfigMap", [self._get(aws_auth, core.read_namespaced_config_map, AWS_AUTH)])
        aws_node_pods = f"/api/v1/namespaces/{ns}/pods"
        pods = [
            self._list(aws_node_pods, core.list_namespaced_pod, ns, label_selector=AWS_NODE_PODS),
            self._list("/api/v1/pods", core.list_pod_for_all_namespaces, field_selector=PENDING),
        ]
        self._read("Pod", pods)
        self._read_running()
        events = [
            self._list(
                f"/api/v1/namespaces/{namespace}/events",
                core.list_namespaced_event,
                namespace,
                field_selector=selector,
            )
            if namespace
            else self._list(
                "/api/v1/events", core.list_event_for_all_namespaces, field_selector=selector
            )
            for namespace, selector in EVENT_REASON_QUERIES
        ]
        self._read("Event", events)
        self._read("Node", [self._list("/api/v1/nodes", core.list_node)])

    def _read_running(self) -> None:
        """Counts the Running pods off the host network per node. Not a read of "the pods":
        alone, running pods would pass for "no stuck pods"."""
        operation, call = self._list(
            "/api/v1/pods", self.core.list_pod_for_all_namespaces, field_selector=RUNNING
        )
        try:
            items = call()
        except _ReadError as exc:
            self.collection.gaps.append(
                Gap(
                    what=GAP_WHAT["pods"],
                    reason=exc.reason,
                    cluster=self.collection.cluster,
                    operation=operation,
                    error_code=exc.code,
                )
            )
            return
        self.collection.add_running(items, resource=operation)
        if self.raw is not None:
            self._keep("Pod", [_slim_pod(i) for i in items])

    def _read(self, kind: str, requests: list[_Request]) -> None:
        """Runs every request of one part; the part counts as read only if all of them succeed."""
        kube_field = KIND_FIELDS[kind]
        results: list[tuple[str, list[Any]]] = []
        for operation, call in requests:
            try:
                results.append((operation, call()))
            except _ReadError as exc:
                self.collection.gaps.append(
                    Gap(
                        what=GAP_WHAT[kube_field],
                        reason=exc.reason,
                        cluster=self.collection.cluster,
                        operation=operation,
                        error_code=exc.code,
                    )
                )
        if len(results) < len(requests):
            return
        self.collection.read.add(kube_field)
        if kind == "Pod":  # both pod lists were read, whether or not they held anything
            self.collection.pod_scopes |= {"aws-node", "workloads"}
        for operation, items in results:
            origin = Origin(source="k8s", context=self.context, api=operation)
            self.collection.add_all(kind, items, origin, resource=operation)
            if self.raw is not None:
                self._keep(kind, items)

    def _keep(self, kind: str, items: list[Any]) -> None:
        """List items come without kind and apiVersion: give them back, once per object."""
        kept = self.raw.setdefault(kind, []) if self.raw is not None else []
        seen = {(_meta(o, "namespace"), _meta(o, "name")) for o in kept}
        for item in items:
            if not isinstance(item, dict):
                continue
            key = (_meta(item, "namespace"), _meta(item, "name"))
            if key not in seen:
                seen.add(key)
                kept.append({"kind": kind, "apiVersion": API_VERSIONS.get(kind, "v1"), **item})

    def _get(self, path: str, method: Callable[..., Any], name: str) -> _Request:
        """GET of a named kube-system object: one item, or none when it does not exist."""

        def call() -> list[Any]:
            try:
                return [self._call(method, name, KUBE_SYSTEM)]
            except _NotFound:
                return []

        return f"GET {path}", call

    def _list(
        self, path: str, method: Callable[..., Any], *args: Any, **selectors: str
    ) -> _Request:
        """A paged LIST; the operation names its selectors as the URL query does."""
        query = "&".join(f"{_QUERY_NAMES[key]}={value}" for key, value in selectors.items())

        def call() -> list[Any]:
            items: list[Any] = []
            token: str | None = None
            while True:
                page = self._call(method, *args, limit=PAGE_SIZE, _continue=token, **selectors)
                page_items = page.get("items")
                if not isinstance(page_items, list) and page_items is not None:
                    raise _ReadError("the API returned a list without items", "MalformedResponse")
                items.extend(page_items or [])
                metadata = page.get("metadata")
                token = metadata.get("continue") if isinstance(metadata, dict) else None
                if not token:
                    return items

        return f"GET {path}" + (f"?{query}" if query else ""), call

    def _timeout(self) -> tuple[float, float]:
        """This request's (connect, read) timeouts, cut to the deadline; or the reason not to
        send it at all."""
        if self.timeouts >= SERVER_TIMEOUTS:
            raise _ReadError(
                f"the API server timed out {self.timeouts} times in this scan: not called again",
                "EndpointUnresponsive",
            )
        left = self.remaining()
        if left is None:
            return REQUEST_TIMEOUT
        if left <= 0:
            raise _ReadError("the scan's --deadline passed before this was read", "DeadlinePassed")
        connect, read = REQUEST_TIMEOUT
        return min(connect, left), min(read, left)

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> JsonDict:
        timeout = self._timeout()
        try:
            response = method(*args, _preload_content=False, _request_timeout=timeout, **kwargs)
            try:
                body = json.loads(response.data)
            finally:
                response.release_conn()
        except ApiException as exc:
            raise _api_error(exc) from None
        except urllib3.exceptions.HTTPError as exc:
            cause = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
            if isinstance(cause, urllib3.exceptions.TimeoutError) and not isinstance(
                cause,
                urllib3.exceptions.NewConnectionError,  # refused: fast, not a timeout
            ):
                self.timeouts += 1
            raise _ReadError(f"no answer from the API server: {exc}", type(exc).__name__) from None
        except ValueError as exc:
            raise _ReadError(f"the API answered with invalid JSON: {exc}", "InvalidJSON") from None
        if not isinstance(body, dict):
            raise _ReadError("the API answered with a non-object JSON value", "MalformedResponse")
        return body


def _slim_pod(item: Any) -> Any:
    """What a pod count needs: name, node, host network and phase (exports stay small)."""
    if not isinstance(item, dict):
        return item
    spec, status = item.get("spec"), item.get("status")
    spec = spec if isinstance(spec, dict) else {}
    return {
        "metadata": {"namespace": _meta(item, "namespace"), "name": _meta(item, "name")},
        "spec": {k: spec[k] for k in ("nodeName", "hostNetwork") if k in spec},
        "status": {"phase": status.get("phase")} if isinstance(status, dict) else {},
    }


def _meta(obj: JsonDict, key: str) -> str:
    meta = obj.get("metadata")
    return str(meta.get(key) or "") if isinstance(meta, dict) else ""


def _api_error(exc: ApiException) -> Exception:
    """NotFound for a named object that does not exist; a _ReadError for anything else."""
    status = _status_body(exc.body)
    details = status.get("details")
    if exc.status == 404 and isinstance(details, dict) and details.get("name"):
        return _NotFound()  # a missing API has no object name in its 404
    message = status.get("message") or (exc.reason or "")
    code = status.get("reason") or str(exc.status)
    return _ReadError(f"HTTP {exc.status} {code}: {message}".rstrip(": "), str(code))


def _status_body(body: Any) -> JsonDict:
    """The Kubernetes ``Status`` object of an error answer ({} for a plain-text one)."""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) and parsed.get("kind") == "Status" else {}
