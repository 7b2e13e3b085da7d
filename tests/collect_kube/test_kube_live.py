"""read_live against a recorded API on 127.0.0.1, through a kubeconfig context or an EKS token."""

from __future__ import annotations

import base64
import contextlib
import re
import socket
import threading
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import yaml

from cniguard.collect import kube_live
from cniguard.collect.kubernetes import (
    RBAC_RULES,
    api_client_for_context,
    api_client_for_eks,
    read_export,
    read_live,
)
from cniguard.model.common import Origin
from cniguard.model.inventory import Gap
from cniguard.model.kube import KubeState

from .kube_api_server import (
    FIXTURES,
    RUNNING,
    RUNNING_COUNTS,
    Answer,
    forbidden,
    not_found,
    route,
    serve,
    stuck_cluster_answers,
)

CLUSTER = "arn:aws:eks:us-east-1:111122223333:cluster/prod"
TOKEN = "audit-token-not-a-secret"
EVERY_READ = [
    "/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node",
    "/api/v1/namespaces/kube-system/serviceaccounts",
    "/api/v1/namespaces/kube-system/configmaps/aws-auth",
    "/api/v1/namespaces/kube-system/pods",
    "/api/v1/pods",
    "/api/v1/pods",
    "/api/v1/events",
    "/api/v1/events",
    "/api/v1/namespaces/kube-system/events",
    "/api/v1/nodes",
]


def write_kubeconfig(path: Path, server: str) -> Path:
    """Two contexts; the current one points nowhere, so only an explicit context can work."""
    closed = f"http://127.0.0.1:{free_port()}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "recorded", "cluster": {"server": server}},
            {"name": "elsewhere", "cluster": {"server": closed}},
        ],
        "users": [{"name": "auditor", "user": {"token": TOKEN}}],
        "contexts": [
            {"name": "prod-audit", "context": {"cluster": "recorded", "user": "auditor"}},
            {"name": "other", "context": {"cluster": "elsewhere", "user": "auditor"}},
        ],
        "current-context": "other",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def without_origins(state: KubeState) -> KubeState:
    changes: dict[str, Any] = {"collected_at": None, "context": None}
    for f in fields(KubeState):
        value = getattr(state, f.name)
        if isinstance(value, tuple):
            changes[f.name] = tuple(
                replace(v, origin=None) if hasattr(v, "origin") else v for v in value
            )
    return replace(state, **changes)


def test_live_read_through_a_kubeconfig_context_matches_the_export(tmp_path: Path) -> None:
    with serve(stuck_cluster_answers()) as api:
        kubeconfig = write_kubeconfig(tmp_path / "config", api.url)
        client = api_client_for_context("prod-audit", kubeconfig=str(kubeconfig))
        state, gaps = read_live(client, cluster=CLUSTER, context="prod-audit")

    assert gaps == []
    assert state.context == "prod-audit"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", state.collected_at or "")
    exported, _ = read_export(FIXTURES / "stuck", cluster=CLUSTER)
    # The same objects through the API instead of files: one parser, the same model. The API
    # serves core/v1 events only, so the export's events.k8s.io/v1 file is left out.
    v1_file = Origin(source="k8s", file=str(FIXTURES / "stuck" / "events-k8s-io.json"))
    core_events = tuple(e for e in exported.events or () if e.origin != v1_file)
    assert len(core_events) == 4
    # The API also served every Running pod off the host network: counted per node only (the
    # files hold no such list, so the export's count is unknown)
    assert (state.running_pods_by_node, exported.running_pods_by_node) == (RUNNING_COUNTS, None)
    assert without_origins(replace(state, running_pods_by_node=None)) == without_origins(
        replace(exported, events=core_events)
    )
    assert state.nodes is not None and state.nodes[1].origin == Origin(
        source="k8s", context="prod-audit", api="GET /api/v1/nodes"
    )
    assert state.pods is not None
    assert state.pods[0].origin == Origin(
        source="k8s",
        context="prod-audit",
        api="GET /api/v1/pods?fieldSelector=status.phase=Pending",
    )
    # the running pods and the nodes come in two pages each
    assert [r.path for r in api.requests] == [
        *EVERY_READ[:6],
        "/api/v1/pods",
        *EVERY_READ[6:],
        "/api/v1/nodes",
    ]
    assert {r.authorization for r in api.requests} == {f"Bearer {TOKEN}"}
    node_pages = [r.params for r in api.requests if r.path == "/api/v1/nodes"]
    assert node_pages == [{"limit": "500"}, {"limit": "500", "continue": "page-2"}]


