"""The AWS wire formats the fakes speak, driven by botocore's own service models.

Requests are matched to operations the way the services do (query ``Action``, JSON
``X-Amz-Target``, REST-JSON method + URI template) and their parameters and responses are
checked against the model's shapes, so a fake that drifts from the real API fails loudly.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.session
from botocore.model import OperationModel, ServiceModel
from botocore.validate import ParamValidator

_CREDENTIAL = re.compile(r"Credential=([^/]+)/\d+/([^/]+)/([^/]+)/aws4_request")


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # the raw request target: path and query
    path: str  # still percent-encoded, without the query
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def signed(self) -> tuple[str, str, str]:
        """(access key, region, service) from the SigV4 Authorization header."""
        found = _CREDENTIAL.search(self.headers.get("authorization", ""))
        if found is None:
            return "", "us-east-1", ""
        return found.group(1), found.group(2), found.group(3)


def parse_request(method: str, target: str, headers: dict[str, str], body: bytes) -> Request:
    parts = urlsplit(target)
    return Request(
        method,
        target,
        parts.path,
        parse_qs(parts.query),
        {k.lower(): v for k, v in headers.items()},
        body,
    )


@cache
def service_model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


@cache
def _rest_routes(service: str) -> list[tuple[str, re.Pattern[str], list[str], OperationModel]]:
    model = service_model(service)
    routes = []
    for name in model.operation_names:
        op = model.operation_model(name)
        uri = op.http["requestUri"].split("?")[0]
        labels = re.findall(r"{([^}+]+)\+?}", uri)
        pattern = re.sub(r"{[^}+]+\+}", "(.+)", uri)
        pattern = re.sub(r"{[^}]+}", "([^/]+)", pattern)
        routes.append((op.http["method"], re.compile(f"^{pattern}$"), labels, op))
    return routes


def operation_of(request: Request, service: str) -> str | None:
    """The operation a request calls, as the service would route it."""
    protocol = service_model(service).protocol
    if protocol in ("query", "ec2"):
        fields = parse_qs(request.body.decode("utf-8"))
        return fields.get("Action", [None])[0]
    if protocol == "json":
        target = request.headers.get("x-amz-target", "")
        return target.rsplit(".", 1)[-1] or None
    for method, pattern, _, op in _rest_routes(service):
        if method == request.method and pattern.match(request.path):
            return op.name
    return None


def rest_params(request: Request, service: str, operation: str) -> dict[str, Any]:
    """The parameters of a REST-JSON request: URI labels, query string and JSON body."""
    op = service_model(service).operation_model(operation)
    for method, pattern, labels, route in _rest_routes(service):
        if route.name != operation or method != request.method:
            continue
        found = pattern.match(request.path)
        if found is None:
            continue
        params: dict[str, Any] = json.loads(request.body) if request.body else {}
        shape = op.input_shape
        members = shape.members if shape is not None else {}
        for member_name, member in members.items():
            location = member.serialization.get("location")
            wire_name = member.serialization.get("name", member_name)
            if location == "uri":
                params[member_name] = unquote(found.group(labels.index(wire_name) + 1))
            elif location == "querystring" and wire_name in request.query:
                value = request.query[wire_name][0]
                params[member_name] = int(value) if member.type_name == "integer" else value
        return params
    raise ValueError(f"{request.method} {request.path} is not {operation}")


def validate(shape_owner: OperationModel, params: dict[str, Any], *, output: bool) -> None:
    """Raise AssertionError when ``params`` do not fit the operation's input or output shape."""
    shape = shape_owner.output_shape if output else shape_owner.input_shape
    if shape is None:
        return
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        kind = "response" if output else "request"
        raise AssertionError(f"{shape_owner.name} {kind}: {report.generate_report()}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def json_response(service: str, body: dict[str, Any]) -> Response:
    protocol = service_model(service).protocol
    content_type = (
        "application/json"
        if protocol == "rest-json"
        else (f"application/x-amz-json-{service_model(service).metadata.get('jsonVersion', '1.1')}")
    )
    return Response(200, {"Content-Type": content_type}, json.dumps(_jsonable(body)).encode())


_CODES = {
    # protocol -> kind -> (error code, HTTP status)
    "query": {
        "access": ("AccessDenied", 403),
        "throttle": ("Throttling", 400),
        "server": ("InternalFailure", 500),
    },
    "ec2": {
        "access": ("UnauthorizedOperation", 403),
        "throttle": ("RequestLimitExceeded", 503),
        "server": ("InternalError", 500),
    },
    "json": {
        "access": ("AccessDeniedException", 400),
        "throttle": ("ThrottlingException", 400),
        "server": ("InternalFailure", 500),
    },
    "rest-json": {
        "access": ("AccessDeniedException", 403),
        "throttle": ("ThrottlingException", 429),
        "server": ("ServerException", 500),
    },
}


def error_response(
    service: str, kind: str, message: str, code: str | None = None, status: int | None = None
) -> Response:
    """An error as ``service`` really sends it (XML for query/ec2, JSON otherwise)."""
    protocol = service_model(service).protocol
    default_code, default_status = _CODES[protocol].get(kind, ("ValidationException", 400))
    code = code or default_code
    status = status or default_status
    if protocol == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
            "</Error></Errors><RequestID>fake-request</RequestID></Response>"
        )
        return Response(status, {"Content-Type": "text/xml"}, body.encode())
    if protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>fake-request</RequestId>"
            "</ErrorResponse>"
        )
        return Response(status, {"Content-Type": "text/xml"}, body.encode())
    if protocol == "rest-json":
        return Response(
            status,
            {"Content-Type": "application/json", "x-amzn-ErrorType": code},
            json.dumps({"message": message}).encode(),
        )
    return Response(
        status,
        {"Content-Type": "application/x-amz-json-1.1"},
        json.dumps({"__type": code, "message": message}).encode(),
    )
