"""`cniguard apply PLAN`: carry out a migration plan (dry-run unless --yes), resume or roll back."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cniguard.cli.common import (
    EXIT_OK,
    ConfigOpt,
    DbOpt,
    aws_failure,
    fail,
    load_config_opt,
    open_store_opt,
    store_report_opt,
)
from cniguard.cli.scan import with_live_options
from cniguard.collect.options import LiveOptions

if TYPE_CHECKING:
    from cniguard.config import Config
    from cniguard.remediate.apply import Backend
    from cniguard.remediate.aws_ops import AwsOps
    from cniguard.remediate.plan_model import ClusterPlan, Plan


def register(app: typer.Typer) -> None:
    app.command("apply")(apply)


@with_live_options
def apply(
    plan_file: Annotated[Path, typer.Argument(metavar="PLAN", help="A plan from `cniguard plan`.")],
    *,
    live: LiveOptions,
    yes: Annotated[
        bool, typer.Option("--yes", help="Make the changes (default: dry-run).")
    ] = False,
    cluster: Annotated[
        list[str] | None,
        typer.Option("--cluster", help="Only this cluster of the plan (name or ARN; repeatable)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish the unfinished run of the cluster.")
    ] = False,
    rollback: Annotated[
        bool, typer.Option("--rollback", help="Undo what the unfinished run of the cluster did.")
    ] = False,
    journal_dir: Annotated[
        Path | None,
        typer.Option(
            "--journal-dir",
            help="Where run journals live (default: cniguard-journal in the user state dir).",
        ),
    ] = None,
    assume_role: Annotated[
        str | None,
        typer.Option(
            "--assume-role",
            help="Role ARN to make the changes with (session name cniguard-apply-<run id>).",
        ),
    ] = None,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Carry out a migration plan step by step with gates, a journal and rollback."""
    from cniguard.remediate.journal import default_journal_dir

    if resume and rollback:
        raise fail("give at most one of --resume and --rollback")
    if (resume or rollback) and not yes:
        raise fail(f"{'--resume' if resume else '--rollback'} changes the cluster: add --yes")
    cfg = load_config_opt(config)
    if db is not None:
        open_store_opt(db)  # an unusable store fails before anything is changed
    plan = _load_plan(plan_file)
    folder = journal_dir or default_journal_dir()
    for cluster_plan in _selected(plan, cluster or []):
        code = _one(
            cluster_plan,
            plan_file=str(plan_file),
            live=live,
            config=cfg,
            folder=folder,
            assume_role=assume_role,
            mode="resume" if resume else "rollback" if rollback else "run" if yes else "dry-run",
        )
        if code == EXIT_OK and yes and not rollback and db is not None:
            _store(live, cfg, cluster_plan, db)
        if code != EXIT_OK:
            raise typer.Exit(code)
    raise typer.Exit(EXIT_OK)


