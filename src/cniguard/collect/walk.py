"""Every entry under a folder the user gave: read, or named as not read (never silently skipped).

A symlinked folder is followed (each real folder is listed once, so a link back to an ancestor
cannot loop); a folder that cannot be listed, a broken link and a special file (FIFO, socket,
device: opening one can hang) are reported as :class:`Unread` with the reason. Regular files are
yielded for the caller to read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Unread:
    path: Path
    reason: str


def special_kind(mode: int) -> str | None:
    """What a non-regular, non-folder file is ("FIFO", "socket", "device"), else None."""
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return None


def check_file(path: Path) -> Unread | None:
    """Why ``path`` (followed if a link) is not a regular file that can be opened safely."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return Unread(path, f"cannot read: {exc.strerror or exc}")
    kind = special_kind(mode)
    if kind is not None:
        return Unread(path, f"a {kind}, not a regular file: not opened")
    if stat.S_ISDIR(mode):
        return Unread(path, "a folder where a file was expected")
    return None


def walk(root: Path, *, skip_dirs: frozenset[str] = frozenset()) -> Iterator[Path | Unread]:
    """Regular files under ``root`` in sorted order, and every entry that could not be read."""
    try:
        top = root.stat()
    except OSError as exc:
        yield Unread(root, f"cannot read: {exc.strerror or exc}")
        return
    seen = {(top.st_dev, top.st_ino)}
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            yield Unread(folder, f"cannot list the folder: {exc.strerror or exc}")
            continue
        subfolders: list[Path] = []
        for entry in entries:
            path = Path(entry.path)
            try:
                info = entry.stat()  # follows links
            except OSError as exc:
                reason = "broken symlink" if entry.is_symlink() else "cannot read"
                yield Unread(path, f"{reason}: {exc.strerror or exc}")
                continue
            if stat.S_ISDIR(info.st_mode):
                key = (info.st_dev, info.st_ino)
                if entry.name not in skip_dirs and key not in seen:
                    seen.add(key)
                    subfolders.append(path)
            elif stat.S_ISREG(info.st_mode):
                yield path
            else:
                kind = special_kind(info.st_mode) or "special file"
                yield Unread(path, f"a {kind}, not a regular file: not opened")
        stack.extend(reversed(subfolders))
