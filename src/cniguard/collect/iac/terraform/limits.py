"""Hard limits on evaluating Terraform that nobody vetted (a pull request in CI, pre-commit).

A few hundred bytes of HCL can ask for exabytes (doubling string locals), billions of instances
(``count = 100000000``) or years of work (nested ``for``); each evaluation is therefore checked
against :class:`Limits`. Past a limit the value is unknown, the hit is recorded for a gap naming
file and line, and the rest of the scan goes on. The defaults are far above what real code needs
(terraform-aws-eks uses a small fraction of each).

``LimitExceeded`` is deliberately not an ``EvalError``: ``try()`` and ``can()`` must not turn an
evaluation that was cut short into their fallback value (that would be a guess, not a fact).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Caps per value, per block and per root module (``collect_terraform(..., limits=)``)."""

    value_bytes: int = 4 * 1024 * 1024  # one value: string characters, 8 per scalar/element
    collection_items: int = 10_000  # elements of one list or map, iterations of one ``for``
    instances: int = 10_000  # instances of one ``count`` / ``for_each`` block
    nesting: int = 200  # levels of lists/maps inside one value
    number_bits: int = 1_024  # integers (Terraform numbers are 512-bit floats)
    steps: int = 2_000_000  # expression nodes evaluated per root module (a few seconds)
    seconds: float = 30.0  # wall time of evaluating one root module


class LimitExceeded(Exception):
    """An evaluation went past a :class:`Limits` cap; ``message`` says which and by how much."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class LimitHit:
    """Where a cap stopped an evaluation (becomes a gap)."""

    file: str | None
    line: int | None
    message: str


_CHECK_CLOCK_EVERY = 1_024


@dataclass
class Budget:
    """The running account of one root module's evaluation against its limits."""

    limits: Limits = field(default_factory=Limits)
    timed: bool = True  # False outside a scan (unit tests of expressions): value caps only
    steps: int = 0
    deadline: float = 0.0
    exhausted: str | None = None
    hits: dict[tuple[str | None, int | None, str], LimitHit] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.limits.seconds

    def tick(self) -> None:
        """One expression node; raises once the module's step or time budget is spent."""
        if self.exhausted is not None:
            raise LimitExceeded(self.exhausted)
        if not self.timed:
            return
        self.steps += 1
        if self.steps > self.limits.steps:
            self.exhausted = f"over the budget of {self.limits.steps} evaluation steps per module"
        elif self.steps % _CHECK_CLOCK_EVERY == 0 and time.monotonic() > self.deadline:
            self.exhausted = (
                f"over the budget of {self.limits.seconds:g} s of evaluation per module"
            )
        if self.exhausted is not None:
            raise LimitExceeded(self.exhausted)

    def record(self, file: str | None, line: int | None, message: str) -> None:
        """Once the budget is spent every later value is cut too: only the first place counts."""
        if not self.timed:
            return
        if message == self.exhausted and any(h.message == message for h in self.hits.values()):
            return
        self.hits.setdefault((file, line, message), LimitHit(file, line, message))

    def text(self, length: int, what: str) -> None:
        if length > self.limits.value_bytes:
            raise LimitExceeded(
                f"{what} of {length} characters is over the {self.limits.value_bytes} limit"
            )

    def items(self, count: int, what: str) -> None:
        if count > self.limits.collection_items:
            raise LimitExceeded(
                f"{what} of {count} elements is over the {self.limits.collection_items} limit"
            )

    def number(self, value: int | float) -> None:
        if isinstance(value, int) and value.bit_length() > self.limits.number_bits:
            raise LimitExceeded(f"a number over {self.limits.number_bits} bits")

    def value(self, value: Any) -> None:
        """Walk a value (shared parts counted each time, as serialising it would) and stop at
        the first cap it passes: the walk itself is bounded by the limits."""
        limits = self.limits
        total = 0
        stack: list[tuple[Any, int]] = [(value, 0)]
        while stack:
            item, depth = stack.pop()
            if isinstance(item, str):
                total += len(item)
            elif isinstance(item, dict | list):
                if depth >= limits.nesting:
                    raise LimitExceeded(f"a value nested over {limits.nesting} levels")
                self.items(len(item), "a collection")
                total += 8 * len(item)
                if isinstance(item, dict):
                    total += sum(len(key) for key in item)
                    stack.extend((v, depth + 1) for v in item.values())
                else:
                    stack.extend((v, depth + 1) for v in item)
            else:
                if isinstance(item, int) and not isinstance(item, bool):
                    self.number(item)
                total += 8
            if total > limits.value_bytes:
                raise LimitExceeded(f"a value over the {limits.value_bytes} byte limit")


_UNTIMED = Budget(timed=False)
_current: ContextVar[Budget] = ContextVar("cniguard_terraform_budget", default=_UNTIMED)


def budget() -> Budget:
    """The budget of the root module being evaluated (value caps only outside a scan)."""
    return _current.get()


@contextmanager
def evaluating(limits: Limits) -> Iterator[Budget]:
    """A fresh budget for one root module, active for the duration of the block."""
    fresh = Budget(limits)
    token = _current.set(fresh)
    try:
        yield fresh
    finally:
        _current.reset(token)
