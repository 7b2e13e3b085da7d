"""Documents of the AWS-managed policies EKS code attaches, for IaC that names them only by ARN.

A live scan reads these with GetPolicyVersion; before deploy there is nothing to read, so the
documents of the policies node, cluster and add-on roles commonly carry ship with cniguard
(``aws_managed_policies.json``). An AWS-managed policy not listed stays unread (fail closed).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from cniguard.model.common import JsonDict


@cache
def _catalogue() -> dict[str, Any]:
    text = files("cniguard.collect.iac").joinpath("aws_managed_policies.json").read_text("utf-8")
    policies: dict[str, Any] = json.loads(text)["policies"]
    return policies


def aws_managed_document(arn: str) -> tuple[JsonDict, str] | None:
    """(document, default version) of ``arn:<partition>:iam::aws:policy/<path><name>``, if known."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[4] != "aws" or not parts[5].startswith("policy/"):
        return None
    entry = _catalogue().get(parts[5].rsplit("/", 1)[-1])
    if entry is None or parts[5] != f"policy{entry['path']}{parts[5].rsplit('/', 1)[-1]}":
        return None
    return entry["document"], entry["version"]
