"""One decoded template: its resources' names, references and attributes; exports across
templates; decoding with line marks; the stack name each template deploys as."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cniguard.collect.iac import synthetic
from cniguard.collect.iac.base import IacFragment
from cniguard.collect.iac.cloudformation.cdk import jest_templates, nested_asset
from cniguard.collect.iac.cloudformation.intrinsics import Evaluator, unresolved
from cniguard.collect.iac.cloudformation.values import line_of, text_value
from cniguard.collect.iac.marked_yaml import unacceptable_character
from cniguard.model.common import Origin
from cniguard.model.inventory import Gap

CLUSTER_TYPES = ("AWS::EKS::Cluster", "Custom::AWSCDK-EKS-Cluster", "AWSQS::EKS::Cluster")
_CUSTOM_CLUSTER = re.compile(r"^(Custom|[A-Z0-9]+)::.*EKS.?Cluster$", re.I)
ISSUER_ATTRIBUTES = ("OpenIdConnectIssuerUrl", "OIDCIssuerURL")  # AWS / CDK, AWSQS
PROVIDER_TYPES = ("AWS::IAM::OIDCProvider", "Custom::AWSCDKOpenIdConnectProvider")
NODE_ENTRY_TYPES = {"EC2": "linux", "EC2_LINUX": "linux", "EC2_WINDOWS": "windows"}


def _bucket_copy(url: str, scanned: Mapping[str, str]) -> str | None:
    """The scanned template an S3 URL names by its last folder and file name (Quick Start
    layout: the bucket holds a copy of the repository), when exactly one matches."""
    tail = url.split("?", 1)[0].split("/")[-2:]
    if len(tail) != 2 or any(unresolved(part) or not part for part in tail):
        return None
    found = [f for key, f in scanned.items() if Path(key).parts[-2:] == tuple(tail)]
    return found[0] if len(found) == 1 else None


def is_cluster_type(kind: str) -> bool:
    """An EKS cluster: AWS's, CDK's, the AWSQS registry type, or a custom resource named so."""
    return kind in CLUSTER_TYPES or bool(_CUSTOM_CLUSTER.match(kind))


class Template:
    """One decoded template: names, references and attributes of its resources."""

    def __init__(
        self,
        file: str,
        data: Mapping[str, Any],
        stem: str,
        import_value: Callable[[str], Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
        path: str | None = None,
    ) -> None:
        self.file = file  # what identifies the template (a Jest snapshot holds several)
        self.path = path or file  # the file on disk, for origins
        self.data = data
        self.stem = stem
        resources = data.get("Resources")
        items = [
            (k, v)
            for k, v in (resources.items() if isinstance(resources, Mapping) else ())
            if isinstance(v, Mapping)
        ]
        self.resources: dict[str, Mapping[str, Any]] = {str(k): v for k, v in items}
        self.lines = {str(k): line_of(k, 1) for k, _ in items}
        params = data.get("Parameters")
        mappings = data.get("Mappings")
        conditions = data.get("Conditions")
        self.ev = Evaluator(
            params if isinstance(params, Mapping) else {},
            mappings if isinstance(mappings, Mapping) else {},
            self._ref,
            self._get_att,
            conditions if isinstance(conditions, Mapping) else {},
            import_value,
            overrides,
            # a top-level stack is named after its file (docs/iac.md); a nested stack's name
            # carries a suffix CloudFormation draws at deploy
            stack_name=stem if overrides is None else None,
        )
        self._resolving: set[str] = set()

    def exports(self) -> list[tuple[Any, Any]]:
        """(export name node, value node) of every exported output."""
        outputs = self.data.get("Outputs")
        found = []
        for output in outputs.values() if isinstance(outputs, Mapping) else ():
            export = output.get("Export") if isinstance(output, Mapping) else None
            if isinstance(export, Mapping) and "Name" in export and "Value" in output:
                found.append((export["Name"], output["Value"]))
        return found

    def exists(self, logical_id: str) -> bool:
        """False when the resource's ``Condition`` is known to be false."""
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.ev.condition(condition) is not False

    def maybe_absent(self, logical_id: str) -> str | None:
        condition = self.resources[logical_id].get("Condition")
        if condition is None or self.ev.condition(condition) is not None:
            return None
        return (
            f"{logical_id} exists only if condition {condition} holds, "
            "which depends on values known at deploy"
        )

    def nested_file(
        self, logical_id: str, scanned: Mapping[str, str], assets: Mapping[str, Path]
    ) -> str | None:
        """The scanned file a nested stack's TemplateURL names: a local path, or a CDK asset."""
        asset = nested_asset(self.props(logical_id).get("TemplateURL"), assets)
        if asset is not None:
            return scanned.get(os.path.normpath(asset))
        url = self.prop(logical_id, "TemplateURL")
        if not isinstance(url, str):
            return None
        if "://" in url:
            return _bucket_copy(url, scanned)
        if unresolved(url):
            return None
        return scanned.get(os.path.normpath(Path(self.path).parent / url))

    def cluster_ref(self, logical_id: str) -> str | None:
        """The id of the cluster of this template that ``ClusterName: !Ref <id>`` names."""
        raw = self.props(logical_id).get("ClusterName")
        target = raw.get("Ref") if isinstance(raw, Mapping) and len(raw) == 1 else None
        if isinstance(target, str) and is_cluster_type(self.type_of(target)):
            return self.cluster_id(target)
        return None

    def role_ids(self) -> list[str]:
        return [n for n in self.resources if self.type_of(n) == "AWS::IAM::Role"]

    def type_of(self, logical_id: str) -> str:
        return str(self.resources.get(logical_id, {}).get("Type", ""))

    def props(self, logical_id: str) -> Mapping[str, Any]:
        props = self.resources[logical_id].get("Properties")
        return props if isinstance(props, Mapping) else {}

    def origin(self, logical_id: str, node: Any = None) -> Origin:
        line = self.lines.get(logical_id, 1)
        return Origin(source="iac", file=self.path, line=line_of(node, line))

    def cluster_id(self, logical_id: str) -> str:
        return f"cfn:{self.file}#{logical_id}"

    def prop(self, logical_id: str, *path: str) -> Any:
        node: Any = self.props(logical_id)
        for key in path:
            if not isinstance(node, Mapping) or key not in node:
                return None
            node = node[key]
        return self.ev.value(node)

    def name(self, logical_id: str) -> str:
        """The physical name: the template's own, else CloudFormation-style ``<stack>-<id>``."""
        kind = self.type_of(logical_id)
        key = {
            "AWS::IAM::Role": ("RoleName",),
            "AWS::IAM::ManagedPolicy": ("ManagedPolicyName",),
            "AWS::IAM::InstanceProfile": ("InstanceProfileName",),
            "AWS::EKS::Cluster": ("Name",),
            "Custom::AWSCDK-EKS-Cluster": ("Config", "name"),
            "AWS::EC2::LaunchTemplate": ("LaunchTemplateName",),
        }.get(kind) or (self._custom_name_key(logical_id) if is_cluster_type(kind) else None)
        if key and logical_id not in self._resolving:
            self._resolving.add(logical_id)
            try:
                value = text_value(self.prop(logical_id, *key))
            finally:
                self._resolving.discard(logical_id)
            if value:
                return value
        return f"{self.stem}-{logical_id}"

    def _custom_name_key(self, logical_id: str) -> tuple[str, ...] | None:
        props = self.props(logical_id)
        return next(((k,) for k in ("Name", "ClusterName", "name") if k in props), None)

    def issuer(self, logical_id: str) -> str:
        return synthetic.issuer_url(self.cluster_id(logical_id))

    def _ref(self, logical_id: str) -> str | None:
        kind = self.type_of(logical_id)
        if kind in ("AWS::IAM::Role", "AWS::IAM::InstanceProfile") or is_cluster_type(kind):
            return self.name(logical_id)
        if kind == "AWS::IAM::ManagedPolicy":
            return synthetic.policy_arn(self.name(logical_id))
        if kind in PROVIDER_TYPES:
            return self._provider_arn(logical_id)
        return None

    def _get_att(self, logical_id: str, attribute: str) -> str | None:
        kind = self.type_of(logical_id)
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return synthetic.role_arn(self.name(logical_id))
        if kind == "AWS::IAM::InstanceProfile" and attribute == "Arn":
            return (
                f"arn:{synthetic.PARTITION}:iam::{synthetic.ACCOUNT}:instance-profile/"
                f"{self.name(logical_id)}"
            )
        if is_cluster_type(kind) and attribute in ISSUER_ATTRIBUTES:
            return self.issuer(logical_id)
        if is_cluster_type(kind) and attribute == "Arn":
            return (
                f"arn:{synthetic.PARTITION}:eks:{synthetic.REGION}:{synthetic.ACCOUNT}:"
                f"cluster/{self.name(logical_id)}"
            )
        if kind == "AWS::IAM::ManagedPolicy" and attribute == "PolicyArn":
            return synthetic.policy_arn(self.name(logical_id))
        if kind in PROVIDER_TYPES and attribute == "Arn":
            return self._provider_arn(logical_id)
        if kind == "AWS::EC2::LaunchTemplate" and attribute.endswith("VersionNumber"):
            return "1"
        return None

    def _provider_arn(self, logical_id: str) -> str:
        url = self.prop(logical_id, "Url")
        return synthetic.provider_arn(url if isinstance(url, str) else f"${{{logical_id}.Url}}")

    def launch_template(self, reference: Any) -> str | None:
        """The logical id of the template's launch template a LaunchTemplateId/Name points at."""
        if not isinstance(reference, str):
            return None
        for logical_id in self.resources:
            if self.type_of(logical_id) != "AWS::EC2::LaunchTemplate":
                continue
            if reference.strip("${}").split(".")[0] == logical_id or reference == self.name(
                logical_id
            ):
                return logical_id
        return None


