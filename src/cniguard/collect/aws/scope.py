"""Which accounts and regions a live collection covers.

Credentials come from the standard chain (``--profile``, env, SSO, instance or task role); the
endpoint variables (``AWS_ENDPOINT_URL`` ...) are honoured by boto3 itself. With ``--org`` every
active account of the Organization is entered with ``sts:AssumeRole`` into ``--org-role``; the
calling account is always included and entered with its own credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import boto3

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


def _assumed_session(base: Clients, account: str, partition: str, role_name: str) -> boto3.Session:
    sts = base.get("sts")
    creds = sts.assume_role(
        RoleArn=f"arn:{partition}:iam::{account}:role/{role_name}",
        RoleSessionName=SESSION_NAME,
    )["Credentials"]
    return new_session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=base.home_region,
    )


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
    return AccountPlan(base, caller, partition, select_shard(wanted, options.shard))


def enter_account(
    plan: AccountPlan, account: str, options: LiveOptions, log: CallLog
) -> AccountScope | None:
    """The account entered for reading (None: it cannot be entered, recorded as a gap)."""
    if account == plan.caller:
        return AccountScope(account, plan.partition, plan.base)
    session = log.attempt(
        partial(_assumed_session, plan.base, account, plan.partition, options.org_role),
        what="account",
        operation="sts:AssumeRole",
        where=Where(account),
        resource=f"arn:{plan.partition}:iam::{account}:role/{options.org_role}",
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
