"""The Dockerfile's promises, read statically (the build itself is `make image`): two stages, the
final one installs only the built wheels, runs as the numeric non-root user the manifests expect,
enters through `cniguard`, and carries the OCI version label; the build context holds only the
package sources."""

from __future__ import annotations

from dockerfile_parse import DockerfileParser

from deploy.kustomize import DEPLOY

ROOT = DEPLOY.parent


def stages() -> list[list[tuple[str, str]]]:
    """(instruction, value) per build stage, comments dropped."""
    parsed: list[list[tuple[str, str]]] = []
    for item in DockerfileParser(path=str(ROOT / "Dockerfile")).structure:
        instruction, value = item["instruction"], item["value"]
        if instruction == "FROM":
            parsed.append([])
        if parsed and instruction != "COMMENT":
            parsed[-1].append((instruction, value))
    return parsed


def test_two_stages_and_the_final_one_installs_only_the_built_wheels() -> None:
    builder, final = stages()
    assert builder[0] == ("FROM", "${BASE} AS builder")
    assert final[0] == ("FROM", "${BASE}")
    assert [i for i, _ in final if i in ("COPY", "ADD")] == []  # no source tree in the final image
    runs = [v for i, v in final if i == "RUN"]
    assert len(runs) == 1
    install = runs[0]
    assert install.startswith("--mount=type=bind,from=builder,source=/wheels,target=/wheels")
    assert "--no-index --find-links=/wheels" in install
    assert "pip uninstall --yes --quiet pip setuptools" in install
    assert "pip wheel" in dict(builder)["RUN"]


def test_the_final_stage_runs_cniguard_as_the_non_root_user_of_the_manifests() -> None:
    final = dict(stages()[1])
    assert final["USER"] == "10001:10001"
    assert final["ENTRYPOINT"] == '["cniguard"]'
    assert "HOME=/tmp" in final["ENV"]
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"), build_args={"VERSION": "9.8.7"})
    assert parser.labels["org.opencontainers.image.version"] == "9.8.7"


def test_the_build_context_is_an_allow_list_of_the_package_sources() -> None:
    rules = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert rules[0] == "*"  # everything else (.git, .venv, tests, deploy) stays out
    assert [r for r in rules if r.startswith("!")] == ["!pyproject.toml", "!README.md", "!src/"]
