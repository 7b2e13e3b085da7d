"""The built-in demo fleet: 15 clusters in 3 accounts and 3 regions, built reproducibly in code.

Every CNI identity mode appears, and every rule of the catalogue fails at least once, through the
cases real users hit (a test keeps it so). Each cluster's docstring-like comment says what it shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from cniguard.config import Config, Suppression
from cniguard.demo.builders import (
    CNI_IPV6_POLICY_DOC,
    EC2_TRUST,
    ECR_READ_DOC,
    POD_IDENTITY_ENV,
    POD_IDENTITY_TRUST,
    WORKER_NODE_DOC,
    aws_node_ds,
    aws_node_pods,
    aws_node_sa,
    cni_managed,
    inline,
    irsa_env,
    irsa_trust,
    issuer,
    managed,
    missing_permission_events,
    node_group,
    nodes,
    origin,
    provider,
    role,
    stuck_pods,
    vpc_cni,
)
from cniguard.model.inventory import (
    AccessEntry,
    CloudTrailEvent,
    CloudTrailScope,
    Cluster,
    FargateProfile,
    Gap,
    Inventory,
    NodeGroup,
    OidcProvider,
    PodIdentityAssociation,
    Role,
)
from cniguard.model.kube import AwsAuthRole, Event, KubeState, Pod

DEMO_NOW = "2026-11-27T09:00:00Z"
PROD, STAGING, DEV = "111111111111", "222222222222", "333333333333"
TAGS_PROD = {"owner": "payments-team", "cost-center": "cc-1001", "environment": "prod"}


def _tags(env: str, owner: str) -> dict[str, str]:
    return {"owner": owner, "cost-center": "cc-2002", "environment": env}


def _arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:eks:{region}:{account}:cluster/{name}"


def _role_arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


@dataclass
class _Fleet:
    clusters: list[Cluster] = field(default_factory=list)
    roles: dict[str, Role] = field(default_factory=dict)
    providers: list[OidcProvider] = field(default_factory=list)
    events: list[CloudTrailEvent] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    def add_role(self, r: Role) -> str:
        self.roles[r.arn] = r
        return r.arn

    def node_role(
        self,
        account: str,
        name: str,
        *extra: object,
        cni: bool = False,
        tags: dict[str, str] | None = None,
    ) -> str:
        policies = [
            managed("AmazonEKSWorkerNodePolicy", WORKER_NODE_DOC),
            managed("AmazonEC2ContainerRegistryReadOnly", ECR_READ_DOC),
        ]
        if cni:
            policies.append(cni_managed())
        policies.extend(extra)  # type: ignore[arg-type]
        return self.add_role(
            role(
                account,
                name,
                trust=EC2_TRUST,
                policies=tuple(policies),
                tags=tags
                if tags is not None
                else {"owner": "platform", "cost-center": "cc-0001", "environment": "shared"},
            )
        )

    def cluster(
        self,
        name: str,
        account: str,
        region: str,
        oidc_id: str,
        *,
        tags: dict[str, str],
        groups: tuple[NodeGroup, ...],
        kube: KubeState | None,
        addon_role: str | None = None,
        ip_family: str = "ipv4",
        with_provider: bool = True,
        **extra: object,
    ) -> Cluster:
        if with_provider:
            self.providers.append(provider(account, region, oidc_id))
        c = Cluster(
            arn=_arn(account, region, name),
            name=name,
            account=account,
            region=region,
            version="1.33",
            platform_version="eks.9",
            ip_family=ip_family,  # type: ignore[arg-type]
            oidc_issuer=issuer(region, oidc_id),
            auto_mode=False,
            authentication_mode="API_AND_CONFIG_MAP",
            tags=tags,
            node_groups=groups,
            fargate_profiles=(),
            addons=(vpc_cni(addon_role),),
            pod_identity_associations=(),
            access_entries=(),
            kube=kube,
            origin=origin(account, region, "eks:DescribeCluster"),
        )
        if extra:
            c = replace(c, **extra)  # type: ignore[arg-type]
        self.clusters.append(c)
        return c


def _kube(
    region: str,
    n: int,
    *,
    sa_role: str | None,
    env: tuple = (),  # type: ignore[type-arg]
    extra_pods: tuple[Pod, ...] = (),
    events: tuple[Event, ...] = (),
    ready_nodes: bool = True,
    aws_node_ready: bool = True,
    nodegroup: str = "ng-default",
    aws_auth: tuple[AwsAuthRole, ...] = (),
) -> KubeState:
    pods = aws_node_pods(region, n, env, ready=aws_node_ready)
    return KubeState(
        collected_at=DEMO_NOW,
        context=f"demo-{region}",
        daemonsets=(aws_node_ds(region, n, n if aws_node_ready else 0),),
        service_accounts=(aws_node_sa(sa_role),),
        pods=pods + extra_pods,
        events=events,
        nodes=nodes(region, n, nodegroup, ready=ready_nodes),
        aws_auth=aws_auth,
    )


def _ct(
    event_id: str,
    name: str,
    account: str,
    who: str,
    when: str,
    params: dict[str, object],
    ip: str = "198.51.100.24",
) -> CloudTrailEvent:
    return CloudTrailEvent(
        event_id=event_id,
        event_time=when,
        event_name=name,
        event_source="iam.amazonaws.com",
        account=account,
        region="us-east-1",
        principal_arn=who,
        source_ip=ip,
        user_agent="aws-cli/2.22.4 md/awscrt#0.23.4 ua/2.1 os/linux",
        request_parameters=params,
        origin=origin(account, "us-east-1", "cloudtrail:LookupEvents"),
    )


def build_fleet() -> Inventory:
    f = _Fleet()
    ue1, ew1, aps2 = "us-east-1", "eu-west-1", "ap-southeast-2"

    # 1. payments-prod: the standard done right. IRSA via the add-on, scoped trust, IMDSv2 hop 1.
    node = f.node_role(PROD, "payments-prod-node")
    cni = f.add_role(
        role(
            PROD,
            "payments-prod-vpc-cni",
            trust=irsa_trust(PROD, ue1, "5A1B2C3D4E5F60718293A4B5C6D7E8F9"),
            policies=(cni_managed(),),
            tags=TAGS_PROD,
        )
    )
    f.cluster(
        "payments-prod",
        PROD,
        ue1,
        "5A1B2C3D4E5F60718293A4B5C6D7E8F9",
        tags=TAGS_PROD,
        groups=(node_group("ng-general", node, account=PROD, region=ue1),),
        addon_role=cni,
        kube=_kube(ue1, 6, sa_role=cni, env=irsa_env(cni), nodegroup="ng-general"),
    )

    # 2. checkout-prod: the classic. CNI policy on the node role, IMDSv1 allowed (critical), no OIDC
    #    provider (IRSA impossible); a Karpenter node pool with the same role.
    node = f.node_role(PROD, "checkout-prod-node", cni=True)
    f.cluster(
        "checkout-prod",
        PROD,
        ue1,
        "0F1E2D3C4B5A69788796A5B4C3D2E1F0",
        tags={**TAGS_PROD, "owner": "checkout-team"},
        groups=(
            node_group("ng-checkout", node, tokens="optional", hop=2, account=PROD, region=ue1),
            node_group(
                "karpenter-default",
                node,
                kind="karpenter",
                tokens="required",
                hop=2,
                account=PROD,
                region=ue1,
            ),
        ),
        with_provider=False,
        kube=_kube(ue1, 5, sa_role=None, nodegroup="ng-checkout"),
    )

    # 3. search-prod: mixed. IRSA works, but the node role still grants the same actions through
    #    an inline `ec2:*` statement and a custom copy of the managed policy (old v3 copy).
    cni = f.add_role(
        role(
            PROD,
            "search-prod-vpc-cni",
            trust=irsa_trust(PROD, ew1, "A0B1C2D3E4F5061728394A5B6C7D8E9F"),
            policies=(cni_managed(),),
            tags=TAGS_PROD,
        )
    )
    node = f.node_role(
        PROD,
        "search-prod-node",
        inline(
            "bootstrap-ec2",
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}],
            },
        ),
    )
    selfmanaged = f.node_role(
        PROD,
        "search-prod-selfmanaged-node",
        managed(
            "eks-node-networking",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Resource": "*",
                        "Action": [
                            "ec2:AssignPrivateIpAddresses",
                            "ec2:AttachNetworkInterface",
                            "ec2:CreateNetworkInterface",
                            "ec2:DeleteNetworkInterface",
                            "ec2:DescribeInstances",
                            "ec2:DescribeTags",
                            "ec2:DescribeNetworkInterfaces",
                            "ec2:DetachNetworkInterface",
                            "ec2:ModifyNetworkInterfaceAttribute",
                            "ec2:UnassignPrivateIpAddresses",
                        ],
                    },
                    {
                        "Effect": "Allow",
                        "Action": "ec2:CreateTags",
                        "Resource": "arn:aws:ec2:*:*:network-interface/*",
                    },
                ],
            },
            account=PROD,
        ),
    )
    f.cluster(
        "search-prod",
        PROD,
        ew1,
        "A0B1C2D3E4F5061728394A5B6C7D8E9F",
        tags={**TAGS_PROD, "owner": "search-team"},
        groups=(
            node_group("ng-search", node, account=PROD, region=ew1),
            node_group("asg-indexers", selfmanaged, kind="self_managed", account=PROD, region=ew1),
        ),
        addon_role=cni,
        kube=_kube(ew1, 8, sa_role=cni, env=irsa_env(cni), nodegroup="ng-search"),
    )

    # 4. ledger-prod: the outage. An IAM clean-up detached AmazonEKS_CNI_Policy from the node role
    #    yesterday; no IRSA. Pods hang in ContainerCreating, nodes are NotReady, aws-node reports
    #    MissingIAMPermissions, and CloudTrail names who did it.
    node = f.node_role(PROD, "ledger-prod-node")
    stuck, sandbox = stuck_pods(ew1, 7, created_at="2026-11-27T07:45:00Z")
    kube = _kube(
        ew1,
        4,
        sa_role=None,
        extra_pods=stuck,
        ready_nodes=False,
        aws_node_ready=False,
        nodegroup="ng-ledger",
    )
    kube = replace(kube, events=sandbox + missing_permission_events((kube.pods or ())[:4]))
    f.cluster(
        "ledger-prod",
        PROD,
        ew1,
        "B9A8C7D6E5F40312A1B2C3D4E5F60718",
        tags={**TAGS_PROD, "owner": "ledger-team"},
        groups=(node_group("ng-ledger", node, count=4, account=PROD, region=ew1),),
        kube=kube,
    )
    f.events.append(
        _ct(
            "6d1f1f0e-1b0c-4bd6-9d61-3f1a2a7c9e10",
            "DetachRolePolicy",
            PROD,
            "arn:aws:sts::111111111111:assumed-role/PlatformAdmin/jane.doe@example.com",
            "2026-11-27T07:40:12Z",
            {
                "roleName": "ledger-prod-node",
                "policyArn": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
            },
        )
    )

    # 5. analytics-prod: IRSA role whose grant an explicit Deny cancels (a "no network changes"
    #    guardrail pasted into the role), so aws-node has no working grant.
    cni = f.add_role(
        role(
            PROD,
            "analytics-prod-vpc-cni",
            trust=irsa_trust(PROD, aps2, "C3D2E1F0A9B8C7D6E5F4031201234567"),
            policies=(
                cni_managed(),
                inline(
                    "deny-network-changes",
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "NoEniChanges",
                                "Effect": "Deny",
                                "Resource": "*",
                                "Action": [
                                    "ec2:CreateNetworkInterface",
                                    "ec2:DeleteNetworkInterface",
                                    "ec2:AttachNetworkInterface",
                                ],
                            }
                        ],
                    },
                ),
            ),
            tags=TAGS_PROD,
        )
    )
    node = f.node_role(PROD, "analytics-prod-node")
    f.cluster(
        "analytics-prod",
        PROD,
        aps2,
        "C3D2E1F0A9B8C7D6E5F4031201234567",
        tags={**TAGS_PROD, "owner": "data-team"},
        groups=(node_group("ng-analytics", node, account=PROD, region=aps2),),
        addon_role=cni,
        kube=_kube(aps2, 3, sa_role=cni, env=irsa_env(cni), nodegroup="ng-analytics"),
    )

    # 6. partner-prod: the auditor could not read the node role (AccessDenied): mode unknown, never pass.
    node_arn = _role_arn(PROD, "partner-prod-node")
    f.cluster(
        "partner-prod",
        PROD,
        ue1,
        "D4C3B2A1F0E9D8C7B6A5948372615049",
        tags={**TAGS_PROD, "owner": "partner-team"},
        groups=(node_group("ng-partner", node_arn, account=PROD, region=ue1),),
        kube=_kube(ue1, 3, sa_role=None, nodegroup="ng-partner"),
    )
    f.gaps.append(
        Gap(
            what="iam:role",
            reason="AccessDenied: not authorized to perform iam:GetRole on "
            f"{node_arn} (an SCP denies iam:* on partner-* roles)",
            account=PROD,
            cluster=_arn(PROD, ue1, "partner-prod"),
            operation="iam:GetRole",
            error_code="AccessDenied",
            resource=node_arn,
        )
    )

    # 7. ml-staging: IPv6 cluster whose IRSA role carries only the IPv4 managed policy.
    cni = f.add_role(
        role(
            STAGING,
            "ml-staging-vpc-cni",
            trust=irsa_trust(STAGING, ue1, "E5F4A3B2C1D0E9F8A7B6C5D4E3F2A1B0"),
            policies=(cni_managed(),),
            tags=_tags("staging", "ml-team"),
        )
    )
    node = f.node_role(STAGING, "ml-staging-node")
    f.cluster(
        "ml-staging",
        STAGING,
        ue1,
        "E5F4A3B2C1D0E9F8A7B6C5D4E3F2A1B0",
        tags=_tags("staging", "ml-team"),
        ip_family="ipv6",
        groups=(node_group("ng-gpu", node, account=STAGING, region=ue1),),
        addon_role=cni,
        kube=_kube(ue1, 2, sa_role=cni, env=irsa_env(cni), nodegroup="ng-gpu"),
    )

    # 8+9. web-staging and api-staging share one CNI role. Its trust was loosened to
    #    StringLike system:serviceaccount:* without aud "to get past AccessDenied", and it names
    #    web-staging's provider only, so api-staging's aws-node cannot assume it. web-staging's
    #    add-on still names an older role than the annotation.
    shared = f.add_role(
        role(
            STAGING,
            "staging-shared-vpc-cni",
            trust=irsa_trust(
                STAGING,
                ue1,
                "F6E5D4C3B2A1F0E9D8C7B6A5F4E3D2C1",
                sub="system:serviceaccount:*",
                operator="StringLike",
                aud=None,
            ),
            policies=(cni_managed(),),
            tags=_tags("staging", "web-team"),
        )
    )
    node = f.node_role(STAGING, "web-staging-node")
    f.cluster(
        "web-staging",
        STAGING,
        ue1,
        "F6E5D4C3B2A1F0E9D8C7B6A5F4E3D2C1",
        tags=_tags("staging", "web-team"),
        groups=(node_group("ng-web", node, account=STAGING, region=ue1),),
        addon_role=_role_arn(STAGING, "web-staging-vpc-cni-old"),
        kube=_kube(ue1, 3, sa_role=shared, env=irsa_env(shared), nodegroup="ng-web"),
    )
    node = f.node_role(STAGING, "api-staging-node")
    f.cluster(
        "api-staging",
        STAGING,
        ew1,
        "0A1B2C3D4E5F60718293A4B5C6D7E8F0",
        tags=_tags("staging", "api-team"),
        groups=(node_group("ng-api", node, account=STAGING, region=ew1),),
        addon_role=shared,
        kube=_kube(ew1, 3, sa_role=shared, env=irsa_env(shared), nodegroup="ng-api"),
    )

    # 10. batch-staging: IRSA role bound, but nobody created the IAM OIDC provider.
    cni = f.add_role(
        role(
            STAGING,
            "batch-staging-vpc-cni",
            trust=irsa_trust(STAGING, ew1, "1B2C3D4E5F60718293A4B5C6D7E8F9A0"),
            policies=(cni_managed(),),
            tags=_tags("staging", "batch-team"),
        )
    )
    node = f.node_role(STAGING, "batch-staging-node")
    f.cluster(
        "batch-staging",
        STAGING,
        ew1,
        "1B2C3D4E5F60718293A4B5C6D7E8F9A0",
        tags=_tags("staging", "batch-team"),
        groups=(node_group("ng-batch", node, account=STAGING, region=ew1),),
        addon_role=cni,
        with_provider=False,
        kube=_kube(ew1, 2, sa_role=cni, env=irsa_env(cni), nodegroup="ng-batch"),
    )

    # 11. reporting-dev: EKS Pod Identity, working; the role has no ownership tags.
    cni = f.add_role(
        role(
            DEV,
            "reporting-dev-vpc-cni",
            trust=POD_IDENTITY_TRUST,
            policies=(cni_managed(),),
            tags={},
        )
    )
    node = f.node_role(DEV, "reporting-dev-node")
    f.cluster(
        "reporting-dev",
        DEV,
        ue1,
        "2C3D4E5F60718293A4B5C6D7E8F9A0B1",
        tags=_tags("dev", "bi-team"),
        groups=(node_group("ng-reporting", node, account=DEV, region=ue1),),
        kube=_kube(ue1, 2, sa_role=None, env=POD_IDENTITY_ENV, nodegroup="ng-reporting"),
        pod_identity_associations=(
            PodIdentityAssociation(
                arn=f"arn:aws:eks:{ue1}:{DEV}:podidentityassociation/reporting-dev/a-0abc1def2ghi3jkl4",
                namespace="kube-system",
                service_account="aws-node",
                role_arn=cni,
                owner_arn=f"arn:aws:eks:{ue1}:{DEV}:addon/reporting-dev/vpc-cni/1ac9d2e0",
            ),
        ),
    )

    # 12. sandbox-dev: annotated for IRSA last week, but the aws-node pods were never restarted, so
    #    they still use the node role (which still has the CNI policy); no cluster tags at all.
    cni = f.add_role(
        role(
            DEV,
            "sandbox-dev-vpc-cni",
            trust=irsa_trust(DEV, ue1, "3D4E5F60718293A4B5C6D7E8F9A0B1C2"),
            policies=(cni_managed(),),
            tags=_tags("dev", "platform"),
        )
    )
    node = f.node_role(DEV, "sandbox-dev-node", cni=True)
    f.cluster(
        "sandbox-dev",
        DEV,
        ue1,
        "3D4E5F60718293A4B5C6D7E8F9A0B1C2",
        tags={},
        groups=(node_group("ng-sandbox", node, account=DEV, region=ue1),),
        addon_role=cni,
        with_provider=False,
        kube=_kube(ue1, 3, sa_role=cni, env=(), nodegroup="ng-sandbox"),
    )

    # 13. legacy-dev: IRSA role capped by a permissions boundary without the EC2 actions, while the
    #    node role (self-managed, mapped in aws-auth) still grants them; CloudTrail shows the
    #    role's trust was rewritten. Its missing-tag finding has an expired suppression.
    cni = f.add_role(
        role(
            DEV,
            "legacy-dev-vpc-cni",
            trust=irsa_trust(DEV, aps2, "4E5F60718293A4B5C6D7E8F9A0B1C2D3"),
            policies=(cni_managed(),),
            tags=_tags("dev", "legacy-team"),
            boundary=(
                "arn:aws:iam::333333333333:policy/dev-boundary",
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Resource": "*",
                            "Action": ["s3:*", "logs:*", "ec2:Describe*"],
                        }
                    ],
                },
            ),
        )
    )
    node = f.node_role(DEV, "legacy-dev-node", cni=True, tags={"owner": "legacy-team"})
    f.cluster(
        "legacy-dev",
        DEV,
        aps2,
        "4E5F60718293A4B5C6D7E8F9A0B1C2D3",
        tags={"owner": "legacy-team", "environment": "dev"},
        groups=(
            node_group(
                "asg-legacy",
                node,
                kind="self_managed",
                tokens="required",
                hop=2,
                account=DEV,
                region=aps2,
            ),
        ),
        addon_role=cni,
        kube=_kube(
            aps2,
            2,
            sa_role=cni,
            env=irsa_env(cni),
            nodegroup="asg-legacy",
            aws_auth=(
                AwsAuthRole(
                    node,
                    "system:node:{{EC2PrivateDNSName}}",
                    ("system:bootstrappers", "system:nodes"),
                ),
            ),
        ),
    )
    f.events.append(
        _ct(
            "9b7c2e55-0c1d-4f9a-8a53-6b2f1e7d4c21",
            "UpdateAssumeRolePolicy",
            DEV,
            "arn:aws:iam::333333333333:user/ci-terraform",
            "2026-11-24T16:02:51Z",
            {"roleName": "legacy-dev-vpc-cni", "policyDocument": "{...}"},
            ip="203.0.113.7",
        )
    )

    # 14. edge-dev: EKS Auto Mode only. aws-node does not run: not applicable.
    auto = f.add_role(
        role(
            DEV,
            "AmazonEKSAutoNodeRole",
            trust=EC2_TRUST,
            tags=_tags("dev", "edge-team"),
            policies=(managed("AmazonEKSWorkerNodeMinimalPolicy", WORKER_NODE_DOC),),
        )
    )
    f.cluster(
        "edge-dev",
        DEV,
        aps2,
        "5F60718293A4B5C6D7E8F9A0B1C2D3E4",
        tags=_tags("dev", "edge-team"),
        groups=(NodeGroup(name="general-purpose", kind="auto", role_arn=auto),),
        kube=None,
        auto_mode=True,
        auto_mode_node_role_arn=auto,
        addons=(),
        authentication_mode="API",
    )

    # 15. jobs-dev: Fargate only. The pod execution role needs no CNI policy: not applicable.
    fargate = f.add_role(
        role(
            DEV,
            "jobs-dev-fargate-exec",
            tags=_tags("dev", "jobs-team"),
            trust={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "eks-fargate-pods.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            policies=(managed("AmazonEKSFargatePodExecutionRolePolicy", ECR_READ_DOC),),
        )
    )
    f.cluster(
        "jobs-dev",
        DEV,
        aps2,
        "60718293A4B5C6D7E8F9A0B1C2D3E4F5",
        tags=_tags("dev", "jobs-team"),
        groups=(),
        kube=None,
        fargate_profiles=(FargateProfile("default", fargate),),
        access_entries=(AccessEntry(fargate, "FARGATE_LINUX"),),
        authentication_mode="API",
    )

    # 16. windows-dev: Windows node group on a node role with the IPv6 CNI policy attached
    #    (wasted, exposed): not applicable for aws-node, still a node-role exposure.
    win = f.node_role(
        DEV,
        "windows-dev-node",
        managed("AmazonEKS_CNI_IPv6_Policy", CNI_IPV6_POLICY_DOC, account=DEV),
    )
    f.cluster(
        "windows-dev",
        DEV,
        ue1,
        "718293A4B5C6D7E8F9A0B1C2D3E4F506",
        tags=_tags("dev", "dotnet-team"),
        groups=(node_group("ng-windows", win, os="windows", account=DEV, region=ue1),),
        kube=None,
        authentication_mode="API",
    )

    scopes = tuple(
        CloudTrailScope(account=a, region=r, start="2026-08-29T09:00:00Z", end=DEMO_NOW)
        for a in (PROD, STAGING, DEV)
        for r in (ue1, ew1, aps2)
    )
    return Inventory(
        kind="demo",
        generated_at=DEMO_NOW,
        clusters=tuple(f.clusters),
        roles=tuple(f.roles.values()),
        oidc_providers=tuple(f.providers),
        oidc_providers_read=(PROD, STAGING, DEV),
        cloudtrail_events=tuple(f.events),
        cloudtrail_scopes=scopes,
        accounts=(PROD, STAGING, DEV),
        regions=(ue1, ew1, aps2),
        gaps=tuple(f.gaps),
        sources=("demo", "aws", "k8s", "cloudtrail"),
    )


def demo_config() -> Config:
    """The demo's configuration: a live suppression and an expired one, a fixed date."""
    import datetime as dt

    return Config(
        today=dt.date(2026, 11, 27),
        suppressions=(
            Suppression(
                rule="CNI011",
                resource="arn:aws:eks:*:333333333333:cluster/sandbox-*",
                reason="sandbox clusters move to Pod Identity in Q1 (PLAT-4211)",
                expires=dt.date(2027, 3, 31),
            ),
            Suppression(
                rule="CNI02*",
                resource="arn:aws:eks:*:333333333333:cluster/legacy-*",
                reason="legacy-dev is decommissioned after the Q3 migration (PLAT-3880)",
                expires=dt.date(2026, 9, 30),
            ),
        ),
    )
