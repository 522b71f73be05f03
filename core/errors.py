"""The errors a request can meet, each with the HTTP status the API answers with and, where one
field is at fault, its name. The command line prints the same messages."""

from __future__ import annotations

Problem = tuple[str | None, str]
"""One field at fault (a dotted path, or None for the request as a whole) and what is wrong with it."""


def describe(problems: list[Problem]) -> str:
    """Every problem in one line, each naming its field: `name: field required; url: ...`."""
    return "; ".join(f"{field}: {message}" if field else message for field, message in problems)


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str, field: str | None = None, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.problems: list[Problem] = problems or [(field, message)]
        """Each field at fault with its own message: the API lists them, the console puts each
        under its input."""

    def __str__(self) -> str:
        if not self.field or self.message.startswith(f"{self.field}: "):  # several problems, each named
            return self.message
        return f"{self.field}: {self.message}"


class NotFound(ServiceError, LookupError):
    status = 404


class Conflict(ServiceError):
    status = 409


class Refused(ServiceError, ValueError):
    """A value that breaks a rule."""

    status = 422

    @classmethod
    def each(cls, problems: list[Problem]) -> Refused:
        """Several values refused at once: the message names each field, `field` the first."""
        if not problems:
            return cls("the values were refused")
        return cls(problems[0][1] if len(problems) == 1 else describe(problems), problems[0][0], problems)


class Forbidden(ServiceError):
    status = 403
