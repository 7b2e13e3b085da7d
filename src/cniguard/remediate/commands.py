"""The `aws` / `kubectl` command lines of each plan operation, for people and for `--format sh`.

Every argument is shell-quoted; the change comes first, then the commands that verify it, so a
script made of these lines stops (``set -euo pipefail``) at the first change that did not land.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from cniguard.remediate.plan_model import Operation

IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"


def _line(*args: str) -> str:
    return " ".join(shlex.quote(a) for a in args)


def _aws(service: str, command: str, params: dict[str, str], region: str | None) -> str:
    args = ["aws", service, *command.split()]
    for flag, value in params.items():
        args += [f"--{flag}", value]
    if region and service != "iam":
        args += ["--region", region]
    return _line(*args)


def _tags(tags: list[dict[str, str]]) -> list[str]:
    return [f"Key={t['Key']},Value={t['Value']}" for t in tags]


def operation_commands(op: Operation, *, region: str, context: str) -> list[str]:
    """The command lines that carry out ``op`` and then check that it took effect."""
    p: dict[str, Any] = op.params
    kube = ["kubectl", "--context", context]
    match op.op:
        case "iam:CreateOpenIDConnectProvider":
            cmd = ["aws", "iam", "create-open-id-connect-provider", "--url", p["Url"]]
            cmd += ["--client-id-list", *p["ClientIDList"]]
            if p.get("Tags"):
                cmd += ["--tags", *_tags(p["Tags"])]
            host = p["Url"].removeprefix("https://")
            return [
                _line(*cmd),
                f"aws iam list-open-id-connect-providers --output text | grep -q {shlex.quote(host)}",
            ]
        case "iam:AddClientIDToOpenIDConnectProvider":
            arn = p["OpenIDConnectProviderArn"]
            return [
                _aws(
                    "iam",
                    "add-client-id-to-open-id-connect-provider",
                    {"open-id-connect-provider-arn": arn, "client-id": p["ClientID"]},
                    None,
                ),
                _aws(
                    "iam",
                    "get-open-id-connect-provider",
                    {
                        "open-id-connect-provider-arn": arn,
                        "query": "ClientIDList",
                        "output": "text",
                    },
                    None,
                )
                + f" | grep -qw {shlex.quote(p['ClientID'])}",
            ]
        case "iam:CreateRole":
            cmd = [
                "aws",
                "iam",
                "create-role",
                "--role-name",
                p["RoleName"],
                "--assume-role-policy-document",
                p["AssumeRolePolicyDocument"],
            ]
            if p.get("Description"):
                cmd += ["--description", p["Description"]]
            if p.get("Tags"):
                cmd += ["--tags", *_tags(p["Tags"])]
            return [
                _line(*cmd),
                _line("aws", "iam", "wait", "role-exists", "--role-name", p["RoleName"]),
            ]
        case "iam:UpdateAssumeRolePolicy":
            return [
                _aws(
                    "iam",
                    "update-assume-role-policy",
                    {"role-name": p["RoleName"], "policy-document": p["PolicyDocument"]},
                    None,
                ),
                _trust_of(p["RoleName"]),
            ]
        case "iam:CreatePolicy":
            return [
                _aws(
                    "iam",
                    "create-policy",
                    {"policy-name": p["PolicyName"], "policy-document": p["PolicyDocument"]},
                    None,
                ),
                _aws("iam", "wait policy-exists", {"policy-arn": op.context["arn"]}, None),
            ]
        case "iam:AttachRolePolicy" | "iam:DetachRolePolicy":
            verb = "attach" if op.op == "iam:AttachRolePolicy" else "detach"
            check = _aws(
                "iam",
                "list-attached-role-policies",
                {
                    "role-name": p["RoleName"],
                    "query": f"AttachedPolicies[?PolicyArn=='{p['PolicyArn']}'].PolicyArn",
                    "output": "text",
                },
                None,
            )
            grep = "grep -q ." if verb == "attach" else "(! grep -q .)"
            return [
                _aws(
                    "iam",
                    f"{verb}-role-policy",
                    {"role-name": p["RoleName"], "policy-arn": p["PolicyArn"]},
                    None,
                ),
                f"{check} | {grep}",
            ]
        case "iam:DeleteRolePolicy":
            return [
                _aws(
                    "iam",
                    "delete-role-policy",
                    {"role-name": p["RoleName"], "policy-name": p["PolicyName"]},
                    None,
                ),
                _aws(
                    "iam",
                    "list-role-policies",
                    {"role-name": p["RoleName"], "output": "text"},
                    None,
                )
                + f" | (! grep -qw {shlex.quote(p['PolicyName'])})",
            ]
        case "eks:CreateAddon":
            return [
                _aws(
                    "eks",
                    "create-addon",
                    {"cluster-name": p["clusterName"], "addon-name": p["addonName"]},
                    region,
                ),
                _aws(
                    "eks",
                    "wait addon-active",
                    {"cluster-name": p["clusterName"], "addon-name": p["addonName"]},
                    region,
                ),
            ]
        case "eks:UpdateAddon":
            flags = {"cluster-name": p["clusterName"], "addon-name": p["addonName"]}
            if p.get("serviceAccountRoleArn"):
                flags["service-account-role-arn"] = p["serviceAccountRoleArn"]
            if "podIdentityAssociations" in p:
                flags["pod-identity-associations"] = json.dumps(p["podIdentityAssociations"])
            flags["resolve-conflicts"] = p.get("resolveConflicts", "PRESERVE")
            wait = {"cluster-name": p["clusterName"], "addon-name": p["addonName"]}
            return [
                _aws("eks", "update-addon", flags, region),
                _aws("eks", "wait addon-active", wait, region),
            ]
        case "eks:CreatePodIdentityAssociation":
            return [
                _aws(
                    "eks",
                    "create-pod-identity-association",
                    {
                        "cluster-name": p["clusterName"],
                        "namespace": p["namespace"],
                        "service-account": p["serviceAccount"],
                        "role-arn": p["roleArn"],
                    },
                    region,
                ),
                _aws(
                    "eks",
                    "list-pod-identity-associations",
                    {
                        "cluster-name": p["clusterName"],
                        "namespace": p["namespace"],
                        "service-account": p["serviceAccount"],
                        "query": "associations[].associationId",
                        "output": "text",
                    },
                    region,
                )
                + " | grep -q .",
            ]
        case "kube:AnnotateServiceAccount":
            value = p.get("value")
            pair = f"{IRSA_ANNOTATION}={value}" if value else f"{IRSA_ANNOTATION}-"
            jsonpath = "{.metadata.annotations.eks\\.amazonaws\\.com/role-arn}"
            check = _line(
                *kube,
                "-n",
                p["namespace"],
                "get",
                "serviceaccount",
                p["name"],
                "-o",
                f"jsonpath={jsonpath}",
            )
            return [
                _line(
                    *kube,
                    "-n",
                    p["namespace"],
                    "annotate",
                    "serviceaccount",
                    p["name"],
                    pair,
                    "--overwrite",
                ),
                f'test "$({check})" = {shlex.quote(value or "")}',
            ]
        case "kube:RolloutRestart":
            ds = f"daemonset/{p['daemonset']}"
            return [
                _line(*kube, "-n", p["namespace"], "rollout", "restart", ds),
                _line(*kube, "-n", p["namespace"], "rollout", "status", ds, "--timeout=15m"),
            ]
        case "check:AwsNodeIdentity":
            return [_identity_check(kube, p)]
        case "check:TestPods":
            return [
                _line(
                    "cniguard",
                    "verify",
                    "--cluster",
                    p["cluster"],
                    "--kube-context",
                    f"{p['cluster']}={context}",
                    "--timeout",
                    str(p.get("timeout", 120)),
                )
            ]
        case "check:OidcProvider":
            host = p["Url"].removeprefix("https://")
            return [
                f"aws iam list-open-id-connect-providers --output text | grep -q "
                f"{shlex.quote(host)}"
            ]
        case "check:PodIdentityAgent":
            return [
                _aws(
                    "eks",
                    "describe-addon",
                    {
                        "cluster-name": p["clusterName"],
                        "addon-name": "eks-pod-identity-agent",
                        "query": "addon.status",
                        "output": "text",
                    },
                    region,
                )
                + " | grep -qx ACTIVE"
            ]
        case "check:RoleTrust":
            return [_trust_of(p["RoleName"])]
    removal = _removal_commands(op, region)
    if removal is not None:
        return removal
    raise ValueError(f"no command for operation {op.op}")


def _trust_of(role_name: str) -> str:
    query = {"role-name": role_name, "query": "Role.AssumeRolePolicyDocument", "output": "json"}
    return _aws("iam", "get-role", query, None)


def _removal_commands(op: Operation, region: str) -> list[str] | None:
    """The undo operations (what `apply` prints to finish a failed rollback by hand)."""
    p: dict[str, Any] = op.params
    match op.op:
        case "iam:DeleteOpenIDConnectProvider":
            arn = {"open-id-connect-provider-arn": p["OpenIDConnectProviderArn"]}
            return [_aws("iam", "delete-open-id-connect-provider", arn, None)]
        case "iam:RemoveClientIDFromOpenIDConnectProvider":
            flags = {
                "open-id-connect-provider-arn": p["OpenIDConnectProviderArn"],
                "client-id": p["ClientID"],
            }
            return [_aws("iam", "remove-client-id-from-open-id-connect-provider", flags, None)]
        case "iam:DeleteRole":
            return [_aws("iam", "delete-role", {"role-name": p["RoleName"]}, None)]
        case "iam:DeletePolicy":
            return [_aws("iam", "delete-policy", {"policy-arn": p["PolicyArn"]}, None)]
        case "iam:PutRolePolicy":
            flags = {
                "role-name": p["RoleName"],
                "policy-name": p["PolicyName"],
                "policy-document": p["PolicyDocument"],
            }
            return [_aws("iam", "put-role-policy", flags, None)]
        case "eks:DeleteAddon":
            flags = {"cluster-name": p["clusterName"], "addon-name": p["addonName"]}
            return [
                _aws("eks", "delete-addon", flags, region),
                _aws("eks", "wait addon-deleted", flags, region),
            ]
        case "eks:DeletePodIdentityAssociation":
            find = _aws(
                "eks",
                "list-pod-identity-associations",
                {
                    "cluster-name": p["clusterName"],
                    "namespace": p["namespace"],
                    "service-account": p["serviceAccount"],
                    "query": "associations[0].associationId",
                    "output": "text",
                },
                region,
            )
            delete = _aws(
                "eks",
                "delete-pod-identity-association",
                {"cluster-name": p["clusterName"]},
                region,
            )
            return [f'{delete} --association-id "$({find})"']
    return None


def _identity_check(kube: list[str], p: dict[str, Any]) -> str:
    """Every aws-node pod's aws-node container carries the expected identity env."""
    if p["expect"] == "irsa":
        env, want = "AWS_ROLE_ARN", p["role_arn"]
    else:
        env, want = "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/credentials"
    jsonpath = (
        '{range .items[*]}{.metadata.name}{" "}'
        f'{{.spec.containers[?(@.name=="aws-node")].env[?(@.name=="{env}")].value}}'
        '{"\\n"}{end}'
    )
    get = _line(
        *kube,
        "-n",
        p["namespace"],
        "get",
        "pods",
        "-l",
        "k8s-app=aws-node",
        "-o",
        f"jsonpath={jsonpath}",
    )
    awk = f"awk -v want={shlex.quote(want)} " + shlex.quote(
        '$2 != want {print "not on the new identity: " $1; bad=1} END {exit bad}'
    )
    return f"{get} | {awk}"
