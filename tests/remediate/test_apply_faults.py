"""`cniguard apply` under faults, end to end: moto + the EKS fakes behind the proxy + the simulated
cluster. Each test injects one fault (AccessDenied, throttling, a verification that fails, a
kill -9 between a change and its journal record, a stale plan, another run's lock, a node role
another cluster depends on) and asserts the exit code, the journal and the end state as moto, the
fake EKS state and the simulated cluster hold it.

"The state before the run" is everything a migration touches: roles and their attachments, the
OIDC providers, the vpc-cni add-on's role and associations, the add-ons, the lock tag, the
aws-node ServiceAccount's annotation, and every aws-node pod Ready on the node role's identity.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

import cniguard
from cniguard.config import Config
from cniguard.engine import evaluate
from cniguard.store import save_report
from cniguard.store.database import get_engine
from cniguard.store.queries import cluster_history, list_findings
from fakes.fleet import CNI_POLICY
from fakes.proxy import Call
from fakes.sim_fixtures import SimEnv
from fakes.wire import Request
from remediate.sim_apply import (
    LOCK_TAG,
    apply_args,
    cluster_state,
    collect,
    iam_state,
    journals,
    make_plan,
    mode,
    pods_get_ips,
    ready,
    run_apply,
    step_statuses,
    write_kubeconfig,
)

Factory = Callable[..., SimEnv]
ROLE = "AmazonEKSVPCCNIRole-demo"
DETACH = "detach-demo-node-AmazonEKS_CNI_Policy"
# the IRSA plan of a cluster without an OIDC provider, step by step
IRSA_STEPS = (
    "oidc-provider",
    "create-role",
    "attach-policy",
    "bind",
    "restart-aws-node",
    "check-aws-node",
    "verify-network",
    DETACH,
    "verify-after",
)
CHANGE_OPS = {
    "oidc-provider": "iam:CreateOpenIDConnectProvider",
    "create-role": "iam:CreateRole",
    "attach-policy": "iam:AttachRolePolicy",
    "bind": "eks:UpdateAddon",
    DETACH: "iam:DetachRolePolicy",
}
NO_UNDO = {"restart-aws-node": "verified", "check-aws-node": "checked", "verify-network": "checked"}


@pytest.fixture
def demo(
    sim_cluster_factory: Factory, kubeconfig: Callable[[Path], None], tmp_path: Path
) -> SimEnv:
    """A node-role cluster without an OIDC provider, settled, its kubeconfig the default."""
    env = ready(sim_cluster_factory(oidc_provider=False))
    kubeconfig(env.kubeconfig_path)
    return env


def _rolled_back(failed: str) -> dict[str, str]:
    """The journal's step statuses after a rollback of a run that failed at step ``failed``:
    every change up to it undone (the failed one too: it was journaled "started" before the
    call, so the rollback looked and found it as before), the rest never started."""
    index = IRSA_STEPS.index(failed) + 1
    done = {s: NO_UNDO.get(s, "undone") for s in IRSA_STEPS[:index]}
    return {**done, **dict.fromkeys(IRSA_STEPS[index:], "pending")}


def _last_journal(tmp_path: Path) -> dict[str, Any]:
    return journals(tmp_path)[-1]


# AccessDenied ---------------------------------------------------------------------------------


@pytest.mark.timeout(420)
def test_access_denied_at_each_change_rolls_back_to_the_state_before(
    demo: SimEnv, tmp_path: Path, subtests: Any
) -> None:
    """One cluster, one plan, one denied step after the other: each run ends as it began, so the
    next one starts from the same state (and repeated rollbacks leave nothing behind)."""
    plan = make_plan(tmp_path, demo, "irsa", verify_timeout=30)
    before = cluster_state(demo)
    assert before["aws_node"] == [(n["metadata"]["name"], True, "node") for n in demo.nodes()]
    node_role = demo.node_role_name

    def denied(op: str) -> Callable[[str, Request], bool]:
        if op == "iam:DetachRolePolicy":  # the node role only: the rollback may still detach
            role = f"RoleName={node_role}".encode()  # the policy from the new role
            return lambda action, request: action == op and role in request.body
        return lambda action, _request: action == op

    for step, op in CHANGE_OPS.items():
        with subtests.test(step=step):
            demo.aws.faults.deny_when = denied(op)
            try:
                result = run_apply(tmp_path, plan, demo, extra=("--yes",))
            finally:
                demo.aws.faults.deny_when = None
            assert result.exit_code == 1, result.output
            assert "AccessDenied" in result.output
            journal = _last_journal(tmp_path)
            assert (journal["status"], step_statuses(journal)) == (
                "rolled_back",
                _rolled_back(step),
            )
            (record,) = [s for s in journal["steps"] if s["id"] == step]
            denied_call = f"not authorized to perform: {op} because no identity"
            assert "(AccessDenied" in record["error"] and denied_call in record["error"]
            assert cluster_state(demo) == before
    assert pods_get_ips(demo)


@pytest.mark.timeout(300)
def test_a_denied_undo_exits_4_then_rollback_finishes_once_the_permission_is_back(
    demo: SimEnv, tmp_path: Path
) -> None:
    """DetachRolePolicy denied everywhere: the detach fails and so does the undo of the new role's
    attachment; the role and provider are left (deleting them is not safe then), the lock stays,
    and `--rollback` finishes once the permission is back."""
    plan = make_plan(tmp_path, demo, "irsa", verify_timeout=30)
    before = cluster_state(demo)
    demo.aws.faults.deny_actions = frozenset({"iam:DetachRolePolicy"})

    result = run_apply(tmp_path, plan, demo, extra=("--yes",))

    assert result.exit_code == 4, result.output
    assert f"$ aws iam detach-role-policy --role-name {ROLE} --policy-arn {CNI_POLICY}" in (
        result.output
    )
    journal = _last_journal(tmp_path)
    assert journal["status"] == "rollback_failed"
    left = iam_state(demo)
    assert (left["attached"][ROLE], left["lock"]) == ([CNI_POLICY], journal["run_id"])
    assert CNI_POLICY in left["attached"][demo.node_role_name]

    demo.aws.faults.deny_actions = frozenset()
    again = run_apply(tmp_path, plan, demo, extra=("--rollback", "--yes"))

    assert again.exit_code == 1, again.output
    assert _last_journal(tmp_path)["status"] == "rolled_back"
    assert cluster_state(demo) == before


# throttling and the history store -------------------------------------------------------------


@pytest.mark.timeout(300)
def test_throttled_migration_succeeds_and_the_stored_scan_shows_it(
    demo: SimEnv, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'history.db'}"
    save_report(db, evaluate(collect(demo), Config()))  # the scan before the migration
    plan = make_plan(tmp_path, demo, "irsa")
    demo.aws.faults.throttle_rate = 0.3

    result = run_apply(tmp_path, plan, demo, extra=("--yes", "--db", db))

    assert result.exit_code == 0, result.output
    assert demo.aws.traffic.injected["throttle"] > 0  # the fault did hit the run
    demo.aws.faults.throttle_rate = 0.0
    assert mode(demo) == ("irsa", True)
    assert _last_journal(tmp_path)["status"] == "done"
    engine = get_engine(db)
    newest, first = cluster_history(engine, demo.cluster_arn)
    assert (first["cni_identity"], first["compliant"]) == ("node_role", False)
    assert (newest["cni_identity"], newest["compliant"]) == ("irsa", True)
    resolved = [f["rule_id"] for f in list_findings(engine, "resolved", cluster=demo.cluster_arn)]
    assert "CNI002" in resolved
    open_now = [f["rule_id"] for f in list_findings(engine, "open", cluster=demo.cluster_arn)]
    assert "CNI002" not in open_now


# a verification that fails ---------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_a_node_group_without_ips_after_the_detach_rolls_everything_back(
    demo: SimEnv, tmp_path: Path
) -> None:
    """Right after the detach the node group stops giving pods IPs (as a group whose aws-node
    still leaned on the node role would): the test pods fail, the policy is attached again and
    every step is undone. The block itself is not IAM, so the cluster is judged "as before" by
    its state and by a test pod getting an IP once the block is lifted: on the node role again."""
    plan = make_plan(tmp_path, demo, "irsa", verify_timeout=8)
    before = cluster_state(demo)

    def block(call: Call) -> None:
        if call.action == "iam:DetachRolePolicy":
            demo.block_ips("main")

    demo.aws.listeners.append(block)
    result = run_apply(tmp_path, plan, demo, extra=("--yes",))
    demo.aws.listeners.remove(block)

    assert result.exit_code == 1, result.output
    assert "verification after the detach failed: main: failed" in result.output
    journal = _last_journal(tmp_path)
    assert (journal["status"], step_statuses(journal)) == ("rolled_back", _rolled_back(DETACH))
    assert cluster_state(demo) == before
    demo.sim.blocked_nodegroups.clear()
    assert pods_get_ips(demo)


# kill -9 between a change and its journal record -------------------------------------------------


class KillAfter:
    """A proxy listener that holds the answer to ``action`` until the test killed the client."""

    def __init__(self, action: str) -> None:
        self.action = action
        self.heard = threading.Event()
        self.release = threading.Event()

    def __call__(self, call: Call) -> None:
        if call.action == self.action and not self.heard.is_set():
            self.heard.set()
            self.release.wait(60)


def _killed_run(env: SimEnv, tmp_path: Path, plan: Path, action: str) -> dict[str, Any]:
    """Run `cniguard apply --yes` as a process and SIGKILL it once moto made ``action``'s change
    (before the answer reached it, so it never journaled the change); its journal."""
    kill = KillAfter(action)
    env.aws.listeners.append(kill)
    src = str(Path(cniguard.__file__).resolve().parents[1])
    child_env = {**os.environ, "PYTHONPATH": src}
    code = "from cniguard.cli.main import main; main()"
    args = apply_args(tmp_path, plan, env, extra=("--yes",))
    with subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    ) as process:
        try:
            heard = kill.heard.wait(180)
            process.send_signal(signal.SIGKILL)
            output = process.communicate(timeout=30)[0].decode()
        finally:
            kill.release.set()
            env.aws.listeners.remove(kill)
    assert heard, output
    assert process.returncode == -signal.SIGKILL
    return _last_journal(tmp_path)


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("step", "action"),
    [
        ("create-role", "iam:CreateRole"),
        ("bind", "eks:UpdateAddon"),
        (DETACH, "iam:DetachRolePolicy"),
    ],
)
def test_killed_between_change_and_journal_resumes_without_repeating_the_change(
    demo: SimEnv, tmp_path: Path, step: str, action: str
) -> None:
    plan = make_plan(tmp_path, demo, "irsa")
    journal = _killed_run(demo, tmp_path, plan, action)
    assert (journal["status"], step_statuses(journal)[step]) == ("running", "started")

    result = run_apply(tmp_path, plan, demo, extra=("--resume", "--yes"))

    assert result.exit_code == 0, result.output
    assert mode(demo) == ("irsa", True)
    assert pods_get_ips(demo)
    assert demo.aws.traffic.calls[action] == 1  # made by the killed run, never again
    resumed = _last_journal(tmp_path)
    assert resumed["run_id"] == journal["run_id"]
    assert (resumed["status"], resumed["lock"]["held"]) == ("done", False)
    assert set(step_statuses(resumed).values()) == {"verified", "checked"}
    assert iam_state(demo)["lock"] is None


@pytest.mark.timeout(420)
def test_killed_between_change_and_journal_rolls_back_to_the_state_before(
    demo: SimEnv, tmp_path: Path, subtests: Any
) -> None:
    """One cluster: killed after each kind of change in turn, each run undone by --rollback."""
    plan = make_plan(tmp_path, demo, "irsa")
    before = cluster_state(demo)
    for step, action in (
        ("create-role", "iam:CreateRole"),
        ("bind", "eks:UpdateAddon"),
        (DETACH, "iam:DetachRolePolicy"),
    ):
        with subtests.test(step=step):
            journal = _killed_run(demo, tmp_path, plan, action)
            assert step_statuses(journal)[step] == "started"
            assert iam_state(demo)["lock"] == journal["run_id"]

            result = run_apply(tmp_path, plan, demo, extra=("--rollback", "--yes"))

            assert result.exit_code == 1, result.output
            undone = _last_journal(tmp_path)
            assert (undone["run_id"], undone["status"]) == (journal["run_id"], "rolled_back")
            assert step_statuses(undone)[step] == "undone"
            assert cluster_state(demo) == before
    assert pods_get_ips(demo)


# refusals: nothing is written ----------------------------------------------------------------


@pytest.mark.timeout(180)
def test_another_runs_lock_and_a_stale_plan_are_refused_without_a_write(
    demo: SimEnv, tmp_path: Path
) -> None:
    plan = make_plan(tmp_path, demo, "irsa")
    eks, iam = demo.client("eks"), demo.client("iam")

    # a run from another machine holds the cluster
    eks.tag_resource(resourceArn=demo.cluster_arn, tags={LOCK_TAG: "0badc0de"})
    before = cluster_state(demo)
    demo.aws.traffic.calls.clear()
    locked = run_apply(tmp_path, plan, demo, extra=("--yes",))
    assert locked.exit_code == 2, locked.output
    assert "is locked by apply run 0badc0de" in locked.output
    assert dict(demo.aws.traffic.mutating_calls()) == {}
    assert (cluster_state(demo), journals(tmp_path)) == (before, [])
    eks.untag_resource(resourceArn=demo.cluster_arn, tagKeys=[LOCK_TAG])

    # someone bound another role to the add-on since the plan
    other = iam.create_role(RoleName="someone-elses", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    eks.update_addon(clusterName="demo", addonName="vpc-cni", serviceAccountRoleArn=other)
    before = cluster_state(demo)
    demo.aws.traffic.calls.clear()
    stale = run_apply(tmp_path, plan, demo, extra=("--yes",))
    assert stale.exit_code == 2, stale.output
    assert f'found {{"service_account_role_arn": "{other}"}}' in stale.output
    assert dict(demo.aws.traffic.mutating_calls()) == {}
    assert (cluster_state(demo), journals(tmp_path)) == (before, [])


# a node role another cluster depends on ------------------------------------------------------


def _share_node_role(env: SimEnv, other: SimEnv) -> None:
    """Give ``other`` a managed node group on ``env``'s node role; wait for its aws-node."""
    boto3.client("eks", region_name=other.region).create_nodegroup(
        clusterName=other.cluster_name,
        nodegroupName="shared",
        nodeRole=env.node_role_arn,
        subnets=other.subnets,
        amiType="AL2023_x86_64_STANDARD",
        scalingConfig={"minSize": 0, "maxSize": 2, "desiredSize": 1},
    )
    other.wait_for(lambda: len(other.nodes()) == 1)
    ready(other)


