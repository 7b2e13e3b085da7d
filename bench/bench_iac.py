"""IaC benchmark, Terraform part: cniguard's collector against checkov on the same trees.

Trees: (a) a generated 2,000-file Terraform tree (200 root modules of 10 files: EKS module calls
with node group maps, raw clusters with IRSA, IRSA/pod-identity modules); (b) a copy of
terraform-aws-modules/terraform-aws-eks given with ``--eks-repo`` (skipped when absent).
Each tool runs in its own process; wall time and peak RSS come from ``os.wait4``. A third
process only parses the tree's files with python-hcl2, the floor of the collector. checkov runs
from its own venv (``--checkov-venv``, made by ``make bench-deps``), restricted to
``--framework terraform`` and its EKS/IAM checks. Nothing here talks to AWS.

    python bench/bench_iac.py [--eks-repo DIR] [--checkov-venv DIR] [--no-checkov]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOV_CHECKS = ",".join([
    "CKV_AWS_37", "CKV_AWS_38", "CKV_AWS_39", "CKV_AWS_58", "CKV_AWS_100", "CKV_AWS_339",
    "CKV_AWS_60", "CKV_AWS_61", "CKV_AWS_274", "CKV_AWS_286", "CKV_AWS_287", "CKV_AWS_288",
    "CKV_AWS_289", "CKV_AWS_290", "CKV_AWS_355",
])

_COLLECT = """
import sys
from pathlib import Path
from cniguard.collect.iac.terraform import collect_terraform
root = Path(sys.argv[1])
files = [p for p in root.rglob("*") if p.suffix in (".tf", ".tfvars") and ".terraform" not in p.parts]
fragment = collect_terraform(sorted(files))
roles = {r.arn: r for r in fragment.roles}
node_cni = sum(
    1 for c in fragment.clusters for g in c.node_groups or ()
    if g.role_arn in roles and any(
        (p.arn or "").endswith("/AmazonEKS_CNI_Policy") for p in roles[g.role_arn].policies or ())
)
print(len(files), len(fragment.clusters), len(fragment.roles), len(fragment.gaps), node_cni)
"""

# The floor of any reader built on python-hcl2: start Python, import it, parse every distinct
# file text once (the collector does this too) and nothing else.
_PARSE_ONLY = """
import gc
import sys
from pathlib import Path
import hcl2.api
root = Path(sys.argv[1])
texts = {p.read_text("utf-8") for p in root.rglob("*")
         if p.suffix in (".tf", ".tfvars") and ".terraform" not in p.parts}
gc.disable()
for text in texts:
    try:
        hcl2.api.parses_to_tree(text)
    except Exception:
        pass
