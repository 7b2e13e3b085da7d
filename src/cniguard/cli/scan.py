"""`cniguard scan`, `cniguard collect` and `cniguard permissions`: live AWS (and Kubernetes), or a
saved inventory, and the auditor's own least-privilege policy."""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import json
import logging
import re
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from cniguard.cli.common import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    ConfigOpt,
    DbOpt,
    FailIncompleteOpt,
    FailOnOpt,
    Fmt,
    FormatOpt,
    OutputOpt,
    aws_failure,
    emit,
    fail,
    load_config_opt,
)
from cniguard.cli.securityhub import SecurityHubOpt, YesOpt, export_securityhub
from cniguard.collect.options import LiveOptions  # light: dataclasses only
from cniguard.model.finding import Report
from cniguard.model.inventory import Inventory

InventoryOpt = Annotated[
    Path | None,
    typer.Option("--inventory", "-i", help="Evaluate a saved inventory (from `collect`) offline."),
]
ProfileOpt = Annotated[str | None, typer.Option("--profile", help="AWS profile (default chain).")]
RegionsOpt = Annotated[
    str, typer.Option("--regions", help="'all' (every enabled region) or r1,r2,...")
]
OrgOpt = Annotated[
    bool, typer.Option("--org", help="Every account of the AWS Organization (via --org-role).")
]
OrgRoleOpt = Annotated[str, typer.Option("--org-role", help="Role assumed in member accounts.")]
AccountsOpt = Annotated[
    str | None, typer.Option("--accounts", help="Only these account ids (comma-separated).")
]
ClustersOpt = Annotated[
    str | None,
    typer.Option("--clusters", help="Only these cluster names or ARNs (comma-separated)."),
]
KubeExportOpt = Annotated[
    list[str] | None,
    typer.Option("--kube-export", help="CLUSTER=PATH: `kubectl get -o json` file or folder."),
]
KubeContextOpt = Annotated[
    list[str] | None,
    typer.Option("--kube-context", help="CLUSTER=CONTEXT: read the cluster through kubeconfig."),
]
KubeLiveOpt = Annotated[
    bool, typer.Option("--kube", help="Read every cluster's API with an EKS token.")
]
CloudTrailOpt = Annotated[
    bool, typer.Option("--cloudtrail/--no-cloudtrail", help="Read CloudTrail change events.")
]
DaysOpt = Annotated[int, typer.Option("--cloudtrail-days", min=1, max=90, help="Days of events.")]
ConcurrencyOpt = Annotated[
    int,
    typer.Option(
        "--concurrency",
        min=1,
        max=64,
        help="Parallel AWS reads per account and region (IAM: per account); at most 8x this "
        "in total.",
    ),
]
ShardOpt = Annotated[
    str | None, typer.Option("--shard", help="i/N: only accounts at sorted position i mod N.")
]
RunIdOpt = Annotated[
    str | None,
    typer.Option(
        "--run-id",
        help="Store this scan as shard --shard (default 0/1) of run RUN_ID: the shards of one "
        "run are one scan, incomplete until all are stored.",
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or coverage output.")]
DeadlineOpt = Annotated[
    str,
    typer.Option(
        "--deadline",
        help="Stop reading after this long (90s, 15m, 1h) and report what was read; what was "
        "not read is listed as gaps.",
    ),
]
CallTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--call-timeout",
        min=0.1,
        max=600,
        help="Seconds to wait for one AWS response; an endpoint that times out 3 times is not "
        "called again.",
    ),
]
PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smh]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}


class Only(StrEnum):
    iam = "iam"
    k8s = "k8s"


def register(app: typer.Typer) -> None:
    app.command("scan")(scan)
    app.command("collect")(collect)
    app.command("permissions")(permissions)


