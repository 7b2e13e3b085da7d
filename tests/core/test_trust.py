"""Trust analysis tables: who can assume a CNI role, under which sub/aud, through which provider."""

from __future__ import annotations

from typing import Any

import pytest

from cniguard.iam.trust import (
    Broadness,
    analyze_irsa_trust,
    analyze_pod_identity_trust,
    issuer_host,
    provider_host,
)

HOST = "oidc.eks.us-east-1.amazonaws.com/id/5A1B2C3D4E5F60718293A4B5C6D7E8F9"
OTHER = "oidc.eks.eu-west-1.amazonaws.com/id/0A1B2C3D4E5F60718293A4B5C6D7E8F0"
ISSUER = f"https://{HOST}"
SUB = "system:serviceaccount:kube-system:aws-node"


def trust(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def web(
    host: str = HOST,
    condition: dict[str, Any] | None = None,
    action: Any = "sts:AssumeRoleWithWebIdentity",
) -> dict[str, Any]:
    st: dict[str, Any] = {
        "Effect": "Allow",
        "Action": action,
        "Principal": {"Federated": f"arn:aws:iam::111122223333:oidc-provider/{host}"},
    }
    if condition is not None:
        st["Condition"] = condition
    return st


GOOD = {"StringEquals": {f"{HOST}:sub": SUB, f"{HOST}:aud": "sts.amazonaws.com"}}


@pytest.mark.parametrize(
    ("document", "can_assume", "problems", "broad"),
    [
        (trust(web(condition=GOOD)), True, (), ()),
        # aud only under ForAnyValue, sub as a one-element list: still exact
        (
            trust(
                web(
                    condition={
                        "StringEquals": {f"{HOST}:sub": [SUB]},
                        "ForAnyValue:StringEquals": {f"{HOST}:aud": ["sts.amazonaws.com"]},
                    }
                )
            ),
            True,
            (),
            (),
        ),
        # StringLike with a wildcard: assumable, too broad
        (
            trust(
                web(
                    condition={
                        "StringLike": {f"{HOST}:sub": "system:serviceaccount:*"},
                        "StringEquals": {f"{HOST}:aud": "sts.amazonaws.com"},
                    }
                )
            ),
            True,
            (),
            (Broadness("high", f"StringLike wildcard in {HOST}:sub: system:serviceaccount:*"),),
        ),
        # no sub at all
        (
            trust(web(condition={"StringEquals": {f"{HOST}:aud": "sts.amazonaws.com"}})),
            True,
            (),
            (Broadness("high", f"no {HOST}:sub condition: every service account can assume it"),),
        ),
        # no aud: medium only
        (
            trust(web(condition={"StringEquals": {f"{HOST}:sub": SUB}})),
            True,
            (),
            (Broadness("medium", f"no {HOST}:aud condition"),),
        ),
        # another namespace / service account
        (
            trust(
                web(
                    condition={
                        "StringEquals": {
                            f"{HOST}:sub": "system:serviceaccount:default:aws-node",
                            f"{HOST}:aud": "sts.amazonaws.com",
                        }
                    }
                )
            ),
            False,
            (f"{HOST}:sub allows system:serviceaccount:default:aws-node, not {SUB}",),
            (),
        ),
        # the value of sub pasted under aud (seen in the wild)
        (
            trust(web(condition={"StringEquals": {f"{HOST}:sub": SUB, f"{HOST}:aud": SUB}})),
            False,
            (f"{HOST}:aud is {SUB}, not sts.amazonaws.com",),
            (),
        ),
        # another cluster's provider
        (
            trust(
                web(
                    host=OTHER,
                    condition={
                        "StringEquals": {f"{OTHER}:sub": SUB, f"{OTHER}:aud": "sts.amazonaws.com"}
                    },
                )
            ),
            False,
            (f"trusts OIDC provider {OTHER}, not this cluster's issuer {HOST}",),
            (),
        ),
        # wrong action
        (
            trust(web(condition=GOOD, action="sts:AssumeRole")),
            False,
            ("the trust policy has no sts:AssumeRoleWithWebIdentity from an OIDC provider",),
            (),
        ),
        # extra principals beside a correct statement
        (
            trust(
                web(condition=GOOD),
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                },
            ),
            True,
            (),
            (Broadness("high", "also trusts AWS principal arn:aws:iam::111122223333:root"),),
        ),
        (
            trust(
                web(condition=GOOD),
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": "*"},
            ),
            True,
            (),
            (Broadness("high", 'trusts any principal ("*")'),),
        ),
    ],
)
def test_irsa_trust(
    document: dict[str, Any],
    can_assume: bool,
    problems: tuple[str, ...],
    broad: tuple[Broadness, ...],
) -> None:
    result = analyze_irsa_trust(document, issuer=ISSUER)
    assert (result.can_assume, result.assume_problems, result.broad) == (
        can_assume,
        problems,
        broad,
    )


