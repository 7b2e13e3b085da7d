"""`cniguard apply`: carry out one cluster's migration plan with gates, a journal and rollback.

Before each step the live state is observed and compared with the plan: its fingerprint of
``state_before`` matches (ready), ``state_after`` already holds (already in effect: journaled,
never undone), or the world moved on (refused: before any change nothing is written, mid-run the
done steps are rolled back). After each change the state is observed again and the step verified
(a detach by a test pod on every node group). On the first failure the steps this run changed are
undone in reverse and each undo is verified by observing ``state_before`` again.

The AWS and Kubernetes sides are injected (:class:`Backend`), so the executor runs against boto3
and the Kubernetes API as well as against in-memory fakes in unit tests.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from cniguard.remediate.commands import operation_commands
from cniguard.remediate.journal import CHANGED, Journal, plan_fingerprint, unfinished_runs
from cniguard.remediate.plan_model import ClusterPlan, Operation, Step, state_fingerprint

EXIT_DONE, EXIT_ROLLED_BACK, EXIT_REFUSED, EXIT_STOPPED, EXIT_LEFT = 0, 1, 2, 3, 4
KUBE_CHECKS = frozenset({"check:AwsNodeIdentity", "check:TestPods"})
DEFAULT_TEST_TIMEOUT = 120

Verdict = Literal["ready", "already", "refuse"]


class Backend(Protocol):
    """One side's operations: observe the live facts, carry out a change, run a check."""

    def observe(self, op: Operation) -> dict[str, Any]: ...

    def execute(self, op: Operation) -> None: ...

    def check(self, op: Operation) -> str | None: ...  # None: holds; else what is wrong


class ClusterLock(Protocol):
    """The lock tag on the cluster (so a run from another machine is refused too)."""

    def lock_holder(self) -> str | None: ...

    def take_lock(self, run_id: str) -> None: ...

    def release_lock(self) -> None: ...


class AwsBackend(Backend, ClusterLock, Protocol):
    pass


# Other clusters whose aws-node still depends on a node role (role ARN -> descriptions).
Dependents = Callable[[str], list[str]]


class StepFailed(Exception):
    """A step did not reach or keep its planned state; the message says how."""


class _Blocked(Exception):
    """A step must not run (found right before it); the steps before it stay."""


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    observed: dict[str, Any]


def new_run_id() -> str:
    return secrets.token_hex(4)


