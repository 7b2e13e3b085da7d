"""Errors as the client reads them: JSON under ``/api`` and ``/metrics``, an HTML page elsewhere.

No error ever answers with a traceback; an unexpected one is logged once and shown as a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from cniguard.web.access import SECURITY_HEADERS

log = logging.getLogger("cniguard.web")

Render = Callable[..., str]


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path == "/metrics"


def _messages(exc: RequestValidationError) -> list[str]:
    found = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "query")
        found.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", ""))
    return found


def install_error_pages(app: FastAPI, render: Render) -> None:
    """Register the handlers; ``render(template, **context)`` draws the HTML page."""

    def html(status: int, title: str, details: list[str]) -> Response:
        body = render("error.html", status=status, title=title, details=details)
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers or {})
        if wants_json(request):
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=headers)
        response = html(exc.status_code, _title(exc.status_code), [str(exc.detail)])
        response.headers.update(headers)
        return response

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if wants_json(request):
            return JSONResponse({"detail": jsonable_encoder(exc.errors())}, 422)
        return html(
            422, "This address asks for something the dashboard cannot show", _messages(exc)
        )

    async def crashed(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        if wants_json(request):
            return JSONResponse({"detail": "internal error"}, 500, headers=SECURITY_HEADERS)
        return html(500, "Internal error", ["The server could not answer; see its log."])

    handlers: dict[Any, Any] = {
        HTTPException: http_error,
        RequestValidationError: invalid,
        Exception: crashed,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)


def _title(status: int) -> str:
    return {
        401: "Sign-in required",
        404: "Not found",
        405: "Method not allowed",
        422: "This address asks for something the dashboard cannot show",
    }.get(status, f"Error {status}")
