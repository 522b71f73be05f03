"""The bounds on a template and on what it renders: its size, depth and placeholders, the body's
size and depth, the text the filters make."""

from __future__ import annotations

MAX_TEMPLATE_BYTES = 64 * 1024
MAX_TEMPLATE_DEPTH = 32
MAX_OUTPUT_DEPTH = 64
"""A whole-string placeholder inserts a value as is: the template's depth plus the value's."""
MAX_PLACEHOLDERS = 1000
MAX_BODY_BYTES = 256 * 1024
MAX_TRUNCATE = 100_000
MAX_WORK_CHARS = 16 * MAX_BODY_BYTES
"""Text the filters may read in one render. Without it, 1000 copies of
`{{ contact.custom_fields.notes | upper | truncate:1 }}` on a long note would be little output for
seconds of work. (A value serialised or joined is made once per render, however often it is used.)"""


def utf8_len(text: str) -> int:
    """The size of text in UTF-8, as the byte bounds count it."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "replace"))