def test_irsa_trust_respects_a_renamed_service_account_and_audience() -> None:
    sub = "system:serviceaccount:kube-system:vpc-cni"
    doc = trust(web(condition={"StringEquals": {f"{HOST}:sub": sub, f"{HOST}:aud": "my-aud"}}))
    assert analyze_irsa_trust(
        doc, issuer=ISSUER, service_account="vpc-cni", audience="my-aud"
    ).can_assume
    assert not analyze_irsa_trust(doc, issuer=ISSUER).can_assume


def test_other_subjects_are_listed_for_shared_roles() -> None:
    doc = trust(
        web(
            condition={
                "StringEquals": {
                    f"{HOST}:sub": [SUB, "system:serviceaccount:apps:web"],
                    f"{HOST}:aud": "sts.amazonaws.com",
                }
            }
        )
    )
    result = analyze_irsa_trust(doc, issuer=ISSUER)
    assert result.can_assume is True  # values of one key are ORed
    assert result.other_subjects == ("system:serviceaccount:apps:web",)


def test_unread_or_invalid_trust_is_unknown() -> None:
    assert analyze_irsa_trust(None, issuer=ISSUER).can_assume is None
    assert analyze_irsa_trust("{oops", issuer=ISSUER).can_assume is None
    assert analyze_pod_identity_trust(None).can_assume is None


@pytest.mark.parametrize(
    ("actions", "extra", "can_assume", "problems", "broad"),
    [
        (["sts:AssumeRole", "sts:TagSession"], None, True, (), ()),
        (
            ["sts:AssumeRole"],
            None,
            False,
            (
                "pods.eks.amazonaws.com is not allowed sts:TagSession (required unless the "
                "association disables session tags)",
            ),
            (),
        ),
        (
            ["sts:TagSession"],
            None,
            False,
            ("pods.eks.amazonaws.com is not allowed sts:AssumeRole",),
            (),
        ),
        (
            ["sts:AssumeRole", "sts:TagSession"],
            {"Service": "ec2.amazonaws.com"},
            True,
            (),
            (Broadness("high", "also trusts Service ec2.amazonaws.com"),),
        ),
    ],
)
def test_pod_identity_trust(
    actions: list[str],
    extra: dict[str, str] | None,
    can_assume: bool,
    problems: tuple[str, ...],
    broad: tuple[Broadness, ...],
) -> None:
    principal: dict[str, Any] = {"Service": "pods.eks.amazonaws.com"}
    statements = [{"Effect": "Allow", "Principal": principal, "Action": actions}]
    if extra:
        statements.append({"Effect": "Allow", "Principal": extra, "Action": "sts:AssumeRole"})
    result = analyze_pod_identity_trust(trust(*statements))
    assert (result.can_assume, result.assume_problems, result.broad) == (
        can_assume,
        problems,
        broad,
    )


def test_hosts() -> None:
    assert issuer_host(ISSUER + "/") == HOST
    assert provider_host(f"arn:aws-cn:iam::1:oidc-provider/{HOST}") == HOST
    assert provider_host("arn:aws:iam::1:saml-provider/x") is None


