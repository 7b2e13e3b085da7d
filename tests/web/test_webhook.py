"""Webhook payloads: stored values cannot inject Slack control sequences; links to the dashboard."""

from __future__ import annotations

from cniguard.alerting import Alert, slack_escape, slack_payload

EVIL = Alert(
    incident_id=7,
    rule_id="CNI030",
    severity="critical",
    title="<!channel> stuck & <https://evil.example|click>",
    cluster="arn:aws:eks:eu-west-1:111122223333:cluster/a`b<c>",
    account="111122223333",
    region="eu-west-1",
    resource="r",
    opened_at="2026-03-01T00:00:00Z",
    reopened=False,
)


def test_slack_escape() -> None:
    assert slack_escape("<!here> a & b > c") == "&lt;!here&gt; a &amp; b &gt; c"


def test_control_sequences_are_escaped_without_a_dashboard() -> None:
    body = slack_payload([EVIL])
    assert body["blocks"][1]["text"]["text"] == (
        "*CRITICAL* CNI030 new: &lt;!channel&gt; stuck &amp; "
        "&lt;https://evil.example|click&gt; — "
        "`arn:aws:eks:eu-west-1:111122223333:cluster/a'b&lt;c&gt;`"
    )
    assert body["blocks"][0]["text"]["text"] == "cniguard: 1 new or re-opened finding(s)"
    assert "dashboard" not in body["cniguard"]
    assert body["cniguard"]["alerts"][0]["title"] == EVIL.title  # data stays raw for machines


def test_lines_link_the_cluster_page_and_the_open_findings() -> None:
    body = slack_payload([EVIL], "https://cniguard.example.internal/")
    assert body["blocks"][1]["text"]["text"].endswith(
        " — <https://cniguard.example.internal/cluster?arn=arn%3Aaws%3Aeks%3Aeu-west-1%3A"
        "111122223333%3Acluster%2Fa%60b%3Cc%3E|arn:aws:eks:eu-west-1:111122223333:cluster/"
        "a'b&lt;c&gt;>"
    )
    assert body["blocks"][0]["text"]["text"] == (
        "cniguard: 1 new or re-opened finding(s) · "
        "<https://cniguard.example.internal/findings?state=open|open findings>"
    )
    assert body["cniguard"]["dashboard"] == "https://cniguard.example.internal"
