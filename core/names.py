"""Folder and webhook names: unique in their scope whatever their case or form, in every alphabet.

Uniqueness compares a key, not the name as written: "Ärzte" and "ärzte", "STRASSE" and "straße",
"Foo" in full-width forms (U+FF26...) and "foo" are one name. The key is stored beside the name
(`name_key`), and a unique index on it holds under concurrent writes, the same on SQLite as on
PostgreSQL: their `lower()` differ (SQLite's folds ASCII only, PostgreSQL's follows the locale).
"""

from __future__ import annotations

import unicodedata

from core.errors import Conflict

MAX_KEY_LENGTH = 400
"""The longest key a name may have. A name is at most 200 characters, but a compatibility
character can expand to many (NFKC makes 18 of U+FDFA): bounded, the key's index entry stays
within PostgreSQL's limit (about 2.7 KB) whatever the characters."""


def name_key(name: str) -> str:
    """The name as uniqueness compares it: Unicode's compatibility caseless match (D146,
    NFKD(casefold(NFKD(casefold(NFD(name)))))), composed again (NFKC) to keep it short.

    Plain NFKC-then-casefold misses a few pairs, e.g. "Ϊ́" and "ΐ", whose folds differ only in
    how their accents are composed."""
    folded = unicodedata.normalize("NFD", name).casefold()
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKD", folded).casefold())


def check_key_length(name: str) -> str:
    """The name, if its key fits MAX_KEY_LENGTH."""
    if len(name_key(name)) > MAX_KEY_LENGTH:
        raise ValueError(
            f"too long once folded for comparison (case and compatibility forms): at most {MAX_KEY_LENGTH}"
            " characters, and ligatures or composed symbols count as the letters they stand for"
        )
    return name


def folder_name_taken(name: str, taken: str | None = None) -> Conflict:
    """`taken`: the name as the existing folder writes it, when known."""
    return Conflict(f"a folder named {as_written(name, taken)} already exists", "name")


def webhook_name_taken(name: str, folder_id: str | None, taken: str | None = None) -> Conflict:
    where = "this folder" if folder_id else "the workspace's top level"
    return Conflict(f"a webhook named {as_written(name, taken)} already exists in {where}", "name")


def as_written(name: str, taken: str | None) -> str:
    """The existing name, and why it is the same when it is written otherwise than the one asked for."""
    if taken is None or taken == name:
        return repr(name)
    return f"{taken!r} ({name!r} is the same name: names are unique whatever their case)"


def moving_out_clashes(folder_name: str, names: list[str]) -> Conflict:
    """A folder's webhooks cannot move out (to the top level) while some of their names are taken there."""
    listed = ", ".join(repr(name) for name in names) or "one of its webhooks' names"
    return Conflict(
        f"folder {folder_name!r} cannot move its webhooks out: the workspace's top level has {listed} already"
        " (names are unique whatever their case); rename them first",
        "move_webhooks_out",
    )
