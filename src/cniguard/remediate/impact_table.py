"""The impact verdicts as a table a person reads at 80 columns: one block per touched cluster."""

from __future__ import annotations

import textwrap

from cniguard.remediate.impact import ImpactResult

WIDTH = 80


def _wrap(text: str, first: str, rest: str) -> list[str]:
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_on_hyphens=False,
        break_long_words=False,  # an ARN is never cut: it must still paste
    ) or [first.rstrip()]


def render(result: ImpactResult) -> str:
    s = result.summary()
    lines = [
        f"cniguard impact: {s['changes']} change(s), {s['clusters_touched']} of "
        f"{s['clusters_in_inventory']} cluster(s) touched",
    ]
    for i, change in enumerate(result.changes):
        lines.extend(_wrap(change.source or change.kind, f"  change {i}: ", "    "))
    lines.append("")
    if not result.clusters:
        lines.append("No cluster of the inventory is touched by these changes.")
    for c in result.clusters:
        r = c.cluster
        mode = (
            c.mode_before if c.mode_before == c.mode_after else f"{c.mode_before} -> {c.mode_after}"
        )
        head = f"{c.verdict.upper():<11}{r.name}  ({r.account} {r.region})  mode: {mode}"
        lines.extend(_wrap(head, "", "           "))
        for f in c.newly_failing:
            lines.extend(_wrap(f"{f.rule_id} {f.severity}: {f.message}", "  FAIL ", "       "))
            lines.extend(_wrap(f.remediation, "       fix: ", "            "))
        for f in c.resolved:
            lines.extend(_wrap(f"{f.rule_id}: {f.message}", "  RESOLVED ", "           "))
        for reason in c.unknown:
            lines.extend(_wrap(reason, "  UNKNOWN ", "          "))
        lines.append("")
    if result.notes:
        lines.append("Notes:")
        for note in result.notes:
            lines.extend(_wrap(note, "  - ", "    "))
        lines.append("")
    lines.append(
        "Verdicts: "
        + ", ".join(f"{v} {s[v]}" for v in ("breaks", "unknown", "improves", "safe", "unaffected"))
    )
    return "\n".join(lines) + "\n"
