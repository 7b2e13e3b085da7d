"""Pure pieces of the live collector: shards, IMDS merging, error -> gap, strategy choice,
timestamps."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.utils import parse_timestamp

from cniguard.collect.aws.calls import fast_timestamp
from cniguard.collect.aws.drafts import merge_metadata
from cniguard.collect.aws.errors import Where, gap_from_error
from cniguard.collect.aws.iam import use_details
from cniguard.collect.aws.scope import select_shard
from cniguard.model.inventory import Gap, MetadataOptions


@pytest.mark.parametrize(
    ("shard", "expected"),
    [
        (None, ["1", "2", "3", "4", "5"]),
        ((0, 2), ["1", "3", "5"]),
        ((1, 2), ["2", "4"]),
        ((2, 3), ["3"]),
    ],
)
def test_select_shard(shard: tuple[int, int] | None, expected: list[str]) -> None:
    assert select_shard(["5", "3", "1", "2", "4", "1"], shard) == expected


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], None),
        ([("required", 1), ("required", 1)], ("required", 1)),
        ([("required", 1), ("optional", 1)], ("optional", 1)),
        ([("required", 1), ("required", 2)], ("required", 2)),
        ([("required", 1), (None, None)], (None, None)),
        ([("optional", 1), (None, None)], ("optional", None)),
    ],
)
def test_merge_metadata_is_the_most_exposed(
    options: list[tuple[str | None, int | None]], expected: tuple[str | None, int | None] | None
) -> None:
    merged = merge_metadata([MetadataOptions(t, h) for t, h in options])  # type: ignore[arg-type]
    assert (None if merged is None else (merged.http_tokens, merged.hop_limit)) == expected


def test_access_denied_names_the_missing_action() -> None:
    exc = ClientError(
        {
            "Error": {
                "Code": "AccessDeniedException",
                "Message": (
                    "User: arn:aws:sts::1:assumed-role/a/b is not authorized to perform: "
                    "eks:DescribeAddon on resource: arn:aws:eks:us-east-1:1:addon/c/vpc-cni"
                ),
            }
        },
        "DescribeAddon",
    )
    where = Where("1", "us-east-1", "arn:aws:eks:us-east-1:1:cluster/c")
    assert gap_from_error(exc, what="eks:addons", operation="eks:ListAddons", where=where) == Gap(
        what="eks:addons",
        reason="AccessDeniedException: not authorized to perform eks:DescribeAddon",
        account="1",
        region="us-east-1",
        cluster="arn:aws:eks:us-east-1:1:cluster/c",
        operation="eks:DescribeAddon",
        error_code="AccessDeniedException",
    )


def test_connection_error_is_a_gap() -> None:
    exc = EndpointConnectionError(endpoint_url="https://eks.x.amazonaws.com")
    gap = gap_from_error(exc, what="eks:clusters", operation="eks:ListClusters", where=Where("1"))
    assert (gap.error_code, gap.operation, gap.reason) == (
        "EndpointConnectionError",
        "eks:ListClusters",
        "EndpointConnectionError: Could not connect to the endpoint URL: "
        '"https://eks.x.amazonaws.com"',
    )


@pytest.mark.parametrize(
    ("size", "roles", "expected"),
    [(None, 50, False), (10, 1, True), (2500, 1, False), (2500, 2, True), (999, 1, True)],
)
def test_bulk_iam_read_only_when_cheaper(size: int | None, roles: int, expected: bool) -> None:
    assert use_details(size, roles) is expected


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("2024-05-01T12:30:00Z", dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)),
        ("2024-05-01T12:30:00.250000Z", dt.datetime(2024, 5, 1, 12, 30, 0, 250000, dt.UTC)),
        ("2024-05-01T12:30:00", dt.datetime(2024, 5, 1, 12, 30)),  # no offset: naive, as sent
        (1714566600.5, dt.datetime(2024, 5, 1, 12, 30, 0, 500000, dt.UTC)),
        ("1714566600", dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)),
        ("Wed, 01 May 2024 12:30:00 GMT", dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)),
    ],
)
def test_wire_timestamps_parse_like_botocore(wire: str | float, expected: dt.datetime) -> None:
    parsed = fast_timestamp(wire)
    assert parsed == expected
    assert parsed == parse_timestamp(str(wire))
