"""Which files under the given paths are IaC, and of which format (decided by content, not name).

A ``.yaml`` can be a CloudFormation template, an eksctl ClusterConfig, Kubernetes manifests or Helm
values; only its content tells. Files that cannot be judged (binary, huge, unreadable, special
files, folders that cannot be listed) are skipped with a reason so the report says what was not
looked at.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cniguard.collect.walk import Unread, check_file, walk

FileKind = Literal[
    "terraform", "terraform_plan", "cloudformation", "eksctl", "manifests", "helm_values"
]

MAX_BYTES = 10 * 1024 * 1024
SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "node_modules", ".terraform", "__pycache__", ".venv", "cdk.out.cache"}
)
_TERRAFORM_SUFFIXES = (".tf", ".tfvars", ".tf.json", ".tfvars.json")
_STRUCTURED_SUFFIXES = (".yaml", ".yml", ".json", ".template", ".cfn", ".snap")

_CFN = re.compile(
    r'^\s*"?AWSTemplateFormatVersion"?\s*:|"?Type"?\s*:\s*"?AWS::[A-Za-z0-9]+::', re.M
)
_CFN_RESOURCES = re.compile(r'(^|[{,])\s*"?Resources"?\s*:', re.M)
_JEST = re.compile(r"^exports\[`", re.M)
_EKSCTL = re.compile(r'apiVersion"?\s*:\s*"?eksctl\.io/v1alpha5')
_K8S_KIND = re.compile(r'^\s*"?kind"?\s*:\s*"?[A-Z][A-Za-z]+', re.M)
_K8S_API = re.compile(r'^\s*"?apiVersion"?\s*:', re.M)
_PLAN = re.compile(r'"format_version"\s*:.*"(planned_values|resource_changes)"\s*:', re.S)
_HELM_SA = re.compile(r"^serviceAccount:\s*$", re.M)
_HELM_CNI = re.compile(
    r"^(init|nodeAgent|cniConfig|originalMatchLabels):|amazon-k8s-cni|"
    r"AWS_VPC_K8S_CNI_|aws-vpc-cni",
    re.M,
)


@dataclass(frozen=True)
class IacFile:
    path: Path  # as given (relative to the working directory when under it): also its report name
    kind: FileKind


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str
    unreadable: bool = False  # True: might have been IaC; the scan is incomplete


@dataclass
class Discovery:
    files: list[IacFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def display_path(path: Path) -> Path:
    """The path as users and SARIF consumers see it: relative to the working dir when under it."""
    if path.is_absolute():
        try:
            return path.relative_to(Path.cwd())
        except ValueError:
            return path
    return path


def classify_text(name: str, text: str) -> FileKind | None:
    """The format of a file from its name and content; None when it is not IaC cniguard reads."""
    lower = name.lower()
    if lower.endswith(_TERRAFORM_SUFFIXES):
        return "terraform"
    if not lower.endswith(_STRUCTURED_SUFFIXES):
        return None
    if lower.endswith(".json") and _PLAN.search(text[:4096] + text[-65536:]):
        return "terraform_plan"
    if lower.endswith(".snap"):  # Jest snapshot: only a synthesised template is of interest
        found = _JEST.search(text) and _CFN.search(text) and _CFN_RESOURCES.search(text)
        return "cloudformation" if found else None
    if _EKSCTL.search(text) and "ClusterConfig" in text:
        return "eksctl"
    if _CFN.search(text) and _CFN_RESOURCES.search(text):
        return "cloudformation"
    if _K8S_API.search(text) and _K8S_KIND.search(text):
        return "manifests"
    if _HELM_SA.search(text) and _HELM_CNI.search(text):
        return "helm_values"
    return None


def _judge(path: Path) -> IacFile | Skipped | None:
    shown = display_path(path)
    unsafe = check_file(path)
    if unsafe is not None:
        return Skipped(str(shown), unsafe.reason, True)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            worth = classify_text(path.name, "") is not None or path.suffix in _STRUCTURED_SUFFIXES
            return Skipped(str(shown), f"larger than {MAX_BYTES // (1024 * 1024)} MiB", worth)
        raw = path.read_bytes()
    except OSError as exc:
        return Skipped(str(shown), f"cannot read: {exc.strerror or exc}", True)
    if b"\x00" in raw[:8192]:
        return Skipped(str(shown), "binary file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Skipped(str(shown), "not UTF-8 text")
    kind = classify_text(path.name, text)
    return IacFile(shown, kind) if kind else None


def _helm_templates(path: Path, charts: dict[Path, bool]) -> Path | None:
    """The ``templates/`` folder of a Helm chart ``path`` is in (Go templates, not YAML)."""
    for folder in path.parents:
        if folder.name != "templates":
            continue
        if folder not in charts:
            charts[folder] = (folder.parent / "Chart.yaml").is_file()
        if charts[folder]:
            return folder
    return None


def discover(paths: Sequence[Path]) -> Discovery:
    """Every IaC file under ``paths`` (files or folders, recursively), in a stable order.

    A Helm chart's templates are Go templates that only ``helm template`` turns into YAML: they
    are skipped with one note per chart (its values file is read)."""
    found = Discovery()
    seen: set[Path] = set()
    charts: dict[Path, bool] = {}
    helm: dict[Path, int] = {}
    for root in paths:
        candidates = walk(root, skip_dirs=SKIP_DIRS) if root.is_dir() else iter([root])
        for path in candidates:
            if isinstance(path, Unread):
                found.skipped.append(Skipped(str(display_path(path.path)), path.reason, True))
                continue
            key = path.resolve()
            if key in seen:
                continue
            seen.add(key)
            chart = _helm_templates(path, charts)
            if chart is not None:
                helm[chart] = helm.get(chart, 0) + 1
                continue
            judged = _judge(path)
            if isinstance(judged, IacFile):
                found.files.append(judged)
            elif isinstance(judged, Skipped):
                found.skipped.append(judged)
    found.skipped.extend(
        Skipped(
            str(display_path(folder)),
            f"Helm chart templates (Go templates, {count} files): not rendered; "
            "the chart's values file is read",
        )
        for folder, count in helm.items()
    )
    return found
