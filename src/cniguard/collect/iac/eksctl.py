"""eksctl ClusterConfig (eksctl.io/v1alpha5) into the roles and bindings ``eksctl create cluster``
would create, following eksctl's own defaults (read from eksctl-io/eksctl, 2026-08):

- node roles: pkg/cfn/builder/iam_helper.go ``makeManagedPolicies``: without
  ``iam.attachPolicyARNs`` a role gets AmazonEKSWorkerNodePolicy, AmazonSSMManagedInstanceCore,
  AmazonEC2ContainerRegistryPullOnly and, unless the cluster has ``iam.withOIDC``,
  AmazonEKS_CNI_Policy; with ``attachPolicyARNs`` exactly those (self-managed groups add the ECR
  pull policy); ``withAddonPolicies.efs`` adds ENI-mutating EC2 actions inline.
- launch templates: ``makeMetadataOptions``: IMDSv2 required unless ``disableIMDSv1: false``
  (default true since defaults.go sets it), hop limit 1 with ``disablePodIMDS``, else 2.
- Karpenter: pkg/cfn/builder/karpenter.go: ``eksctl-KarpenterNodeRole-<cluster>`` always gets the
  CNI policy.
- vpc-cni add-on (a default add-on unless ``addonsConfig.disableDefaultAddons`` or Auto Mode):
  pkg/actions/addon/create.go: explicit pod identity associations, else explicit IRSA settings
  (only with withOIDC), else automatic pod identity (``autoApplyPodIdentityAssociations`` /
  ``useDefaultPodIdentityAssociations``), else the recommended IRSA role when withOIDC; IPv6
  clusters get the inline IPv6 document instead of the managed policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cniguard.collect.iac import synthetic
from cniguard.collect.iac.base import IacFragment
from cniguard.collect.iac.eksctl_build import (
    AWS_NODE,
    ECR_PULL,
    KUBE_SYSTEM,
    ROLE_ANNOTATION,
    Build,
    as_list,
    as_map,
    line_of,
)
from cniguard.collect.iac.eksctl_nodes import karpenter, mapped_node_roles, node_group
from cniguard.collect.iac.marked_yaml import MarkedDict, load_file
from cniguard.model.inventory import (
    Addon,
    Cluster,
    FargateProfile,
    Gap,
    OidcProvider,
    PodIdentityAssociation,
)
from cniguard.model.kube import KubeState, ServiceAccount


def _pod_identity(b: Build, spec: Mapping[str, Any], role_name: str, owner: str | None) -> None:
    origin = b.origin(spec)
    spec = dict(spec)
    if (
        b.ipv6
        and not spec.get("permissionPolicyARNs")
        and not spec.get("permissionPolicy")
        and not spec.get("roleARN")
        and spec.get("_recommended")
    ):
        spec["permissionPolicy"] = synthetic.ipv6_cni_document(b.partition)
    elif spec.get("_recommended"):
        spec["permissionPolicyARNs"] = [b.managed(synthetic.CNI_POLICY)]
    role = b.dedicated_role(spec, role_name, origin, synthetic.pod_identity_trust())
    sa = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or AWS_NODE)
    b.associations.append(
        PodIdentityAssociation(
            arn=f"{b.cluster_id}/podidentityassociation/{spec.get('namespace', KUBE_SYSTEM)}/{sa}",
            namespace=str(spec.get("namespace", KUBE_SYSTEM)),
            service_account=sa,
            role_arn=role,
            owner_arn=owner,
            origin=origin,
        )
    )


def _vpc_cni(b: Build, addon: Mapping[str, Any], auto_pod_identity: bool) -> Addon:
    """The vpc-cni add-on and its binding, in create.go's order of precedence."""
    origin = b.origin(addon)
    owner = f"{b.cluster_id}/addon/vpc-cni"
    version = addon.get("version")
    irsa_set = any(
        addon.get(k)
        for k in ("serviceAccountRoleARN", "attachPolicyARNs", "attachPolicy", "wellKnownPolicies")
    )
    role_name = f"eksctl-{b.name}-addon-vpc-cni-Role1"
    role: str | None = None
    before = len(b.associations)
    if as_list(addon.get("podIdentityAssociations")):
        for spec in as_list(addon.get("podIdentityAssociations")):
            _pod_identity(
                b,
                {"namespace": KUBE_SYSTEM, **as_map(spec)},
                f"eksctl-{b.name}-addon-vpc-cni-podidentityrole-aws-node",
                owner,
            )
    elif irsa_set:
        if b.with_oidc:
            role = b.dedicated_role(
                addon, role_name, origin, synthetic.irsa_trust(b.issuer, KUBE_SYSTEM, AWS_NODE)
            )
    elif auto_pod_identity or addon.get("useDefaultPodIdentityAssociations") is True:
        _pod_identity(
            b,
            {"namespace": KUBE_SYSTEM, "serviceAccountName": AWS_NODE, "_recommended": True},
            f"eksctl-{b.name}-addon-vpc-cni-podidentityrole-aws-node",
            owner,
        )
    elif b.with_oidc:
        recommended: dict[str, Any] = {}
        if b.ipv6:
            recommended["attachPolicy"] = synthetic.ipv6_cni_document(b.partition)
        else:
            recommended["attachPolicyARNs"] = [b.managed(synthetic.CNI_POLICY)]
        role = b.dedicated_role(
            recommended, role_name, origin, synthetic.irsa_trust(b.issuer, KUBE_SYSTEM, AWS_NODE)
        )
    return Addon(
        name="vpc-cni",
        version=str(version) if version else None,
        service_account_role_arn=role,
        pod_identity_association_arns=tuple(a.arn or "" for a in b.associations[before:]),
        origin=origin,
    )


