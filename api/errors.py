"""Every error answers JSON: `{"error": {"message": ..., "field": ...}}`, with the field at fault."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Match, Mount

from core.errors import ServiceError
from models.events import InvalidEvent, describe, problems_of

LOCATIONS = {"body", "query", "path", "header"}
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


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
        broken = next((e for e in err.errors() if e.get("type") == "json_invalid"), None)
        if broken is not None:  # not a field at fault: the body as a whole (its loc is a position)
            position = broken["loc"][-1] if broken.get("loc") else "?"
            reason = (broken.get("ctx") or {}).get("error", "")
            return error(422, f"Invalid JSON: {reason} at character {position}")
        return invalid(problems_of(err.errors(), skip=LOCATIONS))

    @app.exception_handler(ValidationError)
    async def invalid_model(_: Request, err: ValidationError) -> JSONResponse:
        return invalid(problems_of(err.errors(include_url=False)))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> JSONResponse:
        response = error(err.status_code, str(err.detail))
        response.headers.update(err.headers or {})
        if err.status_code == 405:
            response.headers["allow"] = ", ".join(allowed_methods(request))
        return response


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path: Starlette names only the first route's."""
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]
    return [
        method
        for method in METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]
