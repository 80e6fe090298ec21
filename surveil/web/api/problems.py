"""Errors as RFC 9457 problem details (``application/problem+json``), each naming its fields.

One handler per deliberate error of surveil (``surveil.errors``) and for what FastAPI itself
refuses (a body or query that does not fit the schema), so a client reads the same shape for
every failure, and never a page or a traceback.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from surveil.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Problem
from surveil.services.users.api_tokens import RateLimited, TokenRefused

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://surveil.invalid/problems/"  # documented in docs/api.md; not fetched


class FieldProblem(BaseModel):
    field: str
    message: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, with ``errors`` listing every field at fault."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] = []


class ApiRefusal(Exception):
    """A refusal the API itself makes (a read-only token asked to write)."""

    def __init__(self, status: int, slug: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    errors: list[Problem] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = ProblemDetails(
        type=TYPE_BASE + slug,
        title=title,
        status=status,
        detail=detail,
        errors=[FieldProblem(field=p.field, message=p.message) for p in errors or []],
    )
    return JSONResponse(
        body.model_dump(), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "model": ProblemDetails,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        }
        for status in statuses
    }


# Documented on every route, so the OpenAPI document (and the fuzzing of it) knows them.
READ_RESPONSES = _responses(401, 404, 422, 429)
WRITE_RESPONSES = _responses(401, 403, 404, 409, 422, 429)


def install(app: FastAPI) -> None:
    app.add_exception_handler(TokenRefused, _unauthorised)
    app.add_exception_handler(RateLimited, _rate_limited)
    app.add_exception_handler(ApiRefusal, _refusal)
    app.add_exception_handler(InvalidInput, _invalid)
    app.add_exception_handler(RequestValidationError, _unprocessable)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(PermissionDenied, _forbidden)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _server_error)


async def _unauthorised(_request: Request, exc: Exception) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="surveil"'}
    return problem(401, "unauthorised", "Unauthorised", str(exc), headers=headers)


async def _rate_limited(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimited)
    headers = {"Retry-After": str(exc.retry_after)}
    return problem(429, "rate-limited", "Too many requests", str(exc), headers=headers)


async def _refusal(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiRefusal)
    return problem(exc.status, exc.slug, exc.title, exc.detail)


async def _invalid(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidInput)
    detail = f"invalid {exc.what}: {len(exc.problems)} problem(s)"
    return problem(422, "invalid-input", "Invalid input", detail, errors=exc.problems)


async def _unprocessable(request: Request, exc: Exception) -> Response:
    """What the schema refuses, each error named by its place (``body.mrn``, ``query.limit``);
    the value itself is never echoed (it may be patient data)."""
    assert isinstance(exc, RequestValidationError)
    problems = [
        Problem(".".join(str(part) for part in error.get("loc", ())) or "request", error["msg"])
        for error in exc.errors()
    ]
    return await _invalid(request, InvalidInput(problems, what="request"))


async def _not_found(_request: Request, _exc: Exception) -> Response:
    # One answer whether the thing is missing or another clinic's: a difference would tell.
    return problem(404, "not-found", "Not found", "no such record, or it is not open to you")


async def _forbidden(_request: Request, exc: Exception) -> Response:
    return problem(403, "forbidden", "Forbidden", str(exc))


async def _conflict(_request: Request, exc: Exception) -> Response:
    return problem(409, "conflict", "Conflict", str(exc))


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return problem(404, "not-found", "Not found", "no such route")
    headers = dict(exc.headers or {})
    return problem(exc.status_code, "http-error", "Error", str(exc.detail), headers=headers)


async def _server_error(request: Request, _exc: Exception) -> Response:
    logger.exception("unhandled API error on %s %s", request.method, request.url.path)
    return problem(500, "server-error", "Server error", "logged; nothing was changed")
