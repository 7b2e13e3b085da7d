"""The cost package is pure like the core it feeds (only the collector talks to AWS)."""

from __future__ import annotations

import subprocess
import sys

from core.test_layering import FORBIDDEN

PURE = (
    "cniguard.cost.prices",
    "cniguard.cost.settings",
    "cniguard.cost.incident",
    "cniguard.cost.exposure",
    "cniguard.cost.section",
    "cniguard.cost.text",
)


def test_cost_modules_import_no_io_library() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in PURE)
        + "cniguard.cost.prices.bundled_table()\n"
        + f"print(sorted(m for m in {FORBIDDEN!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
