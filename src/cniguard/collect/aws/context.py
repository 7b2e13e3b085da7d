"""What every reader task of one run shares: the call log, the task group and the options."""

from __future__ import annotations

from dataclasses import dataclass

from cniguard.collect.aws.calls import CallLog
from cniguard.collect.aws.tasks import TaskGroup
from cniguard.collect.options import LiveOptions


@dataclass(frozen=True)
class RunContext:
    log: CallLog
    tasks: TaskGroup
    options: LiveOptions
