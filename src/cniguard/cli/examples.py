"""One worked example per command, shown at the end of its ``--help`` (kept here, in one place,
so a test can require an example for every registered command)."""

from __future__ import annotations

import typer

EXAMPLES: dict[str, tuple[str, ...]] = {
    "demo": ("cniguard demo --format html -o demo.html", "cniguard demo --db default"),
    "rules": ("cniguard rules", "cniguard rules --markdown -o docs/rules.md"),
    "explain": ("cniguard explain CNI002",),
    "scan": (
        "cniguard scan --profile audit --regions us-east-1,eu-west-1",
        "cniguard scan --inventory inventory.json --fail-on high",
    ),
    "collect": ("cniguard collect --profile audit -o inventory.json",),
    "permissions": ("cniguard permissions --only iam > cniguard-audit-policy.json",),
    "iac": ("cniguard iac infra/ --fail-on high --format sarif -o cniguard.sarif",),
    "plan": ("cniguard plan --cluster prod --to irsa --format json -o plan.json",),
    "kpi": ("cniguard kpi --db default --since 7d",),
    "serve": ("cniguard serve --db default --port 8080",),
    "watch": ("cniguard watch --db default --every 15m --webhook https://hooks.example/T0",),
    "impact": (
        "cniguard impact --detach prod-node:arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        "cniguard impact --terraform-plan tfplan.json",
    ),
    "verify": ("cniguard verify --cluster prod --kube-context prod=CTX",),
    "apply": ("cniguard apply plan.json --kube-context prod=CTX   (dry-run; add --yes to act)",),
    "kube-export": ("cniguard kube-export exports/prod --context CTX",),
}


def add_examples(app: typer.Typer) -> None:
    """Append each command's examples to its help (as the epilog, after the options)."""
    for info in app.registered_commands:
        name = info.name or ""
        examples = EXAMPLES.get(name, ())
        if examples:
            info.epilog = "Examples:\n\n" + "\n\n".join(f"  {e}" for e in examples)
