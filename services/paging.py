"""Keyset pages: ask the store for one row more than the page, and the extra row says whether a
next page exists; the cursor is the last id shown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from core.errors import Refused

MAX_PAGE = 200


class HasId(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=HasId)


def rows_for(limit: int) -> int:
    """How many rows to read for a page of `limit` (refusing a limit out of range)."""
    if not 1 <= limit <= MAX_PAGE:
        raise Refused(f"must be between 1 and {MAX_PAGE}", "limit")
    return limit + 1


def split(rows: Sequence[T], limit: int) -> tuple[Sequence[T], str | None]:
    """The page, and the cursor of the next one (None on the last page)."""
    page = rows[:limit]
    return page, page[-1].id if len(rows) > limit else None
