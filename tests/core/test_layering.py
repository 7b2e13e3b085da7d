"""The pure core (model, iam, rules, engine, analysis, the planner) imports no I/O library
(design §2)."""

from __future__ import annotations

import subprocess
import sys

CORE = (
    "cniguard.model.inventory",
    "cniguard.model.finding",
    "cniguard.iam.evaluate",
    "cniguard.iam.trust",
    "cniguard.analysis",
    "cniguard.rules",
    "cniguard.engine",
    "cniguard.demo",
    "cniguard.config",
    "cniguard.remediate.planner",
    "cniguard.remediate.render",
    "cniguard.remediate.impact",
    "cniguard.remediate.terraform_changes",
)
FORBIDDEN = (
    "boto3",
    "botocore",
    "kubernetes",
    "sqlalchemy",
    "psycopg",
    "fastapi",
    "starlette",
    "uvicorn",
    "hcl2",
    "cfnlint",
    "httpx",
    "requests",
    "urllib3",
)


def test_core_imports_no_io_library() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in CORE)
        + "from cniguard.demo import build_fleet\nfrom cniguard.engine import evaluate\n"
        + "evaluate(build_fleet())\n"
        + "from cniguard.remediate.planner import PlanOptions, build_plan\n"
        + "fleet = build_fleet()\n"
        + "build_plan(fleet, [c.arn for c in fleet.clusters], PlanOptions('irsa'))\n"
        + f"print(sorted(m for m in {FORBIDDEN!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
