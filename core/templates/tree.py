"""The compiled form of a template: its JSON document as a tree, each string with placeholders
parsed into text and expressions (a root name, a path, filters)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

Json: TypeAlias = Any
"""A JSON value as `json.loads` gives it: dict, list, str, int, float, bool or None."""


@dataclass(frozen=True, slots=True)
class Filter:
    name: str
    args: tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Expr:
    root: str
    path: tuple[str, ...]
    filters: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Text:
    """A string with text around its placeholders, or several: interpolated."""

    parts: tuple[str | Expr, ...]


@dataclass(frozen=True, slots=True)
class Whole:
    """A string that is exactly one placeholder: replaced by the value, with its JSON type."""

    expr: Expr
    depth: int
    """How many objects and lists enclose it, for the output's depth cap."""


@dataclass(frozen=True, slots=True)
class Object:
    items: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class Array:
    items: tuple[Node, ...]


Node: TypeAlias = "Object | Array | Text | Whole | str | int | float | bool | None"
