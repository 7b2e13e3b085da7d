"""A real moto server behind a loopback proxy: the collector's boto3 calls go over HTTP unchanged.

The proxy serves the APIs moto lacks (EKS add-ons, pod identity associations, access entries,
their writes and DescribeUpdate, CloudTrail LookupEvents) from :mod:`fakes.services` and
:mod:`fakes.eks_writes`, and pricing GetProducts from :mod:`fakes.pricing`; it forwards everything
else to moto, tells listeners (a simulated cluster) about every successful write, and can
inject per-call latency, AccessDenied for chosen accounts or actions, throttling, 5xx errors,
slow responses and role sessions that expire soon. Fault choices are deterministic per request,
and a request is failed at most ``max_faults_per_request`` times, so bounded retries always get
through.

For benchmarks the proxy can record every answer and later replay it (``replay``), so a run
measures a server that answers in exactly the injected latency, not moto's own CPU time; and it
takes settings over HTTP (``POST /_fake/settings``) when it runs in its own process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import json
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs

from fakes.eks_writes import EKS_WRITE_OPERATIONS, handle_eks_write, record_update
from fakes.pricing import FakePricing
from fakes.services import (
    CLOUDTRAIL_OPERATIONS,
    EKS_OPERATIONS,
    FakeState,
    handle_cloudtrail,
    handle_eks,
)
from fakes.wire import (
    Request,
    Response,
    error_response,
    operation_of,
    parse_request,
    rest_params,
)

DEFAULT_ACCOUNT = "123456789012"  # moto's account for the plain dummy keys
_ACCESS_KEY = re.compile(r"<AccessKeyId>([^<]+)</AccessKeyId>")
_EXPIRATION = re.compile(rb"<Expiration>[^<]+</Expiration>")
_HOP_HEADERS = {"connection", "transfer-encoding", "content-length", "server", "date", "keep-alive"}
READ_PREFIXES = ("Describe", "List", "Get", "Lookup", "Simulate")


def is_read(action: str) -> bool:
    """Whether "service:Operation" only reads: Describe/List/Get/Lookup/Simulate calls, and STS
    (it hands out credentials and changes nothing). An unknown operation is not a read."""
    service, _, operation = action.partition(":")
    return service == "sts" or operation.startswith(READ_PREFIXES)


@dataclass
class Faults:
    latency: float = 0.0  # seconds added to every call
    deny_accounts: frozenset[str] = frozenset()  # every call but STS from these accounts
    deny_actions: frozenset[str] = frozenset()  # e.g. {"eks:ListAddons"}, in every account
    # AccessDenied for the requests this answers True for ("service:Operation", request): a
    # denial scoped to some resources, as an SCP or a permissions boundary gives
    deny_when: Callable[[str, Request], bool] | None = None
    # account -> seconds the next role session into it lasts (AssumeRole's Expiration; used once)
    short_sessions: dict[str, float] = field(default_factory=dict)
    throttle_rate: float = 0.0
    server_error_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    max_faults_per_request: int = 2


ReplayMode = Literal["off", "record", "replay"]
ReplayKey = tuple[str, str, str, str, bytes]
CONTROL_PATH = "/_fake/"


@dataclass
class Traffic:
    calls: Counter[str] = field(default_factory=Counter)  # "service:Operation" -> count
    injected: Counter[str] = field(default_factory=Counter)  # fault kind -> count
    signed_by: Counter[str] = field(default_factory=Counter)  # access key -> calls it signed

    def mutating_calls(self) -> Counter[str]:
        """The calls that may change something (everything but reads), answered or not."""
        return Counter({a: n for a, n in self.calls.items() if not is_read(a)})


@dataclass(frozen=True)
class Call:
    """A successful write, as listeners hear of it (after it took effect, before the answer)."""

    account: str
    region: str
    action: str  # "service:Operation"
    request: Request
    response: Response


Listener = Callable[[Call], None]


class FakeAws:
    """moto + the fakes behind one loopback endpoint (``url``)."""

    def __init__(self, moto_host: str, moto_port: int) -> None:
        self.moto = (moto_host, moto_port)
        self.state = FakeState()
        self.pricing = FakePricing()  # pricing:GetProducts (fakes.pricing)
        self.faults = Faults()
        self.traffic = Traffic()
        self.keys: dict[str, str] = {}  # access key -> account (from AssumeRole responses)
        self.listeners: list[Listener] = []
        self._attempts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.replay: ReplayMode = "off"
        self._recorded: dict[ReplayKey, Response] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeAws:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        """Forget every fake resource, fault and count (moto is reset separately)."""
        self.state = FakeState()
        self.pricing = FakePricing()
        self.faults = Faults()
        self.traffic = Traffic()
        self.keys.clear()
        self.listeners.clear()
        self._attempts.clear()
        self.replay = "off"
        self._recorded.clear()

    def account_of(self, access_key: str) -> str:
        return self.keys.get(access_key, DEFAULT_ACCOUNT)

    # request handling ----------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        access_key, region, service = request.signed
        account = self.account_of(access_key)
        operation = operation_of(request, service) if service else None
        action = f"{service}:{operation}"
        with self._lock:
            self.traffic.calls[action] += 1
            self.traffic.signed_by[access_key] += 1
        if self.faults.latency:
            time.sleep(self.faults.latency)
        fault = self._fault(request, service, account, action)
        if fault is not None:
            return fault
        key = (account, region, request.method, request.target, request.body)
        if self.replay == "replay" and key in self._recorded:
            return self._recorded[key]
        response = self._answer(request, service, operation, account, region, action)
        if response.status < 300 and not is_read(action):
            for listener in list(self.listeners):
                listener(Call(account, region, action, request, response))
        if self.replay != "off":
            with self._lock:
                self.traffic.injected["replay-miss" if self.replay == "replay" else "recorded"] += 1
                self._recorded[key] = response
        return response

    def _answer(
        self,
        request: Request,
        service: str,
        operation: str | None,
        account: str,
        region: str,
        action: str,
    ) -> Response:
        if service == "eks" and operation in EKS_OPERATIONS:
            return handle_eks(self.state, request, operation, account, region)
        if service == "eks" and operation in EKS_WRITE_OPERATIONS:
            found = self._cluster_in_moto(request)
            if found.status != 200:
                return found
            return handle_eks_write(self.state, request, operation, account, region)
        if service == "cloudtrail" and operation in CLOUDTRAIL_OPERATIONS:
            return handle_cloudtrail(self.state, request, account, region)
        if service == "pricing":
            return self.pricing.handle(request, operation)
        response = self._forward(request)
        if action == "sts:AssumeRole" and response.status == 200:
            return self._learn_key(request, response)
        if action == "eks:UpdateNodegroupConfig" and response.status == 200:
            params = rest_params(request, "eks", "UpdateNodegroupConfig")
            update = json.loads(response.body)["update"]
            update["createdAt"] = dt.datetime.now(dt.UTC)
            record_update(
                self.state,
                account,
                region,
                params["clusterName"],
                update,
                params["nodegroupName"],
            )
        return response

    def _cluster_in_moto(self, request: Request) -> Response:
        """moto's DescribeCluster for the cluster an EKS request names (its 404 when absent)."""
        name = request.path.split("/")[2]
        headers = {k: v for k, v in request.headers.items() if k in ("authorization", "host")}
        return self._forward(
            Request("GET", f"/clusters/{name}", f"/clusters/{name}", {}, headers, b"")
        )

    def _fault(self, request: Request, service: str, account: str, action: str) -> Response | None:
        faults = self.faults
        if service and (
            (service != "sts" and account in faults.deny_accounts)
            or action in faults.deny_actions
            or (faults.deny_when is not None and faults.deny_when(action, request))
        ):
            with self._lock:
                self.traffic.injected["access"] += 1
            user = f"arn:aws:sts::{account}:assumed-role/Auditor/cniguard-audit"
            message = (
                f"User: {user} is not authorized to perform: {action} "
                "because no identity-based policy allows the action"
            )
            return error_response(service, "access", message)
        fingerprint = hashlib.sha256(
            b"|".join(
                [account.encode(), request.method.encode(), request.path.encode(), request.body]
            )
        ).digest()
        for kind, rate, salt in (
            ("throttle", faults.throttle_rate, 0),
            ("server", faults.server_error_rate, 1),
            ("slow", faults.slow_rate, 2),
        ):
            if rate <= 0 or fingerprint[salt] / 256 >= rate:
                continue
            key = f"{kind}:{fingerprint.hex()}"
            with self._lock:
                if self._attempts[key] >= faults.max_faults_per_request:
                    continue
                self._attempts[key] += 1
                self.traffic.injected[kind] += 1
            if kind == "slow":
                time.sleep(faults.slow_seconds)
                continue
            return error_response(service, kind, f"injected {kind} fault")
        return None

    def _forward(self, request: Request) -> Response:
        conn = http.client.HTTPConnection(*self.moto, timeout=60)
        try:
            conn.request(request.method, request.target, body=request.body, headers=request.headers)
            raw = conn.getresponse()
            body = raw.read()
            headers = {k: v for k, v in raw.getheaders() if k.lower() not in _HOP_HEADERS}
            return Response(raw.status, headers, body)
        finally:
            conn.close()

    def control(self, command: str, body: bytes) -> Response:
        """``settings`` (latency and replay mode as JSON) or ``traffic`` (counts as JSON)."""
        if command == "settings":
            settings = json.loads(body or b"{}")
            self.faults.latency = float(settings.get("latency", self.faults.latency))
            self.replay = settings.get("replay", self.replay)
            self.traffic = Traffic()
        payload = {"calls": self.traffic.calls, "injected": self.traffic.injected}
        return Response(200, {"Content-Type": "application/json"}, json.dumps(payload).encode())

    def _learn_key(self, request: Request, response: Response) -> Response:
        """Remember whose the new access key is; shorten the session if asked to."""
        fields = parse_qs(request.body.decode("utf-8"))
        role_arn = fields.get("RoleArn", [""])[0]
        found = _ACCESS_KEY.search(response.body.decode("utf-8"))
        if not found or role_arn.count(":") < 4:
            return response
        account = role_arn.split(":")[4]
        self.keys[found.group(1)] = account
        with self._lock:
            lifetime = self.faults.short_sessions.pop(account, None)
        if lifetime is None:
            return response
        expiry = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=lifetime)
        stamp = expiry.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        body = _EXPIRATION.sub(b"<Expiration>" + stamp + b"</Expiration>", response.body, count=1)
        return Response(response.status, response.headers, body)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path.startswith(CONTROL_PATH):
                    self._send(fake.control(self.path[len(CONTROL_PATH) :], body))
                    return
                request = parse_request(self.command, self.path, dict(self.headers.items()), body)
                try:
                    response = fake.handle(request)
                except AssertionError as exc:  # a request or response off the botocore model
                    response = Response(599, {"Content-Type": "text/plain"}, str(exc).encode())
                self._send(response)

            def _send(self, response: Response) -> None:
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler


