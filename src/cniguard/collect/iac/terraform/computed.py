"""Attributes AWS computes at apply time, given stable placeholder values before deploy.

Placeholders keep references consistent: ``aws_iam_role.node.arn`` in a node group, the role the
mapper emits and an attachment's ``role`` all name the same synthetic ARN. Account and region are
symbolic (``${account}``, ``${region}``). A cluster's OIDC issuer gets a deterministic id from its
name, so a provider built from ``identity[0].oidc[0].issuer`` and a trust policy built from that
provider's ``url`` or ``arn`` still match the cluster in the trust analysis.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from cniguard.collect.iac import synthetic
from cniguard.collect.iac.synthetic import ACCOUNT, PARTITION, REGION
from cniguard.collect.iac.terraform.values import (
    Unknown,
    Value,
    deep_unknown,
    to_text,
)


def oidc_issuer(cluster_name: str) -> str:
    """Keyed by the cluster's name, which ``data "aws_eks_cluster"`` look-ups also know."""
    return synthetic.issuer_url(cluster_name)


def role_arn(name: str, path: str = "/") -> str:
    return f"arn:{PARTITION}:iam::{ACCOUNT}:role{path or '/'}{name}"


def policy_arn(name: str, path: str = "/") -> str:
    return f"arn:{PARTITION}:iam::{ACCOUNT}:policy{path or '/'}{name}"


def oidc_provider_arn(url: str) -> str:
    return synthetic.provider_arn(url)


def _name(values: dict[str, Value], address: str, key: str = "name") -> Value:
    """The given name; with only a ``name_prefix`` (or none) the address stands for it."""
    name = values.get(key)
    if name is None:
        return address
    if isinstance(name, str | Unknown):
        return name
    if isinstance(name, int | float | bool):
        return to_text(name)
    return Unknown(f"{address}.{key}", f"a {type(name).__name__} is not a valid name")


def _path(values: dict[str, Value]) -> str:
    path = values.get("path")
    return path if isinstance(path, str) else "/"


def _owned(name: Unknown, address: str) -> Unknown:
    return replace(name, owner=address)


def _iam_named(values: dict[str, Value], address: str, kind: str) -> dict[str, Value]:
    name = _name(values, address)
    if isinstance(name, Unknown):
        owned = _owned(name, address)
        return {"name": owned, "arn": owned, "id": owned}
    arn = role_arn(name, _path(values)) if kind == "role" else policy_arn(name, _path(values))
    if kind == "instance-profile":
        arn = f"arn:{PARTITION}:iam::{ACCOUNT}:instance-profile{_path(values)}{name}"
    return {"name": name, "arn": arn, "id": arn if kind == "policy" else name}


def _cluster(values: dict[str, Value], address: str) -> dict[str, Value]:
    name = _name(values, address)
    if isinstance(name, Unknown):
        # The issuer is keyed by the address instead: a provider and trusts built from this
        # cluster's issuer still meet it.
        owned = _owned(name, address)
        return {
            "name": owned,
            "id": owned,
            "arn": owned,
            "identity": [{"oidc": [{"issuer": oidc_issuer(address)}]}],
        }
    return {
        "id": name,
        "name": name,
        "arn": f"arn:{PARTITION}:eks:{REGION}:{ACCOUNT}:cluster/{name}",
        "identity": [{"oidc": [{"issuer": oidc_issuer(name)}]}],
    }


def _oidc(values: dict[str, Value], address: str) -> dict[str, Value]:
    url = values.get("url")
    arn = oidc_provider_arn(url) if isinstance(url, str) else oidc_provider_arn(address)
    return {"arn": arn, "id": arn}


def _placeholder(values: dict[str, Value], address: str) -> dict[str, Value]:
    return {"id": f"tf:{address}", "arn": f"tf:{address}"}


def _launch_template(values: dict[str, Value], address: str) -> dict[str, Value]:
    return {
        "id": f"tf:{address}",
        "arn": f"tf:{address}",
        "name": _name(values, address),
        "latest_version": 1,
        "default_version": 1,
    }


def _pod_identity(values: dict[str, Value], address: str) -> dict[str, Value]:
    return {"id": f"tf:{address}", "association_arn": f"tf:{address}", "association_id": address}


