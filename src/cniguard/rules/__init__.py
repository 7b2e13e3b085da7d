"""The rule catalogue: one explicit registry, in catalogue order."""

from __future__ import annotations

from cniguard.rules import coverage, history, irsa, permissions, symptoms, tags
from cniguard.rules.base import Rule

RULES: tuple[Rule, ...] = (
    *permissions.RULES,
    *irsa.RULES,
    *tags.RULES,
    *symptoms.RULES,
    *history.RULES,
    *coverage.RULES,
)
RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}

__all__ = ["RULES", "RULES_BY_ID", "Rule"]
