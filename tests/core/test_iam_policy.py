"""IAM evaluation tables: Allow/Deny, NotAction, wildcards, resources, conditions, boundaries."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

from cniguard.iam.actions import ESSENTIAL_IPV4, IPV4_ACTIONS, MUTATING_ACTIONS
from cniguard.iam.evaluate import evaluate_role
from cniguard.iam.policy import PolicyParseError, decode_document, parse_statements
from cniguard.model.inventory import PolicyAttachment, Role

CNI_V6: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Resource": "*",
            "Action": [a for a in IPV4_ACTIONS if a != "ec2:CreateTags"],
        },
        {
            "Effect": "Allow",
            "Action": ["ec2:CreateTags"],
            "Resource": ["arn:aws:ec2:*:*:network-interface/*"],
        },
    ],
}


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def make_role(*documents: Any, boundary: Any = None, boundary_arn: str | None = None) -> Role:
    return Role(
        arn="arn:aws:iam::111122223333:role/r",
        name="r",
        account="111122223333",
        policies=tuple(
            PolicyAttachment(name=f"p{i}", kind="inline", document=d)
            for i, d in enumerate(documents)
        ),
        permissions_boundary_arn=boundary_arn
        or ("arn:aws:iam::111122223333:policy/b" if boundary else None),
        permissions_boundary=boundary,
    )


@pytest.mark.parametrize(
    ("documents", "action", "level"),
    [
        ((CNI_V6,), "ec2:CreateNetworkInterface", "granted"),
        ((CNI_V6,), "ec2:CreateTags", "granted"),
        ((CNI_V6,), "ec2:AssignIpv6Addresses", "missing"),
        ((doc(allow("ec2:*")),), "ec2:AssignIpv6Addresses", "granted"),
        ((doc(allow("EC2:*networkinterface*")),), "ec2:CreateNetworkInterface", "granted"),
        ((doc(allow("ec2:*NetworkInterface*")),), "ec2:AssignPrivateIpAddresses", "missing"),
        ((doc(allow("ec2:Describe*")),), "ec2:DescribeInstances", "granted"),
        ((doc(allow("ec2:Describe?nstances")),), "ec2:DescribeInstances", "granted"),
        ((doc(allow("*")),), "ec2:DeleteNetworkInterface", "granted"),
        # NotAction: everything except the listed actions
        (
            (doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),),
            "ec2:CreateNetworkInterface",
            "granted",
        ),
        (
            (doc({"Effect": "Allow", "NotAction": "ec2:*", "Resource": "*"}),),
            "ec2:CreateNetworkInterface",
            "missing",
        ),
        # explicit Deny wins, even over ec2:*
        (
            (doc(allow("ec2:*"), deny("ec2:CreateNetworkInterface")),),
            "ec2:CreateNetworkInterface",
            "denied",
        ),
        ((CNI_V6, doc(deny("ec2:*"))), "ec2:DescribeInstances", "denied"),
        (
            (CNI_V6, doc({"Effect": "Deny", "NotAction": "ec2:Describe*", "Resource": "*"})),
            "ec2:DescribeTags",
            "granted",
        ),
        (
            (CNI_V6, doc({"Effect": "Deny", "NotAction": "ec2:Describe*", "Resource": "*"})),
            "ec2:CreateTags",
            "denied",
        ),
        # conditions and resource scoping: granted but scoped
        (
            (
                doc(
                    allow(
                        "ec2:CreateNetworkInterface",
                        Condition={
                            "StringEquals": {"aws:RequestTag/cluster.k8s.amazonaws.com/name": "c"}
                        },
                    )
                ),
            ),
            "ec2:CreateNetworkInterface",
            "scoped",
        ),
        (
            (doc(allow("ec2:DeleteNetworkInterface", "arn:aws:ec2:*:*:network-interface/*")),),
            "ec2:DeleteNetworkInterface",
            "granted",  # the call is authorized on ENIs only
        ),
        (
            (doc(allow("ec2:CreateTags", "arn:aws:ec2:*:*:instance/*")),),
            "ec2:CreateTags",
            "missing",
        ),
        (
            (doc(allow("ec2:CreateTags", "arn:*:ec2:*:*:network-interface/*")),),
            "ec2:CreateTags",
            "granted",
        ),
        (
            (doc(allow("ec2:DescribeInstances", "arn:aws:ec2:*:*:instance/*")),),
            "ec2:DescribeInstances",
            "missing",
        ),
        (
            (
                doc(
                    {
                        "Effect": "Allow",
                        "Action": "ec2:*",
                        "NotResource": "arn:aws:ec2:*:*:subnet/*",
                    }
                ),
            ),
            "ec2:CreateNetworkInterface",
            "missing",  # the call also needs the subnet
        ),
        # a Deny under a condition narrows an allow rather than cancelling it
        (
            (
                CNI_V6,
                doc(
                    deny(
                        "ec2:CreateNetworkInterface",
                        Condition={"Bool": {"aws:ViaAWSService": "false"}},
                    )
                ),
            ),
            "ec2:CreateNetworkInterface",
            "scoped",
        ),
        # a single statement object instead of a list, Action as a string
        (
            ({"Version": "2012-10-17", "Statement": allow("ec2:DescribeTags")},),
            "ec2:DescribeTags",
            "granted",
        ),
    ],
)
def test_action_levels(documents: tuple[Any, ...], action: str, level: str) -> None:
    assert evaluate_role(make_role(*documents)).level(action) == level


@pytest.mark.parametrize(
    ("boundary", "action", "level"),
    [
        (doc(allow("ec2:*")), "ec2:CreateNetworkInterface", "granted"),
        (doc(allow("s3:*")), "ec2:CreateNetworkInterface", "denied"),
        (doc(allow("ec2:Describe*")), "ec2:DescribeInstances", "granted"),
        (doc(allow("ec2:Describe*")), "ec2:AttachNetworkInterface", "denied"),
        (
            doc(allow("ec2:*", Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"}})),
            "ec2:AttachNetworkInterface",
            "scoped",
        ),
        (
            doc(allow("*"), deny("ec2:AttachNetworkInterface")),
            "ec2:AttachNetworkInterface",
            "denied",
        ),
    ],
)
def test_permissions_boundary_intersects(boundary: dict[str, Any], action: str, level: str) -> None:
    grant = evaluate_role(make_role(CNI_V6, boundary=boundary))
    assert grant.level(action) == level


def test_boundary_never_grants_on_its_own() -> None:
    grant = evaluate_role(make_role(doc(allow("s3:*")), boundary=doc(allow("*"))))
    assert grant.level("ec2:CreateNetworkInterface") == "missing"


def test_denied_by_names_the_policy_and_the_boundary() -> None:
    grant = evaluate_role(
        make_role(
            CNI_V6, doc(deny("ec2:CreateNetworkInterface")), boundary=doc(allow("ec2:Describe*"))
        )
    )
    assert grant.actions["ec2:CreateNetworkInterface"].denied_by == ("p1", "permissions boundary")
    assert grant.actions["ec2:DescribeInstances"].level == "granted"


@pytest.mark.parametrize(
    "encode",
    [
        lambda d: d,
        json.dumps,
        lambda d: urllib.parse.quote(json.dumps(d)),
    ],
    ids=["dict", "json-string", "url-encoded"],
)
def test_documents_as_dict_string_or_url_encoded(encode: Any) -> None:
    grant = evaluate_role(make_role(encode(CNI_V6)))
    assert grant.grants(ESSENTIAL_IPV4) is True
    assert grant.granted(MUTATING_ACTIONS) == (
        "ec2:CreateNetworkInterface",
        "ec2:AttachNetworkInterface",
        "ec2:DetachNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
        "ec2:ModifyNetworkInterfaceAttribute",
        "ec2:CreateTags",
    )
    assert grant.policies_granting(["ec2:CreateTags"]) == ("p0",)


def test_unreadable_document_makes_everything_unknown_except_hard_denies() -> None:
    role = make_role(CNI_V6, None, doc(deny("ec2:DeleteNetworkInterface")))
    grant = evaluate_role(role)
    assert grant.level("ec2:CreateNetworkInterface") == "unknown"
    assert grant.level("ec2:DeleteNetworkInterface") == "denied"
    assert grant.grants(ESSENTIAL_IPV4) is False
    assert grant.unknown_reason == "policy p1 could not be read"


def test_policies_not_read_and_boundary_not_read() -> None:
    unread = Role(arn="arn:aws:iam::1:role/r", name="r", account="1", policies=None)
    assert evaluate_role(unread).grants(ESSENTIAL_IPV4) is None
    capped = make_role(CNI_V6, boundary_arn="arn:aws:iam::1:policy/b")
    grant = evaluate_role(capped)
    assert grant.grants(ESSENTIAL_IPV4) is None
    assert grant.unknown_reason == "permissions boundary arn:aws:iam::1:policy/b could not be read"


def test_unparseable_document_is_unknown_not_missing() -> None:
    grant = evaluate_role(make_role("{not json"))
    assert grant.level("ec2:CreateNetworkInterface") == "unknown"
    assert grant.unknown_reason is not None and "unparseable" in grant.unknown_reason


def test_deleted_role_grants_nothing() -> None:
    gone = Role(arn="arn:aws:iam::1:role/r", name="r", account="1", exists=False)
    grant = evaluate_role(gone)
    assert grant.grants(ESSENTIAL_IPV4) is False
    assert grant.notes == ("the role does not exist",)


@pytest.mark.parametrize(
    "bad",
    [
        "[1, 2]",
        '{"Statement": [{"Effect": "Maybe", "Action": "*"}]}',
        '{"Statement": [{"Effect": "Allow", "Principal": 5}]}',
        '{"Statement": ["x"]}',
    ],
)
def test_parse_errors_are_clear(bad: str) -> None:
    with pytest.raises(PolicyParseError):
        parse_statements(bad)


def test_decode_document_url_encoded_with_lowercase_escape() -> None:
    assert decode_document("%7b%22Statement%22%3A%5B%5D%7d") == {"Statement": []}


OWN = "111122223333"
TYPES = ("network-interface", "subnet", "security-group", "instance")


def on(account: str, region: str = "us-east-1") -> list[str]:
    return [f"arn:aws:ec2:{region}:{account}:{t}/*" for t in TYPES]


@pytest.mark.parametrize(
    ("documents", "region", "action", "level"),
    [
        # resources pinned to the role's own account and the cluster's region grant fully
        (
            (doc(allow(list(IPV4_ACTIONS), on(OWN))),),
            "us-east-1",
            "ec2:CreateNetworkInterface",
            "granted",
        ),
        # ... to another region: nothing there
        (
            (doc(allow(list(IPV4_ACTIONS), on(OWN))),),
            "eu-west-1",
            "ec2:CreateNetworkInterface",
            "missing",
        ),
        # ... region not known to the evaluation: scoped, never missing
        ((doc(allow(list(IPV4_ACTIONS), on(OWN))),), None, "ec2:CreateNetworkInterface", "scoped"),
        # ... to another account: not these ENIs
        (
            (doc(allow(list(IPV4_ACTIONS), on("444455556666"))),),
            "us-east-1",
            "ec2:AttachNetworkInterface",
            "missing",
        ),
        # a Deny on one resource type the call needs denies the call
        (
            (CNI_V6, doc(deny("ec2:*", "arn:aws:ec2:*:*:network-interface/*"))),
            "us-east-1",
            "ec2:CreateNetworkInterface",
            "denied",
        ),
        (
            (CNI_V6, doc(deny("ec2:*", f"arn:aws:ec2:us-east-1:{OWN}:network-interface/*"))),
            "us-east-1",
            "ec2:AssignPrivateIpAddresses",
            "denied",
        ),
        (
            (CNI_V6, doc(deny("ec2:*", "arn:aws:ec2:*:*:network-interface/*"))),
            "us-east-1",
            "ec2:DescribeInstances",
            "granted",
        ),
        # an Allow on the ENI alone does not authorize CreateNetworkInterface (subnet, SG needed)
        (
            (doc(allow("ec2:CreateNetworkInterface", "arn:aws:ec2:*:*:network-interface/*")),),
            "us-east-1",
            "ec2:CreateNetworkInterface",
            "missing",
        ),
        # the upstream scoped policy: resource types spread over conditioned statements
        (
            (
                doc(
                    allow(
                        "ec2:CreateNetworkInterface",
                        "arn:aws:ec2:*:*:network-interface/*",
                        Condition={
                            "StringEquals": {"aws:RequestTag/cluster.k8s.amazonaws.com/name": "c"}
                        },
                    ),
                    allow(
                        "ec2:CreateNetworkInterface",
                        ["arn:aws:ec2:*:*:subnet/*", "arn:aws:ec2:*:*:security-group/*"],
                        Condition={
                            "ArnEquals": {"ec2:Vpc": "arn:aws:ec2:us-east-1:111122223333:vpc/vpc-1"}
                        },
                    ),
                ),
            ),
            "us-east-1",
            "ec2:CreateNetworkInterface",
            "scoped",
        ),
        # one named ENI: scoped
        (
            (doc(allow("ec2:DeleteNetworkInterface", "arn:aws:ec2:*:*:network-interface/eni-1")),),
            "us-east-1",
            "ec2:DeleteNetworkInterface",
            "scoped",
        ),
    ],
)
def test_resource_types_regions_and_accounts(
    documents: tuple[Any, ...], region: str | None, action: str, level: str
) -> None:
    assert evaluate_role(make_role(*documents), region=region).level(action) == level
