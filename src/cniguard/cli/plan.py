"""`cniguard plan`: the safe migration of aws-node's CNI permissions off the node role."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from cniguard.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    ConfigOpt,
    OutputOpt,
    fail,
    load_config_opt,
    write_output,
)
from cniguard.cli.scan import InventoryOpt, load_inventory_opt, run_collection, with_live_options
from cniguard.collect.options import LiveOptions


class PlanFmt(StrEnum):
    text = "text"
    json = "json"
    sh = "sh"
    terraform = "terraform"


class To(StrEnum):
    irsa = "irsa"
    pod_identity = "pod-identity"


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)


@with_live_options
def plan(
    *,
    live: LiveOptions,
    cluster: Annotated[
        list[str],
        typer.Option("--cluster", help="Cluster name or ARN to plan (repeatable)."),
    ],
    to: Annotated[To, typer.Option("--to", help="The dedicated identity to move to.")] = To.irsa,
    inventory: InventoryOpt = None,
    fmt: Annotated[PlanFmt, typer.Option("--format", "-f", help="Output format.")] = PlanFmt.text,
    output: OutputOpt = None,
    role_name: Annotated[
        str,
        typer.Option("--role-name", help="Name of the new role; {cluster} is replaced."),
    ] = "AmazonEKSVPCCNIRole-{cluster}",
    verify_timeout: Annotated[
        int, typer.Option("--verify-timeout", min=10, help="Seconds a test pod may take.")
    ] = 120,
    config: ConfigOpt = None,
) -> None:
    """Plan the move of aws-node's CNI permissions to IRSA or Pod Identity, step by step.

    Example: cniguard plan --cluster prod-eu --to irsa --format json -o plan.json

    The plan reads every cluster in scope (not only those planned) so that a node role another
    cluster still depends on is never detached.

    Exit 0 when every cluster is ready or has nothing to do, 1 when one is blocked.
    """
    from cniguard.model.codec import InputError
    from cniguard.remediate.plan_model import Target
    from cniguard.remediate.planner import PlanOptions, build_plan
    from cniguard.remediate.render import render_plan

    cfg = load_config_opt(config)
    if not role_name.strip() or "/" in role_name:
        raise fail(f"--role-name must be a role name, got {role_name!r}")
    inv = load_inventory_opt(inventory) if inventory is not None else run_collection(live)
    contexts = dict(live.kube_contexts)
    target: Target = "irsa" if to is To.irsa else "pod_identity"
    options = PlanOptions(
        target=target, role_name=role_name, contexts=contexts, verify_timeout=verify_timeout
    )
    try:
        result = build_plan(inv, cluster, options, cfg)
    except InputError as exc:
        raise fail(str(exc)) from None
    text = render_plan(result, fmt.value)
    write_output(text, output, f"{fmt.value} plan", executable=fmt is PlanFmt.sh)
    blocked = any(c.status == "blocked" for c in result.clusters)
    raise typer.Exit(EXIT_FINDINGS if blocked else EXIT_OK)
