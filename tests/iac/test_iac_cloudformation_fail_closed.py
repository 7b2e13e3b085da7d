"""CloudFormation input that cannot be decided before deploy is unknown, never a pass."""

from __future__ import annotations

from pathlib import Path

from cniguard.collect.iac.scan import collect_iac
from cniguard.engine import evaluate
from cniguard.model.inventory import Gap, Inventory

FIXTURES = Path("tests/fixtures/iac/cloudformation/fail-closed")
NODE = "arn:aws:iam::${account}:role/shop-node"
RULES = ("CNI001", "CNI002", "CNI090")


def _scan(name: str) -> tuple[Inventory, list[tuple[str, str, str]]]:
    """The inventory and the (rule, status, resource) of the rules that decide pass/fail."""
    inventory = collect_iac([FIXTURES / name])
    report = evaluate(inventory)
    return inventory, [
        (f.rule_id, f.status, f.resource) for f in report.findings if f.rule_id in RULES
    ]


def _id(file: str) -> str:
    return f"cfn:{FIXTURES / file}#Cluster"


def test_templates_with_generated_names_stay_two_clusters_with_their_own_roles() -> None:
    inventory, findings = _scan("generated-names")
    dev, prod = "generated-names/dev/cluster.yaml", "generated-names/prod/cluster.yaml"
    assert [
        (c.arn, c.name, [g.role_arn for g in c.node_groups or ()]) for c in inventory.clusters
    ] == [
        (_id(dev), "dev-cluster-Cluster", ["arn:aws:iam::${account}:role/dev-cluster-NodeRole"]),
        (_id(prod), "prod-cluster-Cluster", ["arn:aws:iam::${account}:role/prod-cluster-NodeRole"]),
    ]
    assert findings == [
        ("CNI001", "fail", "arn:aws:iam::${account}:role/dev-cluster-NodeRole"),
        ("CNI002", "pass", "arn:aws:iam::${account}:role/dev-cluster-NodeRole"),
        ("CNI090", "pass", _id(dev)),
        ("CNI001", "pass", "arn:aws:iam::${account}:role/prod-cluster-NodeRole"),
        ("CNI002", "fail", "arn:aws:iam::${account}:role/prod-cluster-NodeRole"),
        ("CNI090", "pass", _id(prod)),
    ]
    assert inventory.gaps == ()


def test_same_cluster_name_in_two_templates_keeps_both_and_ambiguous_parts_unknown() -> None:
    inventory, findings = _scan("same-name")
    blue, green = _id("same-name/blue.yaml"), _id("same-name/green.yaml")
    assert [
        (c.arn, c.name, c.addons, [g.name for g in c.node_groups or ()]) for c in inventory.clusters
    ] == [(blue, "shop", None, ["blue-NodeGroup"]), (green, "shop", None, ["green-NodeGroup"])]
    (role,) = inventory.roles  # shop-node defined differently twice: unknown, not overwritten
    assert (role.arn, role.policies, role.trust_policy) == (NODE, None, None)
    assert findings == [
        ("CNI001", "unknown", blue),
        ("CNI002", "unknown", NODE),
        ("CNI090", "fail", blue),
        ("CNI001", "unknown", green),
        ("CNI002", "unknown", NODE),
        ("CNI090", "fail", green),
    ]
    addons = str(FIXTURES / "same-name/addons.yaml")
    ambiguous = (
        f"cluster name shop is defined in several scanned templates "
        f"({FIXTURES}/same-name/blue.yaml, {FIXTURES}/same-name/green.yaml): which one "
        f"addons entry at {addons}:2 belongs to is unknown"
    )
    assert list(inventory.gaps) == [
        Gap(what="iac:cluster", cluster=blue, resource=addons, line=2, reason=ambiguous),
        Gap(what="iac:cluster", cluster=green, resource=addons, line=2, reason=ambiguous),
        Gap(
            what="iac:role",
            resource=str(FIXTURES / "same-name/blue.yaml"),
            line=8,
            reason=f"role shop-node is defined differently in several templates "
            f"({FIXTURES}/same-name/blue.yaml:8, {FIXTURES}/same-name/green.yaml:8): "
            "its trust and permissions are unknown",
        ),
    ]


def test_unresolvable_policy_lists_make_the_node_roles_unknown() -> None:
    inventory, findings = _scan("unresolved-policies.yaml")
    other = "arn:aws:iam::${account}:role/shop-node-b"
    assert {r.arn: [(p.name, p.document) for p in r.policies or ()] for r in inventory.roles} == {
        NODE: [
            ("ManagedPolicyArns ${NodePolicyArns}", None),
            ("shop-cni (attached to unknown roles)", None),
        ],
        other: [
            ("ManagedPolicyArns ${ImportValue shared-node-policies}", None),
            ("shop-cni (attached to unknown roles)", None),
        ],
    }
    cluster = _id("unresolved-policies.yaml")
    assert findings == [
        ("CNI001", "unknown", NODE),
        ("CNI001", "unknown", other),
        ("CNI002", "unknown", NODE),
        ("CNI002", "unknown", other),
        ("CNI090", "fail", cluster),
    ]
    file = str(FIXTURES / "unresolved-policies.yaml")
    assert [(g.what, g.resource, g.line, g.reason) for g in inventory.gaps] == [
        (
            "iac:policy",
            file,
            18,
            "NodeRole: ManagedPolicyArns ${NodePolicyArns} is not resolvable from the template",
        ),
        (
            "iac:policy",
            file,
            24,
            "OtherNodeRole: ManagedPolicyArns "
            "${ImportValue shared-node-policies} is not resolvable from the template",
        ),
        (
            "iac:policy",
            file,
            25,
            "CniPolicy: Roles ${ExtraRoles} is not resolvable from the template",
        ),
    ]