def _pairs(values: list[str] | None, flag: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values or []:
        cluster, sep, target = value.partition("=")
        if not sep or not cluster or not target:
            raise fail(f"{flag} expects CLUSTER=VALUE, got {value!r}")
        pairs.append((cluster, target))
    return tuple(pairs)


def _csv(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _shard(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    index, sep, count = value.partition("/")
    if not (sep and index.isdigit() and count.isdigit()) or not 0 <= int(index) < int(count):
        raise fail(f"--shard expects i/N with 0 <= i < N, got {value!r}")
    return int(index), int(count)


def _in_scope(cluster: str, scoped: tuple[str, ...]) -> bool:
    """A cluster name or ARN among ``--clusters`` (names or ARNs)."""
    name = cluster.rsplit("/", 1)[-1]
    return any(c in (cluster, name) or c.rsplit("/", 1)[-1] == cluster for c in scoped)


def _duration(value: str, flag: str) -> float:
    match = _DURATION.fullmatch(value.strip().lower())
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else 0.0
    if seconds <= 0:
        raise fail(f"{flag} expects a duration such as 90s, 15m or 1h, got {value!r}")
    return seconds


# The live-collection options, declared once for `scan`, `collect` and `watch`.
_LIVE: tuple[tuple[str, object, object], ...] = (
    ("profile", ProfileOpt, None),
    ("regions", RegionsOpt, "all"),
    ("org", OrgOpt, False),
    ("org_role", OrgRoleOpt, "OrganizationAccountAccessRole"),
    ("accounts", AccountsOpt, None),
    ("clusters", ClustersOpt, None),
    ("kube_export", KubeExportOpt, None),
    ("kube_context", KubeContextOpt, None),
    ("kube", KubeLiveOpt, False),
    ("cloudtrail", CloudTrailOpt, True),
    ("cloudtrail_days", DaysOpt, 90),
    ("concurrency", ConcurrencyOpt, 8),
    ("shard", ShardOpt, None),
    ("quiet", QuietOpt, False),
    ("deadline", DeadlineOpt, "15m"),
    ("call_timeout", CallTimeoutOpt, 30.0),
)


def with_live_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a Typer command the live-collection options; it receives them as ``live``, one
    :class:`LiveOptions`, so the flags are declared (and validated) in one place."""
    signature = inspect.signature(command)
    hints = typing.get_type_hints(command, include_extras=True)
    kept = [
        p.replace(annotation=hints[p.name])
        for p in signature.parameters.values()
        if p.name != "live"
    ]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hint)
        for name, hint, default in _LIVE
    ]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        flags = {name: kwargs.pop(name) for name, _, _ in _LIVE}
        command(live=_live_options(**flags), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=[*kept, *added])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {
        **{k: v for k, v in hints.items() if k != "live"},
        **{name: hint for name, hint, _ in _LIVE},
    }
    return wrapper


def _live_options(
    *,
    profile: str | None,
    regions: str,
    org: bool,
    org_role: str,
    accounts: str | None,
    clusters: str | None,
    kube_export: list[str] | None,
    kube_context: list[str] | None,
    kube: bool,
    cloudtrail: bool,
    cloudtrail_days: int,
    concurrency: int,
    shard: str | None,
    quiet: bool,
    deadline: str,
    call_timeout: float,
) -> LiveOptions:
    exports = _pairs(kube_export, "--kube-export")
    contexts = _pairs(kube_context, "--kube-context")
    scoped = _csv(clusters)
    outside = [c for c, _ in (*exports, *contexts) if scoped and not _in_scope(c, scoped)]
    if outside:
        raise fail(
            f"--kube-export/--kube-context name clusters not in --clusters: {', '.join(outside)}"
        )
    return LiveOptions(
        profile=profile,
        regions=None if regions.strip().lower() == "all" else _csv(regions),
        org=org,
        org_role=org_role,
        accounts=_csv(accounts),
        clusters=scoped,
        kube_exports=exports,
        kube_contexts=contexts,
        kube_live=kube,
        cloudtrail=cloudtrail,
        cloudtrail_days=cloudtrail_days,
        concurrency=concurrency,
        shard=_shard(shard),
        quiet=quiet,
        deadline=_duration(deadline, "--deadline"),
        call_timeout=call_timeout,
    )


def run_collection(options: LiveOptions) -> Inventory:
    """Collect live with a progress bar, then print the coverage table (both on stderr)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from cniguard.cli.live_output import coverage_table, progress_bar
    from cniguard.collect.live import KubeTargetError, collect_live

    # A failed credential renewal makes botocore log a traceback; the reads it breaks become gaps
    # in the coverage table, so the traceback would only scramble the progress bar.
    logging.getLogger("botocore.credentials").setLevel(logging.ERROR)
    show = not options.quiet and sys.stderr.isatty()
    try:
        with progress_bar(enabled=show) as progress:
            inventory = collect_live(options, progress)
    except (BotoCoreError, ClientError) as exc:
        raise aws_failure(exc) from None
    except KubeTargetError as exc:
        raise fail(str(exc)) from None
    if not options.quiet:
        coverage_table(inventory)
    return inventory


@with_live_options
def scan(
    *,
    live: LiveOptions,
    inventory: InventoryOpt = None,
    fmt: FormatOpt = Fmt.table,
    output: OutputOpt = None,
    fail_on: FailOnOpt = None,
    fail_on_incomplete: FailIncompleteOpt = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
    securityhub: SecurityHubOpt = False,
    yes: YesOpt = False,
    run_id: RunIdOpt = None,
) -> None:
    """Audit clusters: live AWS (default) or a saved inventory (--inventory)."""
    from cniguard.engine import evaluate
    from cniguard.store.scope import RunError, check_run_id, tag_run

    if run_id is not None:
        if inventory is not None:
            raise fail("--run-id names a live scan's shard; it does not apply to --inventory")
        try:
            check_run_id(run_id)
        except RunError as exc:
            raise fail(str(exc)) from None
    cfg = load_config_opt(config)
    inv = load_inventory_opt(inventory) if inventory is not None else run_collection(live)
    saved = saved_marks(inv) if inventory is not None else None
    if cfg.cost.live_prices:  # FinOps: opt-in Price List API read (docs/finops.md)
        from cniguard.collect.aws.pricing import live_prices

        inv = live_prices(inv, live.profile)
    report = evaluate(inv, cfg, generated_at=saved.generated_at if saved else None)
    if saved is not None:
        report = saved.mark(report)
    if run_id is not None:
        report = tag_run(report, run_id, live.shard)
    if securityhub:
        export_securityhub(report, profile=live.profile, send=yes)
    emit(
        report,
        fmt=fmt,
        output=output,
        fail_on=fail_on,
        fail_on_incomplete=fail_on_incomplete,
        db=db,
    )


@dataclass(frozen=True)
class SavedMarks:
    """What a report of a saved inventory keeps from it: when it was collected (the report is
    dated then, so a late `scan --inventory` is stored at its true time) and its fingerprint (so
    storing the same inventory twice adds no second scan)."""

    generated_at: str | None
    fingerprint: str

    def mark(self, report: Report) -> Report:
        coverage = {**report.coverage, "inventory_fingerprint": self.fingerprint}
        return replace(report, coverage=coverage)


def saved_marks(inv: Inventory) -> SavedMarks:
    from cniguard.model.codec import inventory_fingerprint

    try:
        dt.datetime.fromisoformat(inv.generated_at)
        collected: str | None = inv.generated_at
    except ValueError:
        collected = None  # not a timestamp: the report is dated now, as before
    return SavedMarks(collected, inventory_fingerprint(inv))


def load_inventory_opt(path: Path) -> Inventory:
    """A saved inventory, or one clear error line (exit 2)."""
    from cniguard.model.codec import InputError, load_inventory

    try:
        return load_inventory(path)
    except InputError as exc:
        raise fail(str(exc)) from None


@with_live_options
def collect(
    *,
    live: LiveOptions,
    output: Annotated[Path, typer.Option("--output", "-o", help="Inventory JSON to write.")],
    fail_on_incomplete: FailIncompleteOpt = False,
) -> None:
    """Read live AWS (and Kubernetes) read-only into an inventory file, without evaluating."""
    from cniguard.model.codec import save_inventory

    inv = run_collection(live)
    try:
        save_inventory(inv, output)
    except OSError as exc:
        raise fail(f"{output}: cannot write: {exc.strerror or exc}") from None
    if not live.quiet:
        typer.echo(
            f"cniguard: wrote inventory of {len(inv.clusters)} cluster(s) to {output}", err=True
        )
    raise typer.Exit(EXIT_INCOMPLETE if fail_on_incomplete and inv.gaps else EXIT_OK)


def permissions(
    org_role: Annotated[
        str | None, typer.Option("--org-role", help="Also allow entering member accounts.")
    ] = None,
    partition: Annotated[
        str, typer.Option("--partition", help="aws, aws-cn or aws-us-gov.")
    ] = "aws",
    only: Annotated[
        Only | None, typer.Option("--only", help="Print only the IAM policy or the ClusterRole.")
    ] = None,
    write: Annotated[
        bool,
        typer.Option("--write", help="The extra permissions of `apply` and `verify` instead."),
    ] = False,
    role_prefix: Annotated[
        str,
        typer.Option("--role-prefix", help="With --write: names of the CNI roles apply creates."),
    ] = "AmazonEKSVPCCNIRole-",
) -> None:
    """Print the auditor's least-privilege IAM policy and Kubernetes ClusterRole (JSON)."""
    from cniguard.collect.permissions import auditor_policy, cluster_role

    if partition not in PARTITIONS:
        raise fail(f"--partition expects one of {', '.join(PARTITIONS)}, got {partition!r}")
    if write:
        from cniguard.collect.permissions import write_policy, write_rbac

        policy = write_policy(role_prefix, partition)
        rbac = write_rbac()
        written = policy if only is Only.iam else rbac if only is Only.k8s else None
        document = written or {"iam_policy": policy, "kubernetes_rbac": rbac}
        typer.echo(json.dumps(document, indent=2))
        return
    if only is Only.iam:
        document = auditor_policy(org_role, partition)
    elif only is Only.k8s:
        document = cluster_role()
    else:
        document = {
            "iam_policy": auditor_policy(org_role, partition),
            "kubernetes_cluster_role": cluster_role(),
        }
    typer.echo(json.dumps(document, indent=2))
