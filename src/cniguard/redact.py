"""Masking secrets in text that becomes a log line, a gap or a report.

Error messages of HTTP clients and APIs sometimes echo what was sent: a Kubernetes API server or a
proxy may quote the ``Authorization: Bearer ...`` header, an EKS token (``k8s-aws-v1.<presigned
URL>``) carries a signed STS request, and a database URL carries its password. Reports and the
store are read by more people than the credentials' owner, so such text is redacted first.
"""

from __future__ import annotations

import re

MASK = "***"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # "Authorization: Bearer <token>", "bearer <token>", "Basic <credentials>"
    (re.compile(r"(?i)\b(bearer|basic)(\s+|%20)[A-Za-z0-9._~+/=\-]+"), rf"\1\2{MASK}"),
    # EKS authentication tokens: k8s-aws-v1.<base64url of a presigned STS URL>
    (re.compile(r"k8s-aws-v1\.[A-Za-z0-9_\-=]+"), f"k8s-aws-v1.{MASK}"),
    # JSON Web Tokens (service account tokens): three base64url parts, header starts with eyJ
    (re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"), MASK),
    # user:password@ in any URL
    (re.compile(r"(://[^/:@\s]*:)[^@/\s]+@"), rf"\1{MASK}@"),
    # "token": "...", password=..., X-Amz-Signature=... in JSON, query strings, key=value text
    (
        re.compile(
            r"(?i)\b(password|passwd|token|access_token|secret|client_secret|"
            r"x-amz-security-token|x-amz-signature|x-amz-credential)"
            r"(\"?\s*[=:]\s*\"?)[^\s&\"',;}]+"
        ),
        rf"\1\2{MASK}",
    ),
)


def redact_secrets(text: str) -> str:
    """``text`` with bearer tokens, EKS/JWT tokens, URL passwords and secret parameters masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
