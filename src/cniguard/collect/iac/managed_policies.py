"""Documents of every AWS-managed policy, for IaC that names them only by ARN.

A live scan reads these with GetPolicyVersion; before deploy there is nothing to read, so the
default versions of all AWS-managed policies ship with cniguard (``aws_managed_policies.json.gz``;
where and when they came from is in ``aws_managed_policies.meta.json``; ``make policies``
refreshes both). An ARN not in the bundle (a policy newer than it, or a typo) stays unread: the
permissions of a role holding it are unknown (fail closed).
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from importlib.resources import files
from typing import Any

from cniguard.model.common import JsonDict


@cache
def _catalogue() -> dict[str, Any]:
    raw = files("cniguard.collect.iac").joinpath("aws_managed_policies.json.gz").read_bytes()
    policies: dict[str, Any] = json.loads(gzip.decompress(raw))["policies"]
    return policies


def aws_managed_document(arn: str) -> tuple[JsonDict, str] | None:
    """(document, default version) of ``arn:<partition>:iam::aws:policy/<path><name>``, if known."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[4] != "aws" or not parts[5].startswith("policy/"):
        return None
    name = parts[5].rsplit("/", 1)[-1]
    entry = _catalogue().get(name)
    if entry is None or parts[5] != f"policy{entry['path']}{name}":
        return None
    return entry["document"], entry["version"]