print(len(texts))
"""

_ROOT = {
    "main.tf": '''
module "eks" {{
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 20.0"
  cluster_name    = "c{n}"
  cluster_version = "1.31"
  cluster_addons  = {{ vpc-cni = {{ service_account_role_arn = module.cni.iam_role_arn }} }}
  eks_managed_node_groups = {{
    a = {{ instance_types = ["m6i.large"] }}
    b = {{ iam_role_attach_cni_policy = {attach} }}
  }}
  tags = local.tags
}}
''',
    "irsa.tf": '''
module "cni" {{
  source                = "terraform-aws-modules/iam/aws//modules/iam-role-for-service-accounts"
  version               = "~> 6.0"
  name                  = "c{n}-cni"
  attach_vpc_cni_policy = true
  vpc_cni_enable_ipv4   = true
  oidc_providers = {{
    main = {{
      provider_arn               = module.eks.oidc_provider_arn
      namespace_service_accounts = ["kube-system:aws-node"]
    }}
  }}
}}
''',
    "raw.tf": '''
data "aws_partition" "current" {{}}
resource "aws_eks_cluster" "raw" {{
  name     = "raw{n}"
  role_arn = aws_iam_role.cluster.arn
  vpc_config {{
    subnet_ids = var.subnets
  }}
}}
resource "aws_iam_role" "cluster" {{
  name               = "raw{n}-cluster"
  assume_role_policy = jsonencode({{ Version = "2012-10-17", Statement = [] }})
}}
''',
    "nodes.tf": '''
resource "aws_iam_role" "node" {{
  name               = "raw{n}-node"
  assume_role_policy = jsonencode({{ Version = "2012-10-17", Statement = [] }})
}}
resource "aws_iam_role_policy_attachment" "node" {{
  for_each   = toset(["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy"])
  role       = aws_iam_role.node.name
  policy_arn = "arn:${{data.aws_partition.current.partition}}:iam::aws:policy/${{each.value}}"
}}
resource "aws_eks_node_group" "raw" {{
  cluster_name    = aws_eks_cluster.raw.name
  node_group_name = "main"
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = var.subnets
}}
''',
    "variables.tf": '''
variable "subnets" {{
  type    = list(string)
  default = ["subnet-{n}a", "subnet-{n}b"]
}}
variable "environment" {{
  type    = string
  default = "prod"
}}
''',
    "locals.tf": '''
locals {{
  tags = {{ owner = "team{n}", environment = var.environment, "cost-center" = "cc{n}" }}
  names = [for i in range(3) : "c{n}-${{i}}"]
}}
''',
    "outputs.tf": '''
output "cluster" {{
  value = module.eks.cluster_name
}}
''',
    "versions.tf": '''
terraform {{
  required_version = ">= 1.5"
}}
''',
    "providers.tf": '''
provider "aws" {{
  region = "eu-west-1"
}}
''',
    "terraform.tfvars": '''
environment = "prod"
''',
}


def generate(root: Path, roots: int = 200) -> int:
    for n in range(roots):
        directory = root / f"stack{n:03d}"
        directory.mkdir(parents=True)
        for name, text in _ROOT.items():
            (directory / name).write_text(text.format(n=n, attach="true" if n % 2 else "false"))
    return roots * len(_ROOT)


def measure(command: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS MiB, stdout) of one child process."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode(errors="replace")
    return elapsed, usage.ru_maxrss / 1024, text


def checkov_binary(venv_dir: Path) -> Path | None:
    """checkov from its own venv, installed beforehand (`make bench-deps`): a benchmark run
    never reaches a network."""
    binary = venv_dir / "bin" / "checkov"
    if not binary.exists():
        print(f"checkov not found in {venv_dir}: run `make bench-deps` first; skipping it")
        return None
    return binary


def run(name: str, tree: Path, checkov: Path | None) -> None:
    seconds, rss, out = measure([sys.executable, "-c", _COLLECT, str(tree)])
    files, clusters, roles, gaps, node_cni = (out.split() + ["?"] * 5)[:5]
    print(f"\n[{name}] {files} files: {clusters} clusters, {roles} roles, {gaps} gaps, "
          f"{node_cni} node groups with the CNI policy on the node role")
    print(f"  cniguard  {seconds:8.2f} s  {rss:8.1f} MiB peak RSS")
    floor, _, texts = measure([sys.executable, "-c", _PARSE_ONLY, str(tree)])
    print(f"  parse     {floor:8.2f} s  (python-hcl2 alone: {texts.strip()} distinct texts, "
          "the floor)")
    if checkov is None:
        print("  checkov   skipped")
        return
    c_seconds, c_rss, _ = measure([
        str(checkov), "-d", str(tree), "--framework", "terraform", "--check", CHECKOV_CHECKS,
        "--quiet", "--compact", "-o", "json", "--download-external-modules", "false",
        "--skip-download",  # no guideline download: benchmarks never leave 127.0.0.1
    ])
    print(f"  checkov   {c_seconds:8.2f} s  {c_rss:8.1f} MiB peak RSS")
    print(f"  ratio     {c_seconds / seconds:8.1f}x faster, {c_rss / rss:5.1f}x less memory "
          "(checkov has no check for the CNI policy on node roles)")
    print(f"  at best   {c_seconds / floor:8.1f}x faster (checkov against the parse floor)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eks-repo", type=Path, help="a copy of terraform-aws-eks")
    parser.add_argument("--checkov-venv", type=Path,
                        default=Path(".bench/checkov"))
    parser.add_argument("--no-checkov", action="store_true")
    args = parser.parse_args()
    checkov = None if args.no_checkov else checkov_binary(args.checkov_venv)
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "generated"
        generate(tree)
        run("generated tree", tree, checkov)
    if args.eks_repo and args.eks_repo.is_dir():
        run("terraform-aws-eks", args.eks_repo, checkov)
    else:
        print("\n[terraform-aws-eks] skipped: pass --eks-repo DIR (a copy of "
              "terraform-aws-modules/terraform-aws-eks)")


if __name__ == "__main__":
    main()
