"""One page of a long listing on the dashboard, with links that keep the listing's filters."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

PAGE_SIZE = 100


@dataclass(frozen=True)
class Pager:
    """Page ``number`` (from 1) of ``total`` rows under ``path?params``."""

    path: str
    params: tuple[tuple[str, str | None], ...]
    number: int
    total: int
    size: int = PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def first(self) -> int:
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.offset + self.size, self.total)

    def url(self, number: int) -> str:
        query = [(k, v) for k, v in self.params if v] + [("page", str(number))]
        return f"{self.path}?{urlencode(query)}"

    @property
    def prev_url(self) -> str | None:
        return self.url(self.number - 1) if self.number > 1 else None

    @property
    def next_url(self) -> str | None:
        return self.url(self.number + 1) if self.offset + self.size < self.total else None
