"""What `cniguard verify` found, as data, JSON (``cniguard.verify/v1``) and a terminal table."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from io import StringIO
from typing import Any, Literal

SCHEMA = "cniguard.verify/v1"
GroupStatus = Literal["ok", "failed", "no_nodes"]
EXIT_OK, EXIT_FAILED, EXIT_UNTESTED = 0, 1, 3


@dataclass(frozen=True)
class EventNote:
    """One Kubernetes event that explains a result (sandbox failure, missing IAM permission)."""

    reason: str
    message: str
    object: str  # kind/namespace/name
    count: int
    last_seen: str | None


@dataclass(frozen=True)
class GroupResult:
    group: str
    kind: str
    status: GroupStatus
    node: str | None = None
    pod: str | None = None
    ip: str | None = None
    seconds_to_ip: float | None = None
    message: str = ""
    events: tuple[EventNote, ...] = ()


@dataclass(frozen=True)
class ScaleResult:
    """The scaling test: one more node in a managed node group, its pod's IP, the size restored."""

    nodegroup: str
    status: Literal["ok", "failed"]
    desired_before: int | None = None
    desired_raised: int | None = None
    max_before: int | None = None
    restored: bool = False
    node: str | None = None
    seconds_to_node_ready: float | None = None
    pod: str | None = None
    ip: str | None = None
    seconds_to_ip: float | None = None
    message: str = ""
    events: tuple[EventNote, ...] = ()


@dataclass(frozen=True)
class VerifyResult:
    cluster: str
    started_at: str
    namespace: str | None
    groups: tuple[GroupResult, ...]
    scale_test: ScaleResult | None = None
    cleanup: str = ""  # what happened to the scratch namespace
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return exit_code(self) == EXIT_OK


def exit_code(result: VerifyResult) -> int:
    """1 when a group (or the scaling test) failed; else 3 when a group could not be tested."""
    if any(g.status == "failed" for g in result.groups) or (
        result.scale_test is not None and result.scale_test.status == "failed"
    ):
        return EXIT_FAILED
    if not result.groups or any(g.status == "no_nodes" for g in result.groups):
        return EXIT_UNTESTED
    return EXIT_OK


def to_json(result: VerifyResult) -> str:
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "cluster": result.cluster,
        "started_at": result.started_at,
        "namespace": result.namespace,
        "groups": [asdict(g) for g in result.groups],
        "scale_test": asdict(result.scale_test) if result.scale_test else None,
        "cleanup": result.cleanup,
        "notes": list(result.notes),
        "ok": result.ok,
    }
    return json.dumps(document, indent=2) + "\n"


def render_table(result: VerifyResult, *, color: bool = False, width: int = 140) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buffer = StringIO()
    console = Console(
        file=buffer,
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        highlight=False,
        emoji=False,
    )
    table = Table(title=Text(f"cniguard verify: {result.cluster} ({result.started_at})"))
    for column in ("group", "kind", "node", "pod", "result"):
        table.add_column(column, overflow="fold")
    styles = {"ok": "green", "failed": "bold red", "no_nodes": "yellow"}
    for g in result.groups:
        outcome = Text(_outcome(g.status, g.ip, g.seconds_to_ip, g.message), styles[g.status])
        table.add_row(*(Text(v or "-") for v in (g.group, g.kind, g.node, g.pod)), outcome)
    console.print(table)
    for g in result.groups:
        for event in g.events:
            console.print(Text(f"  {g.group}: {_event_line(event)}"))
    scale = result.scale_test
    if scale is not None:
        console.print(Text(_scale_line(scale), styles[scale.status]))
        for event in scale.events:
            console.print(Text(f"  {scale.nodegroup}: {_event_line(event)}"))
    for line in result.notes:
        console.print(Text(f"note: {line}"))
    console.print(Text(f"scratch namespace {result.namespace or '-'}: {result.cleanup}"))
    console.print(Text(VERDICTS[exit_code(result)]))
    return buffer.getvalue()


VERDICTS = {
    EXIT_OK: "every group got a pod IP",
    EXIT_FAILED: "FAILED",
    EXIT_UNTESTED: "INCOMPLETE: a group could not be tested",
}


def _event_line(event: EventNote) -> str:
    return f"{event.reason} ({event.object}, x{event.count}): {event.message}"


def _scale_line(scale: ScaleResult) -> str:
    outcome = _outcome(scale.status, scale.ip, scale.seconds_to_ip, scale.message)
    restored = "restored" if scale.restored else "NOT restored"
    return (
        f"scaling test {scale.nodegroup}: desired {scale.desired_before} -> "
        f"{scale.desired_raised}, {restored}; new node {scale.node or '-'}: {outcome}"
    )


def _outcome(status: str, ip: str | None, seconds: float | None, message: str) -> str:
    if status == "ok":
        return f"IP {ip} after {seconds:.1f}s"
    return message or status
