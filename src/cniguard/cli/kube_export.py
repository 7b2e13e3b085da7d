"""`cniguard kube-export --context CTX DIR`: a cluster's Kubernetes state, written for hand-off."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cniguard.cli.common import EXIT_INCOMPLETE, EXIT_OK, fail

ContextOpt = Annotated[
    str, typer.Option("--context", help="kubeconfig context of the cluster.", show_default=False)
]
KubeconfigOpt = Annotated[
    Path | None,
    typer.Option("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)."),
]
DirArg = Annotated[Path, typer.Argument(help="Folder to write the export into.")]


def register(app: typer.Typer) -> None:
    app.command("kube-export")(kube_export)


def kube_export(
    directory: DirArg, *, context: ContextOpt, kubeconfig: KubeconfigOpt = None
) -> None:
    """Read aws-node's state with the scan's own read-only requests and write it to DIR, with a
    manifest of what was read; then `cniguard scan --kube-export CLUSTER=DIR`. Exit 3 when a
    part could not be read (the manifest says why)."""
    from kubernetes.config.config_exception import ConfigException

    from cniguard.collect.kube_handoff import write_handoff
    from cniguard.collect.kube_live import api_client_for_context, read_live_raw

    if directory.exists() and not directory.is_dir():
        raise fail(f"{directory}: not a folder")
    try:
        api = api_client_for_context(context, str(kubeconfig) if kubeconfig else None)
    except (ConfigException, OSError, ValueError) as exc:
        raise fail(f"kubeconfig context {context!r}: {exc}") from None
    raw = read_live_raw(api, cluster=context, context=context)
    try:
        manifest = write_handoff(raw, directory, context=context)
    except OSError as exc:
        raise fail(f"{directory}: cannot write: {exc.strerror or exc}") from None
    unread = 0
    for name, entry in manifest["resources"].items():
        if entry["read"]:
            typer.echo(f"{name}: {entry['objects']} object(s) -> {directory / entry['file']}")
        else:
            unread += 1
            typer.echo(f"cniguard: {name} not read: {entry['reason']}", err=True)
    raise typer.Exit(EXIT_INCOMPLETE if unread else EXIT_OK)
