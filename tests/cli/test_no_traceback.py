"""Issue 12: garbage given to any command ends in one error line and exit 2, never a traceback.

The commands come from the Typer app itself, so a new command or a new file/--db option is fed
garbage too (or this test fails until it is described here).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from typer.core import TyperArgument, TyperGroup
from typer.main import get_command
from typer.testing import CliRunner

from cniguard.cli.main import app
from cniguard.demo import build_fleet
from cniguard.model.codec import save_inventory

# Options and arguments that read a file the user names.
FILE_PARAMS = ("inventory", "config", "terraform_plan", "calls", "plan_file", "kubeconfig", "paths")
# What a command needs before it reaches its file or store (never live AWS: an inventory is given).
BASE: dict[str, list[str]] = {
    "demo": [],
    "scan": ["-i", "{inventory}"],
    "iac": ["{empty_dir}", "--fail-on-incomplete"],
    "plan": ["--cluster", "checkout-prod", "-i", "{inventory}"],
    "kpi": [],
    "serve": [],
    "watch": ["--once", "-i", "{inventory}"],
    "impact": ["-i", "{inventory}", "--detach", "checkout-prod-node:arn:aws:iam::aws:policy/x"],
    "verify": ["--cluster", "checkout-prod", "--kube-context", "checkout-prod=ctx"],
    "apply": ["{plan}"],
    "kube-export": ["{empty_dir}", "--context", "ctx"],
}
# Commands without file or store input get bad option values instead.
BAD_VALUES: dict[str, list[str]] = {
    "rules": ["-o", "{missing_dir}/rules.txt"],
    "explain": ["CNI999"],
    "collect": ["-o", "inv.json", "--deadline", "soon"],
    "permissions": ["--partition", "aws-mars"],
}
runner = CliRunner()
ERROR = "cniguard: error: "


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("garbage")
    save_inventory(build_fleet(), root / "inventory.json")
    (root / "empty").mkdir()
    for suffix in ("json", "tf"):
        (root / f"utf16.{suffix}").write_text('{"a": 1}\n', encoding="utf-16")
        (root / f"latin1.{suffix}").write_bytes(b'{"name": "caf\xe9"}\n')
    plan = root / "plan.json"
    result = runner.invoke(
        app,
        [
            "plan",
            "--cluster",
            "checkout-prod",
            "-i",
            str(root / "inventory.json"),
            "-f",
            "json",
            "-o",
            str(plan),
        ],
    )
    assert result.exit_code == 0, result.output
    return {
        "inventory": str(root / "inventory.json"),
        "empty_dir": str(root / "empty"),
        "plan": str(plan),
        "missing_dir": str(root / "missing"),
        "utf16": str(root / "utf16.json"),
        "latin1": str(root / "latin1.json"),
        "utf16_tf": str(root / "utf16.tf"),
        "latin1_tf": str(root / "latin1.tf"),
    }


def _commands() -> dict[str, Any]:
    group = get_command(app)
    assert isinstance(group, TyperGroup)
    return dict(group.commands)


class Case(NamedTuple):
    command: str
    argv: list[str]
    line: str  # the one stderr line starts with this
    code: int = 2


def _cases(files: dict[str, str]) -> Iterator[Case]:
    """Every garbage each command takes, with the one line it must answer."""
    port = _closed_port()
    urls = {
        "foo://x": "store foo://x: unknown database dialect",
        "mysql://bob@127.0.0.1/x": "store mysql://bob@127.0.0.1/x: the database driver is not "
        "installed",
        f"postgresql+psycopg://bob@127.0.0.1:{port}/x": f"store postgresql+psycopg://bob@127.0.0.1:"
        f"{port}/x: connection failed",
        "not a url": "store not a url: Could not parse SQLAlchemy URL",
    }
    for name, command in _commands().items():
        params = {p.name: p for p in command.params}
        if name in BAD_VALUES:
            yield Case(name, [name, *(a.format(**files) for a in BAD_VALUES[name])], ERROR)
            continue
        base = [a.format(**files) for a in BASE[name]]
        for param in FILE_PARAMS:
            if param not in params:
                continue
            for kind in ("utf16", "latin1"):
                yield _file_case(name, param, _with(params[param], base, _file(files, name, kind)))
        if "db" in params:
            for url, message in urls.items():
                yield Case(name, [name, *base, "--db", url], ERROR + message)


def _file(files: dict[str, str], command: str, kind: str) -> str:
    return files[f"{kind}_tf" if command == "iac" else kind]


def _file_case(name: str, param: str, argv: list[str]) -> Case:
    bad = next(a for a in argv if "utf16" in a or "latin1" in a)
    if param == "paths":  # unreadable IaC is a gap naming the file: the scan is incomplete (exit 3)
        return Case(name, [name, *argv], f"cniguard: {bad}:", code=3)
    if param == "kubeconfig":  # the Kubernetes client reads it: the error names the context
        return Case(name, [name, *argv], ERROR)
    return Case(name, [name, *argv], f"{ERROR}{bad}")


def _with(param: Any, base: list[str], value: str) -> list[str]:
    """``base`` with ``param`` set to ``value`` (replacing the base's own value for it)."""
    if isinstance(param, TyperArgument):
        return [value, *base[1:]] if base and not base[0].startswith("-") else [value, *base]
    flag = param.opts[0]
    argv = list(base)
    for alias in param.opts:
        if alias in argv:
            argv[argv.index(alias) + 1] = value
            return argv
    return [*argv, flag, value]


def test_every_command_is_covered() -> None:
    assert set(_commands()) == set(BASE) | set(BAD_VALUES)


def test_garbage_gives_one_line_and_exit_2(
    files: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_closed_port()}")
    cases = list(_cases(files))
    failures = []
    for case in cases:
        result = runner.invoke(app, case.argv)
        lines = result.stderr.splitlines()
        if not (
            result.exit_code == case.code
            and isinstance(result.exception, SystemExit)
            and "Traceback" not in result.output
            and len(lines) == 1
            and lines[0].startswith(case.line)
        ):
            failures.append(f"{case.argv}: exit {result.exit_code} {result.stderr!r}")
    assert failures == [], "\n".join(failures)
    assert len(cases) == 66
    assert {c.command for c in cases} == set(_commands())


def test_a_bug_is_one_line_unless_debugging(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import cniguard.catalogue
    from cniguard.cli.main import main

    def broken() -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(cniguard.catalogue, "catalogue_table", broken)
    monkeypatch.setattr("sys.argv", ["cniguard", "rules"])
    monkeypatch.delenv("CNIGUARD_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 70
    assert capsys.readouterr().err == (
        "cniguard: internal error: RuntimeError: boom (a bug in cniguard; CNIGUARD_DEBUG=1 shows "
        "the traceback)\n"
    )
    monkeypatch.setenv("CNIGUARD_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        main()
