"""Access control and response hardening for `cniguard serve`.

With a token, every path but ``/login`` needs it: as ``Authorization: Bearer <token>`` (API,
Prometheus) or as the cookie that ``/login?token=<token>`` sets (browsers). Every response carries a
strict Content-Security-Policy: pages load nothing but the shipped stylesheet, and run no script.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse

COOKIE = "cniguard_token"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

Handler = Callable[[Request], Awaitable[Response]]


def _matches(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.cookies.get(COOKIE)


def guard(token: str | None) -> Callable[[Request, Handler], Awaitable[Response]]:
    """The middleware: check the token (when one is set), then add the security headers."""

    async def middleware(request: Request, call_next: Handler) -> Response:
        if token is not None:
            if request.url.path == "/login":
                response = _login(request, token)
            elif _matches(presented_token(request), token):
                response = await call_next(request)
            else:
                response = PlainTextResponse(
                    "authentication required: /login?token=... or a bearer token",
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        else:
            response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    return middleware


def _login(request: Request, token: str) -> Response:
    if not _matches(request.query_params.get("token"), token):
        return PlainTextResponse("wrong token", status_code=401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    return response


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