def _load_plan(path: Path) -> Plan:
    from cniguard.model.codec import InputError
    from cniguard.remediate.plan_model import plan_from_json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise fail(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise fail(f"{path}: not JSON: {exc}") from None
    try:
        return plan_from_json(data, source=str(path))
    except InputError as exc:
        raise fail(str(exc)) from None


def _selected(plan: Plan, wanted: list[str]) -> list[ClusterPlan]:
    if not wanted:
        return list(plan.clusters)
    chosen: list[ClusterPlan] = []
    for name in wanted:
        found = [c for c in plan.clusters if name in (c.cluster, c.arn)]
        if not found:
            known = ", ".join(c.cluster for c in plan.clusters) or "none"
            raise fail(f"--cluster {name!r} is not in the plan (clusters: {known})")
        chosen.extend(c for c in found if c not in chosen)
    return chosen


def _one(
    plan: ClusterPlan,
    *,
    plan_file: str,
    live: LiveOptions,
    config: Config,
    folder: Path,
    assume_role: str | None,
    mode: str,
) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from cniguard.remediate.apply import Executor, new_run_id
    from cniguard.remediate.aws_ops import AwsOps, Target, open_session

    if plan.status == "nothing_to_do":
        typer.echo(f"cluster {plan.cluster}: nothing to do ({'; '.join(plan.warnings)})")
        return EXIT_OK
    if not plan.steps:
        typer.echo(f"cluster {plan.cluster}: blocked: {'; '.join(plan.blocked_by)}")
        return 3
    run_id = new_run_id()
    try:
        session = open_session(live.profile, assume_role, run_id)
        aws = AwsOps(session, Target(plan.cluster, plan.arn, plan.region), run_id)
        account = aws.caller_account()
    except (BotoCoreError, ClientError) as exc:
        raise aws_failure(exc) from None
    if account != plan.account:
        raise fail(
            f"the credentials are for account {account}, cluster {plan.cluster} is in "
            f"{plan.account}: use --profile or --assume-role"
        )
    kube, context = _kube(plan, live, aws, session)
    executor = Executor(
        plan,
        aws,
        kube,
        journal_dir=folder,
        plan_file=plan_file,
        dependents=_dependents(plan, live, config),
        out=typer.echo,
        context=context,
        run_id=run_id,
    )
    actions = {
        "dry-run": executor.dry_run,
        "run": executor.run,
        "resume": executor.resume,
        "rollback": executor.rollback_run,
    }
    return actions[mode]()


def _kube(
    plan: ClusterPlan, live: LiveOptions, aws: AwsOps, session: object
) -> tuple[Backend, str | None]:
    """The cluster's Kubernetes side, from --kube-context CLUSTER=CTX or --kube (EKS token)."""
    from cniguard.collect import kubernetes as kube_api
    from cniguard.remediate.kube_ops import KubeOps
    from cniguard.remediate.kube_side import KubeSide

    context = next(
        (ctx for name, ctx in live.kube_contexts if name in (plan.cluster, plan.arn)), None
    )
    try:
        if context is not None:
            api = kube_api.api_client_for_context(context)
        elif live.kube_live:
            info = aws.eks.describe_cluster(name=plan.cluster)["cluster"]
            token = kube_api.eks_token(session, plan.cluster, plan.region)  # type: ignore[arg-type]
            api = kube_api.api_client_for_eks(
                info["endpoint"], info["certificateAuthority"]["data"], token
            )
        else:
            raise fail(
                f"the plan of {plan.cluster} changes or checks Kubernetes: give --kube-context "
                f"{plan.cluster}=CONTEXT or --kube"
            )
    except typer.Exit:
        raise
    except Exception as exc:  # kubeconfig, TLS or AWS error: one line
        raise fail(f"cannot reach the Kubernetes API of {plan.cluster}: {exc}") from None
    side = KubeSide(
        KubeOps(api, field_manager="cniguard-apply"), cluster=plan.cluster, region=plan.region
    )
    return side, context


def _dependents(plan: ClusterPlan, live: LiveOptions, config: Config):  # type: ignore[no-untyped-def]
    from cniguard.collect.live import collect_live
    from cniguard.remediate.recheck import live_dependents

    options = replace(live, cloudtrail=False, quiet=True)
    return live_dependents(lambda: collect_live(options), config, plan.arn)


def _store(live: LiveOptions, config: Config, plan: ClusterPlan, db: str) -> None:
    """Collect the cluster again and store the findings, so the dashboard shows the migration."""
    from cniguard.collect.live import collect_live
    from cniguard.engine import evaluate
    from cniguard.store.database import display_url

    inventory = collect_live(replace(live, clusters=(plan.arn,), quiet=True))
    report = evaluate(inventory, config)
    scan_id = store_report_opt(db, report)
    after = next((c for c in report.clusters if c.arn == plan.arn), None)
    mode = after.cni_identity if after else "unknown"
    shown = display_url(db)
    typer.echo(
        f"cniguard: stored scan {scan_id} in {shown} ({plan.cluster}: mode {mode})", err=True
    )
