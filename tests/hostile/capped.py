"""Run Python code in a child process under a hard memory cap, so a regression that blows up
fails its test (MemoryError or a killed child) instead of taking the CI machine down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
MEMORY_CAP = 1024 * 1024 * 1024  # address space of the child: 1 GiB

_PROLOGUE = f"""
import resource
resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_CAP}, {MEMORY_CAP}))
"""


# Drops root's power to ignore permission bits, so a mode-000 folder is unreadable in the child.
NO_DAC_OVERRIDE = ("setpriv", "--bounding-set=-dac_override,-dac_read_search")


def run_capped(
    code: str,
    *args: str,
    cwd: Path | None = None,
    timeout: float = 120,
    prefix: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """``python -c code args`` with the memory cap, this worktree's sources first on the path;
    ``prefix`` is a command that runs it (``NO_DAC_OVERRIDE``)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [*prefix, sys.executable, "-c", _PROLOGUE + code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
        check=False,
    )


CLI = "import sys\nfrom cniguard.cli.main import main\nsys.argv = ['cniguard', *sys.argv[1:]]\nmain()\n"
