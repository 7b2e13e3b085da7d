"""`cniguard apply` end to end: moto + the EKS fakes + the simulated cluster, whose pods get an IP
only when aws-node's identity really grants the CNI actions (the oracle reads moto's IAM state).

A plan is built from an inventory collected live from the same fakes, applied through the CLI,
and the result is judged by collecting again (mode, compliance) and by the oracle (test pods).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

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
from fakes.sim_fixtures import CNI_POLICY, SimEnv

Factory = Callable[..., SimEnv]


def _ready(env: SimEnv) -> SimEnv:
    env.wait_for(
        lambda: all(
            any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
            for n in env.nodes()
        )
    )
    return env


def _live(*envs: SimEnv) -> LiveOptions:
    return LiveOptions(  # every region: a node role is global, clusters elsewhere may share it
        kube_contexts=tuple((e.cluster_name, e.context) for e in envs),
        cloudtrail=False,
        quiet=True,
    )


def _collect(*envs: SimEnv) -> Inventory:
    return collect_live(_live(*envs))


def _plan(tmp_path: Path, env: SimEnv, target: str, *others: SimEnv) -> Path:
    inventory = _collect(env, *others)
    plan = build_plan(
        inventory,
        [env.cluster_name],
        PlanOptions(target=target, contexts={env.cluster_name: env.context}),  # type: ignore[arg-type]
    )
    (cluster,) = plan.clusters
    assert cluster.status == "ready", (cluster.blocked_by, cluster.warnings)
    path = tmp_path / f"plan-{env.cluster_name}.json"
    path.write_text(json.dumps(plan.to_json()), encoding="utf-8")
    return path


def _apply(tmp_path: Path, plan: Path, *envs: SimEnv, extra: tuple[str, ...] = ()) -> Any:
    args = ["apply", str(plan), "--journal-dir", str(tmp_path / "journal")]
    args += ["--no-cloudtrail", "--quiet", *extra]
    for env in envs:
        args += ["--kube-context", f"{env.cluster_name}={env.context}"]
    return CliRunner().invoke(app, args)


def _mode(env: SimEnv, *others: SimEnv) -> tuple[str, bool | None]:
    report = evaluate(_collect(env, *others), Config())
    (result,) = [c for c in report.clusters if c.arn == env.cluster_arn]
    return result.cni_identity, result.compliant


def _pods_get_ips(env: SimEnv) -> bool:
    ops = KubeOps(api_client_for_context(env.context, str(env.kubeconfig_path)))
    return verify(ops, VerifyOptions(cluster=env.cluster_name, region=env.region, timeout=20)).ok


def _iam_state(env: SimEnv) -> dict[str, Any]:
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
        "lock": tags.get("cniguard.io/apply-lock"),
    }


@pytest.fixture
def kubeconfig(monkeypatch: pytest.MonkeyPatch) -> Callable[[SimEnv], None]:
    def use(env: SimEnv) -> None:
        # the client reads $KUBECONFIG once, at import: point its default at the sim's file
        monkeypatch.setenv("KUBECONFIG", str(env.kubeconfig_path))
        monkeypatch.setattr(
            "kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION", str(env.kubeconfig_path)
        )

    return use


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("target", "options"), [("irsa", {"oidc_provider": False}), ("pod_identity", {})]
)
def test_full_migration_ends_compliant_with_every_test_pod_on_an_ip(
    sim_cluster_factory: Factory,
    kubeconfig: Callable[[SimEnv], None],
    tmp_path: Path,
    target: str,
    options: dict[str, Any],
) -> None:
    env = _ready(sim_cluster_factory(**options))
    kubeconfig(env)
    assert _mode(env) == ("node_role", False)
    plan = _plan(tmp_path, env, target)

    result = _apply(tmp_path, plan, env, extra=("--yes",))

    assert result.exit_code == 0, result.output
    assert _mode(env) == (target, True)
    assert _pods_get_ips(env)
    state = _iam_state(env)
    assert CNI_POLICY not in state["attached"][f"{env.cluster_name}-node"]
    assert state["lock"] is None
    role_arn = json.loads(plan.read_text())["clusters"][0]["role_arn"]
    assert CNI_POLICY in state["attached"][role_arn.rsplit("/", 1)[-1]]
    if target == "irsa":
        assert (state["addon_role"], state["associations"]) == (role_arn, [])
    else:
        assert state["addon_role"] is None
        assert "eks-pod-identity-agent" in state["addons"]
        eks = boto3.client("eks", region_name=env.region)
        (association,) = eks.list_pod_identity_associations(clusterName=env.cluster_name)[
            "associations"
        ]
        found = eks.describe_pod_identity_association(
            clusterName=env.cluster_name, associationId=association["associationId"]
        )["association"]
        assert (found["serviceAccount"], found["roleArn"]) == ("aws-node", role_arn)
        assert state["associations"] == [found["associationArn"]]
    assert "cniguard: done: every step of demo is in effect and verified" in result.output


def test_dry_run_makes_no_mutating_call_and_no_kubernetes_write(
    sim_cluster_factory: Factory, kubeconfig: Callable[[SimEnv], None], tmp_path: Path
) -> None:
    env = _ready(sim_cluster_factory(oidc_provider=False))
    kubeconfig(env)
    plan = _plan(tmp_path, env, "irsa")
    before = _iam_state(env)
    env.aws.traffic.calls.clear()
    objects = json.dumps(
        env.sim.store.items("serviceaccounts") + env.sim.store.items("apps/daemonsets"),
        sort_keys=True,
    )

    result = _apply(tmp_path, plan, env)

    assert result.exit_code == 0, result.output
    assert dict(env.aws.traffic.mutating_calls()) == {}
    assert set(env.aws.traffic.calls) <= {
        "sts:GetCallerIdentity", "eks:ListTagsForResource", "iam:GetOpenIDConnectProvider",
        "iam:GetRole", "iam:ListAttachedRolePolicies", "eks:DescribeAddon",
    }  # fmt: skip
    assert (
        json.dumps(
            env.sim.store.items("serviceaccounts") + env.sim.store.items("apps/daemonsets"),
            sort_keys=True,
        )
        == objects
    )
    assert not (tmp_path / "journal").exists()
    assert _iam_state(env) == before
    assert "cniguard: add --yes to carry out the steps marked ready" in result.output
