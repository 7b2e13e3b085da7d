"""Issue 12: the first table reads at 80 columns, says where the details are, and `explain` is real."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cniguard.cli.main import app
from cniguard.demo import build_fleet
from cniguard.report.table_format import wrap_at_hyphens
from cniguard.rules import RULES

runner = CliRunner()
DETAILS = [
    "Details: evidence and fixes with --format html -o report.html (or --format",
    "markdown); one rule with `cniguard explain CNI002`.",
]


def _demo_table(columns: str) -> list[str]:
    result = runner.invoke(app, ["demo"], env={"COLUMNS": columns})
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_demo_table_at_80_columns_keeps_every_identifier_whole() -> None:
    lines = _demo_table("80")
    assert max(len(line) for line in lines) <= 80  # 80 columns: nothing wider
    assert lines[1:5] == [
        "Cluster          Account/region   CNI identity     Compliant   Rules",
        "─" * 78,
        "payments-prod    111111111111     irsa             yes         -",
        "env: prod        us-east-1        (pods)",
    ]
    words = {word for line in lines for word in line.split()}
    for cluster in build_fleet().clusters:
        assert {cluster.name, cluster.account, cluster.region} <= words
    assert "…" not in "\n".join(lines)
    assert lines[-2:] == DETAILS
    gap = lines.index("Coverage gaps: 1") + 1
    assert lines[gap : gap + 3] == [
        "  - partner-prod: iam:GetRole: AccessDenied: not authorized to perform",
        "    iam:GetRole on arn:aws:iam::111111111111:role/partner-prod-node (an SCP",
        "    denies iam:* on partner-* roles)",
    ]


@pytest.mark.parametrize(("columns", "widest"), [("100", 100), ("140", 137), ("200", 198)])
def test_piped_table_follows_columns(columns: str, widest: int) -> None:
    lines = _demo_table(columns)
    assert max(len(line) for line in lines) == widest
    assert ("│" in lines[4]) is (int(columns) >= 120)


def test_long_cluster_names_wrap_after_hyphens() -> None:
    assert wrap_at_hyphens("platform-payments-checkout-production-euw1", 16).splitlines() == [
        "platform-",
        "payments-",
        "checkout-",
        "production-euw1",
    ]
    assert wrap_at_hyphens("ledger-prod", 16) == "ledger-prod"
    assert wrap_at_hyphens("averyveryverylongname", 8) == "averyveryverylongname"


def test_explain_prints_catalogue_entry_fix_and_evidence() -> None:
    result = runner.invoke(app, ["explain", "cni002"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "CNI002: A worker-node role grants the CNI's ENI-changing permissions",
        "Severity high (default; `[severity]` in cniguard.toml changes it), category permissions, "
        "live",
        "sources needed: none, checked in IaC: yes.",
    ]
    assert lines[4].startswith("Why: Everything on a node can use its instance-profile")
    assert lines[9].startswith("Fix: Move the CNI permissions to an IRSA or Pod Identity role")
    assert lines[13] == (
        "Evidence (what a finding carries), as on demo cluster checkout-prod (`cniguard demo -f "
        "json`):"
    )
    assert '  node_role: "arn:aws:iam::111111111111:role/checkout-prod-node"' in lines
    assert lines[-2:] == [
        "  https://docs.aws.amazon.com/eks/latest/userguide/cni-iam-role.html",
        "  https://docs.aws.amazon.com/eks/latest/best-practices/identity-and-access-management.html",
    ]


def test_every_rule_has_a_demo_example() -> None:
    for rule in RULES:
        result = runner.invoke(app, ["explain", rule.id])
        assert result.exit_code == 0, result.output
        assert "as on demo cluster" in result.stdout, rule.id


def test_explain_an_unknown_rule_is_one_line() -> None:
    result = runner.invoke(app, ["explain", "CNI999"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "cniguard: error: unknown rule 'CNI999': `cniguard rules` lists them\n"
