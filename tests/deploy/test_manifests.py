"""deploy/ overlays render to exactly the intended objects, each valid against the Kubernetes
OpenAPI schemas (offline, strict: unknown fields fail), with the security properties the issue
requires, secrets only from Secrets, and command lines `cniguard` accepts."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import typer.core
import typer.main

from cniguard.cli.main import app
from deploy.kustomize import DEPLOY, OVERLAYS, Obj, find

# the oldest Kubernetes the manifests need (backoffLimitPerIndex, the pod label
# batch.kubernetes.io/controller-uid) and the newest schema bundled with the validator
KUBE_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
COMMON = {
    ("Namespace", "cniguard"),
    ("ServiceAccount", "cniguard-scanner"),
    ("ServiceAccount", "cniguard-dashboard"),
    ("CronJob", "cniguard-scan"),
    ("Deployment", "cniguard-dashboard"),
    ("Service", "cniguard-dashboard"),
    ("NetworkPolicy", "cniguard-default-deny"),
    ("NetworkPolicy", "cniguard-scanner"),
    ("NetworkPolicy", "cniguard-dashboard"),
    ("Role", "cniguard-reader"),
    ("RoleBinding", "cniguard-reader"),
    ("ClusterRole", "cniguard-reader"),
    ("ClusterRoleBinding", "cniguard-reader"),
}
VERSION = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())["project"]["version"]
VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def pod_spec(obj: Obj) -> dict[str, Any]:
    template = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    spec: dict[str, Any] = template["template"]["spec"]
    return spec


def workloads(objects: list[Obj]) -> list[Obj]:
    return [o for o in objects if o["kind"] in ("CronJob", "Deployment")]


def container(obj: Obj) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(obj)["containers"]
    assert len(containers) == 1
    return containers[0]


def env(obj: Obj) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(obj).get("env", [])}


def options(command: str) -> set[str]:
    """Every option name of `cniguard COMMAND`, from the CLI itself."""
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    found = group.commands[command]
    return {name for p in found.params for name in (*p.opts, *p.secondary_opts)}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_exactly_these_objects(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in rendered[overlay])
    assert kinds == sorted(COMMON)
    for obj in rendered[overlay]:
        namespace = obj["metadata"].get("namespace")
        if obj["kind"] in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert namespace is None
        elif obj["kind"] in ("Role", "RoleBinding"):
            assert namespace == "kube-system"
        else:
            assert namespace == "cniguard", obj["metadata"]


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_against_the_kubernetes_schema(
    rendered: dict[str, list[Obj]], overlay: str, version: str
) -> None:
    for obj in rendered[overlay]:
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_validator_rejects_what_kubernetes_rejects(rendered: dict[str, list[Obj]]) -> None:
    """The schema check can fail: a misspelt field and a wrong type are errors."""
    cronjob = find(rendered["irsa"], "CronJob", "cniguard-scan")
    misspelt = {**cronjob, "spec": {**cronjob["spec"], "concurencyPolicy": "Forbid"}}
    wrong_type = {**cronjob, "spec": {**cronjob["spec"], "startingDeadlineSeconds": "1h"}}
    for bad in (misspelt, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(bad, KUBE_VERSIONS[0], strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_unprivileged_on_a_read_only_root(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    for obj in workloads(rendered[overlay]):
        spec = pod_spec(obj)
        assert spec["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        assert spec["automountServiceAccountToken"] is False
        assert not {"hostNetwork", "hostPID", "hostIPC", "initContainers"} & set(spec)
        assert container(obj)["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
        assert container(obj)["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
        assert [v["name"] for v in spec["volumes"]] == ["tmp"]
        assert set(spec["volumes"][0]) == {"name", "emptyDir"}
        assert container(obj)["image"] == f"cniguard:{VERSION}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_and_limits(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    for obj in workloads(rendered[overlay]):
        resources = container(obj)["resources"]
        assert set(resources) == {"requests", "limits"}
        assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_come_from_the_secret_never_a_literal(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    objects = rendered[overlay]
    assert not [o for o in objects if o["kind"] in ("Secret", "ConfigMap")]
    expected = {
        "cniguard-scan": {"DATABASE_URL": "database-url"},
        "cniguard-dashboard": {"DATABASE_URL": "database-url", "CNIGUARD_TOKEN": "dashboard-token"},
    }
    for obj in workloads(objects):
        from_secret = {
            name: e["valueFrom"]["secretKeyRef"]
            for name, e in env(obj).items()
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        assert from_secret == {
            name: {"name": "cniguard", "key": key}
            for name, key in expected[obj["metadata"]["name"]].items()
        }
        args = container(obj)["args"]
        assert "--token" not in args
        assert args[args.index("--db") + 1] == "$(DATABASE_URL)"
        literals = " ".join([*args, *(str(e.get("value", "")) for e in env(obj).values())])
        assert "postgresql" not in literals
        assert "://" not in literals


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_in_args_is_defined_in_env(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    """The kubelet leaves an undefined $(VAR) as literal text: each must be in the env."""
    for obj in workloads(rendered[overlay]):
        used = {m for arg in container(obj)["args"] for m in VAR_REF.findall(arg)}
        assert used
        assert used <= set(env(obj))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_command_lines_use_only_options_cniguard_has(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    # --run-id comes with the sharded-store change of the same issue (another branch)
    pending = {"--run-id"} - options("scan")
    for obj in workloads(rendered[overlay]):
        command, *args = container(obj)["args"]
        flags = {a for a in args if a.startswith("-")}
        assert flags - pending <= options(command), command


def test_the_scheduled_scan_never_overlaps_and_stops_reading_before_it_is_killed(
    rendered: dict[str, list[Obj]],
) -> None:
    for overlay in OVERLAYS:
        cronjob = find(rendered[overlay], "CronJob", "cniguard-scan")
        assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
        job = cronjob["spec"]["jobTemplate"]["spec"]
        assert job["template"]["spec"]["restartPolicy"] == "Never"
        args = container(cronjob)["args"]
        assert args[0] == "scan"
        deadline = args[args.index("--deadline") + 1]
        assert deadline.endswith("m")
        assert int(deadline[:-1]) * 60 < job["activeDeadlineSeconds"]
        assert env(cronjob)["AWS_EC2_METADATA_DISABLED"]["value"] == "true"
        assert pod_spec(cronjob)["serviceAccountName"] == "cniguard-scanner"


def test_the_org_overlay_is_one_indexed_job_per_run_with_one_run_id(
    rendered: dict[str, list[Obj]],
) -> None:
    cronjob = find(rendered["org-sharded"], "CronJob", "cniguard-scan")
    job = cronjob["spec"]["jobTemplate"]["spec"]
    args = container(cronjob)["args"]
    shard = args[args.index("--shard") + 1]
    index, _, count = shard.partition("/")
    assert index == "$(JOB_COMPLETION_INDEX)"
    assert job["completionMode"] == "Indexed"
    assert job["completions"] == job["parallelism"] == int(count) == 4
    assert job["backoffLimitPerIndex"] == 1
    assert "backoffLimit" not in job  # per index instead: one failed shard does not redo the others
    assert "--org" in args
    assert args[args.index("--org-role") + 1] == "cniguard-audit"
    assert args[args.index("--run-id") + 1] == "$(RUN_ID)"
    variables = env(cronjob)
    assert variables["JOB_COMPLETION_INDEX"]["valueFrom"] == {
        "fieldRef": {
            "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"
        }
    }
    assert variables["RUN_ID"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.labels['batch.kubernetes.io/controller-uid']"}
    }
    for overlay in ("irsa", "pod-identity"):
        single = container(find(rendered[overlay], "CronJob", "cniguard-scan"))["args"]
        assert not {"--org", "--shard", "--run-id"} & set(single)
        assert (
            "completionMode"
            not in find(rendered[overlay], "CronJob", "cniguard-scan")["spec"]["jobTemplate"][
                "spec"
            ]
        )


def test_the_dashboard_is_reached_through_its_service_and_probed_on_its_port(
    rendered: dict[str, list[Obj]],
) -> None:
    objects = rendered["irsa"]
    deployment = find(objects, "Deployment", "cniguard-dashboard")
    service = find(objects, "Service", "cniguard-dashboard")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]
    dashboard = container(deployment)
    assert dashboard["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    args = dashboard["args"]
    assert args[0] == "serve"
    assert args[args.index("--host") + 1] == "0.0.0.0"  # noqa: S104 (in the pod, behind the Service)
    assert args[args.index("--port") + 1] == "8080"
    # serve has no unauthenticated health path: the probes check the port
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert dashboard[probe]["tcpSocket"] == {"port": "http"}


def test_irsa_annotates_the_service_account_and_pod_identity_does_not(
    rendered: dict[str, list[Obj]],
) -> None:
    for overlay in ("irsa", "org-sharded"):
        account = find(rendered[overlay], "ServiceAccount", "cniguard-scanner")
        assert re.fullmatch(
            r"arn:aws:iam::\d{12}:role/cniguard-auditor",
            account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        )
    account = find(rendered["pod-identity"], "ServiceAccount", "cniguard-scanner")
    assert "annotations" not in account["metadata"]
    for overlay in OVERLAYS:
        dashboard = find(rendered[overlay], "ServiceAccount", "cniguard-dashboard")
        assert "annotations" not in dashboard["metadata"]
        for account_name in ("cniguard-scanner", "cniguard-dashboard"):
            account = find(rendered[overlay], "ServiceAccount", account_name)
            assert account["automountServiceAccountToken"] is False
