"""The Kubernetes operations of cniguard's write side (`verify`, `apply-plan`), over one ApiClient.

Every request goes through the official client's ``ApiClient`` (its host, TLS, token and token
refresh) to the real API paths, as raw JSON: no generated model drops or renames a field. Writes
re-read what they change and send its ``resourceVersion`` (or a delete precondition on its uid),
so a change made by someone else in between fails with :class:`Conflict` instead of being
overwritten. ``dry_run`` asks the API server to validate a write without persisting it.

The RBAC and AWS actions these operations (and `verify`) need are declared here as data
(:data:`WRITE_RBAC`, :data:`VERIFY_AWS_ACTIONS`): `cniguard permissions --write` is built from them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict
from urllib.parse import quote

import urllib3
from kubernetes import client

from cniguard.remediate.probe_pods import (
    PROBE_NAME,
    RUN_LABEL,
    JsonDict,
    is_own_namespace,
    namespace_manifest,
)

KUBE_SYSTEM = "kube-system"
AWS_NODE = "aws-node"
AWS_NODE_SELECTOR = "k8s-app=aws-node"
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
IDENTITY_CONTAINERS = ("aws-node", "aws-eks-nodeagent")
POD_IDENTITY_ENV = ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
MERGE_PATCH = "application/merge-patch+json"
REQUEST_TIMEOUT = (5.0, 30.0)  # seconds: connect, read
PAGE_SIZE = 500


class PolicyRule(TypedDict):
    """One Kubernetes RBAC rule; ``namespace`` None means cluster-wide (a ClusterRole rule)."""

    apiGroups: list[str]
    resources: list[str]
    verbs: list[str]
    namespace: str | None


def _rule(group: str, resource: str, verbs: str, namespace: str | None = None) -> PolicyRule:
    return PolicyRule(
        apiGroups=[group], resources=[resource], verbs=verbs.split(), namespace=namespace
    )


# Every request this module makes, as RBAC. `verify` uses the namespace, pod, event and node
# rules (pods are listed in its scratch namespace and kube-system: cluster-wide, as the scratch
# namespace's name is new on every run; the namespace controller deletes its pods);
# `apply-plan` adds the ServiceAccount and DaemonSet writes.
WRITE_RBAC: tuple[PolicyRule, ...] = (
    _rule("", "namespaces", "create get delete"),
    _rule("", "pods", "create list"),
    _rule("", "events", "list"),
    _rule("", "nodes", "list"),
    _rule("", "serviceaccounts", "get patch", KUBE_SYSTEM),
    _rule("apps", "daemonsets", "get patch", KUBE_SYSTEM),
)

# The AWS actions `verify` itself calls: DescribeCluster for --kube (endpoint and CA), the rest
# for --scale-node-group. An EKS token needs no IAM action (a locally presigned STS URL).
VERIFY_AWS_ACTIONS: tuple[str, ...] = (
    "eks:DescribeCluster",
    "eks:DescribeNodegroup",
    "eks:UpdateNodegroupConfig",
    "eks:DescribeUpdate",
)


class KubeOpsError(Exception):
    """A request failed; ``status`` is the HTTP status (None: no answer), ``reason`` the API's."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class NotFound(KubeOpsError):
    """The named object does not exist."""


class Conflict(KubeOpsError):
    """The object changed since it was read (or already exists): nothing was written."""


class RolloutTimeout(KubeOpsError):
    """The DaemonSet did not finish rolling out in time (``state`` is the last one seen)."""

    def __init__(self, message: str, state: DaemonSetState) -> None:
        super().__init__(message)
        self.state = state


@dataclass(frozen=True)
class DaemonSetState:
    name: str
    namespace: str
    service_account: str  # spec.template.spec.serviceAccountName ("default" when unset)
    update_strategy: str
    generation: int
    observed_generation: int
    desired: int
    updated: int
    available: int
    ready: int
    restarted_at: str | None

    def rollout_message(self) -> str | None:
        """``kubectl rollout status``'s verdict: None when rolled out, else what it waits for."""
        if self.observed_generation < self.generation:
            return "waiting for the daemon set spec update to be observed"
        if self.updated < self.desired:
            return f"{self.updated} out of {self.desired} new pods have been updated"
        if self.available < self.desired:
            return f"{self.available} of {self.desired} updated pods are available"
        return None


