"""What a Security Hub import sends: archive only what a cluster read in full resolved."""

from __future__ import annotations

from cniguard.export.securityhub_plan import plan_import
from cniguard.report.asff_format import to_asff
from exports.reports import ME, OTHER, T1, T2, arn, cluster, finding, report

ROLE = f"arn:aws:iam::{ME}:role/a-node"


def test_first_import_sends_failing_and_unknown_and_counts_other_accounts() -> None:
    scan = report(
        [cluster("a"), cluster("x", OTHER)],
        [
            finding("CNI002", "fail", arn("a"), resource=ROLE),
            finding("CNI001", "unknown", arn("a")),
            finding("CNI003", "pass", arn("a")),
            finding("CNI002", "fail", arn("x", OTHER)),
            finding("CNI001", "fail", arn("x", OTHER)),
        ],
    )
    plan = plan_import(scan, ME, {"us-east-1": []})
    [region] = plan.regions
    assert [f["GeneratorId"] for f in region.active] == ["cniguard/CNI002", "cniguard/CNI001"]
    assert (region.archive, region.kept, plan.other_accounts) == ((), (), {OTHER: 2})
    assert plan.summary() == [
        "us-east-1: 2 active (2 new, 0 updated), 0 archived, 0 left as they are (cluster not read)",
        "not sent (Security Hub takes findings only from their own account; run in each "
        f"account): {OTHER}: 2",
    ]


def test_a_resolved_check_is_archived_as_passed_and_keeps_its_creation_time() -> None:
    role = finding("CNI002", "fail", arn("a"), resource=ROLE)
    still = finding("CNI001", "fail", arn("a"))
    held = to_asff(report([cluster("a")], [role, still], at=T1))
    now = report(
        [cluster("a")],
        [finding("CNI002", "pass", arn("a"), resource=ROLE), still],
        at=T2,
    )
    [region] = plan_import(now, ME, {"us-east-1": held}).regions
    [active] = region.active
    [archived] = region.archive
    assert (active["Id"], active["CreatedAt"], active["UpdatedAt"]) == (held[1]["Id"], T1, T2)
    assert (archived["Id"], archived["RecordState"]) == (held[0]["Id"], "ARCHIVED")
    assert archived["Compliance"] == {"Status": "PASSED"}
    assert (archived["CreatedAt"], archived["UpdatedAt"]) == (T1, T2)
    assert "Workflow" not in archived  # Security Hub resolves the workflow of a PASSED finding
    assert region.new == 0


def test_a_check_gone_from_a_cluster_read_in_full_is_archived_as_it_was() -> None:
    held = to_asff(report([cluster("a")], [finding("CNI040", "fail", arn("a"))], at=T1))
    held[0] |= {"ProcessedAt": T1, "ProductName": "Default"}  # Security Hub's own fields
    [region] = plan_import(report([cluster("a")], [], at=T2), ME, {"us-east-1": held}).regions
    [archived] = region.archive
    assert archived["RecordState"] == "ARCHIVED"
    assert archived["UpdatedAt"] == T2
    assert archived["Compliance"] == {"Status": "FAILED"}
    assert "ProcessedAt" not in archived and "ProductName" not in archived
    assert "ProductFields" not in archived and "Workflow" not in archived


def test_clusters_not_read_or_read_with_gaps_keep_their_findings() -> None:
    held = to_asff(
        report(
            [cluster("a"), cluster("b"), cluster("c")],
            [finding("CNI002", "fail", arn(n)) for n in ("a", "b", "c")],
            at=T1,
        )
    )
    gaps = [
        {"what": "iam:role", "account": ME, "region": None, "cluster": arn("b")},
        {"what": "eks:clusters", "account": OTHER, "region": None, "cluster": None},
    ]
    # a: not in this scan (another shard, or deleted); b: read with a gap; c: read in full
    now = report([cluster("b"), cluster("c")], [], at=T2, gaps=gaps)
    [region] = plan_import(now, ME, {"us-east-1": held}).regions
    assert [f["Id"] for f in region.archive] == [held[2]["Id"]]
    assert region.kept == (held[0]["Id"], held[1]["Id"])
    assert region.active == ()


def test_an_account_wide_gap_archives_nothing_in_that_account() -> None:
    held = to_asff(report([cluster("a")], [finding("CNI002", "fail", arn("a"))], at=T1))
    gaps = [{"what": "iam:roles", "account": ME, "region": None, "cluster": None}]
    [region] = plan_import(
        report([cluster("a")], [], at=T2, gaps=gaps), ME, {"us-east-1": held}
    ).regions
    assert (region.archive, region.kept) == ((), (held[0]["Id"],))


def test_findings_of_other_integrations_are_never_touched() -> None:
    held = to_asff(report([cluster("a")], [finding("CNI002", "fail", arn("a"))], at=T1))
    foreign = [
        held[0] | {"Id": "arn:aws:securityhub:us-east-1::other/1"},
        held[0] | {"GeneratorId": "prowler-eks_cluster_check"},
        held[0] | {"ProductArn": "arn:aws:securityhub:us-east-1::product/aws/guardduty"},
        held[0] | {"RecordState": "ARCHIVED"},
    ]
    plan = plan_import(report([cluster("a")], [], at=T2), ME, {"us-east-1": foreign})
    assert plan.regions == ()
    assert plan.summary() == [f"no findings of account {ME} to send or archive"]
