"""Fault injection through the loopback proxy: denied accounts and actions, throttling, 5xx and
slow responses. Nothing is lost, nothing unread passes, every gap names what and why."""

from __future__ import annotations

from cniguard.collect.aws.drafts import UNREAD_INSTANCES
from cniguard.collect.live import collect_live
from cniguard.collect.options import LiveOptions
from cniguard.model.inventory import Inventory
from fakes import fleet
from fakes.proxy import FakeAws, Faults

REGION = "eu-west-1"


def _options(**kwargs: object) -> LiveOptions:
    base: dict[str, object] = {"regions": (REGION,), "cloudtrail": False, "org": True}
    base.update(kwargs)
    return LiveOptions(**base)  # type: ignore[arg-type]


def _fleet(aws: FakeAws) -> tuple[list[fleet.AccountClients], list[fleet.BuiltCluster]]:
    """The caller and one member account, each with a cluster (the member's runs Karpenter)."""
    accounts = [fleet.caller(), *fleet.member_accounts(1)]
    built = []
    for i, acct in enumerate(accounts):
        subnets = fleet.vpc_subnets(acct, REGION)
        built.append(fleet.cluster(aws, acct, REGION, f"c{i}", subnets=subnets, karpenter=i == 1))
    return accounts, built


def _content(inv: Inventory) -> tuple[object, ...]:
    return (inv.clusters, inv.roles, inv.oidc_providers, inv.oidc_providers_read, inv.accounts)


def test_denied_account_then_denied_actions(aws: FakeAws) -> None:
    """One fleet (member accounts are slow to create in moto), two fault set-ups."""
    accounts, built = _fleet(aws)
    _check_denied_account(aws, accounts, built)
    _check_denied_actions(aws, built)


def _check_denied_account(
    aws: FakeAws, accounts: list[fleet.AccountClients], built: list[fleet.BuiltCluster]
) -> None:
    healthy, denied = accounts
    aws.faults = Faults(deny_accounts=frozenset({denied.account}))

    inv = collect_live(_options())

    assert [c.arn for c in inv.clusters] == sorted(b.arn for b in built if healthy.account in b.arn)
    denied_gaps = sorted(
        (g.what, g.region, g.operation, g.reason) for g in inv.gaps if g.account == denied.account
    )
    assert denied_gaps == [
        (
            "eks:clusters",
            REGION,
            "eks:ListClusters",
            "AccessDeniedException: not authorized to perform eks:ListClusters",
        ),
        (
            "iam:oidc-providers",
            None,
            "iam:ListOpenIDConnectProviders",
            "AccessDenied: not authorized to perform iam:ListOpenIDConnectProviders",
        ),
    ]
    assert denied.account not in inv.oidc_providers_read
    assert {g.account for g in inv.gaps} == {denied.account}


def _check_denied_actions(aws: FakeAws, built: list[fleet.BuiltCluster]) -> None:
    aws.faults = Faults(
        deny_actions=frozenset({"eks:ListAddons", "ec2:DescribeInstances", "iam:GetPolicyVersion"})
    )

    inv = collect_live(_options())

    assert len(inv.clusters) == len(built)
    for cluster in inv.clusters:
        assert cluster.addons is None  # unread, never "no add-on"
        # EC2 unread: managed groups with unknown counts, and a group of unknown role standing
        # for the self-managed and Karpenter nodes that could not be seen
        groups = cluster.node_groups or ()
        assert {(g.kind, g.instance_count) for g in groups[:-1]} <= {("managed", None)}
        assert (groups[-1].name, groups[-1].kind, groups[-1].role_arn) == (
            UNREAD_INSTANCES,
            "unknown",
            None,
        )
    ops = sorted({(g.what, g.operation, g.reason) for g in inv.gaps})
    assert ops == [
        (
            "ec2:instances",
            "ec2:DescribeInstances",
            "UnauthorizedOperation: not authorized to perform ec2:DescribeInstances",
        ),
        (
            "eks:addons",
            "eks:ListAddons",
            "AccessDeniedException: not authorized to perform eks:ListAddons",
        ),
        (
            "iam:policy",
            "iam:GetPolicyVersion",
            "AccessDenied: not authorized to perform iam:GetPolicyVersion",
        ),
    ]
    for what in ("ec2:instances", "eks:addons"):  # on exactly each cluster
        clusters = sorted(g.cluster or "" for g in inv.gaps if g.what == what)
        assert clusters == sorted(b.arn for b in built)
    for role in inv.roles:
        for policy in role.policies or ():
            if policy.arn and ":aws:policy/" in policy.arn:
                assert policy.document is None  # not read: no document, never an empty one


def test_throttling_5xx_and_slow_responses_lose_nothing(aws: FakeAws) -> None:
    acct = fleet.caller()
    fleet.cluster(aws, acct, REGION, "t0", subnets=fleet.vpc_subnets(acct, REGION), karpenter=True)
    baseline = collect_live(_options())
    aws.faults = Faults(
        throttle_rate=0.3,
        server_error_rate=0.1,
        slow_rate=0.1,
        slow_seconds=0.2,
        max_faults_per_request=1,
    )

    inv = collect_live(_options())

    assert inv.gaps == ()
    assert _content(inv) == _content(baseline)
    assert aws.traffic.injected["throttle"] > 5
    assert aws.traffic.injected["server"] > 0
    assert aws.traffic.injected["slow"] > 0
