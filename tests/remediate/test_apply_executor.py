"""The apply executor against an in-memory world: gates, journal, resume and rollback logic."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cniguard.demo import build_fleet, demo_config
from cniguard.remediate.apply import (
    EXIT_DONE,
    EXIT_LEFT,
    EXIT_REFUSED,
    EXIT_ROLLED_BACK,
    EXIT_STOPPED,
    Executor,
)
from cniguard.remediate.journal import Journal, unfinished_runs
from cniguard.remediate.plan_model import ClusterPlan, Operation
from cniguard.remediate.planner import PlanOptions, build_plan
from remediate.apply_world import Killed, World

CNI = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
NODE_ROLE = "checkout-prod-node"
ROLE = "AmazonEKSVPCCNIRole-checkout-prod"
ROLE_ARN = f"arn:aws:iam::111111111111:role/{ROLE}"
PROVIDER = (
    "arn:aws:iam::111111111111:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/"
    "0F1E2D3C4B5A69788796A5B4C3D2E1F0"
)
MUTATING_STEPS = {
    "oidc-provider": "iam:CreateOpenIDConnectProvider",
    "create-role": "iam:CreateRole",
    "attach-policy": "iam:AttachRolePolicy",
    "bind": "eks:UpdateAddon",
    "restart-aws-node": "kube:RolloutRestart",
    "detach": "iam:DetachRolePolicy",
}


@pytest.fixture(scope="module")
def plan() -> ClusterPlan:
    built = build_plan(build_fleet(), ["checkout-prod"], PlanOptions(target="irsa"), demo_config())
    return built.clusters[0]


def _world() -> World:
    return World(attached={NODE_ROLE: {CNI}})


def _final() -> dict[str, object]:
    world = _world()
    world.providers = {PROVIDER: ["sts.amazonaws.com"]}
    world.attached = {NODE_ROLE: set(), ROLE: {CNI}}
    world.addon_role = ROLE_ARN
    snapshot = world.snapshot()
    snapshot["roles"] = {ROLE: "(any)"}
    return snapshot


def _state(world: World) -> dict[str, object]:
    snapshot = world.snapshot()
    snapshot["roles"] = dict.fromkeys(world.roles, "(any)")
    return snapshot


class Run:
    def __init__(self, plan: ClusterPlan, world: World, tmp_path: Path, **kw: object) -> None:
        self.lines: list[str] = []
        self.world = world
        self.folder = tmp_path / "journal"
        dependents = kw.pop("dependents", lambda role: [])
        self.executor = Executor(
            plan,
            world,
            world,
            journal_dir=self.folder,
            plan_file="plan.json",
            dependents=dependents,  # type: ignore[arg-type]
            out=self.lines.append,
            run_id=str(kw.pop("run_id", "run1")),
        )

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def journal(self) -> dict[str, object]:
        (path,) = self.folder.glob("*.json")
        data: dict[str, object] = json.loads(path.read_text())
        return data

    def statuses(self) -> dict[str, str]:
        return {s["id"]: s["status"] for s in self.journal()["steps"]}  # type: ignore[attr-defined]


def test_dry_run_reads_only_and_says_what_it_would_do(plan: ClusterPlan, tmp_path: Path) -> None:
    run = Run(plan, _world(), tmp_path)

    assert run.executor.dry_run() == EXIT_DONE

    assert run.world.writes == []
    assert not run.folder.exists()
    labels = [line.split("]")[0].strip(" [") for line in run.lines if line.startswith("  [")]
    assert labels == [
        "ready",
        "ready",
        "ready",
        "ready",
        "ready",
        "check",
        "check",
        "ready",
        "check",
    ]


def test_full_run_ends_migrated_with_a_finished_journal(plan: ClusterPlan, tmp_path: Path) -> None:
    run = Run(plan, _world(), tmp_path)

    assert run.executor.run() == EXIT_DONE, run.text

    assert _state(run.world) == _final()
    assert run.world.restarts == 1
    assert run.world.lock is None
    journal = run.journal()
    assert journal["status"] == "done"
    assert journal["lock"] == {"tag": "cniguard.io/apply-lock", "value": "run1", "held": False}
    assert set(run.statuses().values()) == {"verified", "checked"}
    create = next(s for s in journal["steps"] if s["id"] == "create-role")  # type: ignore[attr-defined]
    assert (create["before"], create["after"]) == ({"role_exists": False}, {"role_exists": True})
    assert run.world.writes[0] == "eks:TagResource"
    assert run.world.writes[-1] == "eks:UntagResource"


def test_stale_precondition_is_refused_before_anything_is_written(
    plan: ClusterPlan, tmp_path: Path
) -> None:
    world = _world()
    world.addon_role = "arn:aws:iam::111111111111:role/someone-else"
    run = Run(plan, world, tmp_path)

    assert run.executor.run() == EXIT_REFUSED

    assert world.writes == []
    assert not run.folder.exists()
    assert (
        "  [refuse]   bind: the live state of bind (Bind the role through the vpc-cni add-on "
        '(serviceAccountRoleArn)) changed since the plan: found {"service_account_role_arn": '
        '"arn:aws:iam::111111111111:role/someone-else"}, the plan expects '
        '{"service_account_role_arn": null}; re-plan'
    ) in run.lines


@pytest.mark.parametrize("step", sorted(MUTATING_STEPS))
def test_access_denied_at_each_step_rolls_back_to_the_state_before(
    plan: ClusterPlan, tmp_path: Path, step: str
) -> None:
    world = _world()
    before = _state(world)
    world.fail[MUTATING_STEPS[step]] = RuntimeError("AccessDenied")
    run = Run(plan, world, tmp_path)

    assert run.executor.run() == EXIT_ROLLED_BACK, run.text

    assert _state(world) == before
    assert world.lock is None
    assert run.journal()["status"] == "rolled_back"
    steps = run.journal()["steps"]
    failed = [s["id"].split("-checkout")[0] for s in steps if s["error"]]  # type: ignore[attr-defined]
    assert failed == [step]
    errors = [s["error"] for s in steps if s["error"]]  # type: ignore[attr-defined]
    assert errors == ["RuntimeError: AccessDenied"]


def test_a_failed_verification_after_the_detach_re_attaches(
    plan: ClusterPlan, tmp_path: Path
) -> None:
    world = _world()
    world.detached_breaks_pods = True
    run = Run(plan, world, tmp_path)

    assert run.executor.run() == EXIT_ROLLED_BACK, run.text

    assert _state(world) == _state(_world())
    assert world.restarts == 2  # the restart of the plan, then the one after unbinding
    assert "verification after the detach failed: group ng-1: FailedCreatePodSandBox" in run.text
    statuses = run.statuses()
    assert statuses["detach-checkout-prod-node-AmazonEKS_CNI_Policy"] == "undone"
    assert statuses["create-role"] == "undone"


def test_a_failed_undo_exits_4_with_the_commands_left_then_rollback_finishes(
    plan: ClusterPlan, tmp_path: Path
) -> None:
    world = _world()
    world.fail["check:TestPods"] = RuntimeError("no IP")  # verify-network fails
    run = Run(plan, world, tmp_path)
    execute = world.execute
    updates: list[Operation] = []

    def unbind_denied(op: Operation) -> None:
        if op.op == "eks:UpdateAddon":
            updates.append(op)
            if len(updates) == 2:  # the undo of the bind
                raise RuntimeError("AccessDenied on eks:UpdateAddon")
        execute(op)

    world.execute = unbind_denied  # type: ignore[method-assign]

    assert run.executor.run() == EXIT_LEFT, run.text

    assert world.addon_role == ROLE_ARN  # left bound
    assert ROLE in world.roles  # not deleted: the add-on still uses it
    assert world.lock == "run1"  # the lock stays until the rollback is finished
    assert run.journal()["status"] == "rollback_failed"
    assert (
        "  - bind (Bind the role through the vpc-cni add-on (serviceAccountRoleArn)): " in run.text
    )
    assert (
        "    $ aws eks update-addon --cluster-name checkout-prod --addon-name vpc-cni "
        "--resolve-conflicts PRESERVE --region us-east-1"
    ) in run.lines
    assert "    $ aws iam delete-role --role-name AmazonEKSVPCCNIRole-checkout-prod" in run.lines

    again = Run(plan, world, tmp_path, run_id="run2")
    assert again.executor.run() == EXIT_REFUSED  # the unfinished run holds the cluster
    assert "has an unfinished run run1 (rollback_failed;" in again.text

    assert again.executor.rollback_run() == EXIT_ROLLED_BACK, again.text
    assert _state(world) == _state(_world())
    assert world.lock is None
    assert unfinished_runs(run.folder, plan.arn) == []


@pytest.mark.parametrize("op", ["iam:CreateRole", "eks:UpdateAddon", "iam:DetachRolePolicy"])
def test_killed_between_change_and_journal_resumes_cleanly(
    plan: ClusterPlan, tmp_path: Path, op: str
) -> None:
    world = _world()
    world.kill_after = op
    run = Run(plan, world, tmp_path)
    with pytest.raises(Killed):
        run.executor.run()
    started = [k for k, v in run.statuses().items() if v == "started"]
    assert len(started) == 1
    assert world.lock == "run1"

    resumed = Run(plan, world, tmp_path, run_id="other")
    assert resumed.executor.resume() == EXIT_DONE, resumed.text

    assert _state(world) == _final()
    assert world.writes.count(op) == 1  # the change was not made twice
    assert resumed.journal()["status"] == "done"
    assert world.lock is None


@pytest.mark.parametrize("op", ["iam:CreateRole", "eks:UpdateAddon", "iam:DetachRolePolicy"])
def test_killed_between_change_and_journal_rolls_back(
    plan: ClusterPlan, tmp_path: Path, op: str
) -> None:
    world = _world()
    before = _state(world)
    world.kill_after = op
    run = Run(plan, world, tmp_path)
    with pytest.raises(Killed):
        run.executor.run()

    back = Run(plan, world, tmp_path)
    assert back.executor.rollback_run() == EXIT_ROLLED_BACK, back.text

    assert _state(world) == before
    assert back.journal()["status"] == "rolled_back"
    assert world.lock is None


def test_steps_already_in_effect_are_not_undone(plan: ClusterPlan, tmp_path: Path) -> None:
    world = _world()
    world.providers = {PROVIDER: ["sts.amazonaws.com"]}  # made by someone else meanwhile
    world.fail["iam:AttachRolePolicy"] = RuntimeError("AccessDenied")
    run = Run(plan, world, tmp_path)

    assert run.executor.run() == EXIT_ROLLED_BACK

    assert world.providers == {PROVIDER: ["sts.amazonaws.com"]}
    assert world.roles == {}
    assert run.statuses()["oidc-provider"] == "already"
    assert "  [already]  oidc-provider: already in effect (left as found)" in run.lines


def test_a_run_is_refused_while_the_cluster_carries_another_lock(
    plan: ClusterPlan, tmp_path: Path
) -> None:
    world = _world()
    world.lock = "elsewhere"
    run = Run(plan, world, tmp_path)

    assert run.executor.run() == EXIT_REFUSED
    assert run.executor.dry_run() == EXIT_REFUSED

    assert world.writes == []
    assert "is locked by apply run elsewhere (tag cniguard.io/apply-lock" in run.text


def test_a_detach_is_refused_when_another_cluster_now_depends_on_the_role(
    plan: ClusterPlan, tmp_path: Path
) -> None:
    asked: list[str] = []

    def dependents(role: str) -> list[str]:
        asked.append(role)
        return [
            "search-prod (arn:aws:eks:us-east-1:111111111111:cluster/search-prod, mode node_role)"
        ]

    world = _world()
    run = Run(plan, world, tmp_path, dependents=dependents)

    assert run.executor.run() == EXIT_STOPPED, run.text

    assert asked == [f"arn:aws:iam::111111111111:role/{NODE_ROLE}"]
    assert world.attached[NODE_ROLE] == {CNI}  # not detached
    assert world.addon_role == ROLE_ARN  # the verified steps before it stay
    assert world.lock is None
    assert run.journal()["status"] == "stopped"
    assert run.lines[-1] == (
        "cniguard: stopped before blocked step detach-checkout-prod-node-AmazonEKS_CNI_Policy; "
        "the steps before it are done and verified"
    )


def test_a_planned_blocked_step_stops_the_run(plan: ClusterPlan, tmp_path: Path) -> None:
    steps = tuple(
        replace(s, blocked_by=("shared",)) if s.id.startswith("detach") else s for s in plan.steps
    )
    blocked = replace(plan, steps=steps, status="blocked")
    run = Run(blocked, _world(), tmp_path)

    assert run.executor.dry_run() == EXIT_STOPPED
    assert run.executor.run() == EXIT_STOPPED

    assert run.world.attached[NODE_ROLE] == {CNI}


def test_resume_needs_the_same_plan(plan: ClusterPlan, tmp_path: Path) -> None:
    world = _world()
    world.kill_after = "iam:CreateRole"
    with pytest.raises(Killed):
        Run(plan, world, tmp_path).executor.run()
    other = replace(plan, warnings=("changed",))

    run = Run(other, world, tmp_path)
    assert run.executor.resume() == EXIT_REFUSED
    assert "was started from another plan (plan.json)" in run.text


def test_the_journal_is_one_valid_document_after_every_write(
    plan: ClusterPlan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    save = Journal.save

    def checked(self: Journal) -> None:
        save(self)
        data = json.loads(self.path.read_text())
        seen.append(data["status"])
        assert not list(self.path.parent.glob(".*.tmp"))

    monkeypatch.setattr(Journal, "save", checked)
    run = Run(plan, _world(), tmp_path)
    assert run.executor.run() == EXIT_DONE
    assert seen[0] == "running" and seen[-1] == "done"
    assert len(seen) == 1 + 1 + 2 * 6 + 6 + 3 + 1 + 1  # create, lock, started/done, verified...