def _service_accounts(b: Build, iam: Mapping[str, Any]) -> None:
    for sa in as_list(iam.get("serviceAccounts")):
        meta = as_map(as_map(sa).get("metadata"))
        if meta.get("name") != AWS_NODE or meta.get("namespace", "default") != KUBE_SYSTEM:
            continue
        origin = b.origin(sa)
        if not b.with_oidc:
            b.gaps.append(
                Gap(
                    what="iac:service-account",
                    resource=b.file,
                    line=origin.line,
                    cluster=b.cluster_id,
                    reason="iam.serviceAccounts needs iam.withOIDC: eksctl rejects this entry",
                )
            )
            continue
        role = b.dedicated_role(
            as_map(sa),
            f"eksctl-{b.name}-addon-iamserviceaccount-{KUBE_SYSTEM}-{AWS_NODE}-Role1",
            origin,
            synthetic.irsa_trust(b.issuer, KUBE_SYSTEM, AWS_NODE),
        )
        if as_map(sa).get("roleOnly") is not True:
            annotations = {str(k): str(v) for k, v in as_map(meta.get("annotations")).items()}
            annotations[ROLE_ANNOTATION] = role
            b.service_accounts.append(
                ServiceAccount(KUBE_SYSTEM, AWS_NODE, annotations, origin=origin)
            )
    for raw in as_list(iam.get("podIdentityAssociations")):
        spec = as_map(raw)
        if spec.get("namespace") == KUBE_SYSTEM and spec.get("serviceAccountName") == AWS_NODE:
            _pod_identity(
                b, spec, f"eksctl-{b.name}-podidentityrole-{KUBE_SYSTEM}-{AWS_NODE}", None
            )


