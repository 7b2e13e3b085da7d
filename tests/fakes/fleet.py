"""Builds realistic EKS fleets in moto + the fakes, through boto3 like a user's tooling would."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from fakes.proxy import DEFAULT_ACCOUNT, FakeAws

CNI_POLICY = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
WORKER_POLICY = "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
AMI = "ami-1e749f67"  # a Linux (Ubuntu) image of moto's default list
WINDOWS_AMI = "ami-12c6146b"


@dataclass
class AccountClients:
    """boto3 clients acting as one account (the caller's, or entered with AssumeRole)."""

    account: str
    session: boto3.Session
    cache: dict[tuple[str, str], Any] = field(default_factory=dict)

    def copy(self) -> AccountClients:
        """The same account on a new session, for another thread (sessions are not shared)."""
        found = self.session.get_credentials()
        assert found is not None
        creds = found.get_frozen_credentials()
        session = boto3.Session(
            aws_access_key_id=creds.access_key,
            aws_secret_access_key=creds.secret_key,
            aws_session_token=creds.token,
            region_name=self.session.region_name,
        )
        return AccountClients(self.account, session)

    def client(self, service: str, region: str = "us-east-1") -> Any:
        if (service, region) not in self.cache:
            self.cache[(service, region)] = self.session.client(  # type: ignore[call-overload]
                service, region_name=region
            )
        return self.cache[(service, region)]


def caller() -> AccountClients:
    return AccountClients(DEFAULT_ACCOUNT, boto3.Session(region_name="us-east-1"))


def member_accounts(count: int) -> list[AccountClients]:
    """``count`` new Organization member accounts, entered with OrganizationAccountAccessRole."""
    org = caller().client("organizations")
    org.create_organization(FeatureSet="ALL")
    members = []
    for i in range(count):
        status = org.create_account(AccountName=f"member{i}", Email=f"m{i}@example.com")
        account = status["CreateAccountStatus"]["AccountId"]
        creds = (
            caller()
            .client("sts")
            .assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                RoleSessionName="fleet-builder",
            )["Credentials"]
        )
        members.append(
            AccountClients(
                account,
                boto3.Session(
                    aws_access_key_id=creds["AccessKeyId"],
                    aws_secret_access_key=creds["SecretAccessKey"],
                    aws_session_token=creds["SessionToken"],
                    region_name="us-east-1",
                ),
            )
        )
    return members


def irsa_trust(
    account: str, issuer_host: str, sub: str = "system:serviceaccount:kube-system:aws-node"
) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/{issuer_host}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{issuer_host}:aud": "sts.amazonaws.com",
                        f"{issuer_host}:sub": sub,
                    }
                },
            }
        ],
    }


def role(
    acct: AccountClients,
    name: str,
    trust: dict[str, Any],
    policies: tuple[str, ...] = (),
    inline: dict[str, dict[str, Any]] | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    iam = acct.client("iam")
    arn: str = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(trust),
        Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    )["Role"]["Arn"]
    for policy in policies:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    for policy_name, doc in (inline or {}).items():
        iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(doc))
    return arn


def instance_profile(acct: AccountClients, name: str, role_name: str) -> str:
    iam = acct.client("iam")
    arn: str = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role_name)
    return arn


def vpc_subnets(acct: AccountClients, region: str) -> list[str]:
    ec2 = acct.client("ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"]
        for i in range(2)
    ]


@dataclass(frozen=True)
class BuiltCluster:
    name: str
    arn: str
    issuer: str
    node_role: str
    cni_role: str | None