def _role_name(request: Request) -> str | None:
    names = parse_qs(request.body.decode("utf-8", "replace")).get("RoleName")
    return names[0] if names else None


def denies_roles(*names: str) -> Callable[[str, Request], bool]:
    """A ``Faults.deny_when`` that denies the IAM calls naming one of these roles (RoleName)."""
    return lambda action, request: action.startswith("iam:") and _role_name(request) in names


# The AWS-managed policies the fake IAM serves: those EKS node, cluster and CNI roles use, and a few
# broad ones. moto's full set (about 1,600) is parsed again for every IAM backend (account and
# partition) after every reset: over 10 s per test on this machine. A test attaching a policy not
# here gets moto's NoSuchEntity, so a missing name fails loudly.
SERVED_MANAGED_POLICY = re.compile(
    r"AmazonEKS.*|AmazonEC2ContainerRegistry.*|AmazonSSMManagedInstanceCore|"
    r"CloudWatchAgentServerPolicy|AdministratorAccess|ReadOnlyAccess|ViewOnlyAccess|"
    r"AmazonS3ReadOnlyAccess|AmazonEC2FullAccess|AmazonEC2ReadOnlyAccess|IAMFullAccess"
)


def _serve_fewer_managed_policies() -> None:
    import moto.iam.models as iam_models

    every = json.loads(iam_models.aws_managed_policies_data)  # type: ignore[attr-defined]
    served = {k: v for k, v in every.items() if SERVED_MANAGED_POLICY.fullmatch(k)}
    iam_models.aws_managed_policies_data = json.dumps(served)  # type: ignore[attr-defined]


def start_moto() -> Any:
    """A moto server on a free loopback port with the AWS managed policies tests use."""
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    _serve_fewer_managed_policies()

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server


def reset_moto(host: str, port: int) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request("POST", "/moto-api/reset")
        conn.getresponse().read()
    finally:
        conn.close()
