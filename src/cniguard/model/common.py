"""Types shared by every part of the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

JsonDict = dict[str, Any]
SourceKind = Literal["aws", "k8s", "cloudtrail", "iac", "demo"]


@dataclass(frozen=True)
class Origin:
    """Where a fact came from: cited as evidence, and as the location of IaC findings."""

    source: SourceKind
    account: str | None = None
    region: str | None = None
    api: str | None = None
    context: str | None = None
    file: str | None = None
    line: int | None = None

    def describe(self) -> str:
        if self.file:
            return f"{self.file}:{self.line}" if self.line else self.file
        parts = [p for p in (self.source, self.account, self.region, self.api, self.context) if p]
        return "/".join(parts)
