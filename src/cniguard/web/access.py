"""Access control and response hardening for `cniguard serve`.

With a token, every path but ``/login`` needs it: as ``Authorization: Bearer <token>`` (API,
Prometheus) or as the cookie that posting the ``/login`` form sets (browsers). The token is never
read from a URL: addresses land in access logs, proxies and browser history. Without a token the
server is on loopback, and the Host header must name the bound address, so a web page whose DNS
name re-binds to 127.0.0.1 (DNS rebinding) cannot read the dashboard. Every response carries a
strict Content-Security-Policy: pages load nothing but the shipped stylesheet, and run no script.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse

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
MAX_LOGIN_BODY = 4096
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · cniguard</title><link rel="stylesheet" href="/static/style.css"></head>
<body><main><h1>cniguard</h1>
<form method="post" action="/login" class="filters" id="login">
<label>Dashboard token <input type="password" name="token" id="token" autocomplete="off"></label>
<button type="submit" id="sign-in">Sign in</button></form>
<p class="muted">Scripts and Prometheus send <code>Authorization: Bearer &lt;token&gt;</code>.</p>
</main></body></html>
"""

Handler = Callable[[Request], Awaitable[Response]]


def _matches(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.cookies.get(COOKIE)


def guard(
    token: str | None,
    *,
    allowed_hosts: tuple[str, ...] | None = None,
    behind_tls: bool = False,
) -> Callable[[Request, Handler], Awaitable[Response]]:
    """The middleware: check the Host header and the token (when set), add the security headers."""
    hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    async def middleware(request: Request, call_next: Handler) -> Response:
        if hosts is not None and host_name(request.headers.get("host", "")) not in hosts:
            response: Response = PlainTextResponse(
                "this server answers only to the address it is bound to", status_code=421
            )
        elif request.url.path == "/login":
            response = await _login(request, token, behind_tls)
        elif token is None or _matches(presented_token(request), token):
            response = await call_next(request)
        elif request.url.path.startswith("/api/") or request.url.path == "/metrics":
            response = PlainTextResponse(
                "authentication required: Authorization: Bearer <token>",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            response = RedirectResponse("/login", status_code=303)
        response.headers.update(SECURITY_HEADERS)
        return response

    return middleware


def host_name(header: str) -> str:
    """The Host header without its port (``[::1]:8000`` -> ``::1``)."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    return value.rpartition(":")[0] if value.count(":") == 1 else value


def allowed_hosts_for(host: str) -> tuple[str, ...]:
    """Host header values to accept for a server bound to ``host`` without a token."""
    bound = host.strip("[]").lower()
    return tuple(sorted({bound, *LOOPBACK_NAMES})) if is_loopback(bound) else (bound,)


def _secure(request: Request, behind_tls: bool) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return behind_tls or request.url.scheme == "https" or forwarded == "https"


async def _login(request: Request, token: str | None, behind_tls: bool) -> Response:
    if "token" in request.query_params:
        return PlainTextResponse(
            "the token is never accepted in an address (it lands in logs): "
            "post the /login form or send Authorization: Bearer <token>",
            status_code=400,
        )
    if request.method == "GET":
        return HTMLResponse(LOGIN_PAGE) if token is not None else RedirectResponse("/", 303)
    if request.method != "POST" or token is None:
        return PlainTextResponse("method not allowed", status_code=405)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_LOGIN_BODY:
            return PlainTextResponse("login form too large", status_code=413)
    given = parse_qs(body.decode("utf-8", "replace")).get("token", [None])[0]
    if not _matches(given, token):
        return HTMLResponse(
            LOGIN_PAGE.replace("<form", '<p role="alert">Wrong token.</p><form'), 401
        )
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", secure=_secure(request, behind_tls)
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
