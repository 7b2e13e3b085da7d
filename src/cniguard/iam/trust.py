"""Trust-policy analysis: can ``kube-system/aws-node`` of this cluster assume the role, and can
anyone else?

IRSA: ``sts:AssumeRoleWithWebIdentity`` from ``Federated: arn:...:oidc-provider/<issuer host/path>``
with ``<host>:sub`` = ``system:serviceaccount:<ns>:<sa>`` and ``<host>:aud`` = ``sts.amazonaws.com``.
Pod Identity: ``Service: pods.eks.amazonaws.com`` with ``sts:AssumeRole`` and ``sts:TagSession``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from cniguard.iam.policy import PolicyParseError, Statement, parse_statements, wildcard_match

STS_AUDIENCE = "sts.amazonaws.com"
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"


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


Condition = tuple[str, str, tuple[str, ...]]
_NEGATED = {
    "stringnotequals": "stringequals",
    "stringnotlike": "stringlike",
    "stringnotequalsignorecase": "stringequalsignorecase",
    "arnnotequals": "arnequals",
    "arnnotlike": "arnlike",
}
_POSITIVE = ("stringequals", "stringlike", "stringequalsignorecase", "arnequals", "arnlike")
_ORG_VARIABLE = "${aws:ResourceOrgId}"


def condition_holds(cond: Condition, value: str | None) -> bool | None:
    """Whether one condition entry is satisfied when the request carries ``value`` for its key
    (None: the key is absent from the request). None when the operator cannot be judged here.

    IAM semantics: a key missing from the request fails every operator except the ``...IfExists``
    forms, ``ForAllValues:`` (vacuously true) and ``Null``.
    """
    op = cond[0].lower()
    for_all = op.startswith("forallvalues:")
    op = op.removeprefix("foranyvalue:").removeprefix("forallvalues:")
    if_exists = op.endswith("ifexists")
    op = op.removesuffix("ifexists")
    if op == "null":
        return {v.lower() for v in cond[2]} == {"true" if value is None else "false"}
    if value is None:
        return if_exists or for_all
    negated = op in _NEGATED
    base = _NEGATED.get(op, op)
    if base not in _POSITIVE:
        return None
    if base == "stringequalsignorecase":
        hit = any(v.lower() == value.lower() for v in cond[2])
    elif base in ("stringlike", "arnlike"):
        hit = any(wildcard_match(v, value) for v in cond[2])
    else:
        hit = value in cond[2]
    return not hit if negated else hit


def _conditions_hold(
    st: Statement, request: dict[str, str], absent: Callable[[str], bool]
) -> tuple[bool | None, list[str]]:
    """Evaluate every condition of ``st`` against the request's keys (lower-cased). ``absent``
    tells which other keys the request certainly lacks. Returns (holds, keys it failed on)."""
    failed: list[str] = []
    unknown = False
    for cond in st.conditions:
        key = cond[1].lower()
        if key in request:
            result = condition_holds(cond, request[key])
        elif absent(key):
            result = condition_holds(cond, None)
        elif _ORG_VARIABLE.lower() in (v.lower() for v in cond[2]):
            result = True  # same-Organization guard (best-practices guide); holds in-org
        else:
            result = None
        if result is False:
            failed.append(cond[1])
        elif result is None:
            unknown = True
    if failed:
        return False, failed
    return (None if unknown else True), []


def _statements(document: Any) -> tuple[Statement, ...] | None:
    try:
        return parse_statements(document)
    except PolicyParseError:
        return None


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def analyze_irsa_trust(
    document: Any,
    *,
    issuer: str | None,
    namespace: str = "kube-system",
    service_account: str = "aws-node",
    audience: str = STS_AUDIENCE,
    role_account: str | None = None,
) -> TrustAnalysis:
    """Whether ``namespace/service_account`` of the cluster with ``issuer`` can assume the role
    through ``sts:AssumeRoleWithWebIdentity``, and who else can assume it."""
    if document is None:
        return TrustAnalysis(can_assume=None, notes=("trust policy not read",))
    statements = _statements(document)
    if statements is None:
        return TrustAnalysis(can_assume=None, notes=("trust policy is not valid JSON",))
    subject = service_account_subject(namespace, service_account)
    host = issuer_host(issuer) if issuer else None
    request = {}
    if host:
        request = {f"{host}:sub".lower(): subject, f"{host}:aud".lower(): audience}

    def absent(key: str) -> bool:  # another issuer's claims are never in aws-node's request
        return key.endswith((":sub", ":aud", ":amr")) and "/id/" in key

    problems: list[str] = []
    notes: list[str] = []
    broad: list[Broadness] = []
    providers: list[str] = []
    others: list[str] = []
    allowed: bool | None = False
    for st in statements:
        web = st.matches_action("sts:AssumeRoleWithWebIdentity")
        if st.effect == "Deny":
            if web and _names_provider(st, host):
                holds, _ = _conditions_hold(st, request, absent)
                if holds:
                    problems.append(f"a Deny statement{_sid(st)} blocks {subject}")
                    return _irsa(False, problems, broad, providers, others, notes)
                if holds is None:
                    notes.append(f"a Deny statement{_sid(st)} may block {subject}")
            continue
        for kind, value in st.principals:
            if kind == "Federated" and web:
                p_host = provider_host(value)
                if p_host is None:
                    broad.append(Broadness("high", f"trusts federated principal {value}"))
                    continue
                providers.append(p_host)
                _broadness(st, p_host, subject, broad, others)
                ok = _can_use(st, value, p_host, host, role_account, request, absent, problems)
                if ok is None and allowed is False:
                    allowed = None
                elif ok:
                    allowed = True
            elif kind == "*" or value == "*":
                broad.append(Broadness("high", 'trusts any principal ("*")'))
            elif kind in ("AWS", "Service", "CanonicalUser") and (
                st.matches_action("sts:AssumeRole") or web
            ):
                label = {"AWS": "AWS principal", "Service": "service"}.get(kind, kind)
                broad.append(Broadness("high", f"also trusts {label} {value}"))
    if not providers:
        problems.append(
            "the trust policy has no sts:AssumeRoleWithWebIdentity from an OIDC provider"
        )
    if allowed is None and notes:
        allowed = None
    return _irsa(allowed, [] if allowed else problems, broad, providers, others, notes)


def _sid(st: Statement) -> str:
    return f" ({st.sid})" if st.sid else ""


def _names_provider(st: Statement, host: str | None) -> bool:
    for kind, value in st.principals:
        if kind == "*" or value == "*":
            return True
        if kind == "Federated" and host and (provider_host(value) or "").lower() == host.lower():
            return True
    return False


def _irsa(
    allowed: bool | None,
    problems: list[str],
    broad: list[Broadness],
    providers: list[str],
    others: list[str],
    notes: list[str],
) -> TrustAnalysis:
    return TrustAnalysis(
        can_assume=allowed,
        assume_problems=tuple(dict.fromkeys(problems)),
        broad=tuple(dict.fromkeys(broad)),
        trusted_providers=tuple(dict.fromkeys(providers)),
        other_subjects=tuple(dict.fromkeys(others)),
        kind="irsa",
        notes=tuple(dict.fromkeys(notes)),
    )


def _broadness(
    st: Statement, p_host: str, subject: str, broad: list[Broadness], others: list[str]
) -> None:
    """Record who else than ``subject`` this provider statement admits (CNI013/CNI014)."""
    subs = [c for c in st.conditions if c[1].lower() == f"{p_host}:sub".lower()]
    auds = [c for c in st.conditions if c[1].lower() == f"{p_host}:aud".lower()]
    if not subs:
        broad.append(
            Broadness("high", f"no {p_host}:sub condition: every service account can assume it")
        )
    for cond in subs:
        op = cond[0].lower()
        if "like" in op and "not" not in op and any("*" in v or "?" in v for v in cond[2]):
            wild = ", ".join(v for v in cond[2] if "*" in v or "?" in v)
            broad.append(Broadness("high", f"StringLike wildcard in {p_host}:sub: {wild}"))
        if "not" in op:
            broad.append(Broadness("high", f"{p_host}:sub is only excluded ({cond[0]})"))
            continue
        others.extend(v for v in cond[2] if v != subject and "*" not in v and "?" not in v)
    if not auds:
        broad.append(Broadness("medium", f"no {p_host}:aud condition"))


def _can_use(
    st: Statement,
    provider_arn: str,
    p_host: str,
    cluster_host: str | None,
    role_account: str | None,
    request: dict[str, str],
    absent: Callable[[str], bool],
    problems: list[str],
) -> bool | None:
    """Whether aws-node of this cluster can assume the role through this Federated statement."""
    if cluster_host is None:
        problems.append("the cluster's OIDC issuer is not known")
        return None
    if p_host.lower() != cluster_host.lower():
        problems.append(f"trusts OIDC provider {p_host}, not this cluster's issuer {cluster_host}")
        return False
    provider_account = _account_of(provider_arn)
    if role_account and provider_account and provider_account != role_account:
        problems.append(
            f"trusts an OIDC provider of account {provider_account}; STS only accepts the "
            f"role's own account's provider ({role_account})"
        )
        return False
    holds, failed = _conditions_hold(st, request, absent)
    for key in failed:
        cond = next(c for c in st.conditions if c[1] == key)
        named = ", ".join(cond[2])
        if key.lower() in request:
            wanted = request[key.lower()]
            if "not" in cond[0].lower():
                problems.append(f"{key} {cond[0]} {named} excludes {wanted}")
            else:
                verb = "allows" if key.lower().endswith(":sub") else "is"
                problems.append(f"{key} {verb} {named}, not {wanted}")
        else:
            problems.append(
                f"condition on {key} ({named}) can never hold: aws-node's token carries no such key"
            )
    return holds


def analyze_pod_identity_trust(
    document: Any,
    *,
    cluster_arn: str | None = None,
    cluster_name: str | None = None,
    account: str | None = None,
    namespace: str = "kube-system",
    service_account: str = "aws-node",
) -> TrustAnalysis:
    """Whether EKS Pod Identity can hand out this role to aws-node of this cluster (and whether
    anyone else can assume it). Conditions on the source cluster, account and the session tags
    EKS sets are checked against this cluster."""
    if document is None:
        return TrustAnalysis(can_assume=None, kind="pod_identity", notes=("trust policy not read",))
    statements = _statements(document)
    if statements is None:
        return TrustAnalysis(
            can_assume=None, kind="pod_identity", notes=("trust policy is not valid JSON",)
        )
    request = {
        k.lower(): v
        for k, v in {
            "aws:SourceAccount": account,
            # aws:SourceArn is left out on purpose: AWS documents no value for it when Pod
            # Identity assumes a role (reports point at the association, not the cluster), so a
            # condition on it cannot be judged here and makes the verdict unknown, never a pass
            "aws:RequestTag/eks-cluster-arn": cluster_arn,
            "aws:RequestTag/eks-cluster-name": cluster_name,
            "aws:RequestTag/kubernetes-namespace": namespace,
            "aws:RequestTag/kubernetes-service-account": service_account,
        }.items()
        if v is not None
    }
    assume = tag = False
    unknown = False
    broad: list[Broadness] = []
    problems: list[str] = []
    for st in statements:
        pods = any(k == "Service" and v == POD_IDENTITY_PRINCIPAL for k, v in st.principals)
        if st.effect == "Deny":
            if pods and st.matches_action("sts:AssumeRole"):
                holds, _ = _conditions_hold(st, request, lambda _key: False)
                if holds:
                    problems.append(f"a Deny statement{_sid(st)} blocks Pod Identity")
                    return TrustAnalysis(False, tuple(problems), tuple(broad), kind="pod_identity")
                unknown = unknown or holds is None
            continue
        for kind, value in st.principals:
            if kind == "Service" and value == POD_IDENTITY_PRINCIPAL:
                holds, failed = _conditions_hold(st, request, lambda _key: False)
                if holds is False:
                    problems.extend(
                        f"condition on {key} does not hold for cluster {cluster_arn}"
                        for key in failed
                    )
                    continue
                unknown = unknown or holds is None
                assume = assume or st.matches_action("sts:AssumeRole")
                tag = tag or st.matches_action("sts:TagSession")
            elif kind == "*" or value == "*":
                broad.append(Broadness("high", 'trusts any principal ("*")'))
            else:
                broad.append(Broadness("high", f"also trusts {kind} {value}"))
    if not assume:
        problems.append(f"{POD_IDENTITY_PRINCIPAL} is not allowed sts:AssumeRole")
    if assume and not tag:
        problems.append(
            f"{POD_IDENTITY_PRINCIPAL} is not allowed sts:TagSession (required unless the "
            "association disables session tags)"
        )
    can: bool | None = assume and tag
    if can and unknown:
        can = None
    return TrustAnalysis(
        can_assume=can,
        assume_problems=tuple(dict.fromkeys(problems)) if not can else (),
        broad=tuple(dict.fromkeys(broad)),
        kind="pod_identity",
        notes=("a condition of the trust policy cannot be judged offline",) if unknown else (),
    )
