"""Every error answers JSON: `{"error": {"message": ..., "field": ...}}`, with the field at fault."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from core.errors import ServiceError
from models.events import InvalidEvent, describe, problems_of

LOCATIONS = {"body", "query", "path", "header"}


def error(status: int, message: str, field: str | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "field": field, **extra}}, status_code=status)


def invalid(problems: list[tuple[str | None, str]]) -> JSONResponse:
    """422 naming the first field at fault; `problems` lists them all."""
    field = problems[0][0] if problems else None
    listed = [{"field": f, "message": m} for f, m in problems]
    return error(422, describe(problems) or "invalid request", field, problems=listed)


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(_: Request, err: ServiceError) -> JSONResponse:
        return error(err.status, err.message, err.field)

    @app.exception_handler(InvalidEvent)
    async def invalid_event(_: Request, err: InvalidEvent) -> JSONResponse:
        return error(422, str(err), err.field)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, err: RequestValidationError) -> JSONResponse:
        return invalid(problems_of(err.errors(), skip=LOCATIONS))

    @app.exception_handler(ValidationError)
    async def invalid_model(_: Request, err: ValidationError) -> JSONResponse:
        return invalid(problems_of(err.errors(include_url=False)))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, err: HTTPException) -> JSONResponse:
        response = error(err.status_code, str(err.detail))
        response.headers.update(err.headers or {})
        return response