@dataclass(frozen=True)
class ContainerIdentity:
    """What one aws-node container's AWS SDK will use, as its environment shows it."""

    name: str
    role_arn: str | None  # AWS_ROLE_ARN's literal value (IRSA)
    pod_identity: bool  # the Pod Identity variables are set
    unresolved: bool  # identity variables set by valueFrom / envFrom: their value is unknown


@dataclass(frozen=True)
class AwsNodeIdentity:
    pod: str
    node: str | None
    ready: bool
    service_account: str | None
    containers: tuple[ContainerIdentity, ...]  # of IDENTITY_CONTAINERS, in pod order


@dataclass(frozen=True)
class PodState:
    name: str
    node: str | None
    ip: str | None
    phase: str
    annotations: dict[str, str]


@dataclass(frozen=True)
class Event:
    reason: str
    message: str
    type: str
    object_kind: str
    object_name: str
    namespace: str
    count: int
    last_seen: str | None


Clock = Callable[[], float]
Sleep = Callable[[float], None]


class KubeOps:
    """Typed reads and guarded writes of the objects cniguard changes or creates."""

    def __init__(
        self,
        api: client.ApiClient,
        *,
        field_manager: str = "cniguard",
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.api = api
        self.field_manager = field_manager
        self._clock = clock
        self._sleep = sleep

    # aws-node ServiceAccount ------------------------------------------------------------------

    def aws_node_role_arn(self) -> str | None:
        """The ``eks.amazonaws.com/role-arn`` annotation of kube-system/aws-node (None: unset)."""
        account = self._get(_sa_path())
        return _annotations(account).get(ROLE_ANNOTATION)

    def set_aws_node_role_arn(self, role_arn: str, *, dry_run: bool = False) -> str | None:
        """Annotate aws-node's ServiceAccount with ``role_arn``; returns the previous value."""
        return self._patch_role_annotation(role_arn, dry_run)

    def remove_aws_node_role_arn(self, *, dry_run: bool = False) -> str | None:
        """Remove the annotation; returns the value it had (None: there was none, no write)."""
        return self._patch_role_annotation(None, dry_run)

    def _patch_role_annotation(self, value: str | None, dry_run: bool) -> str | None:
        account = self._get(_sa_path())
        previous = _annotations(account).get(ROLE_ANNOTATION)
        if value is None and previous is None:
            return None
        version = (account.get("metadata") or {}).get("resourceVersion")
        patch = {"metadata": {"resourceVersion": version, "annotations": {ROLE_ANNOTATION: value}}}
        self._request("PATCH", _sa_path(), body=patch, dry_run=dry_run)
        return previous

    # aws-node DaemonSet -----------------------------------------------------------------------

    def aws_node_daemonset(self) -> DaemonSetState:
        return _daemonset_state(self._get(_ds_path()))

    def rollout_restart(self, *, at: datetime | None = None, dry_run: bool = False) -> str:
        """Restart aws-node's pods as ``kubectl rollout restart`` does; returns the timestamp."""
        stamp = (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        current = self._get(_ds_path())
        version = (current.get("metadata") or {}).get("resourceVersion")
        patch = {
            "metadata": {"resourceVersion": version},
            "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}},
        }
        self._request("PATCH", _ds_path(), body=patch, dry_run=dry_run)
        return stamp

    def wait_rollout(
        self, timeout: float, *, poll: float = 2.0, stall: float | None = None
    ) -> DaemonSetState:
        """Wait until aws-node is rolled out (``kubectl rollout status`` semantics). With
        ``stall``, give up as soon as the rollout made no progress for that long: an aws-node
        whose new identity cannot work never becomes ready, and waiting the whole ``timeout``
        would only delay the rollback."""
        deadline = self._clock() + timeout
        progress: tuple[int, ...] | None = None
        since = self._clock()
        while True:
            state = self.aws_node_daemonset()
            if state.update_strategy != "RollingUpdate":
                raise KubeOpsError(
                    f"rollout status needs the RollingUpdate strategy, aws-node uses "
                    f"{state.update_strategy}: its pods are replaced only when deleted"
                )
            message = state.rollout_message()
            if message is None:
                return state
            now = self._clock()
            seen = (state.observed_generation, state.updated, state.available, state.ready)
            if seen != progress:
                progress, since = seen, now
            elif stall is not None and now - since >= stall:
                raise RolloutTimeout(
                    f"aws-node rollout made no progress for {stall:g}s: {message}", state
                )
            if now >= deadline:
                raise RolloutTimeout(
                    f"aws-node rollout not done after {timeout:g}s: {message}", state
                )
            self._sleep(poll)

    def aws_node_identities(self) -> list[AwsNodeIdentity]:
        """Every aws-node pod and the identity its containers' environment gives the AWS SDK."""
        pods = self._list(f"/api/v1/namespaces/{KUBE_SYSTEM}/pods", labelSelector=AWS_NODE_SELECTOR)
        return sorted(map(_identity, pods), key=lambda i: (i.node or "", i.pod))

    # verify primitives ------------------------------------------------------------------------

    def nodes(self) -> list[JsonDict]:
        return self._list("/api/v1/nodes")

    def create_scratch_namespace(self, run_id: str) -> str:
        """Create ``cniguard-verify-<run_id>``, labelled as cniguard's; fails if it exists."""
        created = self._request("POST", _NS, body=namespace_manifest(run_id))
        return str(created["metadata"]["name"])

    def delete_scratch_namespace(self, run_id: str) -> bool:
        """Delete this run's scratch namespace; False when it is already gone.

        Refuses (KubeOpsError) a namespace that is not labelled as this run's, and deletes only
        the object it just read (uid precondition).
        """
        path = f"{_NS}/{quote(namespace_manifest(run_id)['metadata']['name'], safe='')}"
        try:
            current = self._get(path)
        except NotFound:
            return False
        if not is_own_namespace(current, run_id):
            raise KubeOpsError(f"refusing to delete {path}: it is not labelled as run {run_id}'s")
        body = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": "Background",
            "preconditions": {"uid": current["metadata"].get("uid")},
        }
        try:
            self._request("DELETE", path, body=body)
        except NotFound:
            return False
        return True

    def namespace_exists(self, name: str) -> bool:
        try:
            self._get(f"{_NS}/{quote(name, safe='')}")
        except NotFound:
            return False
        return True

    def create_pod(self, manifest: JsonDict) -> str:
        namespace = manifest["metadata"]["namespace"]
        created = self._request("POST", f"/api/v1/namespaces/{namespace}/pods", body=manifest)
        return str(created["metadata"]["name"])

    def probe_pods(self, namespace: str, run_id: str) -> list[PodState]:
        """The test pods of one run (only those carrying its run label)."""
        selector = f"app.kubernetes.io/name={PROBE_NAME},{RUN_LABEL}={run_id}"
        items = self._list(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector)
        return [_pod_state(item) for item in items]

    def events(self, namespace: str | None, *, field_selector: str | None = None) -> list[Event]:
        path = f"/api/v1/namespaces/{namespace}/events" if namespace else "/api/v1/events"
        query = {"fieldSelector": field_selector} if field_selector else {}
        return [_event(item) for item in self._list(path, **query)]

    # transport --------------------------------------------------------------------------------

    def _get(self, path: str) -> JsonDict:
        return self._request("GET", path)

    def _list(self, path: str, **query: str) -> list[JsonDict]:
        items: list[JsonDict] = []
        token = ""
        while True:
            page_query = {
                **query,
                "limit": str(PAGE_SIZE),
                **({"continue": token} if token else {}),
            }
            page = self._request("GET", path, query=page_query)
            found = page.get("items")
            if not isinstance(found, list):
                raise KubeOpsError(f"GET {path}: the answer has no items list")
            items.extend(i for i in found if isinstance(i, dict))
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return items

    def _request(
        self,
        method: Literal["GET", "POST", "PATCH", "DELETE"],
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: JsonDict | None = None,
        dry_run: bool = False,
    ) -> JsonDict:
        params = dict(query or {})
        if method in ("POST", "PATCH"):
            params["fieldManager"] = self.field_manager
        if dry_run:
            params["dryRun"] = "All"
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = MERGE_PATCH if method == "PATCH" else "application/json"
        what = f"{method} {path}"
        try:
            request = self.api.param_serialize(
                method=method,
                resource_path=path,
                query_params=sorted(params.items()),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            response = self.api.call_api(*request, _request_timeout=REQUEST_TIMEOUT)
            data: Any = response.read()  # type: ignore[no-untyped-call]
        except urllib3.exceptions.HTTPError as exc:
            raise KubeOpsError(f"{what}: no answer from the API server: {exc}") from None
        answer = _json(data)
        if 200 <= response.status < 300:
            if not isinstance(answer, dict):
                raise KubeOpsError(f"{what}: the API answered with no JSON object")
            return answer
        raise _error(what, response.status, answer)


_NS = "/api/v1/namespaces"


def _sa_path() -> str:
    return f"/api/v1/namespaces/{KUBE_SYSTEM}/serviceaccounts/{AWS_NODE}"


def _ds_path() -> str:
    return f"/apis/apps/v1/namespaces/{KUBE_SYSTEM}/daemonsets/{AWS_NODE}"


def _json(data: Any) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None


def _error(what: str, status: int, answer: Any) -> KubeOpsError:
    body = answer if isinstance(answer, dict) and answer.get("kind") == "Status" else {}
    reason = str(body.get("reason") or "")
    message = f"{what}: HTTP {status} {reason}: {body.get('message') or ''}".rstrip(": ")
    if status == 404:
        return NotFound(message, status=status, reason=reason)
    if status == 409:
        return Conflict(message, status=status, reason=reason)
    return KubeOpsError(message, status=status, reason=reason)


def _annotations(item: JsonDict) -> dict[str, str]:
    found = (item.get("metadata") or {}).get("annotations") or {}
    return {str(k): str(v) for k, v in found.items() if v is not None}


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _daemonset_state(item: JsonDict) -> DaemonSetState:
    metadata = item.get("metadata") or {}
    spec = item.get("spec") or {}
    template = spec.get("template") or {}
    status = item.get("status") or {}
    pod_spec = template.get("spec") or {}
    return DaemonSetState(
        name=str(metadata.get("name", "")),
        namespace=str(metadata.get("namespace", "")),
        service_account=str(
            pod_spec.get("serviceAccountName") or pod_spec.get("serviceAccount") or "default"
        ),
        update_strategy=str((spec.get("updateStrategy") or {}).get("type") or "RollingUpdate"),
        generation=_int(metadata.get("generation")),
        observed_generation=_int(status.get("observedGeneration")),
        desired=_int(status.get("desiredNumberScheduled")),
        updated=_int(status.get("updatedNumberScheduled")),
        available=_int(status.get("numberAvailable")),
        ready=_int(status.get("numberReady")),
        restarted_at=_annotations(template).get(RESTARTED_AT),
    )


def _identity(pod: JsonDict) -> AwsNodeIdentity:
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    conditions = status.get("conditions") or []
    containers = []
    for container in spec.get("containers") or []:
        if container.get("name") not in IDENTITY_CONTAINERS:
            continue
        env = {str(e.get("name")): e for e in container.get("env") or [] if isinstance(e, dict)}
        role = env.get("AWS_ROLE_ARN")
        identity_vars = [env[n] for n in ("AWS_ROLE_ARN", *POD_IDENTITY_ENV) if n in env]
        containers.append(
            ContainerIdentity(
                name=str(container["name"]),
                role_arn=str(role["value"]) if role and role.get("value") else None,
                pod_identity=all(n in env for n in POD_IDENTITY_ENV),
                unresolved=bool(container.get("envFrom"))
                or any("valueFrom" in e for e in identity_vars),
            )
        )
    return AwsNodeIdentity(
        pod=str((pod.get("metadata") or {}).get("name", "")),
        node=spec.get("nodeName"),
        ready=any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions),
        service_account=spec.get("serviceAccountName"),
        containers=tuple(containers),
    )


def _pod_state(item: JsonDict) -> PodState:
    status = item.get("status") or {}
    return PodState(
        name=str((item.get("metadata") or {}).get("name", "")),
        node=(item.get("spec") or {}).get("nodeName"),
        ip=status.get("podIP") or None,
        phase=str(status.get("phase") or "Pending"),
        annotations=_annotations(item),
    )


def _event(item: JsonDict) -> Event:
    involved = item.get("involvedObject") or item.get("regarding") or {}
    series = item.get("series") or {}
    last = item.get("lastTimestamp") or series.get("lastObservedTime") or item.get("eventTime")
    return Event(
        reason=str(item.get("reason") or ""),
        message=str(item.get("message") or item.get("note") or ""),
        type=str(item.get("type") or ""),
        object_kind=str(involved.get("kind") or ""),
        object_name=str(involved.get("name") or ""),
        namespace=str(involved.get("namespace") or ""),
        count=_int(item.get("count")) or _int(series.get("count")) or 1,
        last_seen=str(last) if last else None,
    )
