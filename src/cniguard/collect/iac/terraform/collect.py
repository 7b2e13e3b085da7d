"""The Terraform entry point: group files into root modules, evaluate them, map the result.

Each root module is mapped on its own (one Terraform state each): placeholders of one root never
link to another's.

Each directory of ``.tf`` files is one module. A directory that another scanned directory calls as
a local module is evaluated through that call (with its inputs), not on its own. Root modules get
``terraform.tfvars`` and ``*.auto.tfvars`` as Terraform would; other ``.tfvars`` files are checked
for syntax but not applied (which one applies is decided at the command line).
"""

from __future__ import annotations

import functools
import gc
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from cniguard.collect.iac.base import IacFragment
from cniguard.collect.iac.terraform.expressions import Context
from cniguard.collect.iac.terraform.hcl import HclFile
from cniguard.collect.iac.terraform.limits import LimitHit, Limits, evaluating
from cniguard.collect.iac.terraform.loader import Loader, module_path
from cniguard.collect.iac.terraform.mapping import build_fragment
from cniguard.collect.iac.terraform.mapping_base import WHAT
from cniguard.collect.iac.terraform.module import ModuleInstance
from cniguard.collect.iac.terraform.plan import read_plan
from cniguard.collect.iac.terraform.values import EvalError, Value
from cniguard.collect.walk import check_file
from cniguard.model.inventory import Gap

_RECURSION_LIMIT = 10_000


def _display_dir(path: Path) -> str:
    parent = path.as_posix().rsplit("/", 1)
    return parent[0] if len(parent) == 2 else "."


def _auto_tfvars(name: str) -> bool:
    return name in ("terraform.tfvars", "terraform.tfvars.json") or name.endswith(
        (".auto.tfvars", ".auto.tfvars.json")
    )


def _constant(value: Value) -> Value:
    return value


def _no_names(name: str) -> Value:
    raise EvalError(f"tfvars values cannot refer to {name!r}")


def _tfvars(loader: Loader, directory: Path, display_dir: str) -> dict[str, Value]:
    values: dict[str, Value] = {}
    for path in sorted(directory.iterdir()) if directory.is_dir() else []:
        if not _auto_tfvars(path.name):
            continue
        display = module_path(display_dir, path.name)
        if path.name.endswith(".json"):
            if check_file(path) is not None:  # a FIFO would hang the read
                continue
            try:
                data = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError):
                continue
            values.update(data if isinstance(data, dict) else {})
            continue
        parsed = loader.read(path, display)
        if parsed.body is None:
            continue
        for name, attribute in parsed.body.attributes.items():
            values[name] = Context(_no_names, attribute.source).value(attribute.expr)
    return values


def _local_sources(loader: Loader, directory: Path, display: str) -> set[Path]:
    definition = loader.directory(directory, display, directory)
    called = set()
    for call in definition.calls.values():
        source = call.attributes.get("source")
        text = call.source.snippet(source.expr).strip('"') if source else ""
        if text.startswith(("./", "../")):
            called.add((directory / text).resolve())
    return called


def _file_gaps(files: list[HclFile]) -> list[Gap]:
    return [
        Gap(what=WHAT, reason=f"{f.display}: {f.error}", resource=f.display, line=f.error_line)
        for f in files
        if f.error
    ]


def collect_terraform(paths: Sequence[Path], limits: Limits | None = None) -> IacFragment:
    """Read Terraform files and plan JSON (paths relative to the scan root, as shown to users).

    Each root module is evaluated within ``limits`` (the defaults unless given); a value cut
    short by one is unknown and the cut is a gap naming file, line and limit.

    Evaluation follows references through module boundaries recursively (a node group's tags
    reach the root's locals through two module calls), which needs more than Python's default
    1,000 frames; the limit is raised for the duration of the call.

    Parse trees are many small, long-lived, acyclic objects: the cyclic garbage collector,
    rescanning them again and again as they pile up, took a fifth of the scan time. It is paused
    while the files are parsed and the trees are then frozen (``gc.freeze``) for the evaluation,
    whose reference cycles it still frees; both are undone on return. A process that froze
    objects of its own keeps them frozen: then the collector simply resumes.
    """
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, _RECURSION_LIMIT))
    collecting = gc.isenabled()
    freezing = collecting and gc.get_freeze_count() == 0
    gc.disable()
    try:
        loader = Loader()
        fragment = IacFragment()
        roots, plans = _read(paths, loader, fragment)
        if freezing:
            gc.freeze()
        if collecting:
            gc.enable()
        _evaluate(roots, plans, loader, fragment, limits or Limits())
        return fragment
    finally:
        if freezing:
            gc.unfreeze()
        if collecting:
            gc.enable()
        sys.setrecursionlimit(limit)


def _read(
    paths: Sequence[Path], loader: Loader, fragment: IacFragment
) -> tuple[list[tuple[Path, str]], list[Path]]:
    """Parse every given file; the root module directories (sorted) and the plan files."""
    directories: dict[Path, str] = {}
    plans: list[Path] = []
    for path in paths:
        name = path.name
        if name.endswith(".tf.json"):
            fragment.gaps.append(
                Gap(
                    what=WHAT,
                    resource=str(path),
                    reason=(f"{path}: Terraform JSON syntax (.tf.json) is not evaluated"),
                )
            )
        elif name.endswith(".json") and not name.endswith(".tfvars.json"):
            plans.append(path)
        elif name.endswith(".tf"):
            directories.setdefault(path.parent.resolve(), _display_dir(path))
        elif name.endswith(".tfvars"):
            loader.read(path, path.as_posix())
    called: set[Path] = set()
    for directory, display in directories.items():
        called |= _local_sources(loader, directory, display)
    roots = [d for d in sorted(directories.items(), key=lambda d: d[1]) if d[0] not in called]
    return roots, plans


def _limit_gaps(hits: list[LimitHit]) -> list[Gap]:
    return [
        Gap(
            what=WHAT,
            reason=(
                f"{hit.file}:{hit.line}: evaluation stopped, {hit.message}; the value is unknown "
                "(see 'Evaluation limits' in docs/iac.md)"
            ),
            resource=hit.file,
            line=hit.line,
        )
        for hit in hits
    ]


def _evaluate(
    roots: list[tuple[Path, str]],
    plans: list[Path],
    loader: Loader,
    fragment: IacFragment,
    limits: Limits,
) -> None:
    for directory, display in roots:
        with evaluating(limits) as spent:
            definition = loader.directory(directory, display, directory)
            tfvars = _tfvars(loader, directory, display)
            inputs: dict[str, Callable[[], Value]] = {
                name: functools.partial(_constant, value) for name, value in tfvars.items()
            }
            root = ModuleInstance(definition, "", inputs, loader)
            instances = list(root.walk())
            fragment.extend(build_fragment(instances, root.problems))
        fragment.gaps.extend(_limit_gaps(list(spent.hits.values())))
    for plan in plans:
        fragment.extend(read_plan(plan))
    fragment.gaps.extend(_file_gaps(list(loader.files.values())))
    fragment.files_read.extend(sorted(f.display for f in loader.files.values() if f.body))
