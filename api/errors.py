"""Every error answers JSON: `{"error": {"message": ..., "field": ...}}`, with the field at fault."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from core.errors import ServiceError
from models.events import InvalidEvent, describe_validation_error

LOCATIONS = {"body", "query", "path", "header"}


def error(status: int, message: str, field: str | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "field": field, **extra}}, status_code=status)


def field_of(loc: tuple[Any, ...] | list[Any]) -> str | None:
    parts = [str(p) for p in loc if str(p) not in LOCATIONS]
    return ".".join(parts) or None


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(_: Request, err: ServiceError) -> JSONResponse:
        return error(err.status, err.message, err.field)

    @app.exception_handler(InvalidEvent)
    async def invalid_event(_: Request, err: InvalidEvent) -> JSONResponse:
        return error(422, str(err), err.field)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, err: RequestValidationError) -> JSONResponse:
        problems = [{"field": field_of(e["loc"]), "message": e["msg"]} for e in err.errors()]
        first = problems[0] if problems else {"field": None, "message": "invalid request"}
        message = "; ".join(f"{p['field']}: {p['message']}" if p["field"] else p["message"] for p in problems)
        return error(422, message, first["field"], problems=problems)

    @app.exception_handler(ValidationError)
    async def invalid_model(_: Request, err: ValidationError) -> JSONResponse:
        first = err.errors(include_url=False)[0]
        return error(422, describe_validation_error(err), field_of(first["loc"]))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, err: HTTPException) -> JSONResponse:
        response = error(err.status_code, str(err.detail))
        response.headers.update(err.headers or {})
        return response