def decode(path: Path, out: IacFragment) -> list[tuple[str, Mapping[str, Any]]]:
    """(template id, decoded template) of a template file, or of each template in a Jest
    snapshot; a syntax error is a gap naming file and line."""
    import cfnlint.decode

    if path.suffix == ".snap":
        found = []
        exports = jest_templates(path.read_text(encoding="utf-8-sig", errors="replace"))
        for name, text in exports:
            data = _checked(path, cfnlint.decode.decode_str, text, out)
            if data is not None and isinstance(data.get("Resources"), Mapping):
                found.append((str(path) if len(exports) == 1 else f"{path}[{name}]", data))
        return found
    data = _checked(path, cfnlint.decode.decode, str(path), out)
    return [(str(path), data)] if data is not None else []


def _checked(
    path: Path, decoder: Callable[[str], Any], source: str, out: IacFragment
) -> Mapping[str, Any] | None:
    try:
        data, matches = decoder(source)
    except RecursionError:
        data, matches = None, []
    if data is None or not isinstance(data, Mapping):
        first = matches[0] if matches else None
        line = int(first.linenumber) if first is not None and first.linenumber else None
        message = str(first.message) if first is not None else "not a CloudFormation template"
        if "unacceptable character" in message:  # the decoder gives an offset, not the line
            bad = unacceptable_character(path.read_text(encoding="utf-8-sig", errors="replace"))
            message, line = bad or (message, line)
        out.gaps.append(
            Gap(what="iac:parse", reason=f"syntax error: {message}", resource=str(path), line=line)
        )
        return None
    return data


