"""Exports of clusters without aws-node (Fargate-only, Auto Mode): the old kubectl recipe breaks,
the documented one and `cniguard kube-export` read as "no aws-node", never as "unknown"."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cniguard.cli.main import app
from cniguard.collect.kube_export import MANIFEST, read_export
from cniguard.collect.kube_live import api_client_for_context, read_live
from cniguard.model.codec import dump_python
from cniguard.model.kube import KubeState
from fakes.kube_fleet import (
    KUBECTL,
    OLD_RECIPE,
    cluster_store,
    documented_recipe,
    run_recipe,
    serve,
    write_kubeconfig,
)

CLUSTER = "arn:aws:eks:eu-west-1:123456789012:cluster/serverless"
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")


@needs_kubectl
@pytest.mark.parametrize("compute", ["fargate", "auto"])
def test_old_recipe_leaves_an_empty_daemonset_file(tmp_path: Path, compute: str) -> None:
    with serve(cluster_store(compute)) as api:  # type: ignore[arg-type]
        config = write_kubeconfig(tmp_path / "kubeconfig", {"c": api.url})
        done = run_recipe(OLD_RECIPE, tmp_path, config)
    assert 'daemonsets.apps "aws-node" not found' in done.stderr
    assert (tmp_path / "export" / "daemonset.json").read_bytes() == b""
    state, gaps = read_export(tmp_path / "export", cluster=CLUSTER)
    assert state.daemonsets is None
    assert [(g.what, g.reason) for g in gaps] == [
        ("k8s:export", "the file is empty"),
        ("k8s:daemonsets", f"not in the export {tmp_path / 'export'}"),
    ]


@needs_kubectl
@pytest.mark.parametrize("compute", ["fargate", "auto"])
def test_documented_recipe_reads_no_aws_node(tmp_path: Path, compute: str) -> None:
    with serve(cluster_store(compute)) as api:  # type: ignore[arg-type]
        config = write_kubeconfig(tmp_path / "kubeconfig", {"c": api.url})
        done = run_recipe(documented_recipe(), tmp_path, config)
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads((tmp_path / "export" / "daemonset.json").read_text())["items"] == []
    state, gaps = read_export(tmp_path / "export", cluster=CLUSTER)
    assert gaps == []
    assert (state.daemonsets, state.pods, state.aws_auth, state.events) == ((), (), (), ())
    assert [a.name for a in state.service_accounts or ()] == ["coredns", "kube-proxy"]
    assert {n.labels["eks.amazonaws.com/compute-type"] for n in state.nodes or ()} == {compute}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("daemonset.json", "daemonsets"),
        ("aws-node-daemonset.json", "daemonsets"),
        ("aws-node-pods.json", "pods"),
        ("kube-system-sa.json", "service_accounts"),
        ("01_node.json", "nodes"),
        ("aws-auth-configmap.json", "aws_auth"),
    ],
)
def test_empty_list_files_map_to_the_resource_their_name_gives(
    tmp_path: Path, name: str, kind: str
) -> None:
    (tmp_path / name).write_text('{"apiVersion": "v1", "kind": "List", "items": []}')
    state, _ = read_export(tmp_path, cluster=CLUSTER)
    read = {
        f: getattr(state, f)
        for f in ("daemonsets", "service_accounts", "pods", "events", "nodes", "aws_auth")
    }
    assert {f for f, v in read.items() if v is not None} == {kind}


@pytest.mark.parametrize("compute", ["fargate", "auto", "ec2"])
def test_kube_export_command_writes_what_the_live_read_sees(tmp_path: Path, compute: str) -> None:
    role = "arn:aws:iam::123456789012:role/prod-cni"
    store = cluster_store(compute, role)  # type: ignore[arg-type]
    for name, host_network in (("web-1", False), ("kube-proxy-1", True)):
        spec = {"nodeName": "ip-10-0-1-23.ec2.internal", "hostNetwork": host_network}
        running = {"metadata": {"namespace": "shop", "name": name}, "spec": spec}
        store.put("pods", {**running, "status": {"phase": "Running"}})
    with serve(store) as api:
        config = write_kubeconfig(tmp_path / "kubeconfig", {"c": api.url})
        result = _invoke(config, tmp_path / "out")
        live, live_gaps = read_live(
            api_client_for_context("c", str(config)), cluster=CLUSTER, context="c"
        )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    objects = {"fargate": 0, "auto": 0, "ec2": 1}[compute]
    pods = {"fargate": 0, "auto": 0, "ec2": 2}[compute] + 1  # web-1, kept slim
    assert manifest["resources"] == {
        "daemonsets": {"read": True, "file": "daemonsets.json", "objects": objects},
        "service_accounts": {"read": True, "file": "serviceaccounts.json", "objects": 2 + objects},
        "aws_auth": {"read": True, "file": "aws-auth-configmaps.json", "objects": 0},
        "pods": {"read": True, "file": "pods.json", "objects": pods, "running_pods": True},
        "events": {"read": True, "file": "events.json", "objects": 0},
        "nodes": {"read": True, "file": "nodes.json", "objects": 2},
    }
    state, gaps = read_export(tmp_path / "out", cluster=CLUSTER)
    assert (gaps, live_gaps) == ([], [])
    assert state.collected_at == manifest["collected_at"]
    assert _content(state) == _content(live)
    # kube-proxy-1 is on the host network: the API does not list it
    assert state.running_pods_by_node == {"ip-10-0-1-23.ec2.internal": 1}
    items = json.loads((tmp_path / "out" / "pods.json").read_text())["items"]
    web = next(p for p in items if p["metadata"]["name"] == "web-1")
    assert web == {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"namespace": "shop", "name": "web-1"},
        "spec": {"nodeName": "ip-10-0-1-23.ec2.internal", "hostNetwork": False},
        "status": {"phase": "Running"},
    }


def _content(state: KubeState) -> object:
    """The state without where and when it was read (file vs API, time of the read)."""

    def strip(value: object) -> object:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "origin"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(dump_python(replace(state, collected_at=None, context=None)))


def _invoke(config: Path, out: Path) -> Result:
    return CliRunner().invoke(
        app, ["kube-export", "--context", "c", "--kubeconfig", str(config), str(out)]
    )


def test_manifest_part_not_read_or_file_missing_is_a_gap(tmp_path: Path) -> None:
    with serve(cluster_store("fargate")) as api:
        config = write_kubeconfig(tmp_path / "kubeconfig", {"c": api.url})
        assert _invoke(config, tmp_path / "out").exit_code == 0
    manifest_path = tmp_path / "out" / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["resources"]["nodes"] = {
        "read": False,
        "reason": "HTTP 403 Forbidden: nodes is forbidden",
        "operations": ["GET /api/v1/nodes"],
    }
    manifest_path.write_text(json.dumps(manifest))
    (tmp_path / "out" / "nodes.json").unlink()
    (tmp_path / "out" / "daemonsets.json").unlink()  # said read, but gone: not read
    state, gaps = read_export(tmp_path / "out", cluster=CLUSTER)
    assert (state.daemonsets, state.nodes) == (None, None)
    assert sorted((g.what, g.reason, g.operation) for g in gaps) == [
        ("k8s:daemonsets", f"not in the export {tmp_path / 'out'}", None),
        (
            "k8s:nodes",
            "not read by cniguard kube-export: HTTP 403 Forbidden: nodes is forbidden",
            "GET /api/v1/nodes",
        ),
    ]
