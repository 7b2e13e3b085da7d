"""The steps the apply tests on the simulated cluster share: plan from a live collection of the
fakes, apply through the CLI, and read the end state back from moto, the fake EKS state and the
simulated cluster (never from cniguard's own view of it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import yaml
from typer.testing import CliRunner, Result

from cniguard.cli.main import app
from cniguard.collect.kube_live import api_client_for_context
from cniguard.collect.live import collect_live
from cniguard.collect.options import LiveOptions
from cniguard.config import Config
from cniguard.engine import evaluate
from cniguard.model.inventory import Inventory
from cniguard.remediate.kube_ops import KubeOps
from cniguard.remediate.planner import PlanOptions, build_plan
from cniguard.remediate.verify import VerifyOptions, verify
from fakes.sim_fixtures import SimEnv

LOCK_TAG = "cniguard.io/apply-lock"
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


def ready(env: SimEnv) -> SimEnv:
    """Wait until every node is Ready and aws-node is rolled out with every pod Ready."""

    def settled() -> bool:
        ds = env.sim.store.get("apps/daemonsets", "kube-system", "aws-node") or {}
        status = ds.get("status", {})
        desired = status.get("desiredNumberScheduled", -1)
        return (
            all(_condition(n, "Ready") for n in env.nodes())
            and status.get("observedGeneration") == ds.get("metadata", {}).get("generation")
            and status.get("updatedNumberScheduled") == desired
            and status.get("numberReady") == desired
        )

    env.wait_for(settled, timeout=30)
    return env


def _condition(obj: dict[str, Any], kind: str) -> bool:
    return any(
        c["type"] == kind and c["status"] == "True" for c in obj["status"].get("conditions", [])
    )


def live(*envs: SimEnv) -> LiveOptions:
    return LiveOptions(  # every region: a node role is global, clusters elsewhere may share it
        kube_contexts=tuple((e.cluster_name, e.context) for e in envs),
        cloudtrail=False,
        quiet=True,
    )


def collect(*envs: SimEnv) -> Inventory:
    return collect_live(live(*envs))


def make_plan(
    tmp_path: Path,
    env: SimEnv,
    target: str,
    *others: SimEnv,
    status: str = "ready",
    verify_timeout: int = 120,
) -> Path:
    """A plan for ``env`` from a live collection of ``env`` and ``others``, as a file."""
    inventory = collect(env, *others)
    plan = build_plan(
        inventory,
        [env.cluster_name],
        PlanOptions(
            target=target,  # type: ignore[arg-type]
            contexts={env.cluster_name: env.context},
            verify_timeout=verify_timeout,
        ),
    )
    (cluster,) = plan.clusters
    assert cluster.status == status, (cluster.blocked_by, cluster.warnings)
    path = tmp_path / f"plan-{env.cluster_name}.json"
    path.write_text(json.dumps(plan.to_json()), encoding="utf-8")
    return path


def apply_args(tmp_path: Path, plan: Path, *envs: SimEnv, extra: tuple[str, ...] = ()) -> list[str]:
    args = ["apply", str(plan), "--journal-dir", str(tmp_path / "journal")]
    args += ["--no-cloudtrail", "--quiet", *extra]
    for env in envs:
        args += ["--kube-context", f"{env.cluster_name}={env.context}"]
    return args


def run_apply(tmp_path: Path, plan: Path, *envs: SimEnv, extra: tuple[str, ...] = ()) -> Result:
    return CliRunner().invoke(app, apply_args(tmp_path, plan, *envs, extra=extra))


def mode(env: SimEnv, *others: SimEnv) -> tuple[str, bool | None]:
    report = evaluate(collect(env, *others), Config())
    (result,) = [c for c in report.clusters if c.arn == env.cluster_arn]
    return result.cni_identity, result.compliant


def pods_get_ips(env: SimEnv, timeout: float = 20) -> bool:
    """A test pod on every node group gets an IP (cniguard verify's own test)."""
    ops = KubeOps(api_client_for_context(env.context, str(env.kubeconfig_path)))
    options = VerifyOptions(cluster=env.cluster_name, region=env.region, timeout=timeout)
    return verify(ops, options).ok


def write_kubeconfig(path: Path, *envs: SimEnv) -> Path:
    """One kubeconfig with the contexts of several simulated clusters."""
    merged: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "current-context": ""}
    for env in envs:
        one = yaml.safe_load(env.kubeconfig_path.read_text())
        for key in ("clusters", "users", "contexts"):
            merged.setdefault(key, []).extend(one[key])
        merged["current-context"] = merged["current-context"] or one["current-context"]
    path.write_text(yaml.safe_dump(merged))
    return path


def iam_state(env: SimEnv) -> dict[str, Any]:
    """The AWS side as moto and the fake EKS hold it."""
    iam = boto3.client("iam", region_name=env.region)
    eks = boto3.client("eks", region_name=env.region)
    roles = sorted(r["RoleName"] for r in iam.list_roles()["Roles"])
    attached = {
        name: sorted(
            a["PolicyArn"]
            for a in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        )
        for name in roles
    }
    addon = eks.describe_addon(clusterName=env.cluster_name, addonName="vpc-cni")["addon"]
    tags = eks.describe_cluster(name=env.cluster_name)["cluster"].get("tags", {})
    return {
        "roles": roles,
        "attached": attached,
        "providers": sorted(
            p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
        ),
        "addon_role": addon.get("serviceAccountRoleArn"),
        "associations": addon.get("podIdentityAssociations", []),
        "addons": sorted(eks.list_addons(clusterName=env.cluster_name)["addons"]),
        "lock": tags.get(LOCK_TAG),
    }


def cluster_state(env: SimEnv) -> dict[str, Any]:
    """AWS and Kubernetes facts a migration changes, once aws-node has rolled out: the IAM/EKS
    state, the ServiceAccount's annotation, and each node's aws-node pod (Ready, identity)."""
    ready(env)
    account = env.sim.store.get("serviceaccounts", "kube-system", "aws-node")
    assert account is not None
    pods = []
    for pod in env.aws_node_pods():
        container = next(c for c in pod["spec"]["containers"] if c["name"] == "aws-node")
        variables = {e["name"]: e.get("value") for e in container.get("env", [])}
        identity = (
            f"irsa:{variables['AWS_ROLE_ARN']}"
            if variables.get("AWS_ROLE_ARN")
            else "pod_identity"
            if variables.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            else "node"
        )
        pods.append((pod["spec"]["nodeName"], _condition(pod, "Ready"), identity))
    return {
        **iam_state(env),
        "annotation": account["metadata"].get("annotations", {}).get(ROLE_ANNOTATION),
        "aws_node": sorted(pods),
    }


def journals(tmp_path: Path) -> list[dict[str, Any]]:
    """Every journal the runs wrote, the last written last."""
    folder = tmp_path / "journal"
    paths = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    return [json.loads(p.read_text()) for p in paths]


def step_statuses(journal: dict[str, Any]) -> dict[str, str]:
    return {s["id"]: s["status"] for s in journal["steps"]}
