"""Shared helpers: collect a fixture directory and judge it with the real engine."""

from __future__ import annotations

from pathlib import Path

from cniguard.collect.iac.base import IacFragment
from cniguard.collect.iac.terraform import collect_terraform
from cniguard.engine import evaluate
from cniguard.model.finding import Report
from cniguard.model.inventory import Inventory

FIXTURES = Path("tests/fixtures/terraform")
AWS = "arn:aws:iam::aws:policy/"
ACCOUNT = "${account}"


def collect(name: str) -> IacFragment:
    """Every file of a fixture as discovery would pass it (``.terraform`` is not scanned)."""
    files = (FIXTURES / name).rglob("*")
    return collect_terraform(sorted(p for p in files if p.is_file() and ".terraform" not in p.parts))


def judge(fragment: IacFragment) -> Report:
    inventory = Inventory(
        kind="iac", generated_at="2026-01-01T00:00:00Z", clusters=tuple(fragment.clusters),
        roles=tuple(fragment.roles), oidc_providers=tuple(fragment.oidc_providers),
        oidc_providers_read=(ACCOUNT,), gaps=tuple(fragment.gaps), sources=("iac",),
    )
    return evaluate(inventory)


def failing(report: Report) -> list[tuple[str, str, str | None, int | None]]:
    """(rule, status, file, line) of every finding that is not a pass, in report order."""
    return [
        (f.rule_id, f.status, f.location.file if f.location else None,
         f.location.line if f.location else None)
        for f in report.findings if f.status != "pass"
    ]