def _project(state: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {k: state.get(k) for k in keys}


def _short(state: dict[str, Any] | None) -> str:
    import json

    return json.dumps(state, sort_keys=True)[:300]


class Executor:
    """Applies, resumes or rolls back one cluster's plan."""

    def __init__(
        self,
        plan: ClusterPlan,
        aws: AwsBackend,
        kube: Backend,
        *,
        journal_dir: Path,
        plan_file: str,
        dependents: Dependents,
        out: Callable[[str], None],
        context: str | None = None,
        run_id: str | None = None,
        lock_tag: str = "cniguard.io/apply-lock",
    ) -> None:
        self.plan = plan
        self.aws = aws
        self.kube = kube
        self.journal_dir = journal_dir
        self.plan_file = plan_file
        self.dependents = dependents
        self.out = out
        self.context = context or plan.arn
        self.run_id = run_id or new_run_id()
        self.lock_tag = lock_tag
        self.journal: Journal | None = None

    # routing and judging ---------------------------------------------------------------------

    def _side(self, op: Operation) -> Backend:
        return self.kube if op.op.startswith("kube:") or op.op in KUBE_CHECKS else self.aws

    def observe(self, step: Step) -> dict[str, Any]:
        keys = {*step.state_before, *step.state_after}
        if not keys:
            return {}
        return _project(self._side(step.action).observe(step.action), sorted(keys))

    def judge(self, step: Step) -> Judgement:
        observed = self.observe(step)
        if self._is_before(step, observed):
            return Judgement("ready", observed)
        if step.state_after and _project(observed, step.state_after) == step.state_after:
            return Judgement("already", observed)
        return Judgement("refuse", observed)

    def _refusal(self, step: Step, observed: dict[str, Any]) -> str:
        return (
            f"the live state of {step.id} ({step.title}) changed since the plan: found "
            f"{_short(_project(observed, step.state_before))}, the plan expects "
            f"{_short(step.state_before)}; re-plan"
        )

    def _test_pods(self) -> Operation:
        timeout = DEFAULT_TEST_TIMEOUT
        for s in self.plan.steps:
            if s.action.op == "check:TestPods":
                timeout = int(s.action.params.get("timeout", timeout))
        return Operation("check:TestPods", {"cluster": self.plan.cluster, "timeout": timeout})

    # dry-run ---------------------------------------------------------------------------------

    def preflight(self, *, dry_run: bool) -> int | None:
        """Read every step's live state (reads only); an exit code when the run must not start."""
        refused = False
        for step in self.plan.steps:
            if step.blocked_by:
                self.out(f"  [blocked]  {step.id}: {'; '.join(step.blocked_by)}")
                break
            if step.kind == "check":
                if dry_run:
                    self.out(f"  [check]    {step.id}: {step.title} (runs with --yes)")
                continue
            judgement = self.judge(step)
            if judgement.verdict == "refuse":
                refused = True
                self.out(f"  [refuse]   {step.id}: {self._refusal(step, judgement.observed)}")
            elif dry_run:
                label = "ready" if judgement.verdict == "ready" else "already"
                what = step.change if judgement.verdict == "ready" else "already in effect"
                self.out(f"  [{label}]{' ' * (9 - len(label))}{step.id}: {what}")
                if judgement.verdict == "ready":
                    for line in step.commands[:1]:
                        self.out(f"             $ {line}")
        if refused:
            self.out("cniguard: the live state no longer matches the plan; nothing was changed")
            return EXIT_REFUSED
        return None

    def dry_run(self) -> int:
        self.out(f"cluster {self.plan.cluster} ({self.plan.arn}): dry-run, nothing is changed")
        holder = self._lock_problem(resuming=None)
        if holder:
            self.out(f"  [refuse]   {holder}")
            return EXIT_REFUSED
        code = self.preflight(dry_run=True)
        if code is not None:
            return code
        if self.plan.status == "blocked":
            return EXIT_STOPPED
        self.out("cniguard: add --yes to carry out the steps marked ready")
        return EXIT_DONE

    # locks -----------------------------------------------------------------------------------

    def _lock_problem(self, resuming: Journal | None) -> str | None:
        for other in unfinished_runs(self.journal_dir, self.plan.arn):
            if resuming is None or other.path != resuming.path:
                return (
                    f"cluster {self.plan.cluster} has an unfinished {other.describe()}: "
                    "finish it with --resume or undo it with --rollback"
                )
        holder = self.aws.lock_holder()
        own = resuming.run_id if resuming else None
        if holder is not None and holder != own:
            return (
                f"cluster {self.plan.cluster} is locked by apply run {holder} (tag "
                f"{self.lock_tag} on the EKS cluster): another run is under way, maybe on "
                "another machine"
            )
        return None

    def _take_lock(self, journal: Journal) -> None:
        self.aws.take_lock(journal.run_id)
        journal.data["lock"]["held"] = True
        journal.save()

    def _release_lock(self, journal: Journal) -> None:
        try:
            self.aws.release_lock()
        except Exception as exc:  # any failure: say so, the journal is final
            self.out(
                f"cniguard: warning: could not remove the lock tag {self.lock_tag}: {exc}; "
                f"remove it by hand: aws eks untag-resource --resource-arn {self.plan.arn} "
                f"--tag-keys {self.lock_tag}"
            )
            return
        journal.data["lock"]["held"] = False
        journal.save()

    # run -------------------------------------------------------------------------------------

    def run(self) -> int:
        self.out(f"cluster {self.plan.cluster} ({self.plan.arn}): applying, run {self.run_id}")
        problem = self._lock_problem(resuming=None)
        if problem:
            self.out(f"cniguard: refused: {problem}")
            return EXIT_REFUSED
        code = self.preflight(dry_run=False)
        if code is not None:
            return code
        journal = Journal.create(
            self.journal_dir, self.plan, self.run_id, self.plan_file, self.lock_tag
        )
        self.journal = journal
        self.out(f"  journal: {journal.path}")
        self._take_lock(journal)
        return self._steps(journal, resume=False)

    def resume(self) -> int:
        journal = self._unfinished(("running",), "--resume")
        if isinstance(journal, int):
            return journal
        self.out(f"cluster {self.plan.cluster}: resuming {journal.describe()}")
        self._take_lock(journal)
        return self._steps(journal, resume=True)

    def rollback_run(self) -> int:
        journal = self._unfinished(("running", "rolling_back", "rollback_failed"), "--rollback")
        if isinstance(journal, int):
            return journal
        self.out(f"cluster {self.plan.cluster}: rolling back {journal.describe()}")
        self._take_lock(journal)
        return self._rollback(journal, reason="--rollback asked for")

    def _unfinished(self, statuses: tuple[str, ...], flag: str) -> Journal | int:
        runs = unfinished_runs(self.journal_dir, self.plan.arn)
        if not runs:
            self.out(f"cniguard: refused: no unfinished run of {self.plan.cluster} to {flag[2:]}")
            return EXIT_REFUSED
        journal = runs[-1]
        if journal.status not in statuses:
            hint = "--rollback" if flag == "--resume" else "--resume"
            self.out(f"cniguard: refused: {journal.describe()} cannot {flag[2:]}; use {hint}")
            return EXIT_REFUSED
        if journal.data.get("plan_fingerprint") != plan_fingerprint(self.plan):
            self.out(
                f"cniguard: refused: {journal.describe()} was started from another plan "
                f"({journal.data.get('plan_file')}); give that plan file"
            )
            return EXIT_REFUSED
        problem = self._lock_problem(resuming=journal)
        if problem:
            self.out(f"cniguard: refused: {problem}")
            return EXIT_REFUSED
        self.run_id = journal.run_id
        self.journal = journal
        return journal

    def _steps(self, journal: Journal, *, resume: bool) -> int:
        for step in self.plan.steps:
            record = journal.step(step.id)
            if record["status"] in ("verified", "already", "checked"):
                continue
            if step.blocked_by:
                return self._stop(journal, step, "; ".join(step.blocked_by))
            try:
                if step.kind == "check":
                    self._check(journal, step)
                    continue
                self._change(journal, step, resumed=resume and record["status"] != "pending")
            except _Blocked as exc:
                return self._stop(journal, step, str(exc))
            except Exception as exc:  # any failure of a step rolls back
                message = (
                    str(exc) if isinstance(exc, StepFailed) else f"{type(exc).__name__}: {exc}"
                )
                changed = journal.step(step.id)["status"] in ("started", "done")
                # "failed": the change may have happened; "error": nothing was changed
                journal.update_step(step.id, status="failed" if changed else "error", error=message)
                self.out(f"  [failed]   {step.id}: {message}")
                return self._rollback(journal, reason=f"step {step.id} failed")
        journal.set(status="done")
        self._release_lock(journal)
        self.out(f"cniguard: done: every step of {self.plan.cluster} is in effect and verified")
        return EXIT_DONE

    def _role_arn(self, step: Step) -> str:
        partition = self.plan.arn.split(":")[1]
        return f"arn:{partition}:iam::{self.plan.account}:role/{step.action.params['RoleName']}"

    def _stop(self, journal: Journal, step: Step, why: str) -> int:
        journal.update_step(step.id, status="blocked", error=why)
        journal.set(status="stopped")
        self._release_lock(journal)
        self.out(f"  [blocked]  {step.id}: {why}")
        self.out(
            f"cniguard: stopped before blocked step {step.id}; the steps before it are done "
            "and verified"
        )
        return EXIT_STOPPED

    def _recheck_dependents(self, step: Step) -> None:
        """Right before a detach: does another cluster's aws-node depend on the role now?"""
        shared = self.dependents(self._role_arn(step))
        if shared:
            raise _Blocked(
                f"node role {step.action.params['RoleName']} is used by {'; '.join(shared)}, "
                "whose aws-node still depends on it: migrate those clusters first"
            )

    def _check(self, journal: Journal, step: Step) -> None:
        problem = self._side(step.action).check(step.action)
        if problem is not None:
            raise StepFailed(f"check failed: {problem}")
        journal.update_step(step.id, status="checked")
        self.out(f"  [ok]       {step.id}: {step.title}")

    def _change(self, journal: Journal, step: Step, *, resumed: bool) -> None:
        judgement = self.judge(step)
        record = journal.step(step.id)
        if judgement.verdict == "already" and not (resumed and record["status"] in CHANGED):
            journal.update_step(
                step.id, status="already", before=judgement.observed, after=judgement.observed
            )
            self.out(f"  [already]  {step.id}: already in effect (left as found)")
            return
        if judgement.verdict == "refuse":
            raise StepFailed(self._refusal(step, judgement.observed))
        if judgement.verdict == "ready":
            if step.action.context.get("node_role"):
                self._recheck_dependents(step)
            if not resumed or record["status"] == "pending":
                journal.update_step(step.id, status="started", before=judgement.observed)
            self._side(step.action).execute(step.action)
            after = self.observe(step)
        else:  # resumed: the change was made before the run stopped
            after = judgement.observed
        journal.update_step(step.id, status="done", after=after)
        if _project(after, step.state_after) != step.state_after:
            raise StepFailed(
                f"after the change the live state is {_short(after)}, not the planned "
                f"{_short(step.state_after)}"
            )
        if step.action.context.get("node_role"):
            problem = self.kube.check(self._test_pods())
            if problem is not None:
                raise StepFailed(f"verification after the detach failed: {problem}")
        journal.update_step(step.id, status="verified")
        self.out(f"  [done]     {step.id}: {step.title}")

    # rollback --------------------------------------------------------------------------------

    def _rollback(self, journal: Journal, *, reason: str) -> int:
        journal.set(status="rolling_back")
        self.out(f"cniguard: rolling back ({reason})")
        left: list[tuple[Step, list[Operation], str]] = []
        for step in reversed(self.plan.steps):
            record = journal.step(step.id)
            if record["status"] not in CHANGED or not step.undo:
                continue
            safe = not left or self._restores_grant(step)
            if not safe:
                pending = [
                    u for i, u in enumerate(step.undo) if record["undo"][i]["status"] != "done"
                ]
                left.append(
                    (
                        step,
                        pending,
                        "not undone: a later undo failed, and undoing this "
                        "one could break what that left in place",
                    )
                )
                continue
            problem = self._undo(journal, step)
            if problem is not None:
                record = journal.step(step.id)
                pending = [
                    u for i, u in enumerate(step.undo) if record["undo"][i]["status"] != "done"
                ]
                left.append((step, pending or list(step.undo), problem))
        if left:
            journal.set(status="rollback_failed")
            self._print_left(left)
            return EXIT_LEFT
        journal.set(status="rolled_back")
        self._release_lock(journal)
        self.out("cniguard: rolled back: every step this run changed is as it was before")
        return EXIT_ROLLED_BACK

    def _is_before(self, step: Step, observed: dict[str, Any]) -> bool:
        before = _project(observed, step.state_before)
        return state_fingerprint(step.action.op, before) == step.fingerprint

    def _restores_grant(self, step: Step) -> bool:
        """Undoing a node-role detach only gives permissions back: safe whatever else is left."""
        return bool(step.action.context.get("node_role"))

    def _undo(self, journal: Journal, step: Step) -> str | None:
        """Undo one step; None when its ``state_before`` holds again, else what went wrong."""
        try:
            observed = self.observe(step)
            record = journal.step(step.id)
            todo = [i for i, u in enumerate(record["undo"]) if u["status"] != "done"]
            if self._is_before(step, observed):
                # only a restart may still be owed: pods may run with the identity of the change
                undo_begun = len(todo) < len(step.undo) or any(
                    record["undo"][i]["status"] == "started" for i in todo
                )
                owed = record["status"] != "started" or undo_begun
                todo = [i for i in todo if owed and step.undo[i].op == "kube:RolloutRestart"]
                if not todo:
                    journal.update_step(step.id, status="undone", after=observed)
                    self.out(f"  [undone]   {step.id}: nothing to undo (as before the run)")
                    return None
            for index in todo:
                op = step.undo[index]
                journal.update_undo(step.id, index, status="started")
                self._side(op).execute(op)
                journal.update_undo(step.id, index, status="done")
            observed = self.observe(step)
        except Exception as exc:  # an undo that fails is reported, others go on
            message = f"{type(exc).__name__}: {exc}"
            journal.update_step(step.id, status="failed", error=f"undo failed: {message}")
            self.out(f"  [left]     {step.id}: undo failed: {message}")
            return f"undo failed: {message}"
        if not self._is_before(step, observed):
            why = f"after the undo the state is {_short(observed)}, not {_short(step.state_before)}"
            journal.update_step(step.id, status="failed", error=why, after=observed)
            self.out(f"  [left]     {step.id}: {why}")
            return why
        journal.update_step(step.id, status="undone", after=observed)
        self.out(f"  [undone]   {step.id}: {step.rollback}")
        return None

    def _print_left(self, left: list[tuple[Step, list[Operation], str]]) -> None:
        self.out("cniguard: the rollback did not finish; this is left, in this order:")
        for step, ops, why in left:
            self.out(f"  - {step.id} ({step.title}): {why}")
            self.out(f"    wanted: {_short(step.state_before)}")
            for op in ops:
                for line in operation_commands(op, region=self.plan.region, context=self.context):
                    self.out(f"    $ {line}")
        self.out(
            "cniguard: after finishing by hand, run `cniguard apply PLAN --rollback` again to "
            "check it and release the lock"
        )
