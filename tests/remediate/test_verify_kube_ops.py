"""KubeOps (shared by verify and apply-plan) against the simulated EKS cluster's API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from cniguard.collect.kube_live import api_client_for_context
from cniguard.remediate.kube_ops import (
    ROLE_ANNOTATION,
    KubeOps,
    NotFound,
    RolloutTimeout,
)
from fakes.fleet import CNI_POLICY
from fakes.sim_fixtures import SimEnv

Factory = Callable[..., SimEnv]


def ops_for(env: SimEnv) -> KubeOps:
    return KubeOps(api_client_for_context(env.context, str(env.kubeconfig_path)))


def irsa_role(
    env: SimEnv, name: str, *, subject: str = "system:serviceaccount:kube-system:aws-node"
) -> str:
    """A CNI role aws-node can assume through the cluster's OIDC provider (or not: ``subject``)."""
    provider = f"arn:aws:iam::{env.account}:oidc-provider/{env.issuer_host}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{env.issuer_host}:sub": subject,
                        f"{env.issuer_host}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }
    iam = env.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=CNI_POLICY)
    return str(arn)


def annotation(env: SimEnv) -> str | None:
    account = env.sim.store.get("serviceaccounts", "kube-system", "aws-node")
    assert account is not None
    return (account["metadata"].get("annotations") or {}).get(ROLE_ANNOTATION)


def test_role_annotation_set_and_remove_return_the_previous_value(
    sim_cluster_factory: Factory,
) -> None:
    env = sim_cluster_factory(node_groups={"general": 1})
    ops = ops_for(env)
    first, second = "arn:aws:iam::123456789012:role/cni-a", "arn:aws:iam::123456789012:role/cni-b"
    assert ops.aws_node_role_arn() is None
    assert ops.set_aws_node_role_arn(first) is None
    assert (ops.aws_node_role_arn(), annotation(env)) == (first, first)
    assert ops.set_aws_node_role_arn(second) == first
    assert ops.remove_aws_node_role_arn() == second
    assert (ops.aws_node_role_arn(), annotation(env)) == (None, None)
    assert ops.remove_aws_node_role_arn() is None


def test_restart_rolls_aws_node_onto_the_new_identity(sim_cluster_factory: Factory) -> None:
    env = sim_cluster_factory(node_groups={"general": 2})
    env.wait_for(lambda: len(env.aws_node_pods()) == 2)
    ops = ops_for(env)
    role = irsa_role(env, "cni-irsa")
    ops.set_aws_node_role_arn(role)
    before = ops.aws_node_daemonset()
    assert before.service_account == "aws-node"
    stamp = ops.rollout_restart(at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert stamp == "2025-01-02T03:04:05Z"
    state = ops.wait_rollout(20, poll=0.1)
    assert state.restarted_at == stamp
    assert state.generation == before.generation + 1
    assert (state.desired, state.updated, state.available) == (2, 2, 2)
    identities = ops.aws_node_identities()
    assert [i.node for i in identities] == sorted(env.sim.nodes)
    for identity in identities:
        assert identity.ready
        assert [
            (c.name, c.role_arn, c.pod_identity, c.unresolved) for c in identity.containers
        ] == [
            ("aws-node", role, False, False),
            ("aws-eks-nodeagent", role, False, False),
        ]


def test_a_rollout_onto_an_identity_that_cannot_work_times_out(
    sim_cluster_factory: Factory,
) -> None:
    env = sim_cluster_factory(node_groups={"general": 2})
    env.wait_for(lambda: len(env.aws_node_pods()) == 2)
    ops = ops_for(env)
    ops.set_aws_node_role_arn(irsa_role(env, "cni-wrong-sub", subject="system:serviceaccount:x:y"))
    ops.rollout_restart()
    with pytest.raises(RolloutTimeout) as caught:
        ops.wait_rollout(2, poll=0.1)
    state = caught.value.state
    assert state.available < state.desired == 2
    assert str(caught.value).startswith("aws-node rollout not done after 2s: ")


def test_a_stalled_rollout_fails_before_its_timeout(sim_cluster_factory: Factory) -> None:
    env = sim_cluster_factory(node_groups={"general": 2})
    env.wait_for(lambda: len(env.aws_node_pods()) == 2)
    ops = ops_for(env)
    ops.set_aws_node_role_arn(irsa_role(env, "cni-stalls", subject="system:serviceaccount:x:y"))
    ops.rollout_restart()
    started = time.monotonic()
    with pytest.raises(RolloutTimeout, match=r"^aws-node rollout made no progress for 1s: "):
        ops.wait_rollout(60, poll=0.1, stall=1)
    assert time.monotonic() - started < 30


def test_a_missing_daemonset_is_not_found(sim_cluster_factory: Factory) -> None:
    env = sim_cluster_factory(node_groups={"general": 1})
    env.sim.store.remove("apps/daemonsets", "kube-system", "aws-node")
    with pytest.raises(
        NotFound,
        match="GET /apis/apps/v1/namespaces/kube-system/daemonsets/aws-node: HTTP 404 NotFound",
    ):
        ops_for(env).aws_node_daemonset()
