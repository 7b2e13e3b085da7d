"""Joining fragments: a role defined twice, differently, is kept with unknown permissions."""

from __future__ import annotations

from dataclasses import replace

from cniguard.collect.iac.scan import _unique_roles
from cniguard.demo.builders import EC2_TRUST, cni_managed, role
from cniguard.model.common import Origin
from cniguard.model.inventory import Gap


def test_differing_definitions_make_the_role_unknown() -> None:
    a = role("${account}", "node", trust=EC2_TRUST, policies=(cni_managed(),))
    b = replace(
        role("${account}", "node", trust=EC2_TRUST, policies=()),
        origin=Origin("iac", file="cfn/nodes.yaml", line=7),
    )
    gaps: list[Gap] = []
    (kept,) = _unique_roles([a, b], gaps)
    assert (kept.arn, kept.policies, kept.trust_policy) == (a.arn, None, None)
    assert [(g.resource, g.line) for g in gaps] == [("cfn/nodes.yaml", 7)]
    assert gaps[0].reason == (
        "role node is defined twice, differently (again at cfn/nodes.yaml:7); "
        "its permissions and trust are unknown"
    )


def test_identical_definitions_are_one_role() -> None:
    a = role("${account}", "node", trust=EC2_TRUST, policies=(cni_managed(),))
    gaps: list[Gap] = []
    assert _unique_roles([a, a], gaps) == (a,)
    assert gaps == []
