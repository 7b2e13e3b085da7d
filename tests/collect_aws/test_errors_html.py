"""An endpoint that answers with an HTML error page yields a readable gap, not the page."""

from __future__ import annotations

from botocore.exceptions import ClientError

from cniguard.collect.aws.errors import Where, gap_from_error


def test_html_error_page_becomes_a_short_reason() -> None:
    exc = ClientError(
        {
            "Error": {"Code": "404", "Message": "<!doctype html><title>404 Not Found</title>"},
            "ResponseMetadata": {
                "HTTPStatusCode": 404,
                "HTTPHeaders": {},
                "HostId": "",
                "RequestId": "r-1",
                "RetryAttempts": 0,
            },
        },
        "ListAddons",
    )
    gap = gap_from_error(
        exc, what="eks:addons", operation="eks:ListAddons", where=Where("1", "us-east-1")
    )
    assert gap.reason == (
        "404: HTTP 404 with an HTML error page (is this API served at the endpoint?)"
    )
    assert (gap.operation, gap.error_code) == ("eks:ListAddons", "404")
