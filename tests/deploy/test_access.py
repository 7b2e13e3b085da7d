"""Who may talk to whom, and what the scan may read: the NetworkPolicies of every overlay and the
ClusterRole, which must be exactly what `cniguard permissions` prints."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from cniguard.cli.main import app
from deploy.kustomize import DEPLOY, OVERLAYS, Obj, find, render

IMDS = ipaddress.ip_address("169.254.169.254")
DNS = {("UDP", 53), ("TCP", 53)}
DNS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
ANYWHERE = [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}]
POD_IDENTITY_AGENT = [
    {"ipBlock": {"cidr": "169.254.170.23/32"}},
    {"ipBlock": {"cidr": "fd00:ec2::23/128"}},
]


def ports(rule: dict[str, Any]) -> set[tuple[str, int]]:
    return {(p["protocol"], p["port"]) for p in rule["ports"]}


def egress(policy: Obj) -> list[tuple[Any, set[tuple[str, int]]]]:
    return [(rule["to"], ports(rule)) for rule in policy["spec"]["egress"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_everything_in_the_namespace_is_denied_unless_allowed(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    deny = find(rendered[overlay], "NetworkPolicy", "cniguard-default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_scanner_reaches_dns_https_and_postgresql_and_nothing_reaches_it(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    policy = find(rendered[overlay], "NetworkPolicy", "cniguard-scanner")
    assert policy["spec"]["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/component": "scanner"}
    }
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in policy["spec"]
    expected = [([DNS_PEER], DNS), (ANYWHERE, {("TCP", 443), ("TCP", 5432)})]
    if overlay == "pod-identity":
        expected.append((POD_IDENTITY_AGENT, {("TCP", 80)}))
    assert egress(policy) == expected


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_pod_can_reach_the_instance_metadata_service(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    """IMDS hands out the node role's credentials: the scan must use its own identity only."""
    for policy in (o for o in rendered[overlay] if o["kind"] == "NetworkPolicy"):
        for rule in policy["spec"].get("egress", []):
            blocks = [peer["ipBlock"] for peer in rule["to"] if "ipBlock" in peer]
            reaches_imds = any(
                IMDS in ipaddress.ip_network(b["cidr"])
                and not any(IMDS in ipaddress.ip_network(e) for e in b.get("except", []))
                for b in blocks
            )
            assert not (reaches_imds and ("TCP", 80) in ports(rule)), policy["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_labelled_namespaces_reach_the_dashboard_and_it_reaches_only_postgresql(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    policy = find(rendered[overlay], "NetworkPolicy", "cniguard-dashboard")
    assert policy["spec"]["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/component": "dashboard"}
    }
    assert policy["spec"]["ingress"] == [
        {
            "from": [
                {"namespaceSelector": {"matchLabels": {"cniguard.io/dashboard-access": "true"}}}
            ],
            "ports": [{"protocol": "TCP", "port": 8080}],
        }
    ]
    assert egress(policy) == [([DNS_PEER], DNS), (ANYWHERE, {("TCP", 5432)})]


def test_the_cluster_role_is_what_cniguard_permissions_prints() -> None:
    printed = CliRunner().invoke(app, ["permissions", "--only", "k8s"])
    assert printed.exit_code == 0, printed.output
    expected = json.loads(printed.output)
    objects = render(DEPLOY / "rbac")
    role = find(objects, "ClusterRole", "cniguard-reader")
    assert role["apiVersion"] == expected["apiVersion"]
    assert role["metadata"]["name"] == expected["metadata"]["name"]
    assert role["rules"] == expected["rules"]
    assert {v for rule in role["rules"] for v in rule["verbs"]} <= {"get", "list", "watch"}


def test_the_binding_names_the_group_of_the_auditors_access_entry() -> None:
    binding = find(render(DEPLOY / "rbac"), "ClusterRoleBinding", "cniguard-reader")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "cniguard-reader",
    }
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "cniguard-readers"}
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_carries_the_same_rbac(rendered: dict[str, list[Obj]], overlay: str) -> None:
    standalone = render(DEPLOY / "rbac")
    for kind in ("ClusterRole", "ClusterRoleBinding"):
        mine = find(rendered[overlay], kind, "cniguard-reader")
        alone = find(standalone, kind, "cniguard-reader")
        assert {k: v for k, v in mine.items() if k != "metadata"} == {
            k: v for k, v in alone.items() if k != "metadata"
        }
