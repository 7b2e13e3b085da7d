"""CNI010-CNI016: the dedicated identity's OIDC provider, trust policy and binding."""

from __future__ import annotations

from collections.abc import Iterator

from cniguard.analysis import ClusterView, normalize_role_arn
from cniguard.iam.trust import issuer_host, service_account_subject
from cniguard.model.finding import Finding, Severity
from cniguard.rules.base import Rule, rule

IRSA_DOC = "https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts.html"
OIDC_DOC = (
    "https://docs.aws.amazon.com/eks/latest/userguide/enable-iam-roles-for-service-accounts.html"
)
POD_ID_DOC = "https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html"
CNI_ROLE_DOC = "https://docs.aws.amazon.com/eks/latest/userguide/cni-iam-role.html"
ADDON_DOC = "https://docs.aws.amazon.com/eks/latest/userguide/vpc-add-on-create.html"


@rule(
    "CNI010",
    "IRSA role bound to aws-node, but the cluster's OIDC provider is missing or wrong",
    "high",
    "identity",
    "STS accepts aws-node's web identity token only through an IAM OIDC provider whose URL is the "
    "cluster's issuer and whose client ids include sts.amazonaws.com; without it every "
    "AssumeRoleWithWebIdentity call fails and aws-node has no permissions.",
    "Create the provider: eksctl utils associate-iam-oidc-provider --cluster <name> --approve (or "
    "aws iam create-open-id-connect-provider with the cluster's issuer URL and client id "
    "sts.amazonaws.com).",
    references=(OIDC_DOC,),
    binding=True,
)
def cni010(view: ClusterView, r: Rule) -> Iterator[Finding]:
    binding = view.binding
    if binding.kind != "irsa":
        return
    issuer = view.cluster.oidc_issuer
    if issuer is None:
        yield r.finding(
            view,
            "unknown",
            "The cluster's OIDC issuer was not read.",
            evidence={"missing": "oidc_issuer"},
        )
        return
    provider = view.oidc_provider
    evidence = {"issuer": issuer, "role": binding.role_arn}
    if provider is None:
        yield r.finding(
            view,
            "unknown",
            f"The IAM OIDC providers of account {view.cluster.account} were not read.",
            evidence=evidence,
        )
    elif provider is False:
        yield r.finding(
            view,
            "fail",
            f"aws-node is bound to IRSA role {binding.role_arn}, but no IAM "
            f"OIDC provider exists for issuer {issuer_host(issuer)}.",
            resource=issuer,
            evidence=evidence,
        )
    elif "sts.amazonaws.com" not in provider.client_ids:
        yield r.finding(
            view,
            "fail",
            f"OIDC provider {provider.arn} lacks client id "
            f"sts.amazonaws.com (has: {', '.join(provider.client_ids) or 'none'}).",
            resource=provider.arn,
            evidence={**evidence, "client_ids": list(provider.client_ids)},
            origin=view.origin_of(provider),
            remediation=f"aws iam add-client-id-to-open-id-connect-provider "
            f"--open-id-connect-provider-arn {provider.arn} --client-id sts.amazonaws.com",
        )
    else:
        yield r.finding(
            view,
            "pass",
            f"OIDC provider {provider.arn} serves the cluster's issuer.",
            resource=provider.arn,
            evidence=evidence,
        )


@rule(
    "CNI011",
    "No IAM OIDC provider for the cluster while its CNI runs on the node role",
    "medium",
    "identity",
    "Without an OIDC provider IRSA is impossible, so the CNI permissions cannot leave the node role.",
    "Associate an IAM OIDC provider with the cluster (eksctl utils associate-iam-oidc-provider), then "
    "move aws-node to an IRSA role (or use EKS Pod Identity, which needs no provider).",
    references=(OIDC_DOC,),
    binding=True,
)
def cni011(view: ClusterView, r: Rule) -> Iterator[Finding]:
    binding = view.binding
    if binding.kind != "none" or view.aws_node_runs[0] is False:
        return
    if view.cluster.oidc_issuer is None:
        yield r.finding(view, "unknown", "The cluster's OIDC issuer was not read.")
        return
    provider = view.oidc_provider
    if provider is None:
        yield r.finding(
            view,
            "unknown",
            f"The IAM OIDC providers of account {view.cluster.account} were not read.",
        )
    elif provider is False:
        yield r.finding(
            view,
            "fail",
            "The cluster has no IAM OIDC provider, and aws-node has no dedicated identity: it "
            "falls back to the node role.",
            evidence={"issuer": view.cluster.oidc_issuer},
        )
    else:
        yield r.finding(
            view,
            "pass",
            f"OIDC provider {provider.arn} exists; IRSA is possible.",
            resource=provider.arn,
        )


