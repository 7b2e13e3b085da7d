"""Turning a failed AWS call into a :class:`Gap` on exactly the scope it concerns."""

from __future__ import annotations

import re
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from cniguard.model.inventory import Gap

DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "Client.UnauthorizedOperation",
        "UnauthorizedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "AuthFailure",
    }
)
_ACTION_IN_MESSAGE = re.compile(r"perform:?\s+([a-z0-9-]+:[A-Za-z0-9]+)")

AwsError = ClientError | BotoCoreError


@dataclass(frozen=True)
class Where:
    """The account / region / cluster a call reads for: where its gap belongs."""

    account: str
    region: str | None = None
    cluster: str | None = None  # cluster ARN


def error_code(exc: AwsError) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "Unknown")
    return type(exc).__name__


def missing_action(exc: AwsError, operation: str) -> str | None:
    """The IAM action an AccessDenied names, or the operation's own action when it names none."""
    if error_code(exc) not in DENIED_CODES:
        return None
    message = (
        str(exc.response.get("Error", {}).get("Message", ""))
        if isinstance(exc, ClientError)
        else ""
    )
    found = _ACTION_IN_MESSAGE.search(message)
    return found.group(1) if found else operation


def gap_from_error(
    exc: AwsError, *, what: str, operation: str, where: Where, resource: str | None = None
) -> Gap:
    if isinstance(exc, ClientError) and getattr(exc, "operation_name", None):
        operation = (
            f"{operation.split(':', maxsplit=1)[0]}:{exc.operation_name}"  # the call that failed
        )
    code = error_code(exc)
    action = missing_action(exc, operation)
    if action is not None:
        reason = f"{code}: not authorized to perform {action}"
    elif isinstance(exc, ClientError):
        message = str(exc.response.get("Error", {}).get("Message", "")).strip()
        if message.startswith("<"):  # an HTML error page, not an AWS error document
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", code)
            message = f"HTTP {status} with an HTML error page (is this API served at the endpoint?)"
        reason = f"{code}: {message[:300]}" if message else code
    else:
        reason = f"{code}: {exc}"
    return Gap(
        what=what,
        reason=reason,
        account=where.account,
        region=where.region,
        cluster=where.cluster,
        operation=operation,
        error_code=code,
        resource=resource,
    )
