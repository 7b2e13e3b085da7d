"""Issue 12: error messages say what to do (AWS credentials vs connection problems, unknown rule
ids in the configuration), and the HTML/Markdown sections add up to the summary."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from cniguard.cli.common import aws_failure
from cniguard.cli.main import app
from cniguard.demo import DEMO_NOW, build_fleet, demo_config
from cniguard.engine import evaluate
from cniguard.report import render
from cniguard.report.summary import summarize

SRC = Path(__file__).resolve().parents[2] / "src"
HINT = (
    "run `aws configure` or `aws sso login --profile NAME`, or pass --profile NAME "
    "(`cniguard demo` works without AWS)"
)
runner = CliRunner()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scan(tmp_path: Path, *args: str, **env: str) -> tuple[int, str, str]:
    """A real `cniguard scan` process with no credentials anywhere unless ``env`` gives them."""
    clean = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(SRC),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",  # never ask an instance metadata service
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{_closed_port()}",
        **env,
    }
    code = "from cniguard.cli.main import main; main()"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "scan",
            "--regions",
            "us-east-1",
            "--call-timeout",
            "2",
            *args,
        ],
        env=clean,
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def test_no_credentials_says_how_to_get_some(tmp_path: Path) -> None:
    assert _scan(tmp_path) == (
        2,
        "",
        f"cniguard: error: no usable AWS credentials (Unable to locate credentials): {HINT}\n",
    )


def test_a_missing_profile_is_a_credentials_problem(tmp_path: Path) -> None:
    assert _scan(tmp_path, "--profile", "nope") == (
        2,
        "",
        "cniguard: error: no usable AWS credentials (The config profile (nope) could not be "
        f"found): {HINT}\n",
    )


def test_an_unreachable_endpoint_is_a_connection_problem(tmp_path: Path) -> None:
    port = _closed_port()
    code, out, err = _scan(
        tmp_path,
        AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY="not-a-secret",
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
    )
    assert (code, out) == (2, "")
    assert err == (
        f'cniguard: error: cannot connect to AWS: Could not connect to the endpoint URL: "http://'
        f'127.0.0.1:{port}/" (a network problem, not the credentials: check the network, the '
        "proxy settings and AWS_ENDPOINT_URL)\n"
    )


def test_rejected_credentials_say_how_to_renew(capsys: pytest.CaptureFixture[str]) -> None:
    exc = ClientError(
        {"Error": {"Code": "ExpiredToken", "Message": "The security token has expired"}},
        "GetCallerIdentity",
    )
    assert aws_failure(exc).exit_code == 2
    assert capsys.readouterr().err == (
        "cniguard: error: AWS rejected the credentials (An error occurred (ExpiredToken) when "
        f"calling the GetCallerIdentity operation: The security token has expired): {HINT}\n"
    )


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[severity]\nCNI999 = "low"\n',
            "severity.CNI999: unknown rule id (`cniguard rules` lists them)",
        ),
        (
            '[[suppressions]]\nrule = "CNX0*"\nreason = "r"\n',
            "suppressions[0].rule: 'CNX0*' matches no rule id (`cniguard rules` lists them)",
        ),
        (
            '[[suppressions]]\nrule = "CNI011"\nreason = "r"\nexpire = 2027-01-01\n',
            "suppressions[0]: unknown key(s): expire (expected rule, resource, reason, expires)",
        ),
        (
            "[thresholds]\nstuck_pods = 5\n",
            "[thresholds]: unknown key(s): stuck_pods (expected stuck_pod_minutes)",
        ),
    ],
)
def test_config_with_unknown_rule_or_key_is_one_error(
    tmp_path: Path, toml: str, message: str
) -> None:
    config = tmp_path / "cniguard.toml"
    config.write_text(toml, encoding="utf-8")
    result = runner.invoke(app, ["demo", "--config", str(config)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"cniguard: error: {config}: {message}\n"


def test_config_rule_globs_that_match_are_accepted(tmp_path: Path) -> None:
    config = tmp_path / "cniguard.toml"
    config.write_text(
        '[severity]\nCNI020 = "medium"\n[[suppressions]]\nrule = "CNI02*"\nreason = "r"\n',
        encoding="utf-8",
    )
    assert runner.invoke(app, ["demo", "--config", str(config)]).exit_code == 0


def test_markdown_and_html_sections_add_up_to_the_summary() -> None:
    report = evaluate(build_fleet(), demo_config(), generated_at=DEMO_NOW)
    s = summarize(report)
    assert (s.open_total, s.unknown_findings, s.suppressed) == (34, 4, 1)
    markdown = re.findall(r"^### (\w+) \((.*)\)$", render(report, "markdown"), re.MULTILINE)
    html = re.findall(
        r'<h3><span class="sev sev-\w+">(\w+)</span> (.*)</h3>', render(report, "html")
    )
    expected = [
        ("critical", "10 open, 1 unknown"),
        ("high", "13 open, 2 unknown"),
        ("medium", "5 open, 1 suppressed"),
        ("low", "5 open, 1 unknown"),
        ("info", "1 open"),
    ]
    assert [(sev.lower(), counts) for sev, counts in markdown] == expected
    assert html == expected
    assert [(sev, int(c.split()[0])) for sev, c in expected] == list(s.open_by_severity)
