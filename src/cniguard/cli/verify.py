"""`cniguard verify`: an active check that a new pod gets an IP on every node group."""

from __future__ import annotations

import signal
import sys
import time
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cniguard.cli.common import EXIT_INCOMPLETE, OutputOpt, fail

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from cniguard.remediate.node_scaling import NodeGroups

TOKEN_LIFETIME = 600  # seconds before an EKS token is re-made (EKS accepts one for 15 minutes)


class VerifyFmt(StrEnum):
    table = "table"
    json = "json"


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)


def verify(
    cluster: Annotated[str, typer.Option("--cluster", help="The EKS cluster's name.")],
    kube_context: Annotated[
        str | None,
        typer.Option("--kube-context", help="CLUSTER=CONTEXT: reach the cluster via kubeconfig."),
    ] = None,
    kube: Annotated[
        bool, typer.Option("--kube", help="Reach the cluster with an EKS token (AWS credentials).")
    ] = False,
    kubeconfig: Annotated[
        Path | None,
        typer.Option(
            "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)."
        ),
    ] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile.")] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="The cluster's region (default: the nodes').")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds each test pod may take to get an IP.")
    ] = 120,
    scale_node_group: Annotated[
        str | None,
        typer.Option(
            "--scale-node-group",
            help="Also raise this managed node group's desired size by one, test the new node, "
            "then restore the size.",
        ),
    ] = None,
    scale_timeout: Annotated[
        float, typer.Option("--scale-timeout", min=1, help="Seconds for the new node to be Ready.")
    ] = 600,
    image: Annotated[
        str | None,
        typer.Option("--image", help="Test pod image (default: the region's EKS pause image)."),
    ] = None,
    fmt: Annotated[VerifyFmt, typer.Option("--format", "-f", help="Output format.")] = (
        VerifyFmt.table
    ),
    output: OutputOpt = None,
) -> None:
    """Create one test pod per node group in a scratch namespace and report its time-to-IP.

    Exit 0: every group got an IP; 1: a group (or the scaling test) failed; 3: a group could not
    be tested. The scratch namespace is always deleted.
    """
    from cniguard.remediate.kube_ops import KubeOps, KubeOpsError
    from cniguard.remediate.verify import Interrupted, VerifyOptions
    from cniguard.remediate.verify import verify as run_verify
    from cniguard.remediate.verify_report import exit_code, render_table, to_json

    if (kube_context is None) == (not kube):
        raise fail("give exactly one of --kube-context CLUSTER=CONTEXT and --kube")
    api, nodegroups = _connect(cluster, kube_context, kubeconfig, profile, region, scale_node_group)
    options = VerifyOptions(
        cluster=cluster,
        image=image,
        region=region,
        timeout=timeout,
        scale_node_group=scale_node_group,
        scale_timeout=scale_timeout,
    )
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        result = run_verify(KubeOps(api), options, nodegroups=nodegroups)
    except Interrupted as exc:
        typer.echo(f"cniguard: interrupted; scratch namespace: {exc.cleanup}", err=True)
        raise typer.Exit(EXIT_INCOMPLETE) from None
    except KubeOpsError as exc:
        typer.echo(f"cniguard: error: the test could not run: {exc}", err=True)
        raise typer.Exit(EXIT_INCOMPLETE) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    color = output is None and sys.stdout.isatty()
    text = to_json(result) if fmt is VerifyFmt.json else render_table(result, color=color)
    _write(text, output)
    raise typer.Exit(exit_code(result))


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # clean up as on Ctrl-C


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"{output}: cannot write: {exc.strerror or exc}") from None


def _connect(
    cluster: str,
    kube_context: str | None,
    kubeconfig: Path | None,
    profile: str | None,
    region: str | None,
    scale_node_group: str | None,
) -> tuple[ApiClient, NodeGroups | None]:
    """The Kubernetes client, and EKS node groups when the scaling test is asked for."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from cniguard.collect import kubernetes as kube

    needs_aws = kube_context is None or scale_node_group is not None
    session = boto3.Session(profile_name=profile, region_name=region) if needs_aws else None
    aws_region = region or (session.region_name if session else None)
    if needs_aws and not aws_region:
        raise fail("--region is needed for --kube and --scale-node-group")
    try:
        if kube_context is not None:
            name, sep, context = kube_context.partition("=")
            if not sep or not context or name != cluster:
                raise fail(f"--kube-context expects {cluster}=CONTEXT, got {kube_context!r}")
            api = kube.api_client_for_context(context, str(kubeconfig) if kubeconfig else None)
        else:
            assert session is not None and aws_region is not None
            api = _eks_client(session, cluster, aws_region)
    except (BotoCoreError, ClientError) as exc:
        raise fail(f"cannot reach cluster {cluster}: {exc}") from None
    except typer.Exit:
        raise
    except Exception as exc:  # kubeconfig, TLS and CA errors of the client libraries
        raise fail(f"cannot reach cluster {cluster}: {type(exc).__name__}: {exc}") from None
    if scale_node_group is None:
        return api, None
    from cniguard.remediate.node_scaling import EksNodeGroups

    assert session is not None and aws_region is not None
    return api, EksNodeGroups(session, aws_region, cluster)


def _eks_client(session: Any, cluster: str, region: str) -> ApiClient:
    """A client for the cluster's endpoint whose EKS token is re-made before it expires."""
    from cniguard.collect import kubernetes as kube

    info = session.client("eks", region_name=region).describe_cluster(name=cluster)["cluster"]
    endpoint = info.get("endpoint")
    ca_data = (info.get("certificateAuthority") or {}).get("data")
    if not endpoint or not ca_data:
        raise fail(f"cluster {cluster} has no endpoint or CA in DescribeCluster")
    api = kube.api_client_for_eks(endpoint, ca_data, kube.eks_token(session, cluster, region))
    issued = [time.monotonic()]

    def refresh(configuration: Any) -> None:
        if time.monotonic() - issued[0] >= TOKEN_LIFETIME:
            token = kube.eks_token(session, cluster, region)
            configuration.api_key["BearerToken"] = f"Bearer {token}"
            issued[0] = time.monotonic()

    api.configuration.refresh_api_key_hook = refresh
    return api
