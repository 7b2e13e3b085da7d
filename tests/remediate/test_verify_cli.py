"""`cniguard verify` refuses bad input with one line and exit 2, before touching any cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cniguard.cli.main import app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--cluster", "prod"],
            "cniguard: error: give exactly one of --kube-context CLUSTER=CONTEXT and --kube\n",
        ),
        (
            ["--cluster", "prod", "--kube", "--kube-context", "prod=ctx"],
            "cniguard: error: give exactly one of --kube-context CLUSTER=CONTEXT and --kube\n",
        ),
        (
            ["--cluster", "prod", "--kube-context", "other=ctx"],
            "cniguard: error: --kube-context expects prod=CONTEXT, got 'other=ctx'\n",
        ),
        (
            ["--cluster", "prod", "--kube-context", "ctx"],
            "cniguard: error: --kube-context expects prod=CONTEXT, got 'ctx'\n",
        ),
    ],
)
def test_usage_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["verify", *args])
    assert (result.exit_code, result.output) == (2, message)


def test_an_unknown_context_is_one_line(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n", encoding="utf-8"
    )
    args = ["--cluster", "prod", "--kube-context", "prod=gone", "--kubeconfig", str(kubeconfig)]
    result = CliRunner().invoke(app, ["verify", *args])
    assert result.exit_code == 2
    assert result.output.startswith("cniguard: error: cannot reach cluster prod: ")
    assert result.output.count("\n") == 1


def test_kube_without_a_region_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    result = CliRunner().invoke(app, ["verify", "--cluster", "prod", "--kube"])
    assert (result.exit_code, result.output) == (
        2,
        "cniguard: error: --region is needed for --kube and --scale-node-group\n",
    )