def test_a_forbidden_resource_is_a_gap_and_none_the_rest_is_read(tmp_path: Path) -> None:
    answers = stuck_cluster_answers()
    answers[route("/api/v1/nodes")] = forbidden("list", "nodes")
    with serve(answers) as api:
        client = api_client_for_context(
            "prod-audit", kubeconfig=str(write_kubeconfig(tmp_path / "config", api.url))
        )
        state, gaps = read_live(client, cluster=CLUSTER, context="prod-audit")

    assert state.nodes is None
    assert gaps == [
        Gap(
            what="k8s:nodes",
            reason='HTTP 403 Forbidden: nodes is forbidden: User "system:serviceaccount:audit:'
            'cniguard" cannot list resource "nodes" in API group "" at the cluster scope',
            cluster=CLUSTER,
            operation="GET /api/v1/nodes",
            error_code="Forbidden",
        )
    ]
    assert state.pods is not None and len(state.pods) == 4
    assert state.events is not None and len(state.events) == 4


def test_a_token_echoed_in_an_api_error_never_reaches_a_gap(tmp_path: Path) -> None:
    """Proxies and misconfigured API servers echo the Authorization header in their errors."""
    token = "k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8_QWN0aW9uPUdldENhbGxlcklkZW50aXR5"
    answers = stuck_cluster_answers()
    answers[route("/api/v1/nodes")] = Answer(
        401,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f"Unauthorized: rejected header 'Authorization: Bearer {token}'",
            "reason": "Unauthorized",
            "code": 401,
        },
    )
    with serve(answers) as api:
        client = api_client_for_context(
            "prod-audit", kubeconfig=str(write_kubeconfig(tmp_path / "config", api.url))
        )
        _, gaps = read_live(client, cluster=CLUSTER, context="prod-audit")

    (gap,) = gaps
    assert gap.what == "k8s:nodes"
    assert token not in gap.reason and "k8s-aws-v1.aHR0" not in gap.reason
    assert gap.reason.startswith("HTTP 401 Unauthorized: Unauthorized: rejected header")


def test_one_failed_request_of_a_part_leaves_the_whole_part_unread(tmp_path: Path) -> None:
    answers = stuck_cluster_answers()
    del answers[route("/api/v1/events", fieldSelector="reason=MissingIAMPermissions")]
    with serve(answers) as api:
        client = api_client_for_context(
            "prod-audit", kubeconfig=str(write_kubeconfig(tmp_path / "config", api.url))
        )
        state, gaps = read_live(client, cluster=CLUSTER, context="prod-audit")

    assert state.events is None  # two of three event reads are not "the events"
    assert gaps == [
        Gap(
            what="k8s:events",
            reason="HTTP 404 404: Not Found",
            cluster=CLUSTER,
            operation="GET /api/v1/events?fieldSelector=reason=MissingIAMPermissions",
            error_code="404",
        )
    ]


def test_absent_objects_are_read_as_none_present(tmp_path: Path) -> None:
    answers = stuck_cluster_answers()
    answers[route("/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node")] = not_found(
        "daemonsets", "aws-node", "apps"
    )
    answers[route("/api/v1/namespaces/kube-system/configmaps/aws-auth")] = not_found(
        "configmaps", "aws-auth"
    )
    with serve(answers) as api:
        client = api_client_for_context(
            "prod-audit", kubeconfig=str(write_kubeconfig(tmp_path / "config", api.url))
        )
        state, gaps = read_live(client, cluster=CLUSTER, context="prod-audit")

    assert (state.daemonsets, state.aws_auth, gaps) == ((), (), [])