@pytest.fixture
def two(
    sim_cluster_factory: Factory, kubeconfig: Callable[[Path], None], tmp_path: Path
) -> tuple[SimEnv, SimEnv]:
    """``demo`` (us-east-1) and ``other`` (us-west-2, no nodes yet), one kubeconfig for both."""
    env = ready(sim_cluster_factory(oidc_provider=False))
    other = sim_cluster_factory(name="other", region="us-west-2", node_groups={})
    kubeconfig(write_kubeconfig(tmp_path / "kubeconfig", env, other))
    return env, other


def _assert_stopped_before_the_detach(env: SimEnv, other: SimEnv, tmp_path: Path) -> None:
    journal = _last_journal(tmp_path)
    expected = {s: NO_UNDO.get(s, "verified") for s in IRSA_STEPS[:7]}
    expected |= {DETACH: "blocked", "verify-after": "pending"}
    assert (journal["status"], step_statuses(journal)) == ("stopped", expected)
    state = iam_state(env)
    assert CNI_POLICY in state["attached"][env.node_role_name]
    assert state["lock"] is None
    # aws-node runs on the new role, the node role still grants the ENI actions (CNI002)
    assert mode(env, other) == ("mixed", False)
    assert pods_get_ips(other)


@pytest.mark.timeout(300)
def test_a_detach_planned_while_another_cluster_depends_on_the_role_is_blocked(
    two: tuple[SimEnv, SimEnv], tmp_path: Path
) -> None:
    env, other = two
    _share_node_role(env, other)
    plan = make_plan(tmp_path, env, "irsa", other, status="blocked")

    result = run_apply(tmp_path, plan, env, other, extra=("--yes",))

    assert result.exit_code == 3, result.output
    assert f"[blocked]  {DETACH}" in result.output
    assert env.aws.traffic.calls["iam:DetachRolePolicy"] == 0
    _assert_stopped_before_the_detach(env, other, tmp_path)


@pytest.mark.timeout(300)
def test_a_dependency_that_appears_after_planning_is_refused_at_apply_time(
    two: tuple[SimEnv, SimEnv], tmp_path: Path
) -> None:
    env, other = two
    plan = make_plan(tmp_path, env, "irsa", other)  # other has no node on the role yet
    _share_node_role(env, other)

    result = run_apply(tmp_path, plan, env, other, extra=("--yes",))

    assert result.exit_code == 3, result.output
    assert f"node role {env.node_role_name} is used by" in result.output
    assert other.cluster_arn in result.output
    assert "could not be read" not in result.output  # refused for the dependency itself
    assert env.aws.traffic.calls["iam:DetachRolePolicy"] == 0
    _assert_stopped_before_the_detach(env, other, tmp_path)
