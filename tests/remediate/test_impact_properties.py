"""Property: for any inventory and any single change, a cluster whose CNI001 would start failing
is in the impact report, and clusters left out are exactly unchanged (the subset evaluation is
conservative). Both sides are checked against a full evaluation of the changed inventory."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cniguard.demo import build_fleet, demo_config
from cniguard.engine import evaluate
from cniguard.model.finding import Finding
from cniguard.model.inventory import Inventory
from cniguard.remediate import changes as ch
from cniguard.remediate.impact import assess
from cniguard.remediate.simulate import apply_changes
from core.test_properties import PATHS, set_path

FLEET = build_fleet()
CONFIG = demo_config()
ROLES = [r.arn for r in FLEET.roles] + [r.name for r in FLEET.roles] + ["absent-role"]
POLICIES = [
    *sorted({p.arn for r in FLEET.roles for p in r.policies or () if p.arn}),
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::111111111111:policy/unknown",
]
INLINE = sorted({p.name for r in FLEET.roles for p in r.policies or () if p.kind == "inline"})
PROVIDERS = [p.arn for p in FLEET.oidc_providers]
CLUSTERS = [c.name for c in FLEET.clusters]
PIAS = [p.arn for c in FLEET.clusters for p in c.pod_identity_associations or () if p.arn]
TRUSTS = [r.trust_policy for r in FLEET.roles] + [None]
ENTRIES = sorted({e.principal_arn for c in FLEET.clusters for e in c.access_entries or ()})

role = st.sampled_from(ROLES)
policy = st.sampled_from(POLICIES)
CHANGES = st.one_of(
    st.builds(ch.DetachRolePolicy, role, policy),
    st.builds(ch.AttachRolePolicy, role, policy),
    st.builds(ch.DeleteRolePolicy, role, st.sampled_from(INLINE)),
    st.builds(ch.PutRolePolicy, role, st.sampled_from(INLINE), st.sampled_from(TRUSTS)),
    st.builds(ch.DeleteRole, role),
    st.builds(ch.UpdateAssumeRolePolicy, role, st.sampled_from(TRUSTS)),
    st.builds(ch.PutRolePermissionsBoundary, role, policy),
    st.builds(ch.DeleteRolePermissionsBoundary, role),
    st.builds(ch.SetPolicyDocument, policy, st.sampled_from(TRUSTS)),
    st.builds(ch.DeletePolicy, policy),
    st.builds(ch.RemoveRoleFromInstanceProfile, st.just("profile"), role),
    st.builds(ch.DeleteOidcProvider, st.sampled_from(PROVIDERS)),
    st.builds(ch.RemoveOidcClientId, st.sampled_from(PROVIDERS), st.just("sts.amazonaws.com")),
    st.builds(
        ch.UpdateAddon,
        st.sampled_from(CLUSTERS),
        st.just("vpc-cni"),
        set_role=st.booleans(),
        role_arn=st.sampled_from([None, *ROLES[: len(FLEET.roles)]]),
    ),
    st.builds(ch.DeleteAddon, st.sampled_from(CLUSTERS), st.just("vpc-cni"), st.booleans()),
    st.builds(ch.DeletePodIdentityAssociation, st.sampled_from(CLUSTERS), st.sampled_from(PIAS)),
    st.builds(
        ch.UpdatePodIdentityAssociation,
        st.sampled_from(CLUSTERS),
        st.sampled_from(PIAS),
        st.sampled_from(ROLES[: len(FLEET.roles)]),
    ),
    st.builds(ch.DeleteAccessEntry, st.sampled_from(CLUSTERS), st.sampled_from(ENTRIES)),
)


@st.composite
def inventories(draw: Any) -> Inventory:
    """A subset of the demo fleet, with some read values turned into "not read"."""
    keep = draw(st.sets(st.integers(0, len(FLEET.clusters) - 1), min_size=1))
    inv = FLEET
    paths = draw(st.lists(st.sampled_from(PATHS), max_size=3, unique=True))
    for path in sorted(paths, key=len, reverse=True):  # children before their parents
        inv = set_path(inv, path, None)
    clusters = tuple(c for i, c in enumerate(inv.clusters) if i in keep)
    return dataclasses.replace(inv, clusters=clusters)


def _statuses(findings: tuple[Finding, ...]) -> dict[str, dict[tuple[str, str], str]]:
    out: dict[str, dict[tuple[str, str], str]] = {}
    for f in findings:
        out.setdefault(f.cluster, {})[(f.rule_id, f.fingerprint)] = f.status
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inventories(), CHANGES)
def test_every_newly_failing_cni001_is_reported(inv: Inventory, change: ch.Change) -> None:
    sim = apply_changes(inv, [change])
    result = assess(sim, CONFIG, generated_at="-")
    full_before = _statuses(evaluate(inv, CONFIG, generated_at="-").findings)
    full_after = _statuses(evaluate(sim.after, CONFIG, generated_at="-").findings)
    reported = {c.cluster.arn: c for c in result.clusters}
    for cluster in inv.clusters:
        before, after = full_before.get(cluster.arn, {}), full_after.get(cluster.arn, {})
        started = {
            key
            for key, status in after.items()
            if key[0] == "CNI001" and status == "fail" and before.get(key) != "fail"
        }
        if started:
            impact = reported[cluster.arn]
            assert impact.verdict == "breaks"
            assert started <= {(f.rule_id, f.fingerprint) for f in impact.newly_failing}
        if cluster.arn not in reported:
            assert before == after, f"{cluster.name} changed but was not touched"
