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

from fakes.fleet import CNI_POLICY
from fakes.sim_fixtures import SimEnv
from remediate.sim_apply import iam_state, make_plan, mode, pods_get_ips, ready, run_apply

Factory = Callable[..., SimEnv]


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("target", "options"), [("irsa", {"oidc_provider": False}), ("pod_identity", {})]
)
def test_full_migration_ends_compliant_with_every_test_pod_on_an_ip(
    sim_cluster_factory: Factory,
    kubeconfig: Callable[[Path], None],
    tmp_path: Path,
    target: str,
    options: dict[str, Any],
) -> None:
    env = ready(sim_cluster_factory(**options))
    kubeconfig(env.kubeconfig_path)
    assert mode(env) == ("node_role", False)
    plan = make_plan(tmp_path, env, target)

    result = run_apply(tmp_path, plan, env, extra=("--yes",))

    assert result.exit_code == 0, result.output
    assert mode(env) == (target, True)
    assert pods_get_ips(env)
    state = iam_state(env)
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
    sim_cluster_factory: Factory, kubeconfig: Callable[[Path], None], tmp_path: Path
) -> None:
    env = ready(sim_cluster_factory(oidc_provider=False))
    kubeconfig(env.kubeconfig_path)
    plan = make_plan(tmp_path, env, "irsa")
    before = iam_state(env)
    env.aws.traffic.calls.clear()
    objects = json.dumps(
        env.sim.store.items("serviceaccounts") + env.sim.store.items("apps/daemonsets"),
        sort_keys=True,
    )

    result = run_apply(tmp_path, plan, env)

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
    assert iam_state(env) == before
    assert "cniguard: add --yes to carry out the steps marked ready" in result.output
