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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cniguard.collect.iac import synthetic
from cniguard.collect.iac.base import IacFragment
from cniguard.collect.iac.marked_yaml import MarkedDict, load_file
from cniguard.model.common import JsonDict, Origin
from cniguard.model.inventory import (
    Addon,
    Cluster,
    FargateProfile,
    Gap,
    MetadataOptions,
    NodeGroup,
    OidcProvider,
    PodIdentityAssociation,
    PolicyAttachment,
    Role,
)
from cniguard.model.kube import KubeState, ServiceAccount

KUBE_SYSTEM, AWS_NODE = "kube-system", "aws-node"
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
_NODE_DEFAULTS = ("AmazonEKSWorkerNodePolicy", "AmazonSSMManagedInstanceCore")
_ECR_PULL = "AmazonEC2ContainerRegistryPullOnly"
_EFS_EC2_ACTIONS = (
    "ec2:DescribeSubnets",
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:ModifyNetworkInterfaceAttribute",
    "ec2:DescribeNetworkInterfaceAttribute",
)
CREATE_NODEGROUP_NOTE = (
    "this models `eksctl create cluster`; `eksctl create nodegroup` on an existing cluster adds "
    "AmazonEKS_CNI_Policy to the node role unless the live aws-node ServiceAccount is annotated "
    "with a role holding it, which the file alone cannot tell"
)


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _enabled(value: Any, default: bool) -> bool:
    return value if isinstance(value, bool) else default


def _line(node: Any, key: str | None = None) -> int | None:
    if isinstance(node, MarkedDict):
        return node.line_of(key) if key is not None else node.line
    return None


@dataclass
class _Build:
    """What one ClusterConfig creates."""

    file: str
    name: str
    cluster_id: str
    region: str
    issuer: str
    ipv6: bool
    with_oidc: bool
    tags: dict[str, str]  # metadata.tags: eksctl tags every stack, and stacks tag their roles
    roles: list[Role] = field(default_factory=list)
    node_groups: list[NodeGroup] = field(default_factory=list)
    associations: list[PodIdentityAssociation] = field(default_factory=list)
    service_accounts: list[ServiceAccount] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    @property
    def partition(self) -> str:
        return (
            "aws-cn"
            if self.region.startswith("cn-")
            else ("aws-us-gov" if self.region.startswith("us-gov-") else "aws")
        )

    def origin(self, node: Any, key: str | None = None) -> Origin:
        return Origin(source="iac", file=self.file, line=_line(node, key))

    def managed(self, name: str) -> str:
        return synthetic.aws_managed_arn(name, self.partition)

    def role(
        self,
        name: str,
        trust: JsonDict,
        origin: Origin,
        arns: Sequence[str] = (),
        *,
        inline: Sequence[PolicyAttachment] = (),
        boundary: str | None = None,
    ) -> str:
        arn = synthetic.role_arn(name)
        self.roles.append(
            Role(
                arn=arn,
                name=name,
                account=synthetic.ACCOUNT,
                trust_policy=trust,
                policies=tuple(synthetic.managed_attachment(a, origin) for a in arns)
                + tuple(inline),
                permissions_boundary_arn=boundary,
                tags=dict(self.tags),
                origin=origin,
            )
        )
        return arn

    def dedicated_role(
        self, spec: Mapping[str, Any], role_name: str, origin: Origin, trust: JsonDict
    ) -> str:
        """The role an add-on, iamserviceaccount or pod identity entry names or has created."""
        given = next(
            (spec[k] for k in ("roleARN", "serviceAccountRoleARN", "attachRoleARN") if spec.get(k)),
            None,
        )
        if isinstance(given, str):
            return given
        arns = [
            str(a) for a in _list(spec.get("attachPolicyARNs") or spec.get("permissionPolicyARNs"))
        ]
        inline: list[PolicyAttachment] = []
        document = spec.get("attachPolicy") or spec.get("permissionPolicy")
        if isinstance(document, Mapping):
            inline.append(
                PolicyAttachment(
                    name="Policy1", kind="inline", document=dict(document), origin=origin
                )
            )
        if _map(spec.get("wellKnownPolicies")):
            self.gaps.append(
                Gap(
                    what="iac:policy",
                    resource=self.file,
                    line=origin.line,
                    cluster=self.cluster_id,
                    reason="wellKnownPolicies are expanded by eksctl at deploy time; their "
                    "statements are not modelled",
                )
            )
            inline.append(
                PolicyAttachment(
                    name="wellKnownPolicies", kind="inline", document=None, origin=origin
                )
            )
        name = spec.get("roleName")
        boundary = spec.get("permissionsBoundary") or spec.get("permissionsBoundaryARN")
        return self.role(
            str(name) if isinstance(name, str) else role_name,
            trust,
            origin,
            arns,
            inline=inline,
            boundary=boundary if isinstance(boundary, str) else None,
        )


