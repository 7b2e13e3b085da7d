"""Which accounts and regions a live collection covers.

Credentials come from the standard chain (``--profile``, env, SSO, instance or task role); the
endpoint variables (``AWS_ENDPOINT_URL`` ...) are honoured by boto3 itself. With ``--org`` every
active account of the Organization is entered with ``sts:AssumeRole`` into ``--org-role``; the
calling account is always included and entered with its own credentials.

A member account's credentials are botocore's own refreshable assumed-role credentials, as the
AWS CLI makes for a ``role_arn`` profile: the role is assumed again with the caller's credentials
before the session expires, so a scan may run longer than a role session lasts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import boto3
from botocore.credentials import AssumeRoleCredentialFetcher, RefreshableCredentials
from botocore.exceptions import NoCredentialsError

from cniguard.collect.aws.calls import CallLog, Clients, new_session
from cniguard.collect.aws.errors import Where
from cniguard.collect.options import LiveOptions

OPERATIONS = (
    "sts:GetCallerIdentity",
    "sts:AssumeRole",
    "organizations:ListAccounts",
    "ec2:DescribeRegions",
)
NO_PERMISSION_NEEDED = frozenset({"sts:GetCallerIdentity"})
SESSION_NAME = "cniguard-audit"
DEFAULT_HOME_REGION = "us-east-1"


@dataclass(frozen=True)
class AccountScope:
    """One account entered for reading, with its clients."""

    account: str
    partition: str
    clients: Clients


def home_region(session: boto3.Session) -> str:
    return session.region_name or DEFAULT_HOME_REGION


def select_shard(accounts: list[str], shard: tuple[int, int] | None) -> list[str]:
    """Accounts of shard ``i`` of ``N``: position in the sorted list modulo N equals i."""
    ordered = sorted(set(accounts))
    if shard is None:
        return ordered
    index, count = shard
    return [acct for pos, acct in enumerate(ordered) if pos % count == index]


def _assumed_session(base: Clients, role_arn: str) -> boto3.Session:
    """A session in ``role_arn`` whose credentials botocore renews before they expire.

    The role is assumed at once, so a failure is the account's, not its first read's; later
    renewals use the caller's credentials as they are then (they may be refreshable too).
    """
    source = base.session.get_credentials()
    if source is None:
        raise NoCredentialsError()
    fetcher = AssumeRoleCredentialFetcher(
        base.create, source, role_arn, extra_args={"RoleSessionName": SESSION_NAME}
    )
    credentials = RefreshableCredentials.create_from_metadata(
        fetcher.fetch_credentials(), fetcher.fetch_credentials, "assume-role"
    )
    return new_session(credentials, region_name=base.home_region)


def _org_accounts(base: Clients, log: CallLog, caller: str) -> list[str]:
    def read() -> list[str]:
        pages = base.get("organizations").get_paginator("list_accounts").paginate()
        return [a["Id"] for page in pages for a in page["Accounts"] if a["Status"] == "ACTIVE"]

    found = log.attempt(
        read,
        what="organizations:accounts",
        operation="organizations:ListAccounts",
        where=Where(caller),
    )
    return found if found is not None else []


@dataclass(frozen=True)
class AccountPlan:
    """The accounts to read (not yet entered) and the calling account's clients."""

    base: Clients
    caller: str
    partition: str
    accounts: list[str]
    in_scope: list[str]  # every account of the run before --shard picks this shard's


def plan_accounts(options: LiveOptions, log: CallLog, base_session: boto3.Session) -> AccountPlan:
    """Who the caller is and which accounts are in scope.

    Raises botocore errors when the base credentials themselves do not work (nothing can be
    read then).
    """
    base = Clients(
        base_session, log, max_pool=options.concurrency, home_region=home_region(base_session)
    )
    identity = base.get("sts").get_caller_identity()
    caller = str(identity["Account"])
    partition = str(identity["Arn"]).split(":")[1]
    wanted = [caller, *(_org_accounts(base, log, caller) if options.org else [])]
    if options.accounts is not None:
        allowed = set(options.accounts)
        wanted = [a for a in wanted if a in allowed]
    return AccountPlan(
        base, caller, partition, select_shard(wanted, options.shard), select_shard(wanted, None)
    )


def enter_account(
    plan: AccountPlan, account: str, options: LiveOptions, log: CallLog
) -> AccountScope | None:
    """The account entered for reading (None: it cannot be entered, recorded as a gap)."""
    if account == plan.caller:
        return AccountScope(account, plan.partition, plan.base)
    role_arn = f"arn:{plan.partition}:iam::{account}:role/{options.org_role}"
    session = log.attempt(
        partial(_assumed_session, plan.base, role_arn),
        what="account",
        operation="sts:AssumeRole",
        where=Where(account),
        resource=role_arn,
    )
    if session is None:
        return None
    clients = Clients(session, log, max_pool=options.concurrency, home_region=plan.base.home_region)
    return AccountScope(account, plan.partition, clients)


def account_regions(scope: AccountScope, options: LiveOptions, log: CallLog) -> list[str] | None:
    """``--regions`` as given, or every region enabled for this account (None: unreadable)."""
    if options.regions is not None:
        return list(options.regions)

    def read() -> list[str]:
        regions: list[dict[str, Any]] = scope.clients.get("ec2").describe_regions()["Regions"]
        return sorted(r["RegionName"] for r in regions)

    return log.attempt(
        read, what="regions", operation="ec2:DescribeRegions", where=Where(scope.account)
    )
