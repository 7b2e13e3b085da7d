"""Time `cniguard iac` on a real repository and count what it judged.

Usage: python bench/bench_iac_wild.py DIR [DIR...]   (e.g. a checkout of
aws-ia/terraform-aws-eks-blueprints). For each DIR: the number of .tf files, the wall and CPU
time (CPU time is the steadier figure on a shared machine) and the peak memory of one
`cniguard iac -f json` process over the whole tree, the clusters found with their verdicts, and
the gaps. The tree is read as users give it: one path, discovery finds the files.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

_CLI = "import sys; from cniguard.cli.main import main; sys.argv[0] = 'cniguard'; main()"


def run(tree: Path) -> None:
    tf_files = sum(1 for p in tree.rglob("*.tf") if ".terraform" not in p.parts)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CLI, "iac", "-f", "json", str(tree)],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    peak = after.ru_maxrss / 1024
    report = json.loads(done.stdout)
    verdicts = Counter(
        "compliant"
        if c.get("compliant") is True
        else "noncompliant"
        if c.get("compliant") is False
        else f"unknown/{c.get('cni_identity')}"
        for c in report["clusters"]
    )
    print(
        f"{tree}: {tf_files} .tf files, {elapsed:.2f} s wall, {cpu:.2f} s CPU, peak {peak:.0f} MiB, exit "
        f"{done.returncode}, {len(report['clusters'])} clusters {dict(sorted(verdicts.items()))}, "
        f"{len(report['coverage']['gaps'])} gaps"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", type=Path)
    for tree in parser.parse_args().trees:
        run(tree)


if __name__ == "__main__":
    main()
