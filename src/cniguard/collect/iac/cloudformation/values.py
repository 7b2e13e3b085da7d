"""Decoded CloudFormation values into model values: policy documents, tags, metadata options.

A document whose actions or effects are not known before deploy is never taken as read: it comes
back as None with the reason, which the reader records as a gap.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cniguard.collect.iac.cloudformation.intrinsics import Undecided, alternatives, unresolved
from cniguard.model.common import JsonDict, Origin
from cniguard.model.inventory import MetadataOptions


def line_of(node: Any, default: int) -> int:
    mark = getattr(node, "start_mark", None)
    return int(mark.line) + 1 if mark is not None else default


def plain(value: Any) -> Any:
    """Decoder nodes to plain JSON values (the model must serialise)."""
    return json.loads(json.dumps(value, default=str))


def text_value(value: Any) -> str | None:
    if isinstance(value, Undecided):
        return str(value)
    return value if isinstance(value, str) and value else None


def _expand_actions(statement: Mapping[str, Any]) -> dict[str, Any]:
    """A statement whose Action/NotAction/Resource is undecided keeps every branch (a grant in
    either branch is one the template can deploy)."""
    out = dict(statement)
    for key in ("Action", "NotAction", "Resource"):
        raw = out.get(key)
        items = raw if isinstance(raw, list) else [raw]
        if any(isinstance(item, Undecided) for item in items):
            out[key] = [v for item in items for v in alternatives(item)]
    return out


def _undecided_in(value: Any) -> Undecided | None:
    if isinstance(value, Undecided):
        return value
    if isinstance(value, Mapping):
        items = list(value.values())
    elif isinstance(value, list):
        items = value
    else:
        return None
    for item in items:
        found = _undecided_in(item)
        if found is not None:
            return found
    return None


def policy_document(value: Any) -> tuple[JsonDict | str | None, str | None]:
    """A policy document, or None with the reason when its actions or effects are unresolved."""
    if isinstance(value, str):
        return (
            (None, f"policy document is not resolvable: {value[:120]}")
            if unresolved(value)
            else (value, None)
        )
    if isinstance(value, Undecided):
        return None, f"policy document depends on {value}"
    if not isinstance(value, Mapping):
        return None, "policy document is missing"
    statements = value.get("Statement")
    if isinstance(statements, Mapping):
        value = {**value, "Statement": _expand_actions(statements)}
    elif isinstance(statements, list):
        expanded = [_expand_actions(s) if isinstance(s, Mapping) else s for s in statements]
        value = {**value, "Statement": expanded}
    undecided = _undecided_in(value)
    if undecided is not None:
        return None, f"policy document depends on {undecided}"
    doc = plain(value)
    statements = doc.get("Statement")
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, Mapping):
            continue
        for key in ("Action", "NotAction", "Effect"):
            raw = statement.get(key)
            for item in raw if isinstance(raw, list) else [raw]:
                if unresolved(item):
                    return None, f"policy {key} is not resolvable: {item}"
    return doc, None


def raw_node(node: Any, *path: str) -> Any:
    """The undecoded node at ``path`` (for its line)."""
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def tag_map(value: Any) -> dict[str, str] | None:
    if isinstance(value, list):
        return {
            str(t["Key"]): str(t.get("Value", ""))
            for t in value
            if isinstance(t, Mapping) and "Key" in t
        }
    if isinstance(value, Mapping):  # Custom::AWSCDK-EKS-Cluster and some resources use a map
        return {str(k): str(v) for k, v in value.items()}
    return None


def platform_metadata(*, managed: bool, ami: str | None) -> dict[str, Any]:
    """What the platform sets when a launch template leaves a metadata option out.

    EC2 enables the endpoint and, for AMIs not registered as IMDSv2-only (the Amazon Linux 2
    EKS AMIs), allows IMDSv1 with hop limit 1; EKS gives managed node groups hop limit 2. What
    depends on an AMI the template does not name (its IMDS support) stays unknown.
    """
    al2 = ami is not None and (ami.upper().startswith("AL2_") or "/amazon-linux-2/" in ami)
    defaults: dict[str, Any] = {"HttpEndpoint": "enabled"}
    if al2:
        defaults["HttpTokens"] = "optional"
        defaults["HttpPutResponseHopLimit"] = 1
    if managed:
        defaults["HttpPutResponseHopLimit"] = 2
    return defaults


def metadata_options(
    options: Any, origin: Origin, defaults: Mapping[str, Any]
) -> tuple[MetadataOptions, list[str]]:
    """The instance metadata options (``defaults`` for keys left out), and the keys set to
    something not known before deploy (those fields stay None: unknown)."""
    unreadable = [] if options is None or isinstance(options, Mapping) else ["MetadataOptions"]
    given = options if isinstance(options, Mapping) else {}
    options = {**defaults, **given} if not unreadable else {}
    tokens = options.get("HttpTokens")
    hop = options.get("HttpPutResponseHopLimit")
    endpoint = options.get("HttpEndpoint")
    hop_ok = isinstance(hop, int | str) and str(hop).isdigit()
    for key, value, ok in (
        ("HttpTokens", tokens, tokens in ("required", "optional")),
        ("HttpPutResponseHopLimit", hop, hop_ok),
        ("HttpEndpoint", endpoint, endpoint in ("enabled", "disabled")),
    ):
        if value is not None and not ok:
            unreadable.append(f"{key} {value}")
    return (
        MetadataOptions(
            http_tokens=tokens if tokens in ("required", "optional") else None,
            hop_limit=int(hop) if hop_ok else None,
            http_endpoint=endpoint if endpoint in ("enabled", "disabled") else None,
            origin=origin,
        ),
        unreadable,
    )
