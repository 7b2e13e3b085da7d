"""IAM reads of one account: roles (trust, managed and inline documents, boundary, tags), the
policies they attach, instance profiles and OIDC providers.

Each role and policy is read once per account and shared by every cluster that references it. Per
account the reader picks the cheaper of per-role calls (about three per role plus two per policy)
and ``GetAccountAuthorizationDetails`` (one call per 1,000 roles and customer policies, sized
from ``GetAccountSummary``); AWS managed policies are read one by one in both cases, since a
full dump of them is thousands of documents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cniguard.collect.aws.context import RunContext
from cniguard.collect.aws.errors import Where, error_code
from cniguard.collect.aws.scope import AccountScope
from cniguard.model.common import JsonDict, Origin
from cniguard.model.inventory import OidcProvider, PolicyAttachment, Role

OPERATIONS = (
    "iam:GetAccountSummary",
    "iam:GetAccountAuthorizationDetails",
    "iam:GetRole",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:GetInstanceProfile",
    "iam:ListOpenIDConnectProviders",
    "iam:GetOpenIDConnectProvider",
)
DETAILS_PAGE = 1000  # GetAccountAuthorizationDetails MaxItems
CALLS_PER_ROLE = 3  # GetRole, ListAttachedRolePolicies, ListRolePolicies


def role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def arn_account(arn: str) -> str:
    return arn.split(":")[4]


@dataclass
class AccountDetails:
    """What ``GetAccountAuthorizationDetails`` returned: roles by name, customer policies by ARN,
    and the role of each instance profile (by profile ARN)."""

    roles: dict[str, JsonDict] = field(default_factory=dict)
    policies: dict[str, tuple[str | None, JsonDict | str | None]] = field(default_factory=dict)
    profile_roles: dict[str, str] = field(default_factory=dict)


def instance_profile_role(
    ctx: RunContext, scope: AccountScope, profile_arn: str, where: Where
) -> str | None:
    """The role of an instance profile, read once per account (None: unreadable or no role)."""

    def read() -> str | None:
        def call() -> str | None:
            profile = scope.clients.get("iam").get_instance_profile(
                InstanceProfileName=role_name(profile_arn)
            )["InstanceProfile"]
            roles = profile.get("Roles") or []
            return str(roles[0]["Arn"]) if roles else None

        return ctx.log.attempt(
            call,
            what="iam:instance-profile",
            operation="iam:GetInstanceProfile",
            where=where,
            resource=profile_arn,
        )

    return scope.clients.memo.get(("profile", profile_arn), read)


def account_size(ctx: RunContext, scope: AccountScope) -> int | None:
    """Roles + customer managed policies in the account (None: unknown, use per-role reads)."""

    def read() -> int | None:
        try:
            summary = scope.clients.get("iam").get_account_summary()["SummaryMap"]
        except (ClientError, BotoCoreError):
            return None  # only a cost estimate: per-role reads still read everything
        return int(summary.get("Roles", 0)) + int(summary.get("Policies", 0))

    return scope.clients.memo.get("account-size", read)


def use_details(size: int | None, wanted_roles: int) -> bool:
    if size is None:
        return False
    return 1 + size // DETAILS_PAGE < CALLS_PER_ROLE * wanted_roles


def read_details(ctx: RunContext, scope: AccountScope) -> AccountDetails | None:
    """The account's roles and customer policies in bulk (None: unreadable, read per role)."""
    details = AccountDetails()
    try:
        paginator = scope.clients.get("iam").get_paginator("get_account_authorization_details")
        pages = paginator.paginate(
            Filter=["Role", "LocalManagedPolicy"], PaginationConfig={"PageSize": DETAILS_PAGE}
        )
        for page in pages:
            for role in page.get("RoleDetailList", []):
                details.roles[role["RoleName"]] = role
                for profile in role.get("InstanceProfileList", []):
                    details.profile_roles[profile["Arn"]] = role["Arn"]
            for policy in page.get("Policies", []):
                default = policy.get("DefaultVersionId")
                doc = next(
                    (
                        v.get("Document")
                        for v in policy.get("PolicyVersionList", [])
                        if v.get("IsDefaultVersion")
                    ),
                    None,
                )
                details.policies[policy["Arn"]] = (default, doc)
    except (ClientError, BotoCoreError):
        return None  # fall back to per-role reads, which record their own gaps
    return details


def policy_document(
    ctx: RunContext, scope: AccountScope, arn: str, where: Where, details: AccountDetails | None
) -> tuple[str | None, JsonDict | str | None] | None:
    """(default version id, document) of a managed policy, read once (None: unreadable)."""
    if details is not None and arn in details.policies:
        return details.policies[arn]
    iam = scope.clients.get("iam")

    def read() -> tuple[str | None, JsonDict | str | None] | None:
        def call() -> tuple[str | None, JsonDict | str | None]:
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            doc = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
            return str(version), doc.get("Document")

        return ctx.log.attempt(
            call, what="iam:policy", operation="iam:GetPolicyVersion", where=where, resource=arn
        )

    return scope.clients.memo.get(("policy", arn), read)


def _attachments(
    ctx: RunContext,
    scope: AccountScope,
    *,
    attached: list[dict[str, Any]],
    inline: list[tuple[str, JsonDict | str | None]],
    where: Where,
    details: AccountDetails | None,
    origin: Origin,
) -> tuple[PolicyAttachment, ...]:
    out: list[PolicyAttachment] = []
    for item in attached:
        read = policy_document(ctx, scope, item["PolicyArn"], where, details)
        out.append(
            PolicyAttachment(
                name=item["PolicyName"],
                kind="managed",
                arn=item["PolicyArn"],
                document=read[1] if read else None,
                version=read[0] if read else None,
                origin=Origin("aws", scope.account, api="iam:GetPolicyVersion"),
            )
        )
    out.extend(
        PolicyAttachment(name=n, kind="inline", document=d, origin=origin) for n, d in inline
    )
    return tuple(out)


