"""Who may talk to whom, and what the scan may read: the NetworkPolicies of every overlay, and the
reader Role and ClusterRole, which together must be exactly what `cniguard permissions` prints."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from cniguard.cli.main import app
from cniguard.collect.kubernetes import RBAC_RULES
from deploy.kustomize import DEPLOY, OVERLAYS, Obj, find, render

RBAC_KINDS = ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
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


def identity(obj: Obj) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


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


def test_the_reader_roles_together_are_what_cniguard_permissions_prints() -> None:
    printed = CliRunner().invoke(app, ["permissions", "--only", "k8s"])
    assert printed.exit_code == 0, printed.output
    expected = json.loads(printed.output)["rules"]
    objects = render(DEPLOY / "rbac")
    role = find(objects, "Role", "cniguard-reader")
    cluster_role = find(objects, "ClusterRole", "cniguard-reader")
    merged = sorted(
        [*role["rules"], *cluster_role["rules"]], key=lambda r: (r["apiGroups"], r["resources"])
    )
    assert merged == expected


def test_the_kube_system_reads_stay_in_kube_system() -> None:
    """Namespaced reads go to the Role of their namespace, never cluster-wide."""
    objects = render(DEPLOY / "rbac")
    role = find(objects, "Role", "cniguard-reader")
    assert role["metadata"]["namespace"] == "kube-system"
    namespaced = sorted(
        ([group], [resource], sorted(verbs))
        for group, resource, verbs, namespace in RBAC_RULES
        if namespace == "kube-system"
    )
    assert sorted((r["apiGroups"], r["resources"], r["verbs"]) for r in role["rules"]) == namespaced
    cluster_wide = {
        r["resources"][0] for r in find(objects, "ClusterRole", "cniguard-reader")["rules"]
    }
    assert cluster_wide == {resource for _, resource, _, ns in RBAC_RULES if ns is None}


@pytest.mark.parametrize(
    ("kind", "role_kind"), [("RoleBinding", "Role"), ("ClusterRoleBinding", "ClusterRole")]
)
def test_the_bindings_name_the_group_of_the_auditors_access_entry(
    kind: str, role_kind: str
) -> None:
    binding = find(render(DEPLOY / "rbac"), kind, "cniguard-reader")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": role_kind,
        "name": "cniguard-reader",
    }
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "cniguard-readers"}
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_carries_the_rbac_unchanged(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    standalone = render(DEPLOY / "rbac")
    mine = [o for o in rendered[overlay] if o["kind"] in RBAC_KINDS]
    assert sorted(mine, key=identity) == sorted(standalone, key=identity)
    verbs = {v for o in mine if "rules" in o for rule in o["rules"] for v in rule["verbs"]}
    assert verbs == {"get", "list"}