@rule(
    "CNI012",
    "aws-node cannot assume its dedicated role (trust policy mismatch)",
    "high",
    "trust",
    "IRSA fails silently: when the trust names another provider, cluster or region, another "
    "namespace or service account in `sub`, or a wrong `aud`, STS refuses aws-node's token and the "
    "CNI has no permissions. Pod Identity roles must trust pods.eks.amazonaws.com with "
    "sts:AssumeRole and sts:TagSession.",
    "Fix the role's trust: Federated = this cluster's OIDC provider, Action "
    "sts:AssumeRoleWithWebIdentity, StringEquals <issuer>:sub = system:serviceaccount:kube-system:"
    "aws-node and <issuer>:aud = sts.amazonaws.com (aws iam update-assume-role-policy).",
    references=(IRSA_DOC, POD_ID_DOC),
    binding=True,
)
def cni012(view: ClusterView, r: Rule) -> Iterator[Finding]:
    binding = view.binding
    if binding.kind == "none":
        return
    arn = binding.role_arn or view.cluster.arn
    role = view.dedicated_role
    trust = view.trust
    if role is None or trust is None:
        if role is not None and not role.exists:
            return  # CNI004 reports a deleted role
        yield r.finding(view, "unknown", f"Role {arn} was not read.", resource=arn)
        return
    evidence = {
        "role": arn,
        "kind": binding.kind,
        "issuer": view.cluster.oidc_issuer,
        "service_account": f"kube-system/{view.service_account_name}",
        "trusted_providers": list(trust.trusted_providers),
    }
    if trust.can_assume is None:
        yield r.finding(
            view,
            "unknown",
            f"Trust policy of {arn}: {'; '.join(trust.notes)}.",
            resource=arn,
            evidence=evidence,
        )
    elif not trust.can_assume:
        yield r.finding(
            view,
            "fail",
            f"aws-node cannot assume {arn}: {'; '.join(trust.assume_problems)}.",
            resource=arn,
            evidence={**evidence, "problems": list(trust.assume_problems)},
            origin=view.origin_of(role),
        )
    else:
        yield r.finding(
            view,
            "pass",
            f"aws-node of this cluster can assume {arn}.",
            resource=arn,
            evidence=evidence,
        )


@rule(
    "CNI013",
    "The CNI role trusts more than kube-system/aws-node",
    "high",
    "trust",
    "A trust without a `sub` condition, with StringLike wildcards or with extra principals lets "
    "other workloads (or accounts) assume the role and use its ENI permissions. A missing `aud` "
    "condition is a weaker gap (medium).",
    "Scope the trust to exactly this cluster's provider with StringEquals on <issuer>:sub = "
    "system:serviceaccount:kube-system:aws-node and <issuer>:aud = sts.amazonaws.com; remove other "
    "principals.",
    references=(IRSA_DOC,),
    binding=True,
)
def cni013(view: ClusterView, r: Rule) -> Iterator[Finding]:
    binding = view.binding
    if binding.kind == "none":
        return
    arn = binding.role_arn or view.cluster.arn
    trust = view.trust
    if trust is None or trust.can_assume is None:
        if view.dedicated_role is not None and not view.dedicated_role.exists:
            return
        yield r.finding(view, "unknown", f"The trust policy of {arn} was not read.", resource=arn)
        return
    if trust.broad:
        severity: Severity = "high" if any(b.severity == "high" for b in trust.broad) else "medium"
        yield r.finding(
            view,
            "fail",
            f"Role {arn} trusts more than kube-system/aws-node: "
            f"{'; '.join(b.reason for b in trust.broad)}.",
            resource=arn,
            evidence={"role": arn, "too_broad": [b.reason for b in trust.broad]},
            severity=severity,
            origin=view.origin_of(view.dedicated_role),
        )
    else:
        yield r.finding(view, "pass", f"Role {arn} trusts only aws-node.", resource=arn)


