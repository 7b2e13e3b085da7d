"""Issue 12: every command's help has an example, completion and -V work, `make demo` installs no
dev tools (and says what it does), and the packaging metadata is the SPDX form (no warnings)."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

from typer.testing import CliRunner

from cniguard import __version__
from cniguard.cli.examples import EXAMPLES
from cniguard.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_every_command_help_ends_with_its_examples() -> None:
    names = [info.name for info in app.registered_commands]
    assert sorted(n for n in names if n) == sorted(EXAMPLES)
    for name, examples in EXAMPLES.items():
        result = runner.invoke(app, [name, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        tail = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        assert tail[-len(examples) - 1 :] == ["Examples:", *examples], name


def test_version_short_and_long() -> None:
    for flag in ("-V", "--version"):
        result = runner.invoke(app, [flag])
        assert (result.exit_code, result.stdout) == (0, f"cniguard {__version__}\n")


def test_bash_completion_script_and_answers() -> None:
    script = runner.invoke(app, ["--show-completion", "bash"], prog_name="cniguard")
    assert script.exit_code == 0, script.output
    assert "complete -o default -F _cniguard_completion cniguard" in script.stdout

    def complete(words: str, cword: int) -> list[str]:
        env = {"_CNIGUARD_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
        result = runner.invoke(app, [], env=env, prog_name="cniguard")
        assert result.exit_code == 0, result.output
        return result.stdout.split()

    assert complete("cniguard sc", 1) == ["scan"]
    assert complete("cniguard ex", 1) == ["explain"]
    assert complete("cniguard scan --format m", 3) == ["markdown"]


def _make(target: str) -> str:
    done = subprocess.run(
        ["make", "-n", "-B", target, "VENV=/nonexistent/venv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_make_demo_installs_no_dev_tools_and_says_so() -> None:
    demo = _make("demo")
    assert "pip install --quiet -e .\n" in demo
    assert "[dev]" not in demo
    assert "installing cniguard into it (no dev tools)" in demo
    assert "/nonexistent/venv/bin/cniguard demo\n" in demo
    assert "cniguard permissions" in demo
    assert 'pip install --quiet -e ".[dev]"' in _make("unit")


def test_license_is_an_spdx_expression() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "Apache-2.0"
    assert project["build-system"]["requires"] == ["setuptools>=77"]
