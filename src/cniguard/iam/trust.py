"""Trust-policy analysis: can ``kube-system/aws-node`` of this cluster assume the role, and can
anyone else?

IRSA: ``sts:AssumeRoleWithWebIdentity`` from ``Federated: arn:...:oidc-provider/<issuer host/path>``
with ``<host>:sub`` = ``system:serviceaccount:<ns>:<sa>`` and ``<host>:aud`` = ``sts.amazonaws.com``.
Pod Identity: ``Service: pods.eks.amazonaws.com`` with ``sts:AssumeRole`` and ``sts:TagSession``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from cniguard.iam.policy import PolicyParseError, Statement, parse_statements, wildcard_match

STS_AUDIENCE = "sts.amazonaws.com"
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
_STRING_OPS = ("stringequals", "stringlike", "stringequalsignorecase")


def issuer_host(issuer: str) -> str:
    """``https://oidc.eks.r.amazonaws.com/id/X`` -> ``oidc.eks.r.amazonaws.com/id/X``."""
    host = issuer.split("://", 1)[-1]
    return host.rstrip("/")


def provider_host(provider_arn: str) -> str | None:
    """The issuer host/path an OIDC provider ARN names, or None if it is not a provider ARN."""
    marker = ":oidc-provider/"
    if marker not in provider_arn:
        return None
    return provider_arn.split(marker, 1)[1].rstrip("/")