@rule(
    "CNI014",
    "The CNI role is shared",
    "medium",
    "identity",
    "A role that is also a node role, bound to other service accounts, or used by other clusters "
    "breaks least privilege and couples clusters: a change made for one breaks the other.",
    "Create one CNI role per cluster, trusted only by that cluster's kube-system/aws-node.",
    references=(CNI_ROLE_DOC,),
    binding=True,
)
def cni014(view: ClusterView, r: Rule) -> Iterator[Finding]:
    binding = view.binding
    if binding.kind == "none":
        return
    if binding.role_arn is None:
        yield r.finding(view, "unknown", f"The {binding.kind} role of aws-node is not known.")
        return
    arn = binding.role_arn
    if view.dedicated_role is not None and not view.dedicated_role.exists:
        return  # CNI004 reports a deleted role
    shared: list[str] = []
    for cluster_arn, how in view.index.role_usage.get(normalize_role_arn(arn), []):
        if cluster_arn == view.cluster.arn and how.startswith("aws-node"):
            continue
        where = "this cluster" if cluster_arn == view.cluster.arn else cluster_arn
        shared.append(f"{how} in {where}")
    trust = view.trust
    own = service_account_subject("kube-system", view.service_account_name)
    if trust is not None:
        shared.extend(f"trust allows {s}" for s in trust.other_subjects if s != own)
        own_host = issuer_host(view.cluster.oidc_issuer) if view.cluster.oidc_issuer else None
        shared.extend(
            f"trusted by OIDC provider {p}"
            for p in trust.trusted_providers
            if own_host and p.lower() != own_host.lower()
        )
    shared = list(dict.fromkeys(shared))
    if shared:
        yield r.finding(
            view,
            "fail",
            f"CNI role {arn} is shared: {'; '.join(shared)}.",
            resource=arn,
            evidence={"role": arn, "shared_with": shared},
            origin=view.origin_of(view.dedicated_role),
        )
    elif trust is None or trust.can_assume is None:
        yield r.finding(view, "unknown", f"The trust policy of {arn} was not read.", resource=arn)
    else:
        yield r.finding(
            view, "pass", f"CNI role {arn} serves only this cluster's aws-node.", resource=arn
        )


@rule(
    "CNI015",
    "aws-node pods do not run with the bound identity (not restarted)",
    "medium",
    "identity",
    "IRSA and Pod Identity credentials are injected when a pod starts: pods created before the "
    "binding keep using the node role (or an old role) until they are restarted.",
    "kubectl rollout restart daemonset aws-node -n kube-system, then check that every aws-node pod "
    "has AWS_ROLE_ARN (IRSA) or AWS_CONTAINER_CREDENTIALS_FULL_URI (Pod Identity).",
    references=(CNI_ROLE_DOC,),
    needs=("k8s",),
    iac=False,
)
def cni015(view: ClusterView, r: Rule) -> Iterator[Finding]:
    configured = view.configured_binding
    if configured.kind == "unknown":
        yield r.finding(view, "unknown", f"Cannot tell how aws-node is bound: {configured.reason}.")
        return
    if configured.kind == "none":
        return
    env = view.pod_env
    if env is None:
        yield r.finding(
            view, "unknown", "aws-node pods were not read.", evidence={"missing": "k8s:pods"}
        )
        return
    stale = list(env.without)
    wrong: dict[str, list[str]] = {}
    if configured.kind == "irsa":
        for role, pods in env.irsa_roles.items():
            if configured.role_arn and normalize_role_arn(role) != normalize_role_arn(
                configured.role_arn
            ):
                wrong[role] = list(pods)
        stale.extend(env.pod_identity)
    evidence = {
        "bound_role": configured.role_arn,
        "bound_by": configured.reason,
        "pods_without_identity_env": stale,
        "pods_with_other_role": wrong,
        "aws_node_pods": len(env.pods),
    }
    if stale or wrong:
        parts = []
        if stale:
            parts.append(
                f"{len(stale)} of {len(env.pods)} pod(s) lack the {configured.kind} env "
                f"({', '.join(stale[:5])}{'...' if len(stale) > 5 else ''}) and use the node role"
            )
        if wrong:
            parts.append(f"pods run with another role: {', '.join(wrong)}")
        yield r.finding(
            view,
            "fail",
            f"aws-node is bound to {configured.role_arn} "
            f"({configured.reason}) but {'; '.join(parts)}.",
            evidence=evidence,
            resource=f"{view.cluster.arn}/kube-system/daemonset/aws-node",
        )
    elif env.indirect:
        yield r.finding(
            view,
            "unknown",
            f"{len(env.indirect)} aws-node pod(s) set AWS_ROLE_ARN through valueFrom: which role "
            "they run with cannot be read from the pods.",
            evidence={**evidence, "pods_with_role_by_reference": list(env.indirect)},
            resource=f"{view.cluster.arn}/kube-system/daemonset/aws-node",
        )
    else:
        yield r.finding(
            view,
            "pass",
            f"All {len(env.pods)} aws-node pod(s) run with the bound identity.",
            evidence=evidence,
            resource=f"{view.cluster.arn}/kube-system/daemonset/aws-node",
        )


