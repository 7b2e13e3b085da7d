"""`cniguard demo` and `cniguard rules`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cniguard.cli.common import (
    ConfigOpt,
    DbOpt,
    FailIncompleteOpt,
    FailOnOpt,
    Fmt,
    FormatOpt,
    OutputOpt,
    emit,
    fail,
    load_config_opt,
    table_width,
    write_output,
)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.command("rules")(rules)
    app.command("explain")(explain)


def demo(
    fmt: FormatOpt = Fmt.table,
    output: OutputOpt = None,
    fail_on: FailOnOpt = None,
    fail_on_incomplete: FailIncompleteOpt = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
    save_inventory: Annotated[
        Path | None,
        typer.Option("--save-inventory", help="Also write the demo fleet's inventory JSON here."),
    ] = None,
) -> None:
    """Audit the built-in demo fleet (15+ clusters, every rule failing somewhere; no AWS needed).

    Its timestamps are moved to now, so a stored demo (--db) is always inside `kpi`/`serve`'s
    window.
    """
    import datetime as dt

    from cniguard.demo import build_fleet, demo_config
    from cniguard.demo.clock import instant_text, moved_config, moved_inventory
    from cniguard.engine import evaluate
    from cniguard.model.codec import save_inventory as write_inventory

    now = dt.datetime.now(dt.UTC)
    inventory = moved_inventory(build_fleet(), now)
    cfg = load_config_opt(config) if config else moved_config(demo_config(), now)
    if save_inventory is not None:
        try:
            write_inventory(inventory, save_inventory)
        except OSError as exc:
            raise fail(f"{save_inventory}: cannot write: {exc.strerror or exc}") from None
    report = evaluate(inventory, cfg, generated_at=instant_text(now))
    emit(
        report,
        fmt=fmt,
        output=output,
        fail_on=fail_on,
        fail_on_incomplete=fail_on_incomplete,
        db=db,
    )


def rules(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="The catalogue as Markdown.")
    ] = False,
    output: OutputOpt = None,
) -> None:
    """List the rule catalogue (`--markdown` generates docs/rules.md)."""
    from cniguard.catalogue import catalogue_markdown, catalogue_table

    text = catalogue_markdown() if markdown else catalogue_table()
    write_output(text, output, "rule catalogue")


def explain(
    rule: Annotated[str, typer.Argument(metavar="RULE", help="A rule id, e.g. CNI002.")],
) -> None:
    """What one rule checks, why it matters, the fix, and its evidence on a demo cluster."""
    from cniguard.rules import RULES_BY_ID

    found = RULES_BY_ID.get(rule.strip().upper())
    if found is None:
        raise fail(f"unknown rule {rule!r}: `cniguard rules` lists them")
    typer.echo(explanation(found.id), nl=False)


def explanation(rule_id: str) -> str:
    """The catalogue entry of ``rule_id`` and one of its findings on the demo fleet, as text."""
    import json
    import textwrap

    from cniguard.demo import DEMO_NOW, build_fleet, demo_config
    from cniguard.engine import evaluate
    from cniguard.rules import RULES_BY_ID

    rule = RULES_BY_ID[rule_id]
    width = min(100, table_width())

    def para(label: str, text: str) -> list[str]:
        return [*textwrap.wrap(f"{label}: {text}", width, subsequent_indent="  "), ""]

    lines = [
        f"{rule.id}: {rule.title}",
        *textwrap.wrap(
            f"Severity {rule.severity} (default; `[severity]` in cniguard.toml changes it), "
            f"category {rule.category}, live sources needed: {', '.join(rule.needs) or 'none'}, "
            f"checked in IaC: {'yes' if rule.iac else 'no'}.",
            width,
        ),
        "",
        *para("Why", rule.rationale),
        *para("Fix", rule.remediation),
    ]
    report = evaluate(build_fleet(), demo_config(), rules=(rule,), generated_at=DEMO_NOW)
    example = next((f for f in report.findings if f.status == "fail"), None)
    if example is not None:
        name = example.cluster.rsplit("/", 1)[-1]
        lines += [
            f"Evidence (what a finding carries), as on demo cluster {name} "
            "(`cniguard demo -f json`):",
            *textwrap.wrap(example.message, width, initial_indent="  ", subsequent_indent="  "),
        ]
        for key, value in example.evidence.items():
            shown = json.dumps(value, sort_keys=True)
            lines += textwrap.wrap(
                f"{key}: {shown}",
                width,
                initial_indent="  ",
                subsequent_indent="    ",
                break_long_words=False,
                break_on_hyphens=False,
            )
        lines.append("")
    if rule.references:
        lines += ["References:", *(f"  {url}" for url in rule.references)]
    return "\n".join(lines).rstrip("\n") + "\n"
