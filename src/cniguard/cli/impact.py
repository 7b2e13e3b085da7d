"""`cniguard impact`: would this IAM change break a cluster? Read-only: nothing is changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cniguard.cli.common import (
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_OK,
    ConfigOpt,
    Fmt,
    FormatOpt,
    OutputOpt,
    Sev,
    fail,
    load_config_opt,
    write_output,
)
from cniguard.cli.scan import InventoryOpt, load_inventory_opt, run_collection, with_live_options
from cniguard.collect.options import LiveOptions

Repeat = list[str] | None


def register(app: typer.Typer) -> None:
    app.command("impact")(impact)


@with_live_options
def impact(
    *,
    live: LiveOptions,
    inventory: InventoryOpt = None,
    detach: Annotated[
        Repeat, typer.Option("--detach", help="ROLE:POLICY_ARN: detach a managed policy.")
    ] = None,
    delete_inline: Annotated[
        Repeat, typer.Option("--delete-inline", help="ROLE:NAME: delete an inline policy.")
    ] = None,
    delete_role: Annotated[Repeat, typer.Option("--delete-role", help="ROLE: delete it.")] = None,
    delete_oidc_provider: Annotated[
        Repeat, typer.Option("--delete-oidc-provider", help="ARN of an IAM OIDC provider.")
    ] = None,
    put_boundary: Annotated[
        Repeat,
        typer.Option("--put-boundary", help="ROLE:POLICY_ARN: set a permissions boundary."),
    ] = None,
    remove_from_instance_profile: Annotated[
        Repeat,
        typer.Option("--remove-from-instance-profile", help="PROFILE:ROLE: empty the profile."),
    ] = None,
    terraform_plan: Annotated[
        Path | None,
        typer.Option("--terraform-plan", help="plan.json from `terraform show -json plan.out`."),
    ] = None,
    calls: Annotated[
        Path | None,
        typer.Option("--calls", help="JSON list of API calls: {eventName, requestParameters}."),
    ] = None,
    fmt: FormatOpt = Fmt.table,
    output: OutputOpt = None,
    fail_on: Annotated[
        Sev, typer.Option("--fail-on", help="Exit 1 when a cluster would newly fail this or worse.")
    ] = Sev.critical,
    config: ConfigOpt = None,
) -> None:
    """Would these IAM/EKS changes break a cluster's CNI? Applies them to a copy of the
    inventory and re-runs the rules (exit 1: breaks; 3: cannot tell; 0: safe)."""

    from cniguard.model.codec import InputError, inventory_fingerprint
    from cniguard.remediate.changes import Change, from_flags, load_calls, load_json
    from cniguard.remediate.impact import impact as assess_impact
    from cniguard.remediate.terraform_changes import from_plan

    try:
        changes: list[Change] = from_flags(
            detach=detach,
            delete_inline=delete_inline,
            delete_role=delete_role,
            delete_oidc_provider=delete_oidc_provider,
            put_boundary=put_boundary,
            remove_from_instance_profile=remove_from_instance_profile,
        )
        if terraform_plan is not None:
            changes += from_plan(load_json(terraform_plan), str(terraform_plan))
        if calls is not None:
            changes += load_calls(calls)
    except InputError as exc:
        raise fail(str(exc)) from None
    if not changes and terraform_plan is None and calls is None:
        raise fail(
            "name at least one change: --detach, --delete-inline, --delete-role, "
            "--delete-oidc-provider, --put-boundary, --remove-from-instance-profile, "
            "--terraform-plan or --calls"
        )
    cfg = load_config_opt(config)
    inv = load_inventory_opt(inventory) if inventory is not None else run_collection(live)
    fingerprint = inventory_fingerprint(inv)
    result = assess_impact(inv, changes, cfg, inventory_fingerprint=fingerprint)
    if fmt is Fmt.json:
        text = json.dumps(result.to_json(), indent=2) + "\n"
    elif fmt is Fmt.table:
        from cniguard.remediate.impact_table import render as render_table

        text = render_table(result)
    else:
        from cniguard.report import render

        text = render(result.report(), fmt.value)
    write_output(text, output, f"{fmt.value} impact report")
    if result.breaking(fail_on.value):
        raise typer.Exit(EXIT_FINDINGS)
    raise typer.Exit(EXIT_INCOMPLETE if result.incomplete() else EXIT_OK)
