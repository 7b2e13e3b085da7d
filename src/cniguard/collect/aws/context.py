"""What every reader task of one run shares: the call log, the task group, the options, and where
to report that a cluster's draft gained parts (so the roles it references are read at once)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cniguard.collect.aws.calls import CallLog
from cniguard.collect.aws.drafts import ClusterDraft
from cniguard.collect.aws.tasks import TaskGroup
from cniguard.collect.options import LiveOptions


def _ignore(draft: ClusterDraft) -> None:
    return None


@dataclass(frozen=True)
class RunContext:
    log: CallLog
    tasks: TaskGroup
    options: LiveOptions
    follow: Callable[[ClusterDraft], None] = _ignore
