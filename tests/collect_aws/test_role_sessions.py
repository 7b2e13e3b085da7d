"""Member accounts' assumed-role sessions: renewed before they expire, and an account that cannot
be entered is a gap of its own. The proxy shortens the sessions moto hands out, so the renewal
happens in a scan of seconds as it would an hour into a long one."""

from __future__ import annotations

from cniguard.collect.live import collect_live
from cniguard.collect.options import LiveOptions
from cniguard.model.inventory import Gap
from fakes import fleet
from fakes.proxy import FakeAws, Faults, Traffic

REGION = "eu-west-1"
ADVISORY = 12 * 60  # botocore renews in the background 15 minutes before expiry
MANDATORY = 5 * 60  # and blocks every call for the renewal in the last 10 minutes


def _options(**kwargs: object) -> LiveOptions:
    base: dict[str, object] = {"regions": (REGION,), "cloudtrail": False, "org": True}
    base.update(kwargs)
    return LiveOptions(**base)  # type: ignore[arg-type]


def test_member_sessions_are_renewed_then_a_refused_role_is_its_accounts_gap(
    aws: FakeAws,
) -> None:
    """One fleet (member accounts are slow to create in moto), two set-ups."""
    accounts = [fleet.caller(), *fleet.member_accounts(2)]
    arns = sorted(
        fleet.cluster(aws, acct, REGION, f"c{i}", subnets=fleet.vpc_subnets(acct, REGION)).arn
        for i, acct in enumerate(accounts)
    )
    _check_sessions_renewed(aws, [a.account for a in accounts], arns)
    _check_refused_role(aws, [a.account for a in accounts], arns)


def _check_sessions_renewed(aws: FakeAws, accounts: list[str], arns: list[str]) -> None:
    _, soon, sooner = accounts
    known = set(aws.keys)
    aws.traffic = Traffic()
    aws.faults = Faults(short_sessions={soon: ADVISORY, sooner: MANDATORY})

    inv = collect_live(_options())

    assert (inv.gaps, [c.arn for c in inv.clusters]) == ((), arns)
    assert aws.faults.short_sessions == {}  # both short sessions were handed out
    assert inv.meta["api_calls"]["sts:AssumeRole"] == aws.traffic.calls["sts:AssumeRole"] == 4
    (_, soon_renewed), (sooner_first, sooner_renewed) = (
        [k for k, a in aws.keys.items() if a == account and k not in known]
        for account in (soon, sooner)
    )
    assert aws.traffic.signed_by[soon_renewed] > 0
    assert aws.traffic.signed_by[sooner_renewed] > 0
    # a session in its last 10 minutes signs nothing: every call waits for the renewed one
    assert aws.traffic.signed_by[sooner_first] == 0


def _check_refused_role(aws: FakeAws, accounts: list[str], arns: list[str]) -> None:
    caller, *members = accounts
    aws.faults = Faults(deny_actions=frozenset({"sts:AssumeRole"}))

    inv = collect_live(_options())

    assert inv.accounts == (caller,)  # only the accounts entered
    assert [c.arn for c in inv.clusters] == [a for a in arns if f":{caller}:" in a]
    assert sorted(inv.gaps, key=lambda g: g.account or "") == [
        Gap(
            what="account",
            reason="AccessDenied: not authorized to perform sts:AssumeRole",
            account=member,
            operation="sts:AssumeRole",
            error_code="AccessDenied",
            resource=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole",
        )
        for member in sorted(members)
    ]
