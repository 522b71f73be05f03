"""Every error answers JSON: `{"error": {"message": ..., "field": ...}}` (models.errors.ErrorBody),
with the field at fault; and the OpenAPI document declares, route by route, which of them it gives."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Match, Mount
from temporalio.service import RPCError

from core.errors import Problem as FieldProblem
from core.errors import ServiceError, describe
from core.temporal import unavailable
from models.errors import ErrorBody, ErrorDetail, Problem
from models.events import InvalidEvent, problems_of

LOCATIONS = {"body", "query", "path", "header"}
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

Answers = dict[int | str, dict[str, Any]]
"""A route's `responses=`: status, and what its answer holds and when it comes."""


def answer(when: str) -> dict[str, Any]:
    """An error answer of the document: the error body, and when the route gives it."""
    return {"model": ErrorBody, "description": when}


AUTHENTICATED: Answers = {
    401: answer("No API key, or one that is unknown or revoked.")
    | {"headers": {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}}},
    403: answer("The API key belongs to another workspace than the one named (in the path, or the event's)."),
    # Declared by us, FastAPI leaves out its own 422 (`HTTPValidationError`), which the API never answers.
    422: answer(
        "A value is refused: `field` names the first at fault, `problems` lists each. A body that is not "
        "JSON (or not UTF-8) names no field."
    ),
}
"""What every route of the API can answer; the app declares it on each router it includes."""

UNKNOWN_ID: Answers = {
    404: answer("An id it names (in the path, or as `folder_id` or `cursor`) is not one of this workspace's.")
}
TEMPORAL_DOWN: Answers = {503: answer("Temporal did not answer, or refused to start the workflow; try again.")}


def error(status: int, message: str, field: str | None = None, problems: list[Problem] | None = None) -> JSONResponse:
    detail = ErrorDetail(message=message, field=field)
    if problems is not None:
        detail.problems = problems
    # Unset fields left out: `problems` only where there are some, as the document says.
    return JSONResponse(ErrorBody(error=detail).model_dump(mode="json", exclude_unset=True), status_code=status)


def invalid(problems: list[FieldProblem]) -> JSONResponse:
    """422 naming the first field at fault; `problems` lists them all."""
    field = problems[0][0] if problems else None
    return error(422, describe(problems) or "invalid request", field, listed(problems))


def listed(problems: list[FieldProblem]) -> list[Problem]:
    return [Problem(field=field, message=message) for field, message in problems]


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(_: Request, err: ServiceError) -> JSONResponse:
        # A refusal lists each field at fault, as a refused request body does.
        return error(err.status, err.message, err.field, listed(err.problems) if err.status == 422 else None)

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

    @app.exception_handler(RPCError)
    @app.exception_handler(RuntimeError)
    async def temporal_unavailable(_: Request, err: Exception) -> JSONResponse:
        said = unavailable(err)
        if said is None:
            raise err  # a defect: answered 500, with its traceback in the log
        return error(503, said)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> JSONResponse:
        if err.status_code == 400 and err.__cause__ is not None:
            # FastAPI's answer to a body it could not decode (not UTF-8, nested past the parser's
            # depth): refused as every body that is not JSON is.
            return error(422, f"Invalid JSON: {err.__cause__}")
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
