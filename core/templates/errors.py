"""The one error of the template language."""

from __future__ import annotations


class TemplateError(ValueError):
    """A template that cannot be compiled (with the line, where known) or cannot render an event."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {reason}" if line is not None else reason)
        self.reason = reason
        self.line = line
