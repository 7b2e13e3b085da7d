"""Issue 15 item 2: a live scan's progress stays visible while it waits (a terminal only)."""

from __future__ import annotations

import re
import time
from io import StringIO

from rich.console import Console

from cniguard.cli.live_output import RichProgress, progress_bar


def test_progress_redraws_while_nothing_completes() -> None:
    out = StringIO()
    console = Console(file=out, force_terminal=True, width=80, color_system=None)
    with progress_bar(enabled=True, console=console) as progress:
        assert isinstance(progress, RichProgress)
        progress.add("regions", 3)
        progress.advance("regions")
        time.sleep(1.2)  # waiting on a silent endpoint: nothing advances
    frames = [f for f in re.split(r"\r|\x1b\[2K|\x1b\[1A", out.getvalue()) if "1/3" in f]
    assert len(frames) >= 3  # redrawn while it waited, though nothing advanced
    assert len({f[0] for f in frames}) >= 2  # the spinner turns
    assert "0:00:01" in frames[-1]  # and the elapsed time moves on
    assert out.getvalue().endswith("\x1b[1A\x1b[2K")  # cleared at the end: the report follows


def test_no_progress_without_a_terminal() -> None:
    out = StringIO()
    console = Console(file=out, force_terminal=False, width=80)
    with progress_bar(enabled=False, console=console) as progress:
        progress.add("regions", 3)
        progress.advance("regions")
    assert out.getvalue() == ""