def _boundary(
    ctx: RunContext,
    scope: AccountScope,
    raw: dict[str, Any] | None,
    where: Where,
    details: AccountDetails | None,
) -> tuple[str | None, JsonDict | str | None]:
    arn = (raw or {}).get("PermissionsBoundaryArn")
    if not arn:
        return None, None
    read = policy_document(ctx, scope, arn, where, details)
    return arn, read[1] if read else None


def _tags(raw: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in raw or []}


def role_from_details(
    ctx: RunContext, scope: AccountScope, arn: str, details: AccountDetails
) -> Role:
    where = Where(scope.account)
    raw = details.roles.get(role_name(arn))
    if raw is None:
        return Role(
            arn=arn,
            name=role_name(arn),
            account=scope.account,
            exists=False,
            origin=Origin("aws", scope.account, api="iam:GetAccountAuthorizationDetails"),
        )
    origin = Origin("aws", scope.account, api="iam:GetAccountAuthorizationDetails")
    inline = [(p["PolicyName"], p.get("PolicyDocument")) for p in raw.get("RolePolicyList", [])]
    boundary_arn, boundary = _boundary(ctx, scope, raw.get("PermissionsBoundary"), where, details)
    return Role(
        arn=raw["Arn"],
        name=raw["RoleName"],
        account=scope.account,
        trust_policy=raw.get("AssumeRolePolicyDocument"),
        policies=_attachments(
            ctx,
            scope,
            attached=raw.get("AttachedManagedPolicies", []),
            inline=inline,
            where=where,
            details=details,
            origin=origin,
        ),
        permissions_boundary_arn=boundary_arn,
        permissions_boundary=boundary,
        tags=_tags(raw.get("Tags")),
        origin=origin,
    )


def role_by_calls(ctx: RunContext, scope: AccountScope, arn: str) -> Role | None:
    """One role through GetRole and its policy lists (None: GetRole itself failed)."""
    iam = scope.clients.get("iam")
    name = role_name(arn)
    where = Where(scope.account)
    origin = Origin("aws", scope.account, api="iam:GetRole")

    def get() -> dict[str, Any] | None:
        try:
            return dict(iam.get_role(RoleName=name)["Role"])
        except ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                return None
            raise

    missing = object()
    raw = ctx.log.attempt(
        lambda: get() or missing,
        what="iam:role",
        operation="iam:GetRole",
        where=where,
        resource=arn,
    )
    if raw is None:
        return None
    if raw is missing:
        return Role(arn=arn, name=name, account=scope.account, exists=False, origin=origin)
    assert isinstance(raw, dict)

    def lists() -> tuple[list[dict[str, Any]], list[tuple[str, JsonDict | str | None]]]:
        attached = [
            p
            for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name)
            for p in page["AttachedPolicies"]
        ]
        names = [
            n
            for page in iam.get_paginator("list_role_policies").paginate(RoleName=name)
            for n in page["PolicyNames"]
        ]
        inline = [
            (n, iam.get_role_policy(RoleName=name, PolicyName=n).get("PolicyDocument"))
            for n in names
        ]
        return attached, inline

    listed = ctx.log.attempt(
        lists,
        what="iam:role-policies",
        operation="iam:ListAttachedRolePolicies",
        where=where,
        resource=arn,
    )
    boundary_arn, boundary = _boundary(ctx, scope, raw.get("PermissionsBoundary"), where, None)
    return Role(
        arn=raw["Arn"],
        name=raw["RoleName"],
        account=scope.account,
        trust_policy=raw.get("AssumeRolePolicyDocument"),
        policies=_attachments(
            ctx,
            scope,
            attached=listed[0],
            inline=listed[1],
            where=where,
            details=None,
            origin=origin,
        )
        if listed is not None
        else None,
        permissions_boundary_arn=boundary_arn,
        permissions_boundary=boundary,
        tags=_tags(raw.get("Tags")),
        origin=origin,
    )


def read_oidc_providers(ctx: RunContext, scope: AccountScope) -> tuple[list[OidcProvider], bool]:
    """The account's IAM OIDC providers, and whether every one of them was read."""
    iam = scope.clients.get("iam")
    where = Where(scope.account)
    arns = ctx.log.attempt(
        lambda: [
            p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
        ],
        what="iam:oidc-providers",
        operation="iam:ListOpenIDConnectProviders",
        where=where,
    )
    if arns is None:
        return [], False
    found: list[OidcProvider] = []
    complete = True
    for arn in arns:
        info = ctx.log.attempt(
            partial(iam.get_open_id_connect_provider, OpenIDConnectProviderArn=arn),
            what="iam:oidc-providers",
            operation="iam:GetOpenIDConnectProvider",
            where=where,
            resource=arn,
        )
        if info is None:
            complete = False
            continue
        found.append(
            OidcProvider(
                arn=arn,
                url=str(info["Url"]).removeprefix("https://"),
                client_ids=tuple(info.get("ClientIDList", [])),
                account=scope.account,
                origin=Origin("aws", scope.account, api="iam:GetOpenIDConnectProvider"),
            )
        )
    return found, complete
