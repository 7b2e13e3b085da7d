"""The task group's lanes: no account and region runs more than its share of reads at once, queued
reads still run, and a reader that crashes becomes a gap on its own scope."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from cniguard.collect.aws.calls import CallLog
from cniguard.collect.aws.errors import Where
from cniguard.collect.aws.tasks import TaskGroup, iam_lane
from cniguard.model.inventory import Gap


def test_each_lane_runs_at_most_its_share_and_queued_tasks_still_run() -> None:
    lock = threading.Lock()
    running: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    done: Counter[str] = Counter()
    pair = {"eu": threading.Event(), "us": threading.Event(), "iam": threading.Event()}

    def read(lane: str) -> None:
        with lock:
            running[lane] += 1
            peak[lane] = max(peak[lane], running[lane])
            if running[lane] == 2:
                pair[lane].set()
        pair[lane].wait(timeout=5)  # the first read waits until a second runs beside it
        with lock:
            running[lane] -= 1
            done[lane] += 1

    def crash() -> None:
        raise KeyError("clusterName")

    log = CallLog()
    with ThreadPoolExecutor(16) as pool:
        group = TaskGroup(pool, log, per_lane=2)
        for _ in range(5):
            group.spawn(read, "eu", what="eks:cluster", where=Where("1", "eu-west-1"))
            group.spawn(read, "iam", what="iam:role", where=Where("1"), lane=iam_lane("1"))
        for _ in range(3):
            group.spawn(read, "us", what="eks:cluster", where=Where("1", "us-east-1"))
        group.spawn(crash, what="eks:addons", where=Where("2", "eu-west-1", "arn:c"))
        group.wait()

    assert peak == {"eu": 2, "us": 2, "iam": 2}
    assert done == {"eu": 5, "us": 3, "iam": 5}
    assert log.gaps == [
        Gap(
            what="eks:addons",
            reason="internal error while reading: KeyError: 'clusterName'",
            account="2",
            region="eu-west-1",
            cluster="arn:c",
            error_code="InternalError",
        )
    ]