def _metadata(ng: Mapping[str, Any], origin: Origin) -> MetadataOptions | None:
    if ng.get("launchTemplate"):  # the user's own launch template decides; it is not in the file
        return None
    pod_imds = _enabled(ng.get("disablePodIMDS"), False)
    v1_off = _enabled(ng.get("disableIMDSv1"), True)
    return MetadataOptions(
        http_tokens="required" if v1_off or pod_imds else "optional",
        hop_limit=1 if pod_imds else 2,
        origin=origin,
    )


def _node_group(b: _Build, ng: Mapping[str, Any], managed: bool) -> None:
    name = str(ng.get("name", "ng"))
    origin = b.origin(ng)
    iam = _map(ng.get("iam"))
    family = str(ng.get("amiFamily", ""))
    windows = family.startswith("WindowsServer")
    role_arn = iam.get("instanceRoleARN")
    if not isinstance(role_arn, str):
        attach = [str(a) for a in _list(iam.get("attachPolicyARNs"))]
        names: set[str] = set()
        if not attach:
            names.update(_NODE_DEFAULTS)
            if not b.with_oidc:
                names.add(synthetic.CNI_POLICY)
            if managed:
                names.add(_ECR_PULL)
        addon_policies = _map(iam.get("withAddonPolicies"))
        if addon_policies.get("imageBuilder") is True:
            names.add("AmazonEC2ContainerRegistryPowerUser")
        elif not managed:
            names.add(_ECR_PULL)
        if addon_policies.get("cloudWatch") is True:
            names.add("CloudWatchAgentServerPolicy")
        for arn in attach:
            names.discard(arn.rsplit("/", 1)[-1])
        inline = []
        if addon_policies.get("efs") is True:
            inline.append(
                PolicyAttachment(
                    name="PolicyEFSEC2",
                    kind="inline",
                    origin=origin,
                    document={
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Resource": "*", "Action": list(_EFS_EC2_ACTIONS)}
                        ],
                    },
                )
            )
        role_name = iam.get("instanceRoleName")
        role_arn = b.role(
            str(role_name)
            if isinstance(role_name, str)
            else f"eksctl-{b.name}-nodegroup-{name}-NodeInstanceRole",
            synthetic.ec2_trust(),
            origin,
            attach + [b.managed(n) for n in sorted(names)],
            inline=inline,
            boundary=iam.get("instanceRolePermissionsBoundary")
            if isinstance(iam.get("instanceRolePermissionsBoundary"), str)
            else None,
        )
    desired = ng.get("desiredCapacity")
    b.node_groups.append(
        NodeGroup(
            name=name,
            kind="managed" if managed else "self_managed",
            role_arn=role_arn,
            os="windows" if windows else "linux",
            ami_type=family or None,
            metadata_options=_metadata(ng, origin),
            instance_count=desired if isinstance(desired, int) else None,
            origin=origin,
        )
    )


def _karpenter(b: _Build, spec: Mapping[str, Any]) -> None:
    origin = b.origin(spec)
    arn = b.role(
        f"eksctl-KarpenterNodeRole-{b.name}",
        synthetic.ec2_trust(),
        origin,
        [
            b.managed(n)
            for n in sorted(
                (
                    "AmazonEKSWorkerNodePolicy",
                    synthetic.CNI_POLICY,
                    _ECR_PULL,
                    "AmazonSSMManagedInstanceCore",
                )
            )
        ],
    )
    b.node_groups.append(NodeGroup(name="karpenter", kind="karpenter", role_arn=arn, origin=origin))


def _pod_identity(b: _Build, spec: Mapping[str, Any], role_name: str, owner: str | None) -> None:
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