def _cluster(
    doc: Mapping[str, Any],
    file: str,
    out: IacFragment,
    joining: Sequence[tuple[str, Mapping[str, Any]]] = (),
) -> None:
    meta = as_map(doc.get("metadata"))
    name = str(meta.get("name", Path(file).stem))
    region = str(meta.get("region") or synthetic.REGION)
    cluster_id = f"eksctl:{file}#{name}"
    iam = as_map(doc.get("iam"))
    network = as_map(doc.get("kubernetesNetworkConfig"))
    b = Build(
        file=file,
        name=name,
        cluster_id=cluster_id,
        region=region,
        issuer=synthetic.issuer_url(cluster_id, region),
        ipv6=str(network.get("ipFamily", "IPv4")).lower() == "ipv6",
        with_oidc=iam.get("withOIDC") is True,
        tags={str(k): str(v) for k, v in as_map(meta.get("tags")).items()},
    )
    auto = as_map(doc.get("autoModeConfig")).get("enabled") is True
    auto_role = as_map(doc.get("autoModeConfig")).get("nodeRoleARN")
    if auto and not isinstance(auto_role, str):
        auto_role = b.role(
            f"eksctl-{name}-cluster-AutoModeNodeRole",
            synthetic.ec2_trust(),
            b.origin(doc.get("autoModeConfig")),
            [b.managed("AmazonEKSWorkerNodeMinimalPolicy"), b.managed(ECR_PULL)],
        )
    for ng in as_list(doc.get("managedNodeGroups")):
        node_group(b, as_map(ng), managed=True)
    for ng in as_list(doc.get("nodeGroups")):
        node_group(b, as_map(ng), managed=False)
    for extra_file, extra in joining:  # configs that add node groups to this cluster
        b.file = extra_file
        for ng in as_list(extra.get("managedNodeGroups")):
            node_group(b, as_map(ng), managed=True)
        for ng in as_list(extra.get("nodeGroups")):
            node_group(b, as_map(ng), managed=False)
        b.file = file
    if doc.get("karpenter"):
        karpenter(b, as_map(doc.get("karpenter")))
    access_entries = mapped_node_roles(b, doc)
    addons_config = as_map(doc.get("addonsConfig"))
    addons = [as_map(a) for a in as_list(doc.get("addons"))]
    cni = next((a for a in addons if str(a.get("name", "")).lower() == "vpc-cni"), None)
    if cni is None and not addons_config.get("disableDefaultAddons") and not auto:
        cni = MarkedDict(name="vpc-cni")
        cni.line, cni.key_lines = line_of(doc) or 0, {}
    addon_objects = (
        [_vpc_cni(b, cni, addons_config.get("autoApplyPodIdentityAssociations") is True)]
        if cni is not None
        else []
    )
    _service_accounts(b, iam)
    providers = []
    if b.with_oidc:
        providers.append(
            OidcProvider(
                arn=synthetic.provider_arn(b.issuer),
                url=synthetic.issuer_host(b.issuer),
                client_ids=(synthetic.STS_AUDIENCE,),
                account=synthetic.ACCOUNT,
                origin=b.origin(iam, "withOIDC"),
            )
        )
    fargate = [
        FargateProfile(
            name=str(as_map(p).get("name")),
            pod_execution_role_arn=as_map(p).get("podExecutionRoleARN")
            or b.role(
                f"eksctl-{name}-fargate-FargatePodExecutionRole",
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {"Service": "eks-fargate-pods.amazonaws.com"},
                        }
                    ],
                },
                b.origin(p),
                [b.managed("AmazonEKSFargatePodExecutionRolePolicy")],
            ),
            origin=b.origin(p),
        )
        for p in as_list(doc.get("fargateProfiles"))
    ]
    access = as_map(doc.get("accessConfig"))
    out.clusters.append(
        Cluster(
            arn=cluster_id,
            name=name,
            account=synthetic.ACCOUNT,
            region=region,
            version=str(meta["version"]) if meta.get("version") else None,
            ip_family="ipv6" if b.ipv6 else "ipv4",
            oidc_issuer=b.issuer,
            auto_mode=auto,
            auto_mode_node_role_arn=auto_role if auto and isinstance(auto_role, str) else None,
            authentication_mode=str(access.get("authenticationMode", "API_AND_CONFIG_MAP")),
            tags=dict(b.tags),
            node_groups=tuple(b.node_groups),
            fargate_profiles=tuple(fargate),
            addons=tuple(addon_objects),
            pod_identity_associations=tuple(b.associations),
            access_entries=tuple(access_entries),
            kube=KubeState(service_accounts=tuple(b.service_accounts))
            if b.service_accounts
            else None,
            origin=b.origin(doc),
        )
    )
    if not set(doc) - NODE_GROUP_KEYS and not joining:
        out.node_group_files[cluster_id] = tuple(b.default_cni)
    out.roles.extend(b.roles)
    out.oidc_providers.extend(providers)
    out.gaps.extend(b.gaps)


NODE_GROUP_KEYS = frozenset({"apiVersion", "kind", "metadata", "managedNodeGroups", "nodeGroups"})


def _key(doc: Mapping[str, Any]) -> tuple[str, str]:
    meta = as_map(doc.get("metadata"))
    return str(meta.get("name", "")), str(meta.get("region") or "")


def collect_eksctl(paths: Sequence[Path]) -> IacFragment:
    """Every ClusterConfig in the files at ``paths``.

    A config of node groups only (no key but ``metadata`` and node groups) for a cluster that
    another config of the scan creates (same name and region, cluster settings such as ``iam``,
    ``addons`` or ``vpc``) is that cluster's ``eksctl create nodegroup`` file: its node groups
    join that cluster and are judged with its settings. Without such a config it is read as
    ``eksctl create cluster`` (a config listing only node groups is a complete cluster too).
    """
    out = IacFragment()
    configs: list[tuple[str, Mapping[str, Any]]] = []
    for path in paths:
        docs = load_file(path)
        if isinstance(docs, Gap):
            out.gaps.append(docs)
            continue
        out.files_read.append(str(path))
        configs.extend(
            (str(path), doc)
            for doc in docs
            if isinstance(doc, Mapping)
            and doc.get("kind") == "ClusterConfig"
            and str(doc.get("apiVersion", "")).startswith("eksctl.io/")
        )
    creators: dict[tuple[str, str], list[tuple[str, Mapping[str, Any]]]] = {}
    for file, doc in configs:
        if set(doc) - NODE_GROUP_KEYS:
            creators.setdefault(_key(doc), []).append((file, doc))

    def joins(doc: Mapping[str, Any]) -> bool:
        return not set(doc) - NODE_GROUP_KEYS and len(creators.get(_key(doc), [])) == 1

    joining: dict[tuple[str, str], list[tuple[str, Mapping[str, Any]]]] = {}
    for file, doc in configs:
        if joins(doc):
            joining.setdefault(_key(doc), []).append((file, doc))
    for file, doc in configs:
        if not joins(doc):
            unique = len(creators.get(_key(doc), [])) == 1
            _cluster(doc, file, out, joining=joining.get(_key(doc), []) if unique else ())
    return out