def cluster(
    fake: FakeAws,
    acct: AccountClients,
    region: str,
    name: str,
    *,
    subnets: list[str],
    node_policies: tuple[str, ...] = (WORKER_POLICY, CNI_POLICY),
    irsa: bool = True,
    oidc_provider: bool = True,
    hop_limit: int = 2,
    http_tokens: str = "optional",
    instances: int = 1,
    karpenter: bool = False,
    ip_family: str = "ipv4",
) -> BuiltCluster:
    """One cluster: a managed node group on a launch template with running instances, the
    vpc-cni add-on (with an IRSA role when ``irsa``), optional Karpenter nodes."""
    eks, ec2 = acct.client("eks", region), acct.client("ec2", region)
    cluster_role = role(
        acct,
        f"{name}-cluster",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "eks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
    )
    info = eks.create_cluster(
        name=name,
        roleArn=cluster_role,
        resourcesVpcConfig={"subnetIds": subnets},
        kubernetesNetworkConfig={"ipFamily": ip_family},
        version="1.31",
        tags={"owner": "platform", "environment": "prod"},
    )["cluster"]
    issuer = info["identity"]["oidc"]["issuer"]
    host = issuer.removeprefix("https://")
    if oidc_provider:
        try:
            acct.client("iam").create_open_id_connect_provider(
                Url=issuer, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40]
            )
        except acct.client("iam").exceptions.EntityAlreadyExistsException:
            pass  # moto gives every cluster of a process the same issuer per region
    node_role = role(acct, f"{name}-node", EC2_TRUST, node_policies, tags={"owner": "platform"})
    profile = instance_profile(acct, f"{name}-node", f"{name}-node")
    template = ec2.create_launch_template(
        LaunchTemplateName=f"{name}-lt",
        LaunchTemplateData={
            "MetadataOptions": {
                "HttpTokens": http_tokens,
                "HttpPutResponseHopLimit": hop_limit,
                "HttpEndpoint": "enabled",
            }
        },
    )["LaunchTemplate"]
    eks.create_nodegroup(
        clusterName=name,
        nodegroupName="main",
        nodeRole=node_role,
        subnets=subnets,
        launchTemplate={"id": template["LaunchTemplateId"], "version": "1"},
        amiType="AL2023_x86_64_STANDARD",
    )
    for _ in range(instances):  # one per call: moto gives only the first the instance profile
        ec2.run_instances(
            ImageId=AMI,
            MinCount=1,
            MaxCount=1,
            SubnetId=subnets[0],
            IamInstanceProfile={"Arn": profile},
            MetadataOptions={"HttpTokens": http_tokens, "HttpPutResponseHopLimit": hop_limit},
            TagSpecifications=[
                {
                    "ResourceType": "instance",
                    "Tags": [
                        {"Key": "eks:cluster-name", "Value": name},
                        {"Key": "eks:nodegroup-name", "Value": "main"},
                    ],
                }
            ],
        )
    cni_role = None
    if irsa:
        cni_role = role(acct, f"{name}-cni", irsa_trust(acct.account, host), (CNI_POLICY,))
    fake.state.add_addon(acct.account, region, name, "vpc-cni", role_arn=cni_role)
    fake.state.add_addon(acct.account, region, name, "coredns")
    if karpenter:
        kp_role = role(acct, f"KarpenterNodeRole-{name}", EC2_TRUST, (WORKER_POLICY, CNI_POLICY))
        kp_profile = instance_profile(
            acct, f"KarpenterNodeProfile-{name}", f"KarpenterNodeRole-{name}"
        )
        for _ in range(2):
            ec2.run_instances(
                ImageId=AMI,
                MinCount=1,
                MaxCount=1,
                SubnetId=subnets[0],
                IamInstanceProfile={"Arn": kp_profile},
                MetadataOptions={"HttpTokens": "required", "HttpPutResponseHopLimit": 1},
                TagSpecifications=[
                    {
                        "ResourceType": "instance",
                        "Tags": [
                            {"Key": f"kubernetes.io/cluster/{name}", "Value": "owned"},
                            {"Key": "karpenter.sh/nodepool", "Value": "default"},
                        ],
                    }
                ],
            )
        fake.state.add_access_entry(acct.account, region, name, kp_role, "EC2_LINUX")
        fake.state.add_access_entry(
            acct.account, region, name, f"arn:aws:iam::{acct.account}:role/admins", "STANDARD"
        )
    return BuiltCluster(name, info["arn"], issuer, node_role, cni_role)


def detach_event(fake: FakeAws, account: str, role_name: str, days_ago: int) -> None:
    fake.state.add_event(
        account,
        "us-east-1",
        name="DetachRolePolicy",
        source="iam.amazonaws.com",
        when=dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=days_ago),
        principal=f"arn:aws:sts::{account}:assumed-role/admin/jane",
        params={"roleName": role_name, "policyArn": CNI_POLICY},
    )
