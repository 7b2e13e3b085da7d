"""Issue 15 items 3 and 4: nothing under a given path is skipped silently, and a hostile file
cannot amplify into millions of gaps or discard the other files of its cluster.

Unreadable folders need a process the permission bits apply to: the child runs under ``setpriv``
without root's capabilities to override them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from cniguard.collect.kube_export import read_export
from hostile.capped import CLI, NO_DAC_OVERRIDE, run_capped

CLUSTER = "arn:aws:eks:us-east-1:111122223333:cluster/prod"
EVENT = {
    "apiVersion": "v1",
    "kind": "Event",
    "metadata": {"name": "aws-node-x.1", "namespace": "kube-system"},
    "involvedObject": {"kind": "Pod", "name": "aws-node-x", "namespace": "kube-system"},
    "reason": "MissingIAMPermissions",
    "message": "Unauthorized operation: failed to call ec2:CreateNetworkInterface",
    "type": "Warning",
    "lastTimestamp": "2026-01-02T03:04:05Z",
}
TERRAFORM = Path(__file__).resolve().parents[1] / "fixtures" / "terraform" / "raw_irsa" / "main.tf"


def _events(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "events.json").write_text(json.dumps({"kind": "List", "items": [EVENT]}))


@pytest.mark.timeout(30)
def test_export_follows_symlinked_folders_and_names_every_other_entry(tmp_path: Path) -> None:
    _events(tmp_path / "elsewhere" / "events")
    export = tmp_path / "export"
    export.mkdir()
    (export / "nodes.json").write_text('{"kind": "NodeList", "items": []}')
    (export / "events").symlink_to(tmp_path / "elsewhere" / "events")
    (export / "loop").symlink_to(export)  # followed once: no loop, no gap (already read)
    (export / "dangling.json").symlink_to(tmp_path / "gone.json")
    (export / "self").symlink_to(export / "self")
    os.mkfifo(export / "pods.json")  # opening it would block forever
    (export / "pods.yaml").write_text("kind: PodList\nitems: []\n")

    state, gaps = read_export(export, cluster=CLUSTER)

    assert [(e.reason, e.involved_name) for e in state.events or ()] == [
        ("MissingIAMPermissions", "aws-node-x")
    ]
    assert state.nodes == ()
    assert sorted((Path(g.resource or "").name, g.what, g.reason) for g in gaps) == [
        ("dangling.json", "k8s:export", "broken symlink: No such file or directory"),
        ("export", "k8s:aws-auth", f"not in the export {export}"),
        ("export", "k8s:daemonsets", f"not in the export {export}"),
        ("export", "k8s:pods", f"not in the export {export}"),
        ("export", "k8s:serviceaccounts", f"not in the export {export}"),
        ("pods.json", "k8s:export", "a FIFO, not a regular file: not opened"),
        ("pods.yaml", "k8s:export", "not a *.json export file: not read"),
        ("self", "k8s:export", "broken symlink: Too many levels of symbolic links"),
    ]


_READ_EXPORT = """
import json, sys
from pathlib import Path
from typing import Any
from cniguard.collect.kube_export import read_export
state, gaps = read_export(Path(sys.argv[1]), cluster="c")
print(json.dumps({
    "events": [e.reason for e in state.events] if state.events is not None else None,
    "gaps": sorted([g.resource, g.reason] for g in gaps if g.what == "k8s:export"),
}))
"""


@pytest.mark.timeout(60)
def test_an_unreadable_export_folder_is_a_gap(tmp_path: Path) -> None:
    _events(tmp_path / "export" / "a")
    _events(tmp_path / "export" / "locked")
    (tmp_path / "export" / "locked").chmod(0)
    done = run_capped(_READ_EXPORT, str(tmp_path / "export"), prefix=NO_DAC_OVERRIDE)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "events": ["MissingIAMPermissions"],
        "gaps": [[f"{tmp_path}/export/locked", "cannot list the folder: Permission denied"]],
    }


def _iac(cwd: Path, *args: str, prefix: tuple[str, ...] = ()) -> tuple[int, str, dict[str, Any]]:
    report = cwd / "report.json"
    done = run_capped(
        CLI,
        "iac",
        *args,
        "--fail-on-incomplete",
        "-f",
        "json",
        "-o",
        str(report),
        cwd=cwd,
        timeout=60,
        prefix=prefix,
    )
    coverage = json.loads(report.read_text())["coverage"] if report.exists() else {}
    return done.returncode, done.stderr, coverage


@pytest.mark.timeout(90)
def test_iac_reads_symlinked_folders_and_never_opens_a_fifo(tmp_path: Path) -> None:
    (tmp_path / "modules" / "eks").mkdir(parents=True)
    (tmp_path / "modules" / "eks" / "main.tf").write_text(TERRAFORM.read_text())
    os.mkfifo(tmp_path / "modules" / "eks" / "hang.tf")  # also where Terraform lists *.tf
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "eks").symlink_to(tmp_path / "modules" / "eks")

    code, err, coverage = _iac(tmp_path, "repo")

    fifo = "repo/eks/hang.tf: a FIFO, not a regular file: not opened"
    assert (code, err) == (
        3,
        f"cniguard: {fifo}\ncniguard: wrote json report to {tmp_path}/report.json\n",
    )
    assert coverage["collection"] == {
        "paths": ["repo"],
        "files_read": ["repo/eks/main.tf"],
        "files_skipped": [
            {"file": "repo/eks/hang.tf", "reason": "a FIFO, not a regular file: not opened"}
        ],
        "formats": {"terraform": 1},
    }


@pytest.mark.timeout(90)
def test_iac_with_an_unreadable_folder_is_incomplete(tmp_path: Path) -> None:
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "main.tf").write_text(TERRAFORM.read_text())
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "main.tf").write_text(TERRAFORM.read_text())
    (tmp_path / "locked").chmod(0)
    code, err, coverage = _iac(tmp_path, str(tmp_path), prefix=NO_DAC_OVERRIDE)

    assert (code, err.splitlines()[0]) == (
        3,
        "cniguard: locked: cannot list the folder: Permission denied",
    )
    assert coverage["collection"]["files_read"] == ["ok/main.tf"]


@pytest.mark.timeout(60)
def test_iac_on_a_folder_without_iac_is_incomplete(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("print('hello')\n")
    code, err, coverage = _iac(tmp_path, "src")
    assert (code, err.splitlines()[0]) == (
        3,
        "cniguard: src: no Terraform, CloudFormation, eksctl or manifest files found",
    )
    assert coverage["collection"]["files_read"] == []


@pytest.mark.timeout(30)
def test_a_huge_integer_in_one_file_keeps_the_other_files(tmp_path: Path) -> None:
    _events(tmp_path / "export")
    (tmp_path / "export" / "nodes.json").write_text(
        '{"kind": "NodeList", "items": [{"metadata": {"generation": ' + "9" * 5000 + "}}]}"
    )
    state, gaps = read_export(tmp_path / "export", cluster=CLUSTER)
    assert [e.reason for e in state.events or ()] == ["MissingIAMPermissions"]
    assert state.nodes is None
    bad = [(g.resource, g.reason) for g in gaps if g.what == "k8s:export"]
    assert bad == [
        (
            f"{tmp_path}/export/nodes.json",
            "invalid JSON: Exceeds the limit (4300 digits) for integer string conversion: "
            "value has 5000 digits; use sys.set_int_max_str_digits() to increase the limit",
        )
    ]


_AMPLIFY = """
import json, sys
from pathlib import Path
from typing import Any
from cniguard.collect.kube_export import read_export
state, gaps = read_export(Path(sys.argv[1]), cluster="c")
print(json.dumps(sorted([Path(g.resource).name, g.what, g.reason] for g in gaps)))
"""


@pytest.mark.timeout(120)
def test_millions_of_bad_values_give_a_short_report(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "scalars.json").write_text(
        '{"kind": "PodList", "items": [' + "1," * 2_999_999 + "1]}"
    )
    pod = '{"metadata": {"name": "p%d", "namespace": "kube-system"}, "spec": 1}'
    (export / "pods.json").write_text(
        '{"kind": "PodList", "items": [' + ",".join(pod % i for i in range(50_000)) + "]}"
    )
    (export / "docs.json").write_text("[] " * 100_000)
    _events(export / "ok")
    assert sum(f.stat().st_size for f in export.iterdir() if f.is_file()) > 6_000_000

    done = run_capped(_AMPLIFY, str(export), timeout=100)

    assert done.returncode == 0, done.stderr
    malformed = [
        [
            "pods.json",
            "k8s:pods",
            f"malformed Pod kube-system/p{i}: spec: Input should be a valid "
            "dictionary or instance of PodSpec",
        ]
        for i in range(10)
    ]
    assert json.loads(done.stdout) == sorted(
        [
            [
                "docs.json",
                "k8s:export",
                "a JSON document is not a Kubernetes object or List (and 99999 more like this)",
            ],
            ["export", "k8s:aws-auth", f"not in the export {export}"],
            ["export", "k8s:daemonsets", f"not in the export {export}"],
            ["export", "k8s:nodes", f"not in the export {export}"],
            ["export", "k8s:serviceaccounts", f"not in the export {export}"],
            *malformed,
            [
                "pods.json",
                "k8s:pods",
                "further Pod objects were not examined after 10 malformed ones",
            ],
            [
                "scalars.json",
                "k8s:export",
                "an item of the PodList is not an object (and 2999999 more like this)",
            ],
        ]
    )
