"""The CLI contracts: exit codes, formats, --inventory, config errors, the generated catalogue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cniguard.catalogue import catalogue_markdown
from cniguard.cli.main import app
from cniguard.demo import build_fleet
from cniguard.model.codec import INVENTORY_SCHEMA, inventory_to_json

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_demo_table_lists_every_cluster() -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    for cluster in build_fleet().clusters:
        assert cluster.name in result.output
    assert "IRSA compliance: 15.4% of applicable clusters (production 16.7%)" in result.output


@pytest.mark.parametrize(("fail_on", "code"), [("critical", 1), ("info", 1), (None, 0)])
def test_fail_on_exit_codes(fail_on: str | None, code: int) -> None:
    args = ["demo", "--format", "json"] + (["--fail-on", fail_on] if fail_on else [])
    assert runner.invoke(app, args).exit_code == code


def test_fail_on_respects_suppressions(tmp_path: Path) -> None:
    inv = tmp_path / "inv.json"
    data = inventory_to_json(build_fleet())
    data["clusters"] = [c for c in data["clusters"] if c["name"] == "sandbox-dev"]
    inv.write_text(json.dumps(data))
    config = tmp_path / "cniguard.toml"
    config.write_text(
        '[[suppressions]]\nrule = "*"\nresource = "*"\nreason = "accepted risk"\nexpires = 2999-01-01\n'
    )
    args = ["scan", "--inventory", str(inv), "--fail-on", "low", "--config", str(config)]
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, args[:-2]).exit_code == 1


def test_fail_on_incomplete_exits_3(tmp_path: Path) -> None:
    inv = tmp_path / "inv.json"
    inv.write_text(json.dumps(inventory_to_json(build_fleet())))
    result = runner.invoke(
        app, ["scan", "--inventory", str(inv), "--fail-on-incomplete", "-f", "json"]
    )
    assert result.exit_code == 3


def test_scan_inventory_matches_demo_and_writes_every_format(tmp_path: Path) -> None:
    inv = tmp_path / "inv.json"
    assert (
        runner.invoke(
            app,
            ["demo", "--save-inventory", str(inv), "-f", "json", "-o", str(tmp_path / "demo.json")],
        ).exit_code
        == 0
    )
    assert json.loads(inv.read_text())["schema"] == INVENTORY_SCHEMA
    for fmt in ("json", "sarif", "junit", "csv", "markdown", "html", "table"):
        out = tmp_path / f"report.{fmt}"
        result = runner.invoke(app, ["scan", "--inventory", str(inv), "-f", fmt, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["schema"] == "cniguard.report/v1"
    assert list(report) == [
        "schema",
        "generated_at",
        "kind",
        "tool",
        "clusters",
        "findings",
        "coverage",
        "kpis",
    ]
    demo = json.loads((tmp_path / "demo.json").read_text())
    assert [c["cni_identity"] for c in report["clusters"]] == [
        c["cni_identity"] for c in demo["clusters"]
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "{not json",
            "inv.json:1: not valid JSON: Expecting property name enclosed in double quotes",
        ),
        ('{"clusters": []}', "inv.json: no 'schema' key; expected 'cniguard.inventory/v1'"),
        (
            '{"schema": "cniguard.inventory/v9"}',
            "inv.json: inventory schema 'cniguard.inventory/v9' is not supported by this cniguard",
        ),
        (
            '{"schema": "cniguard.inventory/v1", "kind": "live", "generated_at": "x", '
            '"clusters": [{"name": 1}]}',
            "inv.json: invalid inventory at clusters.0.arn: Field required",
        ),
    ],
)
def test_bad_inventory_is_one_clear_line(tmp_path: Path, content: str, message: str) -> None:
    inv = tmp_path / "inv.json"
    inv.write_text(content)
    result = runner.invoke(app, ["scan", "--inventory", str(inv)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert message in result.output


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("bogus = 1\n", "unknown key(s): bogus"),
        ('[severity]\nCNI001 = "urgent"\n', "severity.CNI001 = 'urgent'; expected one of"),
        ('[[suppressions]]\nrule = "CNI001"\n', "suppressions[0]: missing reason"),
        (
            '[[suppressions]]\nrule = "CNI001"\nreason = "r"\nexpires = "soon"\n',
            "expires 'soon' is not a YYYY-MM-DD date",
        ),
        ('required_tags = "owner"\n', "required_tags: expected a list of strings"),
    ],
)
def test_bad_config_is_one_clear_line(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "cniguard.toml"
    config.write_text(toml)
    result = runner.invoke(app, ["demo", "--config", str(config)])
    assert result.exit_code == 2
    assert message in result.output


def test_config_required_tags_and_production(tmp_path: Path) -> None:
    config = tmp_path / "cniguard.toml"
    config.write_text(
        'required_tags = ["owner"]\n[production]\ntag_key = "environment"\nvalues = ["staging"]\n'
    )
    result = runner.invoke(app, ["demo", "--config", str(config), "-f", "json"])
    report = json.loads(result.output)
    assert {c["name"] for c in report["clusters"] if c["production"]} == {
        "ml-staging",
        "web-staging",
        "api-staging",
        "batch-staging",
    }
    cni020 = [
        f["cluster"]
        for f in report["findings"]
        if f["rule_id"] == "CNI020" and f["status"] == "fail"
    ]
    assert cni020 == [
        "arn:aws:eks:us-east-1:333333333333:cluster/sandbox-dev"
    ]  # only the untagged one


def test_rules_markdown_is_committed_and_current() -> None:
    assert (ROOT / "docs" / "rules.md").read_text(encoding="utf-8") == catalogue_markdown(), (
        "docs/rules.md is out of date: run `make docs`"
    )


def test_help_is_fast_and_imports_nothing_heavy() -> None:
    code = (
        "import sys, cniguard.cli.main as m\n"
        "heavy = [x for x in ('boto3', 'botocore', 'kubernetes', 'sqlalchemy', 'fastapi', 'hcl2',"
        " 'cfnlint', 'pydantic', 'rich.console', 'jinja2') if x in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