def service_account_subject(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


@dataclass(frozen=True)
class Broadness:
    severity: Literal["high", "medium"]
    reason: str


@dataclass(frozen=True)
class TrustAnalysis:
    """What a trust policy allows, relative to one cluster and one service account."""

    can_assume: bool | None  # None: the trust policy could not be read
    assume_problems: tuple[str, ...] = ()  # why aws-node cannot assume it (CNI012)
    broad: tuple[Broadness, ...] = ()  # who else can (CNI013)
    trusted_providers: tuple[str, ...] = ()  # issuer hosts of Federated principals
    other_subjects: tuple[str, ...] = ()  # other service accounts allowed (CNI014)
    kind: Literal["irsa", "pod_identity", "other"] = "other"
    notes: tuple[str, ...] = field(default=())


def _ops(cond: tuple[str, str, tuple[str, ...]]) -> tuple[str, bool]:
    """(base operator lower-cased, is-wildcard-operator) for a condition entry."""
    op = cond[0].lower()
    for prefix in ("foranyvalue:", "forallvalues:"):
        op = op.removeprefix(prefix)
    op = op.removesuffix("ifexists")
    return op, op == "stringlike"


def _value_allows(cond: tuple[str, str, tuple[str, ...]], value: str) -> bool:
    op, like = _ops(cond)
    if op not in _STRING_OPS:
        return False
    if op == "stringequalsignorecase":
        return any(v.lower() == value.lower() for v in cond[2])
    if like:
        return any(wildcard_match(v, value) for v in cond[2])
    return value in cond[2]


def _statements(document: Any) -> tuple[Statement, ...] | None:
    try:
        return parse_statements(document)
    except PolicyParseError:
        return None


def analyze_irsa_trust(
    document: Any,
    *,
    issuer: str | None,
    namespace: str = "kube-system",
    service_account: str = "aws-node",
    audience: str = STS_AUDIENCE,
) -> TrustAnalysis:
    """Whether ``namespace/service_account`` of the cluster with ``issuer`` can assume the role."""
    if document is None:
        return TrustAnalysis(can_assume=None, notes=("trust policy not read",))
    statements = _statements(document)
    if statements is None:
        return TrustAnalysis(can_assume=None, notes=("trust policy is not valid JSON",))
    subject = service_account_subject(namespace, service_account)
    host = issuer_host(issuer) if issuer else None
    problems: list[str] = []
    broad: list[Broadness] = []
    providers: list[str] = []
    others: list[str] = []
    can_assume = False
    for st in statements:
        if st.effect != "Allow":
            continue
        web = st.matches_action("sts:AssumeRoleWithWebIdentity")
        for kind, value in st.principals:
            if kind == "Federated" and web:
                p_host = provider_host(value)
                if p_host is None:
                    broad.append(Broadness("high", f"trusts federated principal {value}"))
                    continue
                providers.append(p_host)
                ok = _check_web_identity(
                    st, p_host, host, subject, audience, problems, broad, others
                )
                can_assume = can_assume or ok
            elif kind == "*" or value == "*":
                broad.append(Broadness("high", 'trusts any principal ("*")'))
            elif kind in ("AWS", "Service", "CanonicalUser") and (
                st.matches_action("sts:AssumeRole") or web
            ):
                label = {"AWS": "AWS principal", "Service": "service"}.get(kind, kind)
                broad.append(Broadness("high", f"also trusts {label} {value}"))
    if not providers and not can_assume:
        problems.append(
            "the trust policy has no sts:AssumeRoleWithWebIdentity from an OIDC provider"
        )
    if can_assume:
        problems = []
    return TrustAnalysis(
        can_assume=can_assume,
        assume_problems=tuple(dict.fromkeys(problems)),
        broad=tuple(dict.fromkeys(broad)),
        trusted_providers=tuple(dict.fromkeys(providers)),
        other_subjects=tuple(dict.fromkeys(others)),
        kind="irsa",
    )


def _check_web_identity(
    st: Statement,
    p_host: str,
    cluster_host: str | None,
    subject: str,
    audience: str,
    problems: list[str],
    broad: list[Broadness],
    others: list[str],
) -> bool:
    """Records problems of one Federated statement; True if aws-node of this cluster can use it."""
    subs = [c for c in st.conditions if c[1].lower() == f"{p_host}:sub".lower()]
    auds = [c for c in st.conditions if c[1].lower() == f"{p_host}:aud".lower()]
    own = cluster_host is not None and p_host.lower() == cluster_host.lower()
    if cluster_host is not None and not own:
        problems.append(f"trusts OIDC provider {p_host}, not this cluster's issuer {cluster_host}")
    if not subs:
        broad.append(
            Broadness("high", f"no {p_host}:sub condition: every service account can assume it")
        )
    for cond in subs:
        _, like = _ops(cond)
        if like and any("*" in v or "?" in v for v in cond[2]):
            wild = ", ".join(v for v in cond[2] if "*" in v or "?" in v)
            broad.append(Broadness("high", f"StringLike wildcard in {p_host}:sub: {wild}"))
        others.extend(v for v in cond[2] if v != subject and "*" not in v and "?" not in v)
    if not auds:
        broad.append(Broadness("medium", f"no {p_host}:aud condition"))
    sub_ok = not subs or all(_value_allows(c, subject) for c in subs)
    aud_ok = not auds or all(_value_allows(c, audience) for c in auds)
    if subs and not sub_ok:
        named = ", ".join(v for c in subs for v in c[2])
        problems.append(f"{p_host}:sub allows {named}, not {subject}")
    if auds and not aud_ok:
        named = ", ".join(v for c in auds for v in c[2])
        problems.append(f"{p_host}:aud is {named}, not {audience}")
    return own and sub_ok and aud_ok


def analyze_pod_identity_trust(document: Any) -> TrustAnalysis:
    """Whether EKS Pod Identity can hand out this role (and whether anyone else can assume it)."""
    if document is None:
        return TrustAnalysis(can_assume=None, kind="pod_identity", notes=("trust policy not read",))
    statements = _statements(document)
    if statements is None:
        return TrustAnalysis(
            can_assume=None, kind="pod_identity", notes=("trust policy is not valid JSON",)
        )
    assume = tag = False
    broad: list[Broadness] = []
    for st in statements:
        if st.effect != "Allow":
            continue
        for kind, value in st.principals:
            if kind == "Service" and value == POD_IDENTITY_PRINCIPAL:
                assume = assume or st.matches_action("sts:AssumeRole")
                tag = tag or st.matches_action("sts:TagSession")
            elif kind == "*" or value == "*":
                broad.append(Broadness("high", 'trusts any principal ("*")'))
            else:
                broad.append(Broadness("high", f"also trusts {kind} {value}"))
    problems: list[str] = []
    if not assume:
        problems.append(f"{POD_IDENTITY_PRINCIPAL} is not allowed sts:AssumeRole")
    if assume and not tag:
        problems.append(
            f"{POD_IDENTITY_PRINCIPAL} is not allowed sts:TagSession (required unless the "
            "association disables session tags)"
        )
    return TrustAnalysis(
        can_assume=assume and tag,
        assume_problems=tuple(problems),
        broad=tuple(dict.fromkeys(broad)),
        kind="pod_identity",
    )