def _vpc_cni(b: _Build, addon: Mapping[str, Any], auto_pod_identity: bool) -> Addon:
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
    if _list(addon.get("podIdentityAssociations")):
        for spec in _list(addon.get("podIdentityAssociations")):
            _pod_identity(
                b,
                {"namespace": KUBE_SYSTEM, **_map(spec)},
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


def _service_accounts(b: _Build, iam: Mapping[str, Any]) -> None:
    for sa in _list(iam.get("serviceAccounts")):
        meta = _map(_map(sa).get("metadata"))
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
            _map(sa),
            f"eksctl-{b.name}-addon-iamserviceaccount-{KUBE_SYSTEM}-{AWS_NODE}-Role1",
            origin,
            synthetic.irsa_trust(b.issuer, KUBE_SYSTEM, AWS_NODE),
        )
        if _map(sa).get("roleOnly") is not True:
            annotations = {str(k): str(v) for k, v in _map(meta.get("annotations")).items()}
            annotations[ROLE_ANNOTATION] = role
            b.service_accounts.append(
                ServiceAccount(KUBE_SYSTEM, AWS_NODE, annotations, origin=origin)
            )
    for raw in _list(iam.get("podIdentityAssociations")):
        spec = _map(raw)
        if spec.get("namespace") == KUBE_SYSTEM and spec.get("serviceAccountName") == AWS_NODE:
            _pod_identity(
                b, spec, f"eksctl-{b.name}-podidentityrole-{KUBE_SYSTEM}-{AWS_NODE}", None
            )


def _cluster(doc: Mapping[str, Any], file: str, out: IacFragment) -> None:
    meta = _map(doc.get("metadata"))
    name = str(meta.get("name", Path(file).stem))
    region = str(meta.get("region") or synthetic.REGION)
    cluster_id = f"eksctl:{file}#{name}"
    iam = _map(doc.get("iam"))
    network = _map(doc.get("kubernetesNetworkConfig"))
    b = _Build(
        file=file,
        name=name,
        cluster_id=cluster_id,
        region=region,
        issuer=synthetic.issuer_url(cluster_id, region),
        ipv6=str(network.get("ipFamily", "IPv4")).lower() == "ipv6",
        with_oidc=iam.get("withOIDC") is True,
        tags={str(k): str(v) for k, v in _map(meta.get("tags")).items()},
    )
    auto = _map(doc.get("autoModeConfig")).get("enabled") is True
    auto_role = _map(doc.get("autoModeConfig")).get("nodeRoleARN")
    if auto and not isinstance(auto_role, str):
        auto_role = b.role(
            f"eksctl-{name}-cluster-AutoModeNodeRole",
            synthetic.ec2_trust(),
            b.origin(doc.get("autoModeConfig")),
            [b.managed("AmazonEKSWorkerNodeMinimalPolicy"), b.managed(_ECR_PULL)],
        )
    for ng in _list(doc.get("managedNodeGroups")):
        _node_group(b, _map(ng), managed=True)
    for ng in _list(doc.get("nodeGroups")):
        _node_group(b, _map(ng), managed=False)
    if doc.get("karpenter"):
        _karpenter(b, _map(doc.get("karpenter")))
    if b.node_groups and b.with_oidc:
        b.gaps.append(
            Gap(
                what="iac:eksctl",
                resource=file,
                line=_line(doc),
                cluster=cluster_id,
                reason=CREATE_NODEGROUP_NOTE,
            )
        )
    addons_config = _map(doc.get("addonsConfig"))
    addons = [_map(a) for a in _list(doc.get("addons"))]
    cni = next((a for a in addons if str(a.get("name", "")).lower() == "vpc-cni"), None)
    if cni is None and not addons_config.get("disableDefaultAddons") and not auto:
        cni = MarkedDict(name="vpc-cni")
        cni.line, cni.key_lines = _line(doc) or 0, {}
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
            name=str(_map(p).get("name")),
            pod_execution_role_arn=_map(p).get("podExecutionRoleARN")
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
        for p in _list(doc.get("fargateProfiles"))
    ]
    access = _map(doc.get("accessConfig"))
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
            access_entries=(),
            kube=KubeState(service_accounts=tuple(b.service_accounts))
            if b.service_accounts
            else None,
            origin=b.origin(doc),
        )
    )
    out.roles.extend(b.roles)
    out.oidc_providers.extend(providers)
    out.gaps.extend(b.gaps)


def collect_eksctl(paths: Sequence[Path]) -> IacFragment:
    """Every ClusterConfig in the files at ``paths``."""
    out = IacFragment()
    for path in paths:
        docs = load_file(path)
        if isinstance(docs, Gap):
            out.gaps.append(docs)
            continue
        out.files_read.append(str(path))
        for doc in docs:
            if (
                isinstance(doc, Mapping)
                and doc.get("kind") == "ClusterConfig"
                and str(doc.get("apiVersion", "")).startswith("eksctl.io/")
            ):
                _cluster(doc, str(path), out)
    return out
