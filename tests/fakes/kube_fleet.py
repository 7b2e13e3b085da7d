"""Kubernetes API servers of fleet clusters (fakes.kube_api), and the documented kubectl export
recipe run verbatim against them with the real kubectl."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from fakes.kube_api import Hooks, KubeApi, Store

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "kube" / "healthy-irsa"
FIXTURE_ROLE = "arn:aws:iam::111122223333:role/AmazonEKSVPCCNIRole"
KUBECTL = shutil.which("kubectl")
Compute = Literal["ec2", "fargate", "auto"]
# The recipe as docs/kubernetes.md gave it before issue 11: a named GET of aws-node
OLD_RECIPE = """\
mkdir export
kubectl get daemonset aws-node -n kube-system -o json        > export/daemonset.json
kubectl get serviceaccounts -n kube-system -o json           > export/serviceaccounts.json
kubectl get configmaps -n kube-system -o json                > export/kube-system-configmaps.json
kubectl get pods -n kube-system -l k8s-app=aws-node -o json  > export/aws-node-pods.json
kubectl get pods -A --field-selector=status.phase=Pending -o json > export/pending-pods.json
kubectl get events -A -o json                                > export/events.json
kubectl get nodes -o json                                    > export/nodes.json
"""


def _fixture(name: str) -> Any:
    return json.loads((FIXTURE / name).read_text(encoding="utf-8"))


def _without_irsa(obj: dict[str, Any]) -> dict[str, Any]:
    for container in obj["spec"].get("containers", []):
        container["env"] = [
            e
            for e in container.get("env", [])
            if e["name"] not in ("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")
        ]
    return obj


def cluster_store(compute: Compute, cni_role: str | None = None) -> Store:
    """kube-system of one cluster: aws-node on EC2 nodes (bound to ``cni_role`` through IRSA, or
    to nothing), or no aws-node at all on Fargate / Auto Mode nodes."""
    store = Store()
    store.put("namespaces", {"metadata": {"name": "kube-system"}})
    accounts = _fixture("serviceaccounts.json")["items"]
    nodes = _fixture("nodes.json")["items"]
    if compute == "ec2":
        text = json.dumps(_fixture("daemonset.json"))
        store.put("apps/daemonsets", json.loads(text))
        for raw in _fixture("pods.json")["items"]:
            pod = json.loads(json.dumps(raw).replace(FIXTURE_ROLE, cni_role or FIXTURE_ROLE))
            store.put("pods", pod if cni_role else _without_irsa(pod))
    else:
        accounts = [a for a in accounts if a["metadata"]["name"] != "aws-node"]
        for node in nodes:
            node["metadata"]["labels"]["eks.amazonaws.com/compute-type"] = compute
            node["metadata"]["labels"].pop("eks.amazonaws.com/nodegroup", None)
    for original in accounts:
        account = copy.deepcopy(original)
        annotations = account["metadata"].get("annotations") or {}
        if account["metadata"]["name"] == "aws-node":
            annotations.pop("eks.amazonaws.com/role-arn", None)
            if cni_role:
                annotations["eks.amazonaws.com/role-arn"] = cni_role
        account["metadata"]["annotations"] = annotations
        store.put("serviceaccounts", account)
    for node in nodes:
        store.put("nodes", node)
    return store


@contextmanager
def serve(store: Store) -> Iterator[KubeApi]:
    api = KubeApi(store, Hooks(), lambda resource, obj: obj)
    api.start()
    try:
        yield api
    finally:
        api.stop()


def write_kubeconfig(path: Path, contexts: dict[str, str]) -> Path:
    """A kubeconfig with one context (and cluster) per ``name -> server URL``."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": n, "cluster": {"server": url}} for n, url in contexts.items()],
        "users": [{"name": "auditor", "user": {"token": "audit-token-not-a-secret"}}],
        "contexts": [{"name": n, "context": {"cluster": n, "user": "auditor"}} for n in contexts],
        "current-context": next(iter(contexts)),
    }
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def documented_recipe() -> str:
    """The export recipe of docs/kubernetes.md, exactly as a user would copy it."""
    text = (ROOT / "docs" / "kubernetes.md").read_text(encoding="utf-8")
    section = text.split("## Making an export", 1)[1]
    block = next(b for b in re.findall(r"```sh\n(.*?)```", section, re.S) if "kubectl" in b)
    return "\n".join(line for line in block.splitlines() if not line.startswith("cniguard "))


def run_recipe(recipe: str, workdir: Path, kubeconfig: Path) -> subprocess.CompletedProcess[str]:
    """The recipe's lines in sh, one after another (as pasted: a failing line does not stop)."""
    assert KUBECTL is not None, "kubectl is needed to run the documented recipe"
    return subprocess.run(
        ["sh", "-c", recipe],
        cwd=workdir,
        env={
            "KUBECONFIG": str(kubeconfig),
            "PATH": str(Path(KUBECTL).parent),
            "HOME": str(workdir),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
