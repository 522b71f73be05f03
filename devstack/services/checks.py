"""The checks several stand-ins make alike: credentials (Basic, Bearer, or a secret in the URL)
against the ones expected, a JSON body (refused in the service's own error shape), a list of
strings, an e-mail address."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from devstack.services.judging import Refused, Request, Verdict


def is_expected(expected: Mapping[str, str] | None, **given: str) -> bool:
    """Whether each given credential is the one expected under its name (any is, when the emulator
    expects none for the service)."""
    return expected is None or all(value == expected[name] for name, value in given.items())


class BasicCredentials(NamedTuple):
    username: str
    password: str


def basic_credentials(request: Request) -> BasicCredentials | None:
    """From `Authorization: Basic base64(user:password)`; None when absent or malformed."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return BasicCredentials(user, password) if colon else None


def basic_auth(
    request: Request, expected: Mapping[str, str] | None, *checked: Literal["username", "password"]
) -> BasicCredentials | None:
    """The request's Basic credentials when they are well formed and each of `checked` is the one
    expected (see is_expected); None otherwise."""
    credentials = basic_credentials(request)
    if credentials is None or not is_expected(expected, **{name: getattr(credentials, name) for name in checked}):
        return None
    return credentials


def bearer_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def parse_json(body: bytes) -> Any:
    """The body as JSON; ValueError when it is not."""
    return json.loads(body.decode("utf-8"))


def json_body(request: Request, invalid: Verdict) -> Any:
    """The request's body as JSON; when it is not JSON, the service answers `invalid` (Refused)."""
    try:
        return parse_json(request.body)
    except ValueError:
        raise Refused(invalid) from None


def is_list_of_strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