class Exports:
    """``Fn::ImportValue``: the outputs the scanned templates export, by export name."""

    def __init__(self) -> None:
        self.templates: list[Template] = []
        self._index: dict[str, list[tuple[Template, Any]]] | None = None
        self._resolving: set[str] = set()

    def get(self, name: str) -> Any:
        """The exported value; None when no scanned template, or more than one, exports it."""
        if self._index is None:
            self._index = {}
            for t in self.templates:
                for export, value in t.exports():
                    key = t.ev.value(export)
                    if isinstance(key, str) and not unresolved(key):
                        self._index.setdefault(key, []).append((t, value))
        found = self._index.get(name, [])
        if len(found) != 1 or name in self._resolving:
            return None
        self._resolving.add(name)
        try:
            template, value = found[0]
            return template.ev.value(value)
        finally:
            self._resolving.discard(name)


def stack_names(files: Sequence[str]) -> dict[str, str]:
    """A stack name per template: its file name, with as many parent folders as it takes to
    tell templates of the same file name apart (two stacks never share a generated name)."""
    parts = {f: Path(f).with_name(Path(f).name.split(".")[0]).parts for f in files}
    names: dict[str, str] = {}
    for file, path in parts.items():
        depth = 1
        while depth < len(path) and any(
            other != file and o[-depth:] == path[-depth:] for other, o in parts.items()
        ):
            depth += 1
        names[file] = "-".join(path[-depth:]).lstrip("-./") or "stack"
    return names