def test_resource_condition_false_drops_it_and_undecidable_makes_the_binding_unknown() -> None:
    inventory, findings = _scan("resource-condition.yaml")
    (cluster,) = inventory.clusters
    assert (cluster.addons, [g.name for g in cluster.node_groups or ()]) == (
        None,
        ["resource-condition-NodeGroup"],
    )  # LegacyNodes is false by default: no such group
    assert [r.name for r in inventory.roles] == ["shop-node"]
    cluster_id = _id("resource-condition.yaml")
    assert findings == [
        ("CNI001", "unknown", cluster_id),
        ("CNI002", "pass", NODE),
        ("CNI090", "fail", cluster_id),
    ]
    assert list(inventory.gaps) == [
        Gap(
            what="iac:cluster",
            cluster=cluster_id,
            resource=str(FIXTURES / "resource-condition.yaml"),
            line=14,
            reason="Addon exists only if condition Irsa holds, which depends on values "
            "known at deploy: aws-node's binding is unknown",
        )
    ]


def test_scalar_if_on_an_undecidable_condition_leaves_the_addon_binding_unknown() -> None:
    inventory, findings = _scan("scalar-if.yaml")
    (cluster,) = inventory.clusters
    cluster_id = _id("scalar-if.yaml")
    assert cluster.addons is None
    assert findings == [
        ("CNI001", "unknown", cluster_id),
        ("CNI002", "pass", NODE),
        ("CNI090", "fail", cluster_id),
    ]
    assert [(g.what, g.cluster, g.line, g.reason) for g in inventory.gaps] == [
        (
            "iac:cluster",
            cluster_id,
            27,
            "Addon: ServiceAccountRoleArn depends on ${Fn::If Irsa}: aws-node's binding is unknown",
        )
    ]


def test_nested_stack_outside_the_scan_makes_node_groups_unknown() -> None:
    inventory, findings = _scan("nested-remote")
    (cluster,) = inventory.clusters
    assert [(g.name, g.kind, g.role_arn) for g in cluster.node_groups or ()] == [
        ("nested stack Nodes", "unknown", None)
    ]
    cluster_id = _id("nested-remote/parent.yaml")
    assert findings == [
        ("CNI001", "unknown", cluster_id),
        ("CNI002", "unknown", "nested stack Nodes"),
        ("CNI090", "fail", cluster_id),
    ]
    assert [(g.what, g.cluster, g.line, g.reason) for g in inventory.gaps] == [
        (
            "iac:cluster",
            cluster_id,
            8,
            "nested stack Nodes (https://s3.amazonaws.com/bucket/nodegroup.yaml) is not among the "
            "scanned files: the node groups, roles and bindings it creates are unknown",
        )
    ]


def test_scanned_nested_stack_is_read_with_the_parameters_its_parent_passes() -> None:
    inventory, findings = _scan("nested-local")
    (cluster,) = inventory.clusters
    role = "arn:aws:iam::${account}:role/nodegroup-NodeRole"
    assert (cluster.arn, [(g.name, g.role_arn) for g in cluster.node_groups or ()]) == (
        _id("nested-local/parent.yaml"),
        [("nodegroup-NodeGroup", role)],
    )
    assert findings == [
        ("CNI001", "pass", role),
        ("CNI002", "fail", role),
        ("CNI090", "pass", _id("nested-local/parent.yaml")),
    ]
    assert inventory.gaps == ()


def test_import_value_resolves_from_a_scanned_export() -> None:
    inventory, findings = _scan("imports")
    (cluster,) = inventory.clusters
    role = NODE
    assert (cluster.arn, [(g.name, g.role_arn) for g in cluster.node_groups or ()]) == (
        _id("imports/cluster.yaml"),
        [("nodes-NodeGroup", role)],
    )
    assert findings == [
        ("CNI001", "pass", role),
        ("CNI002", "fail", role),
        ("CNI090", "pass", _id("imports/cluster.yaml")),
    ]
    assert inventory.gaps == ()


def test_launch_template_metadata_option_from_a_parameter_is_a_gap() -> None:
    inventory, _ = _scan("imds-parameter.yaml")
    (group,) = inventory.clusters[0].node_groups or ()
    meta = group.metadata_options
    assert meta is not None and (meta.http_tokens, meta.hop_limit) == ("required", None)
    assert [(g.what, g.resource, g.line, g.reason) for g in inventory.gaps] == [
        (
            "iac:launch-template",
            str(FIXTURES / "imds-parameter.yaml"),
            23,
            "LT: metadata option HttpPutResponseHopLimit ${HopLimit} is not resolvable from the "
            "template; it is unknown",
        )
    ]
