"""CNI020-CNI021: ownership tags, so a finding reaches the team that can fix it."""

from __future__ import annotations

from collections.abc import Iterator

from cniguard.analysis import ClusterView
from cniguard.model.finding import Finding
from cniguard.rules.base import Rule, rule

TAGGING_DOC = "https://docs.aws.amazon.com/whitepapers/latest/tagging-best-practices/tagging-best-practices.html"


def _missing(tags: dict[str, str] | None, required: tuple[str, ...]) -> list[str] | None:
    if tags is None:
        return None
    present = {k.lower() for k, v in tags.items() if v}
    return [k for k in required if k.lower() not in present]


@rule(
    "CNI020",
    "Cluster lacks a required tag",
    "low",
    "tagging",
    "Owner, cost centre and environment tags route findings to the team that owns the cluster and "
    "decide which clusters count as production in the KPIs.",
    "Tag the cluster: aws eks tag-resource --resource-arn <cluster arn> --tags owner=...,"
    "cost-center=...,environment=... (required keys are configurable in cniguard.toml).",
    references=(TAGGING_DOC,),
    aws_node=False,
)
def cni020(view: ClusterView, r: Rule) -> Iterator[Finding]:
    required = view.config.required_tags
    missing = _missing(view.cluster.tags, required)
    if missing is None:
        yield r.finding(view, "unknown", "The cluster's tags were not read.")
    elif missing:
        yield r.finding(
            view,
            "fail",
            f"Cluster {view.cluster.name} lacks tag(s): {', '.join(missing)}.",
            evidence={"missing_tags": missing, "required": list(required)},
        )
    else:
        yield r.finding(view, "pass", "The cluster has every required tag.")


@rule(
    "CNI021",
    "A node role or CNI role lacks a required tag",
    "low",
    "tagging",
    "Untagged IAM roles are the ones an IAM clean-up detaches policies from; ownership tags say who "
    "to ask first.",
    "Tag the role: aws iam tag-role --role-name <name> --tags Key=owner,Value=...",
    references=(TAGGING_DOC,),
    aws_node=False,
)
def cni021(view: ClusterView, r: Rule) -> Iterator[Finding]:
    required = view.config.required_tags
    arns = [u.role_arn for u in view.node_roles or ()]
    if view.binding.role_arn:
        arns.append(view.binding.role_arn)
    elif view.binding.kind != "none" and view.aws_node_runs[0] is not False:
        yield r.finding(view, "unknown", "The role aws-node uses is not known.")
    if view.node_roles is None:
        yield r.finding(view, "unknown", "The cluster's node groups were not read.")
    for arn in dict.fromkeys(arns):
        role = view.index.role(arn)
        if role is None:
            yield r.finding(view, "unknown", f"Role {arn} was not read.", resource=arn)
            continue
        if not role.exists:
            continue
        missing = _missing(role.tags, required)
        if missing is None:
            yield r.finding(view, "unknown", f"The tags of role {arn} were not read.", resource=arn)
        elif missing:
            yield r.finding(
                view,
                "fail",
                f"Role {role.name} lacks tag(s): {', '.join(missing)}.",
                resource=arn,
                evidence={"missing_tags": missing},
                origin=view.origin_of(role),
            )
        else:
            yield r.finding(view, "pass", f"Role {role.name} has every required tag.", resource=arn)


RULES = (cni020, cni021)
