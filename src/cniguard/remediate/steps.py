"""One builder per kind of plan step: the words a person reads and the operations `apply` runs.

A builder returns a :class:`Step` without commands or fingerprint; :func:`finish` adds both, so
the command lines and the precondition hash always follow from the operation itself.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from cniguard.model.inventory import Cluster, PolicyAttachment
from cniguard.remediate.commands import operation_commands
from cniguard.remediate.plan_model import (
    Operation,
    Step,
    canonical_document,
    state_fingerprint,
)
from cniguard.remediate.trust import ipv6_policy_document

StepSpec = Step
KUBE_SYSTEM = "kube-system"
AWS_NODE = "aws-node"
VPC_CNI = "vpc-cni"
AGENT = "eks-pod-identity-agent"
STS = "sts.amazonaws.com"


def finish(step: StepSpec, *, region: str, context: str) -> Step:
    commands = operation_commands(step.action, region=region, context=context)
    return replace(
        step,
        commands=tuple(commands),
        fingerprint=state_fingerprint(step.action.op, step.state_before),
    )


def _doc(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


def provider_check(c: Cluster, arn: str) -> StepSpec:
    return Step(
        id="oidc-provider",
        title="The IAM OIDC provider for the cluster's issuer exists",
        kind="check",
        precondition=f"IAM OIDC provider {arn} exists with client id {STS}",
        change="nothing: the provider is already in place",
        verify="the provider is listed with the cluster's issuer URL",
        rollback="nothing to undo",
        commands=(),
        action=Operation("check:OidcProvider", {"Url": c.oidc_issuer, "arn": arn}),
    )


def provider_create(c: Cluster, arn: str, tags: list[dict[str, str]]) -> StepSpec:
    return Step(
        id="oidc-provider",
        title="Create the IAM OIDC provider for the cluster's issuer",
        kind="aws",
        precondition=f"no IAM OIDC provider exists for {c.oidc_issuer}",
        change=f"create {arn} with client id {STS} (IRSA needs it; EKS does not create it)",
        verify="the provider is listed with the cluster's issuer URL",
        rollback=f"delete the provider {arn}",
        commands=(),
        action=Operation(
            "iam:CreateOpenIDConnectProvider",
            {"Url": c.oidc_issuer, "ClientIDList": [STS], "Tags": tags},
            {"arn": arn},
        ),
        undo=(Operation("iam:DeleteOpenIDConnectProvider", {"OpenIDConnectProviderArn": arn}),),
        state_before={"provider_exists": False},
        state_after={"provider_exists": True},
    )


def provider_client_id(c: Cluster, arn: str, client_ids: tuple[str, ...]) -> StepSpec:
    before = sorted(client_ids)
    return Step(
        id="oidc-provider",
        title=f"Add the client id {STS} to the cluster's OIDC provider",
        kind="aws",
        precondition=f"provider {arn} exists without client id {STS}",
        change=f"add client id {STS} (the audience of aws-node's projected token)",
        verify=f"the provider's client ids include {STS}",
        rollback=f"remove client id {STS} again",
        commands=(),
        action=Operation(
            "iam:AddClientIDToOpenIDConnectProvider",
            {"OpenIDConnectProviderArn": arn, "ClientID": STS},
        ),
        undo=(
            Operation(
                "iam:RemoveClientIDFromOpenIDConnectProvider",
                {"OpenIDConnectProviderArn": arn, "ClientID": STS},
            ),
        ),
        state_before={"client_ids": before},
        state_after={"client_ids": sorted({*before, STS})},
    )


def agent_check(c: Cluster) -> StepSpec:
    return Step(
        id="pod-identity-agent",
        title="The EKS Pod Identity agent add-on is installed",
        kind="check",
        precondition=f"add-on {AGENT} exists on {c.name}",
        change="nothing: the agent is already installed",
        verify=f"add-on {AGENT} is ACTIVE",
        rollback="nothing to undo",
        commands=(),
        action=Operation("check:PodIdentityAgent", {"clusterName": c.name}),
    )


def agent_install(c: Cluster) -> StepSpec:
    return Step(
        id="pod-identity-agent",
        title="Install the EKS Pod Identity agent add-on",
        kind="aws",
        precondition=f"add-on {AGENT} is not installed on {c.name}",
        change=f"create add-on {AGENT} (Pod Identity hands out credentials through it)",
        verify=f"add-on {AGENT} is ACTIVE",
        rollback=f"delete add-on {AGENT}",
        commands=(),
        action=Operation("eks:CreateAddon", {"clusterName": c.name, "addonName": AGENT}),
        undo=(Operation("eks:DeleteAddon", {"clusterName": c.name, "addonName": AGENT}),),
        state_before={"addon_exists": False},
        state_after={"addon_exists": True},
    )


def role_create(
    name: str, trust: dict[str, Any], tags: list[dict[str, str]], c: Cluster
) -> StepSpec:
    return Step(
        id="create-role",
        title=f"Create role {name} for {KUBE_SYSTEM}/aws-node",
        kind="aws",
        precondition=f"no role named {name} exists",
        change=f"create role {name} trusting only aws-node of {c.name} "
        f"({', '.join(t['Key'] for t in tags)} tags)",
        verify=f"role {name} exists with exactly this trust policy",
        rollback=f"delete role {name}",
        commands=(),
        action=Operation(
            "iam:CreateRole",
            {
                "RoleName": name,
                "AssumeRolePolicyDocument": _doc(trust),
                "Description": f"VPC CNI (aws-node) of EKS cluster {c.name}; made by cniguard",
                "Tags": tags,
            },
        ),
        undo=(Operation("iam:DeleteRole", {"RoleName": name}),),
        state_before={"role_exists": False},
        state_after={"role_exists": True},
    )


def trust_check(name: str) -> StepSpec:
    return Step(
        id="role-trust",
        title=f"Role {name} trusts aws-node of this cluster",
        kind="check",
        precondition=f"role {name} exists",
        change="nothing: the trust is already right",
        verify=f"role {name} exists",
        rollback="nothing to undo",
        commands=(),
        action=Operation("check:RoleTrust", {"RoleName": name}),
    )


def trust_update(name: str, old: Any, new: dict[str, Any]) -> StepSpec:
    previous = canonical_document(old)
    return Step(
        id="role-trust",
        title=f"Limit the trust of role {name} to aws-node of this cluster",
        kind="aws",
        precondition=f"role {name} has the trust policy read at plan time",
        change="replace the trust policy with one naming only this cluster's aws-node",
        verify="the role's trust policy is the new document",
        rollback="put the previous trust policy back",
        commands=(),
        action=Operation(
            "iam:UpdateAssumeRolePolicy", {"RoleName": name, "PolicyDocument": _doc(new)}
        ),
        undo=(
            Operation("iam:UpdateAssumeRolePolicy", {"RoleName": name, "PolicyDocument": previous}),
        ),
        state_before={"trust": previous},
        state_after={"trust": canonical_document(new)},
    )


def policy_create(name: str, arn: str, partition: str) -> StepSpec:
    return Step(
        id="create-ipv6-policy",
        title=f"Create the customer policy {name}",
        kind="aws",
        precondition=f"policy {arn} does not exist",
        change=f"create {name} with the EKS user guide's IPv6 CNI document",
        verify=f"policy {arn} exists",
        rollback=f"delete policy {arn}",
        commands=(),
        action=Operation(
            "iam:CreatePolicy",
            {"PolicyName": name, "PolicyDocument": _doc(ipv6_policy_document(partition))},
            {"arn": arn},
        ),
        undo=(Operation("iam:DeletePolicy", {"PolicyArn": arn}),),
        state_before={"policy_exists": False},
        state_after={"policy_exists": True},
    )


def attach(role_name: str, policy_arn: str) -> StepSpec:
    return Step(
        id="attach-policy",
        title=f"Attach {policy_arn.rsplit('/', 1)[-1]} to {role_name}",
        kind="aws",
        precondition=f"{policy_arn} is not attached to {role_name}",
        change=f"attach {policy_arn}",
        verify="the policy is listed among the role's attached policies",
        rollback=f"detach {policy_arn} from {role_name}",
        commands=(),
        action=Operation("iam:AttachRolePolicy", {"RoleName": role_name, "PolicyArn": policy_arn}),
        undo=(Operation("iam:DetachRolePolicy", {"RoleName": role_name, "PolicyArn": policy_arn}),),
        state_before={"attached": False},
        state_after={"attached": True},
    )


def _restart_op(c: Cluster) -> Operation:
    return Operation("kube:RolloutRestart", {"namespace": KUBE_SYSTEM, "daemonset": AWS_NODE})


def bind_addon_irsa(c: Cluster, role_arn: str, previous: str | None, sa: str) -> StepSpec:
    undo: dict[str, Any] = {
        "clusterName": c.name,
        "addonName": VPC_CNI,
        "resolveConflicts": "PRESERVE",
    }
    if previous:
        undo["serviceAccountRoleArn"] = previous
    # UpdateAddon without serviceAccountRoleArn unsets it (hashicorp/terraform-provider-aws#30645);
    # EKS then annotates the ServiceAccount again from the add-on.
    return Step(
        id="bind",
        title="Bind the role through the vpc-cni add-on (serviceAccountRoleArn)",
        kind="aws",
        precondition=f"the vpc-cni add-on's serviceAccountRoleArn is {previous or 'unset'}",
        change=f"update-addon vpc-cni with serviceAccountRoleArn {role_arn}; EKS annotates "
        f"{KUBE_SYSTEM}/{sa} (a hand annotation could be lost on the next add-on update)",
        verify="the add-on is ACTIVE with the new serviceAccountRoleArn",
        rollback=f"update-addon back to {previous or 'no role'}, then restart aws-node",
        commands=(),
        action=Operation(
            "eks:UpdateAddon",
            {
                "clusterName": c.name,
                "addonName": VPC_CNI,
                "serviceAccountRoleArn": role_arn,
                "resolveConflicts": "PRESERVE",
            },
        ),
        undo=(Operation("eks:UpdateAddon", undo), _restart_op(c)),
        state_before={"service_account_role_arn": previous},
        state_after={"service_account_role_arn": role_arn},
    )


def bind_addon_pod_identity(
    c: Cluster, role_arn: str, previous: dict[str, str | None], sa: str
) -> StepSpec:
    before = [{"serviceAccount": k, "roleArn": v} for k, v in sorted(previous.items()) if v]
    after = [a for a in before if a["serviceAccount"] != sa]
    after.append({"serviceAccount": sa, "roleArn": role_arn})
    return Step(
        id="bind",
        title="Bind the role through the vpc-cni add-on (podIdentityAssociations)",
        kind="aws",
        precondition="the vpc-cni add-on's pod identity associations are those read at plan time",
        change=f"update-addon vpc-cni with a pod identity association {sa} -> {role_arn} "
        "(EKS replaces the add-on's associations and restarts aws-node)",
        verify="the add-on is ACTIVE with the association",
        rollback="update-addon back to the previous associations, then restart aws-node",
        commands=(),
        action=Operation(
            "eks:UpdateAddon",
            {
                "clusterName": c.name,
                "addonName": VPC_CNI,
                "podIdentityAssociations": after,
                "resolveConflicts": "PRESERVE",
            },
        ),
        undo=(
            Operation(
                "eks:UpdateAddon",
                {
                    "clusterName": c.name,
                    "addonName": VPC_CNI,
                    "podIdentityAssociations": before,
                    "resolveConflicts": "PRESERVE",
                },
            ),
            _restart_op(c),
        ),
        state_before={"pod_identity_roles": {a["serviceAccount"]: a["roleArn"] for a in before}},
        state_after={"pod_identity_roles": {a["serviceAccount"]: a["roleArn"] for a in after}},
    )


def bind_annotation(c: Cluster, role_arn: str, previous: str | None, sa: str) -> StepSpec:
    params = {"namespace": KUBE_SYSTEM, "name": sa}
    return Step(
        id="bind",
        title=f"Annotate ServiceAccount {KUBE_SYSTEM}/{sa} with the role",
        kind="kube",
        precondition=f"the ServiceAccount's eks.amazonaws.com/role-arn is {previous or 'unset'} "
        "(aws-node is not managed by the EKS add-on)",
        change=f"set eks.amazonaws.com/role-arn={role_arn}",
        verify="the annotation holds the new role",
        rollback=f"set the annotation back to {previous or 'nothing'}, then restart aws-node",
        commands=(),
        action=Operation("kube:AnnotateServiceAccount", {**params, "value": role_arn}),
        undo=(
            Operation("kube:AnnotateServiceAccount", {**params, "value": previous}),
            _restart_op(c),
        ),
        state_before={"annotation": previous},
        state_after={"annotation": role_arn},
    )


def bind_association(c: Cluster, role_arn: str, sa: str) -> StepSpec:
    params = {"clusterName": c.name, "namespace": KUBE_SYSTEM, "serviceAccount": sa}
    return Step(
        id="bind",
        title=f"Create a pod identity association for {KUBE_SYSTEM}/{sa}",
        kind="aws",
        precondition=f"no pod identity association exists for {KUBE_SYSTEM}/{sa}",
        change=f"associate {KUBE_SYSTEM}/{sa} with {role_arn}",
        verify="the association exists with the role",
        rollback="delete the association, then restart aws-node",
        commands=(),
        action=Operation("eks:CreatePodIdentityAssociation", {**params, "roleArn": role_arn}),
        undo=(Operation("eks:DeletePodIdentityAssociation", params), _restart_op(c)),
        state_before={"association_role": None},
        state_after={"association_role": role_arn},
    )


def restart(c: Cluster, sa: str) -> StepSpec:
    return Step(
        id="restart-aws-node",
        title="Restart aws-node and wait for the rollout",
        kind="kube",
        precondition=f"the aws-node DaemonSet exists in {KUBE_SYSTEM}",
        change="rollout restart of daemonset/aws-node: running pods never pick up a new "
        f"identity for {sa} by themselves",
        verify="the rollout completes: every aws-node pod is updated and ready",
        rollback="nothing by itself (undoing the binding restarts aws-node again)",
        commands=(),
        action=_restart_op(c),
    )


def check_identity(c: Cluster, target: str, role_arn: str | None) -> StepSpec:
    env = "AWS_ROLE_ARN" if target == "irsa" else "the Pod Identity env"
    return Step(
        id="check-aws-node",
        title="Every aws-node pod runs with the dedicated identity",
        kind="check",
        precondition="the aws-node rollout is complete",
        change="nothing: read-only",
        verify=f"every aws-node pod's aws-node container carries {env}"
        + (f" = {role_arn}" if target == "irsa" else "")
        + ", and every pod is ready",
        rollback="nothing to undo",
        commands=(),
        action=Operation(
            "check:AwsNodeIdentity",
            {
                "namespace": KUBE_SYSTEM,
                "daemonset": AWS_NODE,
                "expect": target,
                "role_arn": role_arn,
            },
        ),
    )


def test_pods(c: Cluster, timeout: int, step_id: str) -> StepSpec:
    after = step_id == "verify-after"
    return Step(
        id=step_id,
        title="A test pod gets an IP on every node group" + (" after the detach" if after else ""),
        kind="check",
        precondition="nodes are Ready",
        change="a scratch namespace with one pause pod per node group, deleted afterwards",
        verify=f"every test pod gets an IP within {timeout}s, with no FailedCreatePodSandBox or "
        "MissingIAMPermissions events",
        rollback="nothing to undo (the namespace is always deleted)",
        commands=(),
        action=Operation("check:TestPods", {"cluster": c.name, "timeout": timeout}),
    )


def detach_step(role_name: str, attachment: PolicyAttachment, via: tuple[str, ...]) -> StepSpec:
    used = ", ".join(via) or "worker nodes"
    safe_id = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in attachment.name)
    if attachment.kind == "managed" and attachment.arn:
        return Step(
            id=f"detach-{role_name}-{safe_id}",
            title=f"Detach {attachment.name} from node role {role_name}",
            kind="aws",
            precondition=f"{attachment.arn} is attached to {role_name}; no other cluster's aws-node "
            "depends on it (checked again right before)",
            change=f"detach {attachment.arn} from {role_name} ({used})",
            verify="the policy is no longer attached, then a test pod gets an IP on every group",
            rollback=f"attach {attachment.arn} to {role_name} again",
            commands=(),
            action=Operation(
                "iam:DetachRolePolicy",
                {"RoleName": role_name, "PolicyArn": attachment.arn},
                {"node_role": True},
            ),
            undo=(
                Operation(
                    "iam:AttachRolePolicy", {"RoleName": role_name, "PolicyArn": attachment.arn}
                ),
            ),
            state_before={"attached": True},
            state_after={"attached": False},
        )
    document = canonical_document(attachment.document)
    return Step(
        id=f"detach-{role_name}-{safe_id}",
        title=f"Delete inline policy {attachment.name} from node role {role_name}",
        kind="aws",
        precondition=f"inline policy {attachment.name} of {role_name} is the document read at "
        "plan time; no other cluster's aws-node depends on it (checked again right before)",
        change=f"delete inline policy {attachment.name} of {role_name} ({used})",
        verify="the inline policy is gone, then a test pod gets an IP on every group",
        rollback=f"put inline policy {attachment.name} back with the saved document",
        commands=(),
        action=Operation(
            "iam:DeleteRolePolicy",
            {"RoleName": role_name, "PolicyName": attachment.name},
            {"node_role": True},
        ),
        undo=(
            Operation(
                "iam:PutRolePolicy",
                {"RoleName": role_name, "PolicyName": attachment.name, "PolicyDocument": document},
            ),
        ),
        state_before={"inline_document": document},
        state_after={"inline_document": None},
        blocked_by=() if document else (f"the document of {attachment.name} was not read",),
    )
