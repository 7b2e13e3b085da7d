"""Bounded gaps: a hostile file with millions of bad values yields a short list, not millions.

Equal gaps are kept once with how often they recurred; each file (a gap's ``resource``) keeps at
most :data:`MAX_GAPS_PER_FILE` distinct gaps, the rest counted in one last gap. Nothing is lost
as far as completeness goes: the file still has gaps, so what depends on it stays unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from cniguard.model.inventory import Gap

MAX_GAPS_PER_FILE = 20


def cap_gaps(gaps: Iterable[Gap], repeats: Mapping[Gap, int] | None = None) -> list[Gap]:
    """``gaps`` deduplicated and capped per file, in first-seen order.

    ``repeats`` adds occurrences a reader counted without building the gap again.
    """
    counts: dict[Gap, int] = {}
    for gap in gaps:
        counts[gap] = counts.get(gap, 0) + 1
    for gap, extra in (repeats or {}).items():
        counts[gap] = counts.get(gap, 0) + extra
    kept: dict[str | None, int] = {}
    overflow: dict[str | None, tuple[Gap, int]] = {}
    out: list[Gap] = []
    for gap, count in counts.items():
        file = gap.resource
        if file is not None and kept.get(file, 0) >= MAX_GAPS_PER_FILE:
            first, more = overflow.get(file, (gap, 0))
            overflow[file] = (first, more + count)
            continue
        kept[file] = kept.get(file, 0) + 1
        again = f" (and {count - 1} more like this)" if count > 1 else ""
        out.append(replace(gap, reason=gap.reason + again) if again else gap)
    for file, (first, more) in overflow.items():
        out.append(
            replace(
                first,
                line=None,
                reason=f"... and {more} more problems in {file} not listed "
                f"(at most {MAX_GAPS_PER_FILE} distinct ones per file)",
            )
        )
    return out