def test_an_unreachable_api_server_leaves_everything_unread() -> None:
    client = api_client_for_eks(f"http://127.0.0.1:{free_port()}", "", TOKEN)
    client.configuration.retries = 0

    state, gaps = read_live(client, cluster=CLUSTER, context=None)

    assert replace(state, collected_at=None) == KubeState()
    assert [g.operation for g in gaps] == [
        f"GET {path}" + query
        for path, query in zip(
            EVERY_READ,
            [
                "",
                "",
                "",
                "?labelSelector=k8s-app=aws-node",
                "?fieldSelector=status.phase=Pending",
                "?fieldSelector=spec.hostNetwork=false,status.phase=Running",
                "?fieldSelector=reason=FailedCreatePodSandBox",
                "?fieldSelector=reason=MissingIAMPermissions",
                "?fieldSelector=reason=Unhealthy",
                "",
            ],
            strict=True,
        )
    ]
    assert {g.error_code for g in gaps} == {"MaxRetryError"}
    assert all(g.reason.startswith("no answer from the API server: ") for g in gaps)


def test_eks_endpoint_client_sends_the_bearer_token() -> None:
    ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n")
    token = "k8s-aws-v1.aHR0cHM6Ly9zdHMudXMtZWFzdC0xLmFtYXpvbmF3cy5jb20v"
    with serve(stuck_cluster_answers()) as api:
        client = api_client_for_eks(api.url, ca.decode(), token)
        state, gaps = read_live(client, cluster=CLUSTER, context=None)

    assert gaps == []
    assert state.daemonsets is not None and state.daemonsets[0].unavailable == 2
    assert {r.authorization for r in api.requests} == {f"Bearer {token}"}


def _rbac_need(path: str) -> tuple[str, str, str, str | None]:
    """(group, resource, verb, namespace) that a GET of ``path`` needs."""
    match = re.fullmatch(
        r"/(?:api/v1|apis/(?P<group>[^/]+)/[^/]+)(?:/namespaces/(?P<ns>[^/]+))?"
        r"/(?P<resource>[^/]+)(?:/(?P<name>[^/]+))?",
        path,
    )
    assert match is not None, path
    verb = "get" if match["name"] else "list"
    return match["group"] or "", match["resource"], verb, match["ns"]


def test_rbac_rules_cover_every_request_the_reader_makes(tmp_path: Path) -> None:
    with serve(stuck_cluster_answers()) as api:
        client = api_client_for_context(
            "prod-audit", kubeconfig=str(write_kubeconfig(tmp_path / "config", api.url))
        )
        read_live(client, cluster=CLUSTER, context="prod-audit")

    def granted(group: str, resource: str, verb: str, namespace: str | None) -> bool:
        return any(
            (g, r) == (group, resource) and verb in verbs and ns in (None, namespace)
            for g, r, verbs, ns in RBAC_RULES
        )

    needs = sorted({_rbac_need(r.path) for r in api.requests}, key=str)
    assert [n for n in needs if not granted(*n)] == []
    assert len(needs) == 8
    unused = [
        rule
        for rule in RBAC_RULES
        if not any((rule[0], rule[1]) == (n[0], n[1]) and n[2] in rule[2] for n in needs)
    ]
    assert unused == []  # least privilege: nothing granted that no request uses


def test_a_plain_text_404_is_a_missing_api_not_an_absent_object(tmp_path: Path) -> None:
    answers = stuck_cluster_answers()
    answers[route("/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node")] = Answer(
        404, "404 page not found"
    )
    with serve(answers) as api:
        client = api_client_for_context(
            "prod-audit", kubeconfig=str(write_kubeconfig(tmp_path / "config", api.url))
        )
        state, gaps = read_live(client, cluster=CLUSTER, context="prod-audit")

    assert state.daemonsets is None
    assert [(g.what, g.error_code) for g in gaps] == [("k8s:daemonsets", "404")]


