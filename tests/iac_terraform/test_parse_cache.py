"""Speed-ups change nothing: files with the same text parsed once, the garbage collector paused.

The tree is a small copy of the benchmark's generated one: stacks whose ``outputs.tf``,
``roles.tf``, tfvars and a broken file are byte for byte the same, so the parse cache serves
every stack after the first.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from cniguard.collect.iac.terraform import collect_terraform, hcl, loader
from cniguard.model.common import Origin

MAIN = """module "eks" {{
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 20.0"
  cluster_name = "c{n}"
  eks_managed_node_groups = {{
    a = {{ iam_role_attach_cni_policy = var.attach }}
  }}
}}
"""
SHARED = {
    "variables.tf": 'variable "attach" {\n  default = false\n}\n',
    "terraform.tfvars": "attach = true\n",
    "outputs.tf": 'output "cluster" {\n  value = module.eks.cluster_name\n}\n',
    "roles.tf": (
        'resource "aws_iam_role" "node" {\n  name = "node"\n}\n'
        'resource "aws_iam_role_policy_attachment" "cni" {\n  role       = aws_iam_role.node.name\n'
        '  policy_arn = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"\n}\n'
    ),
    "broken.tf": 'locals {\n  x = = 1\n}\n',
}


def _tree(root: Path, stacks: int) -> list[Path]:
    for n in range(stacks):
        directory = root / f"stack{n}"
        directory.mkdir(parents=True)
        (directory / "main.tf").write_text(MAIN.format(n=n))
        for name, text in SHARED.items():
            (directory / name).write_text(text)
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def _uncached(path: Path, display: str, *, configuration: bool = True,
              cache: hcl.ParseCache | None = None) -> hcl.HclFile:
    return hcl.load_file(path, display, configuration=configuration)


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    monkeypatch.chdir(tmp_path)
    return _tree(Path(), 3)


def test_cached_parse_gives_the_same_fragment_as_parsing_every_file(
        tree: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    cached = collect_terraform(tree)
    monkeypatch.setattr(loader, "load_file", _uncached)
    assert collect_terraform(tree) == cached


def test_copies_keep_their_own_file_names_and_lines(tree: list[Path]) -> None:
    fragment = collect_terraform(tree)
    nodes = [r for r in fragment.roles if r.name == "node"]
    assert [r.origin for r in nodes] == [
        Origin(source="iac", file=f"stack{n}/roles.tf", line=1) for n in range(3)
    ]
    assert [(p.origin.file, p.origin.line) for r in nodes for p in r.policies or ()
            if p.origin is not None] == [(f"stack{n}/roles.tf", 6) for n in range(3)]
    assert [(g.resource, g.line) for g in fragment.gaps] == [
        (f"stack{n}/broken.tf", 2) for n in range(3)
    ]
    assert [g.reason.split(":")[0] for g in fragment.gaps] == [
        f"stack{n}/broken.tf" for n in range(3)
    ]
    assert [len(c.node_groups or ()) for c in fragment.clusters] == [1, 1, 1]


def test_same_result_twice_in_one_process(tree: list[Path]) -> None:
    first = collect_terraform(tree)
    assert collect_terraform(tree) == first


@pytest.mark.parametrize("enabled", [True, False])
def test_garbage_collector_state_is_restored(tree: list[Path], enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        collect_terraform(tree)
        assert (gc.isenabled(), gc.get_freeze_count()) == (enabled, 0)
    finally:
        (gc.enable if was else gc.disable)()


def test_objects_the_caller_froze_stay_frozen(tree: list[Path]) -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        collect_terraform(tree)
        # still frozen, and nothing of the collector's added (a frozen object may still be freed
        # by reference counting meanwhile, so the count can only shrink)
        assert gc.isenabled()
        assert 0 < gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()
