"""IaC as people write it: CDK synth output and Jest snapshots, eksctl mappings and node-group
files, clusters defined elsewhere, AWS-managed policies, platform defaults, Helm charts."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from typer.testing import CliRunner

from cniguard.collect.iac.cloudformation.cdk import jest_templates
from cniguard.collect.iac.managed_policies import aws_managed_document
from cniguard.collect.iac.scan import collect_iac
from cniguard.engine import evaluate
from cniguard.model.inventory import Gap, Inventory, MetadataOptions, NodeGroup

CFN = Path("tests/fixtures/iac/cloudformation/wild")
EKSCTL = Path("tests/fixtures/iac/eksctl")
ACCOUNT_ROLE = "arn:aws:iam::${account}:role/"


def _verdicts(inventory: Inventory) -> list[tuple[str, str, str, str | None]]:
    """(rule, severity, status, resource) of every finding that is not a pass."""
    report = evaluate(inventory)
    return sorted(
        (f.rule_id, f.severity, f.status, f.resource) for f in report.findings if f.status != "pass"
    )


def _identity(inventory: Inventory) -> list[tuple[str, str, bool | None]]:
    return [(c.name, c.cni_identity, c.compliant) for c in evaluate(inventory).clusters]


def test_cdk_out_follows_nested_stacks_through_the_asset_manifest() -> None:
    folder = CFN / "cdk.out"
    for given in (folder, folder / "Orders.template.json"):  # the parent alone is enough
        inventory = collect_iac([given])
        (cluster,) = inventory.clusters
        nested = str(folder / "OrdersNodes7A1B2C3D.nested.template.json")
        role = f"{ACCOUNT_ROLE}OrdersNodes7A1B2C3D-NodeRole4E5F6A7B"
        assert [
            (g.name, g.kind, g.role_arn, g.origin.describe() if g.origin else "")
            for g in cluster.node_groups or ()
        ] == [
            ("OrdersNodes7A1B2C3D-SpotNodes1A2B3C4D", "managed", role, f"{nested}:17")
        ]  # the provider stacks (one read, one not) add no node group
        assert inventory.gaps == ()
        assert _identity(inventory) == [("orders", "node_role", False)]
        assert ("CNI002", "critical", "fail", role) in _verdicts(inventory)


def test_jest_snapshot_is_read_like_a_template_with_its_own_lines() -> None:
    inventory = collect_iac([CFN / "jest"])
    snap = str(CFN / "jest/__snapshots__/platform.test.ts.snap")
    (cluster,) = inventory.clusters
    assert (cluster.name, cluster.authentication_mode, cluster.origin) == (
        "platform",
        "API",
        cluster.origin,
    )
    assert cluster.origin is not None and cluster.origin.describe() == f"{snap}:12"
    role = f"{ACCOUNT_ROLE}platform-WorkerRole5E6F7A8B"
    assert [(g.role_arn, g.metadata_options) for g in cluster.node_groups or ()] == [
        (
            role,
            MetadataOptions(
                http_endpoint="enabled", hop_limit=2, origin=(cluster.node_groups or ())[0].origin
            ),
        )
    ]
    (worker,) = [r for r in inventory.roles if r.arn == role]
    assert [p.arn for p in worker.policies or ()] == [
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
    ]
    assert ("CNI002", "critical", "fail", role) in _verdicts(inventory)
    assert inventory.gaps == ()


def test_jest_pretty_format_becomes_json_line_for_line() -> None:
    text = (
        '// Jest Snapshot v1\n\nexports[`a 1`] = `\nObject {\n  "Resources": Object {\n'
        '    "R": Object {\n      "Type": "AWS::IAM::Role",\n'
        '      "Description": "say \\\\"hi\\\\"",\n      "List": Array [],\n'
        '    },\n  },\n}\n`;\n\nexports[`b 1`] = `"text"`;\n'
    )
    ((name, body),) = jest_templates(text)
    assert name == "a 1"
    assert body.count("\n") == 11  # the object's last line is line 12 of the file
    assert json.loads(body) == {
        "Resources": {"R": {"Type": "AWS::IAM::Role", "Description": 'say "hi"', "List": []}}
    }


def test_eksctl_mapped_node_roles_are_judged_by_their_definition_elsewhere() -> None:
    inventory = collect_iac([EKSCTL / "mapped"])
    (cluster,) = inventory.clusters
    legacy = f"{ACCOUNT_ROLE}legacy-nodes"  # defined by legacy-nodes.yaml
    batch = "arn:aws:iam::111122223333:role/batch-nodes"  # defined nowhere
    assert [(g.name, g.kind, g.role_arn) for g in cluster.node_groups or ()] == [
        ("legacy-nodes", "self_managed", legacy),
        ("batch-nodes", "self_managed", batch),
    ]
    assert [(e.principal_arn, e.type) for e in cluster.access_entries or ()] == [
        (batch, "EC2_LINUX"),
        ("arn:aws:iam::111122223333:role/ci-deployer", "STANDARD"),
    ]
    verdicts = _verdicts(inventory)
    assert ("CNI002", "high", "fail", legacy) in verdicts
    assert ("CNI002", "high", "unknown", batch) in verdicts
    config = str(EKSCTL / "mapped/cluster.yaml")
    assert inventory.gaps == (
        Gap(
            what="iac:role",
            cluster=cluster.arn,
            resource=config,
            line=12,
            reason=f"node role {batch} (at {config}:12) is not defined in the scanned files: "
            "its permissions and trust are unknown",
        ),
    )


def test_eksctl_node_group_file_joins_the_cluster_its_sibling_config_creates() -> None:
    inventory = collect_iac([EKSCTL / "split"])
    (cluster,) = inventory.clusters
    assert cluster.arn == f"eksctl:{EKSCTL / 'split/cluster.yaml'}#search"
    (group,) = cluster.node_groups or ()
    assert (group.name, group.origin.file if group.origin else None) == (
        "indexers",
        str(EKSCTL / "split/nodegroups.yaml"),
    )
    role = next(r for r in inventory.roles if r.arn == group.role_arn)
    assert "AmazonEKS_CNI_Policy" not in [p.name for p in role.policies or ()]  # withOIDC
    assert _identity(inventory) == [("search", "irsa", True)]
    assert inventory.gaps == ()


def test_eksctl_node_group_file_onto_a_cloudformation_cluster_is_unknown_with_a_gap() -> None:
    inventory = collect_iac([EKSCTL / "onto-cfn"])
    (cluster,) = inventory.clusters
    assert cluster.arn == f"cfn:{EKSCTL / 'onto-cfn/cluster.yaml'}#Cluster"
    role = f"{ACCOUNT_ROLE}eksctl-media-nodegroup-transcoders-NodeInstanceRole"
    assert [(g.name, g.role_arn) for g in cluster.node_groups or ()] == [("transcoders", role)]
    assert ("CNI002", "high", "unknown", role) in _verdicts(inventory)
    assert [(g.what, g.resource, g.line) for g in inventory.gaps] == [
        ("iac:eksctl", str(EKSCTL / "onto-cfn/nodegroups.yaml"), 2)
    ]


def test_cluster_given_by_parameter_is_still_a_cluster_judged_as_far_as_known() -> None:
    file = CFN / "elsewhere-parameter.yaml"
    inventory = collect_iac([file])
    assert [c.name for c in inventory.clusters] == ["${ClusterName}"]
    role = f"{ACCOUNT_ROLE}elsewhere-parameter-NodeRole"
    verdicts = _verdicts(inventory)
    assert ("CNI002", "critical", "fail", role) in verdicts  # decided by the file
    assert ("CNI001", "critical", "unknown", inventory.clusters[0].arn) in verdicts
    assert [(g.what, g.resource, g.line) for g in inventory.gaps] == [
        ("iac:cluster", str(file), 20)
    ]


def test_awsqs_cluster_stack_name_and_launch_template_defaults() -> None:
    file = CFN / "elsewhere-quickstart.yaml"
    inventory = collect_iac([file])
    (cluster,) = inventory.clusters
    assert cluster.name == "elsewhere-quickstart-eks"  # ${AWS::StackName} is the file name
    role = f"{ACCOUNT_ROLE}elsewhere-quickstart-${{region}}-nodes"
    assert cluster.node_groups == (
        NodeGroup(
            name="elsewhere-quickstart-Nodes",
            kind="managed",
            role_arn=role,
            ami_type="AL2_x86_64",
            # no MetadataOptions: AL2 allows IMDSv1, EKS gives managed nodes hop limit 2
            metadata_options=MetadataOptions(
                http_tokens="optional",
                hop_limit=2,
                http_endpoint="enabled",
                origin=(cluster.node_groups or ())[0].metadata_options.origin,  # type: ignore[union-attr]
            ),
            origin=(cluster.node_groups or ())[0].origin,
        ),
    )
    assert ("CNI002", "critical", "fail", role) in _verdicts(inventory)
    assert inventory.gaps == ()


def test_node_role_with_read_only_aws_policies_is_a_definite_cni002() -> None:
    inventory = collect_iac([CFN / "readonly-extras.yaml"])
    role = f"{ACCOUNT_ROLE}readonly-extras-WorkerRole"
    assert _identity(inventory) == [("ledger", "node_role", False)]
    assert ("CNI002", "critical", "fail", role) in _verdicts(inventory)
    assert inventory.gaps == ()


def test_managed_policy_bundle_knows_documents_by_path_and_says_where_from() -> None:
    view = aws_managed_document("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess")
    assert view is not None and view[1].startswith("v")
    assert aws_managed_document("arn:aws:iam::aws:policy/ViewOnlyAccess") is None  # wrong path
    assert aws_managed_document("arn:aws:iam::aws:policy/NoSuchPolicyEver") is None
    folder = Path("src/cniguard/collect/iac")
    meta = json.loads((folder / "aws_managed_policies.meta.json").read_text())
    policies = json.loads(gzip.decompress((folder / "aws_managed_policies.json.gz").read_bytes()))
    assert meta["policies"] == len(policies["policies"]) > 1000
    assert {"source", "upstream", "license", "retrieved", "newest_policy_update"} <= set(meta)
    # read-only policies never deny an EC2 action: with one, a CNI grant stays a grant
    read_only = [n for n in policies["policies"] if n.endswith("ReadOnlyAccess")]
    denies = [
        s
        for n in read_only
        for s in _statements(policies["policies"][n]["document"])
        if s.get("Effect") == "Deny"
    ]
    actions = [str(a) for s in denies for a in _strings(s.get("Action"))]
    assert len(read_only) > 50 and all("NotAction" not in s for s in denies)
    assert [a for a in actions if a.startswith(("ec2:", "*"))] == []


def _strings(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else [value]


def _statements(document: dict[str, object]) -> list[dict[str, object]]:
    raw = document.get("Statement")
    items = raw if isinstance(raw, list) else [raw]
    return [s for s in items if isinstance(s, dict)]


def test_helm_chart_templates_are_skipped_with_one_note_and_nothing_else_is_incomplete(
    tmp_path: Path,
) -> None:
    from cniguard.cli.main import app

    out = tmp_path / "r.json"
    charts = str(CFN / "charts")
    result = CliRunner().invoke(
        app, ["iac", charts, "-f", "json", "-o", str(out), "--fail-on-incomplete"]
    )
    assert result.exit_code == 3, result.output  # no IaC file at all: not a pass
    coverage = json.loads(out.read_text())["coverage"]
    assert coverage["collection"]["files_skipped"] == [
        {
            "file": f"{charts}/web/templates",
            "reason": "Helm chart templates (Go templates, 2 files): not rendered; the chart's "
            "values file is read",
        }
    ]
    assert [g["reason"] for g in coverage["gaps"]] == [
        "no Terraform, CloudFormation, eksctl or manifest files found"
    ]


def test_self_managed_al2_launch_template_without_metadata_options_allows_imdsv1() -> None:
    file = CFN / "self-managed-al2.yaml"
    inventory = collect_iac([file])
    (cluster,) = inventory.clusters
    (group,) = cluster.node_groups or ()
    assert group.metadata_options == MetadataOptions(
        http_tokens="optional",
        hop_limit=1,
        http_endpoint="enabled",
        origin=group.metadata_options.origin if group.metadata_options else None,
    )
    role = f"{ACCOUNT_ROLE}self-managed-al2-NodeRole"
    assert group.role_arn == role  # through the launch template's instance profile
    assert ("CNI002", "critical", "fail", role) in _verdicts(inventory)
    assert [(g.what, g.line) for g in inventory.gaps] == [("iac:cluster", 32)]


def test_jest_multi_line_strings_and_undefined_keep_the_line_count() -> None:
    text = (
        'exports[`x 1`] = `\n{\n  "Resources": {\n    "LT": {\n      "Properties": {\n'
        '        "UserData": "#!/bin/bash\nset -o xtrace\n/etc/eks/bootstrap.sh \\${Name}\n",\n'
        '        "Empty": "",\n        "Gone": undefined,\n      },\n'
        '      "Type": "AWS::EC2::LaunchTemplate",\n    },\n  },\n}\n`;\n'
    )
    ((_, body),) = jest_templates(text)
    assert body.count("\n") == len(text.splitlines()) - 2  # the closing "`;" is not part of it
    assert json.loads(body)["Resources"]["LT"] == {
        "Properties": {
            "UserData": "#!/bin/bash\nset -o xtrace\n/etc/eks/bootstrap.sh ${Name}\n",
            "Empty": "",
            "Gone": None,
        },
        "Type": "AWS::EC2::LaunchTemplate",
    }


def test_eksctl_access_entry_role_defined_in_terraform_is_judged_by_it() -> None:
    inventory = collect_iac([EKSCTL / "mapped-terraform"])
    (cluster,) = inventory.clusters
    role = f"{ACCOUNT_ROLE}reporting-nodes"  # the Terraform definition, no CNI policy
    assert [(g.name, g.role_arn) for g in cluster.node_groups or ()] == [("reporting-nodes", role)]
    verdicts = _verdicts(inventory)
    assert [v for v in verdicts if v[0] == "CNI002"] == []
    assert _identity(inventory) == [("reporting", "irsa", True)]
    assert inventory.gaps == ()