def test_the_documented_roles_match_rbac_rules() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "kubernetes.md").read_text()
    block = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    documented = {
        (group, resource, tuple(rule["verbs"]), role["metadata"].get("namespace"))
        for role in yaml.safe_load_all(block)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }

    assert documented == set(RBAC_RULES)


class SilentApi:
    """Accepts connections on 127.0.0.1 and never answers: an API server that hangs."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(32)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.accepted.append(self.listener.accept()[0])

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for sock in self.accepted:
            sock.close()


def test_a_silent_api_server_is_asked_twice_then_not_again(monkeypatch: Any) -> None:
    monkeypatch.setattr(kube_live, "REQUEST_TIMEOUT", (2.0, 0.3))
    silent = SilentApi()
    try:
        client = api_client_for_eks(silent.url, "", TOKEN)
        state, gaps = read_live(client, cluster=CLUSTER, context=None)
    finally:
        silent.close()

    assert replace(state, collected_at=None) == KubeState()
    # One connection per request (a read timeout is not retried), two requests in all.
    assert len(silent.accepted) == 2
    assert [g.error_code for g in gaps] == ["MaxRetryError"] * 2 + ["EndpointUnresponsive"] * 8
    assert "Read timed out" in gaps[0].reason
    assert gaps[2].reason == "the API server timed out 2 times in this scan: not called again"
    assert [g.operation for g in gaps][:2] == [f"GET {p}" for p in EVERY_READ[:2]]


def test_past_the_deadline_nothing_is_sent() -> None:
    silent = SilentApi()
    try:
        client = api_client_for_eks(silent.url, "", TOKEN)
        state, gaps = read_live(client, cluster=CLUSTER, context=None, remaining=lambda: 0.0)
    finally:
        silent.close()

    assert replace(state, collected_at=None) == KubeState()
    assert silent.accepted == []
    assert len(gaps) == len(EVERY_READ)
    assert {(g.error_code, g.reason) for g in gaps} == {
        ("DeadlinePassed", "the scan's --deadline passed before this was read")
    }


def test_an_api_server_without_the_host_network_selector_leaves_pod_counts_unknown(
    tmp_path: Path,
) -> None:
    """Servers before spec.hostNetwork was a pod field selector answer 400: the counts are
    unknown (fail closed), the pods the audit reads are still read."""
    answers = stuck_cluster_answers()
    rejected = "field label not supported: spec.hostNetwork"
    answers[route("/api/v1/pods", fieldSelector=RUNNING)] = Answer(
        400, {"kind": "Status", "status": "Failure", "message": rejected, "reason": "BadRequest"}
    )
    with serve(answers) as api:
        client = api_client_for_context(
            "prod-audit", kubeconfig=str(write_kubeconfig(tmp_path / "config", api.url))
        )
        state, gaps = read_live(client, cluster=CLUSTER, context="prod-audit")

    assert (state.running_pods_by_node, state.pods is not None) == (None, True)
    assert gaps == [
        Gap(
            what="k8s:pods",
            reason=f"HTTP 400 BadRequest: {rejected}",
            cluster=CLUSTER,
            operation=f"GET /api/v1/pods?fieldSelector={RUNNING}",
            error_code="BadRequest",
        )
    ]


def test_a_malformed_running_pod_leaves_the_counts_unknown_not_the_pods(tmp_path: Path) -> None:
    answers = stuck_cluster_answers()
    answers[route("/api/v1/pods", fieldSelector=RUNNING)] = Answer(
        200, {"kind": "PodList", "apiVersion": "v1", "items": [{"spec": {"nodeName": 7}}]}
    )
    with serve(answers) as api:
        client = api_client_for_context(
            "prod-audit", kubeconfig=str(write_kubeconfig(tmp_path / "config", api.url))
        )
        state, gaps = read_live(client, cluster=CLUSTER, context="prod-audit")

    assert (state.running_pods_by_node, state.pods is not None) == (None, True)
    assert [(g.what, g.reason) for g in gaps] == [
        ("k8s:pods", "running pods not counted: spec.nodeName: Input should be a valid string")
    ]
