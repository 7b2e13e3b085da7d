"""eks_token: the token format of ``aws eks get-token``, checked by decoding it and re-signing."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import boto3
import pytest

from cniguard.collect.kubernetes import eks_token

SECRET = "testing"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()  # a GET signs the hash of no body


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> boto3.Session:
    """Dummy keys; no config file or endpoint override of this machine can leak in."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_PROFILE", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key=SECRET, region_name="us-west-2"
    )


def decode(token: str) -> str:
    assert token.startswith("k8s-aws-v1.")
    body = token.removeprefix("k8s-aws-v1.")
    assert "=" not in body and "+" not in body and "/" not in body  # base64url, no padding
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def sigv4_signature(url: str, cluster_id: str) -> str:
    """SigV4 query signature of a GET of ``url`` with header x-k8s-aws-id: ``cluster_id``."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    params.pop("X-Amz-Signature")
    query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items())
    )
    headers = f"host:{parts.netloc}\nx-k8s-aws-id:{cluster_id}\n"
    canonical = "\n".join(
        ["GET", "/", query, headers, params["X-Amz-SignedHeaders"], EMPTY_BODY_SHA256]
    )
    date = params["X-Amz-Date"]
    scope = params["X-Amz-Credential"].split("/", 1)[1]
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + SECRET).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_token_is_a_presigned_get_caller_identity_for_the_cluster(session: boto3.Session) -> None:
    url = decode(eks_token(session, "prod-eu", "eu-west-1"))

    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "sts.eu-west-1.amazonaws.com", "/")
    assert params["Action"] == "GetCallerIdentity"
    assert params["Version"] == "2011-06-15"
    assert params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert params["X-Amz-Expires"] == "60"
    assert params["X-Amz-SignedHeaders"] == "host;x-k8s-aws-id"
    key_id, date, region, service, terminator = params["X-Amz-Credential"].split("/")
    assert (key_id, region, service, terminator) == ("testing", "eu-west-1", "sts", "aws4_request")
    assert params["X-Amz-Date"].startswith(date)
    assert "x-k8s-aws-id" not in params  # a signed header, never a query parameter
    assert params["X-Amz-Signature"] == sigv4_signature(url, "prod-eu")
    assert params["X-Amz-Signature"] != sigv4_signature(url, "prod-us")  # bound to the cluster


def test_token_uses_the_session_credentials_and_the_cluster_region(session: boto3.Session) -> None:
    url = decode(eks_token(session, "dev", "ap-southeast-2"))

    assert urlsplit(url).netloc == "sts.ap-southeast-2.amazonaws.com"
    assert dict(parse_qsl(urlsplit(url).query))["X-Amz-Signature"] == sigv4_signature(url, "dev")