def _node_group(values: dict[str, Value], address: str) -> dict[str, Value]:
    prefix = values.get("node_group_name_prefix")
    name = (
        prefix.rstrip("-") if isinstance(prefix, str) else _name(values, address, "node_group_name")
    )
    return {"id": f"tf:{address}", "arn": f"tf:{address}", "node_group_name": name}


_COMPUTED: dict[str, Callable[[dict[str, Value], str], dict[str, Value]]] = {
    "aws_iam_role": lambda v, a: _iam_named(v, a, "role"),
    "aws_iam_policy": lambda v, a: _iam_named(v, a, "policy"),
    "aws_iam_instance_profile": lambda v, a: _iam_named(v, a, "instance-profile"),
    "aws_eks_cluster": _cluster,
    "aws_iam_openid_connect_provider": _oidc,
    "aws_launch_template": _launch_template,
    "aws_eks_pod_identity_association": _pod_identity,
    "aws_eks_node_group": _node_group,
    "aws_eks_addon": _placeholder,
    "aws_eks_fargate_profile": _placeholder,
    "aws_eks_access_entry": _placeholder,
    "aws_autoscaling_group": lambda v, a: {**_placeholder(v, a), "name": _name(v, a)},
}


def qualify(scope: str, address: str) -> str:
    """An address made unique across root modules (``stacks/prod/aws_iam_role.node``)."""
    return f"{scope}/{address}" if scope and scope != "." else address


def with_computed(resource_type: str, values: dict[str, Value], address: str) -> dict[str, Value]:
    """Values plus placeholders for computed attributes the code leaves unset (or null); an
    unresolved name becomes the same unknown owned by this resource (see ``Unknown.owner``)."""
    compute = _COMPUTED.get(resource_type)
    if compute is None:
        return values
    result = dict(values)
    for key, value in compute(values, address).items():
        current = result.get(key)
        if current is None or (isinstance(current, Unknown) and isinstance(value, Unknown)):
            result[key] = value
    return result


def _one_or_list(items: list[Any]) -> Any:
    return items[0] if len(items) == 1 else items


def _principals(blocks: list[dict[str, Value]]) -> Any:
    principal: dict[str, Any] = {}
    for block in blocks:
        kind, identifiers = block.get("type"), list(block.get("identifiers") or [])
        if kind == "*" and identifiers == ["*"]:
            return "*"
        existing = principal.get(str(kind))
        merged = ([existing] if isinstance(existing, str) else existing or []) + identifiers
        principal[str(kind)] = _one_or_list(merged)
    return principal


def _statement(block: dict[str, Value]) -> dict[str, Any]:
    statement: dict[str, Any] = {}
    if block.get("sid"):
        statement["Sid"] = block["sid"]
    statement["Effect"] = block.get("effect") or "Allow"
    for source, target in (
        ("actions", "Action"),
        ("not_actions", "NotAction"),
        ("resources", "Resource"),
        ("not_resources", "NotResource"),
    ):
        if block.get(source):
            statement[target] = _one_or_list(list(block[source]))
    if block.get("principals"):
        statement["Principal"] = _principals(block["principals"])
    if block.get("not_principals"):
        statement["NotPrincipal"] = _principals(block["not_principals"])
    conditions: dict[str, dict[str, Any]] = {}
    for condition in block.get("condition") or []:
        values = list(condition.get("values") or [])
        conditions.setdefault(str(condition.get("test")), {})[str(condition.get("variable"))] = (
            _one_or_list(values)
        )
    if conditions:
        statement["Condition"] = conditions
    return statement


def policy_document(values: dict[str, Value]) -> Value:
    """``data "aws_iam_policy_document"`` as the provider renders it (``json``)."""
    found = deep_unknown(values)
    if found:
        return found
    statements: list[dict[str, Any]] = []
    for source in values.get("source_policy_documents") or []:
        statements.extend(_statements_of(source))
    for block in values.get("statement") or []:
        statements.append(_statement(block))
    for override in values.get("override_policy_documents") or []:
        for statement in _statements_of(override):
            sid = statement.get("Sid")
            same = [i for i, s in enumerate(statements) if sid and s.get("Sid") == sid]
            if same:
                statements[same[0]] = statement
            else:
                statements.append(statement)
    document = {"Version": values.get("version") or "2012-10-17", "Statement": statements}
    return json.dumps(document, indent=2)


def _statements_of(text: Value) -> list[dict[str, Any]]:
    if not isinstance(text, str):
        return []
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return []
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    return [statements] if isinstance(statements, dict) else list(statements)
