"""EC2 reads: launch-template metadata options of node groups, and the instances tagged for the
region's clusters (self-managed and Karpenter nodes live only there), with their IMDS settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, cast

from cniguard.collect.aws.context import RunContext
from cniguard.collect.aws.drafts import InstanceFact
from cniguard.collect.aws.errors import Where
from cniguard.collect.aws.scope import AccountScope
from cniguard.model.common import Origin
from cniguard.model.inventory import MetadataOptions

OPERATIONS = ("ec2:DescribeLaunchTemplateVersions", "ec2:DescribeInstances")
CLUSTER_TAG_PREFIX = "kubernetes.io/cluster/"
CLUSTER_NAME_TAGS = ("eks:cluster-name", "eks:eks-cluster-name")
LIVE_STATES = ("pending", "running", "stopping", "stopped")


@dataclass(frozen=True)
class TemplateRead:
    """A launch template version that was read; ``options`` None when it sets no MetadataOptions."""

    options: MetadataOptions | None


def metadata_options(raw: dict[str, Any] | None, origin: Origin) -> MetadataOptions | None:
    if not raw:
        return None
    tokens = raw.get("HttpTokens")
    endpoint = raw.get("HttpEndpoint")
    hop = raw.get("HttpPutResponseHopLimit")
    return MetadataOptions(
        http_tokens=cast(Literal["required", "optional"], tokens)
        if tokens in ("required", "optional")
        else None,
        hop_limit=int(hop) if hop is not None else None,
        http_endpoint=cast(Literal["enabled", "disabled"], endpoint)
        if endpoint in ("enabled", "disabled")
        else None,
        origin=origin,
    )


def read_launch_template(
    ctx: RunContext, scope: AccountScope, region: str, template: dict[str, Any], where: Where
) -> TemplateRead | None:
    """The version a node group uses, read once per run and shared (None: unreadable)."""
    ident = template.get("id") or template.get("name")
    version = str(template.get("version") or "$Default")
    key_kwargs: dict[str, Any] = (
        {"LaunchTemplateId": template["id"]}
        if template.get("id")
        else {"LaunchTemplateName": template["name"]}
    )
    origin = Origin(
        "aws",
        scope.account,
        region,
        api="ec2:DescribeLaunchTemplateVersions",
        context=f"{ident}:{version}",
    )

    def read() -> TemplateRead | None:
        def call() -> TemplateRead:
            versions = scope.clients.get("ec2", region).describe_launch_template_versions(
                Versions=[version], **key_kwargs
            )["LaunchTemplateVersions"]
            data = versions[0].get("LaunchTemplateData", {}) if versions else {}
            return TemplateRead(metadata_options(data.get("MetadataOptions"), origin))

        return ctx.log.attempt(
            call,
            what="ec2:launch-template",
            operation="ec2:DescribeLaunchTemplateVersions",
            where=where,
            resource=f"{ident}:{version}",
        )

    return scope.clients.memo.get(("lt", region, ident, version), read)


def _cluster_names(tags: dict[str, str]) -> set[str]:
    names = {k[len(CLUSTER_TAG_PREFIX) :] for k in tags if k.startswith(CLUSTER_TAG_PREFIX)}
    names.update(tags[k] for k in CLUSTER_NAME_TAGS if k in tags)
    return names


def _facts(reservations: list[dict[str, Any]], origin: Origin) -> Iterator[InstanceFact]:
    for reservation in reservations:
        for inst in reservation.get("Instances", []):
            tags = {t["Key"]: t.get("Value", "") for t in inst.get("Tags", [])}
            platform = str(inst.get("Platform") or inst.get("PlatformDetails") or "").lower()
            options = metadata_options(inst.get("MetadataOptions"), origin) or MetadataOptions(
                origin=origin
            )
            for cluster in sorted(_cluster_names(tags)):
                yield InstanceFact(
                    instance_id=inst["InstanceId"],
                    cluster_name=cluster,
                    profile_arn=(inst.get("IamInstanceProfile") or {}).get("Arn"),
                    metadata=options,
                    os="windows" if "windows" in platform else "linux",
                    nodegroup=tags.get("eks:nodegroup-name"),
                    nodepool=tags.get("karpenter.sh/nodepool")
                    or tags.get("karpenter.sh/provisioner-name"),
                    asg=tags.get("aws:autoscaling:groupName"),
                )


def read_instances(scope: AccountScope, region: str) -> list[InstanceFact]:
    """Every live instance of the region tagged for some EKS cluster (raises botocore errors)."""
    origin = Origin("aws", scope.account, region, api="ec2:DescribeInstances")
    pages = (
        scope.clients.get("ec2", region)
        .get_paginator("describe_instances")
        .paginate(
            Filters=[
                {"Name": "tag-key", "Values": [CLUSTER_TAG_PREFIX + "*", *CLUSTER_NAME_TAGS]},
                {"Name": "instance-state-name", "Values": list(LIVE_STATES)},
            ]
        )
    )
    return [f for page in pages for f in _facts(page.get("Reservations", []), origin)]