@rule(
    "CNI016",
    "aws-node's role is set in places that disagree",
    "low",
    "identity",
    "The vpc-cni add-on's serviceAccountRoleArn, the ServiceAccount annotation and a pod identity "
    "association can each name a role; when they differ, the next add-on update or restart silently "
    "changes aws-node's identity. A hand-made annotation on a managed add-on may be overwritten.",
    "Set the role in one place: the add-on's serviceAccountRoleArn (aws eks update-addon "
    "--service-account-role-arn) or its podIdentityAssociations, and remove the others.",
    references=(ADDON_DOC,),
)
def cni016(view: ClusterView, r: Rule) -> Iterator[Finding]:
    addon = view.vpc_cni_addon
    annotation = view.annotation_role
    pia = view.pod_identity_role
    places: dict[str, str] = {}
    if addon and addon.service_account_role_arn:
        places["add-on serviceAccountRoleArn"] = addon.service_account_role_arn
    if annotation:
        places["ServiceAccount annotation"] = annotation
    if pia:
        places["pod identity association"] = pia
    problems: list[str] = []
    irsa = {k: v for k, v in places.items() if k != "pod identity association"}
    if len({normalize_role_arn(v) for v in irsa.values()}) > 1:
        problems.append("; ".join(f"{k} = {v}" for k, v in irsa.items()))
    if addon and addon.service_account_role_arn and annotation is False:
        problems.append(
            f"the add-on names {addon.service_account_role_arn} but the ServiceAccount "
            "has no role annotation"
        )
    if pia and annotation:
        problems.append(
            f"both a pod identity association ({pia}) and an IRSA annotation "
            f"({annotation}) are set; IRSA wins in the SDK chain"
        )
    if annotation and addon and not addon.service_account_role_arn and not pia:
        problems.append(
            "the role annotation was set by hand on a managed add-on that does not "
            "name it; an add-on update may remove it"
        )
    if problems:
        yield r.finding(
            view,
            "fail",
            "aws-node's role is set inconsistently: " + " | ".join(problems) + ".",
            evidence={"places": places, "problems": problems},
            origin=view.origin_of(addon or None),
        )
        return
    missing = [n for n, v in (("add-on", addon), ("pod identity associations", pia)) if v is None]
    if annotation is None and not view.is_iac:
        missing.append("ServiceAccount")
    if missing:
        yield r.finding(
            view,
            "unknown",
            f"Not read: {', '.join(missing)}.",
            evidence={"places": places, "missing": missing},
        )
        return
    yield r.finding(
        view,
        "pass",
        "aws-node's role is set in one place or the places agree.",
        evidence={"places": places},
    )


RULES = (cni010, cni011, cni012, cni013, cni014, cni015, cni016)