def test_condition_keys_of_another_issuer_can_never_hold() -> None:
    doc = trust(
        web(condition={"StringEquals": {f"{OTHER}:sub": SUB, f"{OTHER}:aud": "sts.amazonaws.com"}})
    )
    result = analyze_irsa_trust(doc, issuer=ISSUER)
    assert result.can_assume is False
    assert result.assume_problems == (
        f"condition on {OTHER}:sub ({SUB}) can never hold: aws-node's token carries no such key",
        f"condition on {OTHER}:aud (sts.amazonaws.com) can never hold: aws-node's token carries no such key",
    )


def test_if_exists_on_another_issuer_key_does_not_block() -> None:
    doc = trust(web(condition={**GOOD, "StringEqualsIfExists": {f"{OTHER}:sub": "x"}}))
    assert analyze_irsa_trust(doc, issuer=ISSUER).can_assume is True


def test_a_deny_statement_blocks_aws_node() -> None:
    deny = {
        "Effect": "Deny",
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Sid": "NoCni",
        "Principal": {"Federated": f"arn:aws:iam::111122223333:oidc-provider/{HOST}"},
        "Condition": {"StringLike": {f"{HOST}:sub": "system:serviceaccount:kube-system:*"}},
    }
    result = analyze_irsa_trust(trust(web(condition=GOOD), deny), issuer=ISSUER)
    assert (result.can_assume, result.assume_problems) == (
        False,
        (f"a Deny statement (NoCni) blocks {SUB}",),
    )


def test_provider_of_another_account_is_refused() -> None:
    st = web(condition=GOOD)
    st["Principal"] = {"Federated": f"arn:aws:iam::999988887777:oidc-provider/{HOST}"}
    result = analyze_irsa_trust(trust(st), issuer=ISSUER, role_account="111122223333")
    assert result.can_assume is False
    assert result.assume_problems[0].startswith("trusts an OIDC provider of account 999988887777")


@pytest.mark.parametrize(
    ("condition", "can_assume"),
    [
        ({"StringNotEquals": {f"{HOST}:sub": "system:serviceaccount:default:web"}}, True),
        ({"StringNotLike": {f"{HOST}:sub": "system:serviceaccount:kube-system:*"}}, False),
        ({"Null": {f"{HOST}:sub": "false"}}, True),
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, None),  # cannot be judged offline
    ],
)
def test_other_operators(condition: dict[str, Any], can_assume: bool | None) -> None:
    cond = {**condition, "StringEquals": {f"{HOST}:aud": "sts.amazonaws.com"}}
    assert analyze_irsa_trust(trust(web(condition=cond)), issuer=ISSUER).can_assume is can_assume


CLUSTER = "arn:aws:eks:us-east-1:111122223333:cluster/prod"


@pytest.mark.parametrize(
    ("condition", "can_assume"),
    [
        (
            {
                "StringEquals": {
                    "aws:SourceAccount": "111122223333",
                    "aws:RequestTag/eks-cluster-arn": CLUSTER,
                    "aws:RequestTag/kubernetes-namespace": "kube-system",
                    "aws:RequestTag/kubernetes-service-account": "aws-node",
                },
            },
            True,
        ),
        ({"StringEquals": {"aws:SourceAccount": "999988887777"}}, False),
        (
            {"StringEquals": {"aws:RequestTag/eks-cluster-arn": CLUSTER.replace("prod", "dev")}},
            False,
        ),
        # aws:SourceArn has no documented value under Pod Identity: unknown, never a pass
        ({"ArnEquals": {"aws:SourceArn": CLUSTER}}, None),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:eks:us-east-1:111122223333:cluster/other"}}, None),
        ({"StringEquals": {"aws:RequestTag/kubernetes-namespace": "default"}}, False),
        ({"StringEquals": {"aws:SourceOrgId": "${aws:ResourceOrgId}"}}, True),
    ],
)
def test_pod_identity_conditions_are_checked_against_the_cluster(
    condition: dict[str, Any], can_assume: bool | None
) -> None:
    doc = trust(
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": condition,
        }
    )
    result = analyze_pod_identity_trust(
        doc, cluster_arn=CLUSTER, cluster_name="prod", account="111122223333"
    )
    assert result.can_assume is can_assume
