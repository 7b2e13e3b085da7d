"""The aws-node ServiceAccount from Kubernetes manifests and aws-vpc-cni Helm values.

Only the IRSA binding matters here: the ``eks.amazonaws.com/role-arn`` annotation on
``kube-system/aws-node`` (or the chart's renamed service account). Which cluster a manifest is for
is not written in it; the scan ties it to a cluster when that is decidable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cniguard.collect.iac.marked_yaml import MarkedDict, load_file
from cniguard.model.common import Origin
from cniguard.model.inventory import Gap
from cniguard.model.kube import ServiceAccount

KUBE_SYSTEM, AWS_NODE = "kube-system", "aws-node"


@dataclass
class ManifestResult:
    service_accounts: list[ServiceAccount] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)


def _line(node: Any) -> int | None:
    return node.line if isinstance(node, MarkedDict) else None


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def _objects(doc: Any) -> Iterator[Mapping[str, Any]]:
    """Objects of a document, unwrapping ``kind: List`` (``kubectl get -o yaml`` output)."""
    if not isinstance(doc, Mapping):
        return
    if doc.get("kind") == "List" or str(doc.get("kind", "")).endswith("List"):
        for item in doc.get("items") or []:
            yield from _objects(item)
    else:
        yield doc


def _from_manifest(doc: Any, file: str) -> Iterator[ServiceAccount]:
    for obj in _objects(doc):
        meta = obj.get("metadata")
        if obj.get("kind") != "ServiceAccount" or not isinstance(meta, Mapping):
            continue
        if meta.get("name") == AWS_NODE and meta.get("namespace", "default") == KUBE_SYSTEM:
            yield ServiceAccount(
                namespace=KUBE_SYSTEM,
                name=AWS_NODE,
                annotations=_strings(meta.get("annotations")),
                labels=_strings(meta.get("labels")),
                origin=Origin(source="iac", file=file, line=_line(obj)),
            )


def _from_helm_values(doc: Any, file: str) -> Iterator[ServiceAccount]:
    """charts/aws-vpc-cni values: ``serviceAccount.{create,name,annotations}``; the chart's
    release namespace is kube-system in every install the EKS docs describe."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("serviceAccount"), Mapping):
        return
    spec = doc["serviceAccount"]
    if spec.get("create") is False:
        return
    yield ServiceAccount(
        namespace=KUBE_SYSTEM,
        name=str(spec.get("name") or AWS_NODE),
        annotations=_strings(spec.get("annotations")),
        origin=Origin(
            source="iac",
            file=file,
            line=doc.line_of("serviceAccount") if isinstance(doc, MarkedDict) else None,
        ),
    )


def collect_manifests(manifests: Sequence[Path], helm_values: Sequence[Path]) -> ManifestResult:
    """aws-node ServiceAccounts declared in manifests and Helm values files."""
    out = ManifestResult()
    for paths, reader in ((manifests, _from_manifest), (helm_values, _from_helm_values)):
        for path in paths:
            docs = load_file(path)
            if isinstance(docs, Gap):
                out.gaps.append(docs)
                continue
            out.files_read.append(str(path))
            for doc in docs:
                out.service_accounts.extend(reader(doc, str(path)))
    return out
