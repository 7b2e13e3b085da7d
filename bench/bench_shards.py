"""Sharded run benchmark: an Organization of 40 accounts x 3 regions (moto, one cluster per
account, ``tests/store/org_fleet.py``) read whole and as 4 shards of one ``--run-id``.

1. In this process, one after another: the whole run, then each shard, each collected, evaluated
   and stored in its own SQLite store; wall time and API calls of each.
2. As Kubernetes would run an Indexed Job: 4 ``cniguard scan --shard i/4 --run-id R --db URL``
   processes at once into one store, against the same fake endpoint; wall time until the last
   ends, and the API calls each stored.

Both end with the KPIs of the sharded store compared to the whole run's (they must be equal).
moto answers in this process, so its CPU time (and the machine's other load) is in every figure:
read the ratios, not the seconds. Not part of the test suite; run with the project's venv:

    .venv/bin/python bench/bench_shards.py
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the shared fakes

from cniguard.collect.aws.scope import select_shard
from cniguard.collect.live import collect_live
from cniguard.collect.options import LiveOptions
from cniguard.engine import evaluate
from cniguard.store import save_report
from cniguard.store.database import get_engine
from cniguard.store.kpi import compute_kpis
from cniguard.store.schema import Scan
from cniguard.store.scope import tag_run
from fakes.proxy import FakeAws, start_moto
from store.org_fleet import REGIONS, OrgCluster, build_org, kube_export

SHARDS = 4
ENV = {
    "MOTO_IAM_LOAD_MANAGED_POLICIES": "false",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # dummy key for the local fakes
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def _exports(org: list[OrgCluster], folder: Path, accounts: set[str]) -> list[tuple[str, str]]:
    return [kube_export(folder / c.built.name, c) for c in org if c.account.account in accounts]


def in_process(org: list[OrgCluster], folder: Path, accounts: list[str]) -> dict[str, Any]:
    """Whole run and each shard one after another; KPIs of both stores."""
    results: dict[str, Any] = {}
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    for label, shard in [("whole", None), *((f"shard {i}", (i, SHARDS)) for i in range(SHARDS))]:
        mine = set(select_shard(accounts, shard))
        options = LiveOptions(
            regions=REGIONS,
            org=True,
            cloudtrail=False,
            shard=shard,
            kube_exports=tuple(_exports(org, folder, mine)),
            quiet=True,
        )
        started = time.monotonic()
        inv = collect_live(options)
        report = tag_run(evaluate(inv, generated_at=stamp), label.split()[0], shard)
        url = f"sqlite:///{folder / ('whole.db' if shard is None else 'shards.db')}"
        save_report(url, report)
        results[label] = (time.monotonic() - started, int(inv.meta["api_calls_total"]))
        assert not inv.gaps, inv.gaps[:3]
    results["kpis"] = [
        _comparable(compute_kpis(get_engine(f"sqlite:///{folder / db}")))
        for db in ("whole.db", "shards.db")
    ]
    return results


def _comparable(kpis: dict[str, Any]) -> dict[str, Any]:
    """The KPIs without the window (a clock) and the run (its shard count)."""
    return {k: v for k, v in kpis.items() if k not in ("window", "latest_run")}


def as_jobs(org: list[OrgCluster], folder: Path, accounts: list[str]) -> tuple[float, list[int]]:
    """4 ``cniguard scan`` processes at once into one store; wall time and calls per shard."""
    url = f"sqlite:///{folder / 'jobs.db'}"
    procs = []
    started = time.monotonic()
    for i in range(SHARDS):
        mine = set(select_shard(accounts, (i, SHARDS)))
        flags = [f"--kube-export={name}={path}" for name, path in _exports(org, folder, mine)]
        command = [
            sys.executable, "-c", "from cniguard.cli.main import main; main()",
            "scan", "--org", "--no-cloudtrail",
            "--regions", ",".join(REGIONS), "--shard", f"{i}/{SHARDS}", "--run-id", "jobs",
            "--db", url, "--quiet", "--format", "json", "--output", str(folder / f"job{i}.json"),
            *flags,
        ]  # fmt: skip
        procs.append(subprocess.Popen(command, stderr=subprocess.PIPE, text=True))
    for proc in procs:
        _, err = proc.communicate(timeout=1200)
        assert proc.returncode in (0, 1), err
    wall = time.monotonic() - started
    with get_engine(url).connect() as conn:
        rows = conn.execute(select(Scan.shard_index, Scan.coverage).order_by(Scan.shard_index))
        calls = [int(c["collection"]["api_calls_total"]) for _, c in rows]
    return wall, calls


def main() -> None:
    moto = start_moto()
    host, port = moto.get_host_and_port()
    fake = FakeAws(host, port).start()
    os.environ.update(ENV, AWS_ENDPOINT_URL=fake.url)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    try:
        started = time.monotonic()
        org = build_org(fake)
        accounts = sorted(c.account.account for c in org)
        print(f"built {len(accounts)} accounts x {len(REGIONS)} regions, {len(org)} clusters "
              f"in {time.monotonic() - started:.0f} s")  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            results = in_process(org, folder, accounts)
            whole_s, whole_calls = results["whole"]
            shard_rows = [results[f"shard {i}"] for i in range(SHARDS)]
            print(f"{'run':<10} {'wall s':>7} {'API calls':>9}")
            print(f"{'whole':<10} {whole_s:>7.2f} {whole_calls:>9}")
            for i, (seconds, calls) in enumerate(shard_rows):
                print(f"{f'shard {i}/4':<10} {seconds:>7.2f} {calls:>9}")
            total_s = sum(s for s, _ in shard_rows)
            total_calls = sum(c for _, c in shard_rows)
            print(f"{'4 shards':<10} {total_s:>7.2f} {total_calls:>9}  (sum, one after another)")
            print(f"slowest shard / whole run: {max(s for s, _ in shard_rows) / whole_s:.2f}; "
                  f"extra API calls of sharding: {total_calls - whole_calls} "
                  f"({100 * (total_calls - whole_calls) / whole_calls:.1f}%)")  # fmt: skip
            whole_kpis, shard_kpis = results["kpis"]
            print(f"KPIs of the sharded store equal the whole run's: {whole_kpis == shard_kpis}")
            jobs_s, job_calls = as_jobs(org, folder, accounts)
            print(f"4 `cniguard scan` processes at once (Indexed Job): {jobs_s:.2f} s wall, "
                  f"API calls per shard {job_calls} (sum {sum(job_calls)})")  # fmt: skip
    finally:
        fake.stop()
        moto.stop()


if __name__ == "__main__":
    main()
