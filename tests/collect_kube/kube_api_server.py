"""A recorded Kubernetes API on 127.0.0.1: fixed answers at the real URL paths, requests logged."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

FIXTURES = Path(__file__).parent.parent / "fixtures" / "kube"
SELECTING_PARAMS = ("labelSelector", "fieldSelector", "continue")


def route(path: str, **params: str) -> str:
    """The key of an answer: the path and the query parameters that select what is returned."""
    query = urlencode(sorted(params.items()))
    return f"{path}?{query}" if query else path


@dataclass
class Answer:
    status: int
    body: Any  # JSON value, or str for a plain-text answer


@dataclass
class Request:
    path: str
    params: dict[str, str]
    authorization: str | None


@dataclass
class RecordedApi:
    answers: dict[str, Answer]
    requests: list[Request] = field(default_factory=list)
    url: str = ""


def forbidden(verb: str, resource: str) -> Answer:
    user = "system:serviceaccount:audit:cniguard"
    message = (
        f'{resource} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API '
        'group "" at the cluster scope'
    )
    return Answer(
        403,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": "Forbidden",
            "details": {"kind": resource},
            "code": 403,
        },
    )


def not_found(kind: str, name: str, group: str = "") -> Answer:
    details = {"name": name, "kind": kind, **({"group": group} if group else {})}
    resource = f"{kind}.{group}" if group else kind
    return Answer(
        404,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f'{resource} "{name}" not found',
            "reason": "NotFound",
            "details": details,
            "code": 404,
        },
    )


def _list(kind: str, api_version: str, items: list[Any], token: str = "") -> Answer:
    """A typed List as the API server returns it: items carry no kind or apiVersion."""
    bare = [{k: v for k, v in i.items() if k not in ("kind", "apiVersion")} for i in items]
    metadata = {"resourceVersion": "4242", **({"continue": token} if token else {})}
    return Answer(
        200, {"kind": kind, "apiVersion": api_version, "metadata": metadata, "items": bare}
    )


RUNNING = "spec.hostNetwork=false,status.phase=Running"


def _running(namespace: str, name: str, node: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"nodeName": node, "containers": [{"name": "app"}], **spec},
        "status": {"phase": "Running"},
    }


# Hand count: ip-10-0-1-23 runs web-a, web-b; ip-10-0-2-41 runs checkout-a and coredns-x
# (hostNetwork: false, as set). kube-proxy-z is on the host network: a server that ignored the
# selector would return it; it is not counted.
RUNNING_PODS = [
    _running("default", "web-a", "ip-10-0-1-23.ec2.internal"),
    _running("default", "web-b", "ip-10-0-1-23.ec2.internal"),
    _running("shop", "checkout-a", "ip-10-0-2-41.ec2.internal"),
    _running("kube-system", "coredns-x", "ip-10-0-2-41.ec2.internal", hostNetwork=False),
    _running("kube-system", "kube-proxy-z", "ip-10-0-2-41.ec2.internal", hostNetwork=True),
]
RUNNING_COUNTS = {"ip-10-0-1-23.ec2.internal": 2, "ip-10-0-2-41.ec2.internal": 2}


def stuck_cluster_answers() -> dict[str, Answer]:
    """The 'stuck' fixture as the API would serve it to the collector's requests."""
    state = json.loads((FIXTURES / "stuck" / "cluster-state.json").read_text())["items"]
    events = json.loads((FIXTURES / "stuck" / "events.json").read_text())["items"]
    aws_auth = json.loads((FIXTURES / "stuck" / "aws-auth.json").read_text())
    by_kind: dict[str, list[Any]] = {}
    for obj in state:
        by_kind.setdefault(obj["kind"], []).append(obj)
    pods = by_kind["Pod"]
    unschedulable = {
        "metadata": {"name": "batch-x", "namespace": "jobs"},
        "spec": {"containers": [{"name": "job"}]},
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}],
        },
    }

    def events_with(reason: str) -> list[Any]:
        return [e for e in events if e["reason"] == reason]

    ns = "/api/v1/namespaces/kube-system"
    return {
        route("/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node"): Answer(
            200, by_kind["DaemonSet"][0]
        ),
        route(f"{ns}/serviceaccounts"): _list(
            "ServiceAccountList", "v1", by_kind["ServiceAccount"]
        ),
        route(f"{ns}/configmaps/aws-auth"): Answer(200, aws_auth),
        route(f"{ns}/pods", labelSelector="k8s-app=aws-node"): _list(
            "PodList", "v1", [p for p in pods if p["metadata"]["namespace"] == "kube-system"]
        ),
        route("/api/v1/pods", fieldSelector="status.phase=Pending"): _list(
            "PodList",
            "v1",
            [p for p in pods if p["metadata"]["namespace"] != "kube-system"] + [unschedulable],
        ),
        # Running pods off the host network, in two pages: only counted per node
        route("/api/v1/pods", fieldSelector=RUNNING): _list(
            "PodList", "v1", RUNNING_PODS[:3], token="running-2"
        ),
        route("/api/v1/pods", fieldSelector=RUNNING, **{"continue": "running-2"}): _list(
            "PodList", "v1", RUNNING_PODS[3:]
        ),
        route("/api/v1/events", fieldSelector="reason=FailedCreatePodSandBox"): _list(
            "EventList", "v1", events_with("FailedCreatePodSandBox")
        ),
        route("/api/v1/events", fieldSelector="reason=MissingIAMPermissions"): _list(
            "EventList", "v1", events_with("MissingIAMPermissions")
        ),
        route(f"{ns}/events", fieldSelector="reason=Unhealthy"): _list(
            "EventList", "v1", events_with("Unhealthy")
        ),
        # Nodes come in two pages, linked by a continue token.
        route("/api/v1/nodes"): _list("NodeList", "v1", by_kind["Node"][:1], token="page-2"),
        route("/api/v1/nodes", **{"continue": "page-2"}): _list(
            "NodeList", "v1", by_kind["Node"][1:]
        ),
    }


@contextmanager
def serve(answers: dict[str, Answer]) -> Iterator[RecordedApi]:
    api = RecordedApi(answers)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            params = dict(parse_qsl(parts.query))
            api.requests.append(Request(parts.path, params, self.headers.get("Authorization")))
            selecting = {k: v for k, v in params.items() if k in SELECTING_PARAMS}
            answer = api.answers.get(
                route(parts.path, **selecting), Answer(404, "404 page not found")
            )
            is_json = not isinstance(answer.body, str)
            payload = (json.dumps(answer.body) if is_json else answer.body).encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json" if is_json else "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test asserts on api.requests instead."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
