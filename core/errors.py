"""The errors a request can meet, each with the HTTP status the API answers with and, where one
field is at fault, its name. The command line prints the same messages."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

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


class Forbidden(ServiceError):
    status = 403
