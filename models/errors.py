"""The body of every error the API answers, as its OpenAPI document describes it: the handlers in
api/errors.py build their answers from these models, so the document and the answers agree."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema


class Problem(BaseModel):
    field: str | None = Field(
        description="The field at fault as a dotted path (`auth.token`); null for the body as a whole."
    )
    message: str


class ErrorDetail(BaseModel):
    message: str = Field(description="What is wrong, naming the field; fit to show as it is.")
    field: str | None = Field(description="The (first) field at fault, as a dotted path; null when no one field is.")
    # Absent, not null, when there is no list: SkipJsonSchema keeps null out of the document.
    problems: list[Problem] | SkipJsonSchema[None] = Field(
        default=None, description="On a refused request body or query: each problem with its field."
    )


class ErrorBody(BaseModel):
    """`{"error": {"message", "field", "problems"?}}`: the body of every error the API answers."""

    error: ErrorDetail
