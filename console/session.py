"""Signing in to the console with an API key: the key rides in an HttpOnly, SameSite=Strict cookie
scoped to /console, checked on every request exactly as the API checks a bearer key."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, unquote

from fastapi import Depends, Path, Request
from fastapi.responses import Response

from api.deps import StoreDep
from core.errors import Forbidden
from models.tables import ApiKey
from services.access import Unauthorized, authenticate, authorize

KEY_COOKIE = "webhooks_console_key"
FLASH_COOKIE = "webhooks_console_flash"
PREFIX = "/console"


class SignInNeeded(Exception):
    """No key, or one that no longer works: the answer is the sign-in page."""


class PageError(Exception):
    """A page that cannot be shown: an error page with this status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def signed_in(request: Request, store: StoreDep) -> ApiKey:
    token = request.cookies.get(KEY_COOKIE)
    if not token:
        raise SignInNeeded
    try:
        return await authenticate(store, token)
    except Unauthorized:
        raise SignInNeeded from None


KeyDep = Annotated[ApiKey, Depends(signed_in)]


def workspace_of(key: KeyDep, workspace_id: Annotated[str, Path(max_length=200)]) -> str:
    try:
        authorize(key, workspace_id)
    except Forbidden as err:
        raise PageError(403, err.message) from None
    return workspace_id


WorkspaceDep = Annotated[str, Depends(workspace_of)]
"""The workspace in the path, once the signed-in key is known to cover it."""


def remember(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        KEY_COOKIE,
        token,
        path=PREFIX,
        httponly=True,
        samesite="strict",  # never sent with a request another site makes: no cross-site form posts
        secure=request.url.scheme == "https",
    )


def forget(response: Response) -> None:
    response.delete_cookie(KEY_COOKIE, path=PREFIX)


def flash(response: Response, message: str) -> Response:
    """A message for the next page shown (after a redirect), once."""
    response.set_cookie(FLASH_COOKIE, quote(message), path=PREFIX, httponly=True, samesite="strict")
    return response


def flashed(request: Request) -> str | None:
    message = request.cookies.get(FLASH_COOKIE)
    return None if message is None else unquote(message)


def shown(response: Response) -> None:
    """The flashed message is on this page: not on the next."""
    response.delete_cookie(FLASH_COOKIE, path=PREFIX)
