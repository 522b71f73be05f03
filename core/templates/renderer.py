"""One render of a compiled template: the body written as JSON or as a form, its size counted while
it is written, the text made on the way counted against the work bound."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from core.templates.bounds import MAX_BODY_BYTES, MAX_OUTPUT_DEPTH, MAX_WORK_CHARS, utf8_len
from core.templates.errors import TemplateError
from core.templates.filters import apply_filter
from core.templates.tree import Array, Expr, Json, Node, Object, Text, Whole

_T = TypeVar("_T")


class Renderer:
    """One render: the body written so far and its size, the text made on the way, and what was
    made once for a value of the event (its depth, its JSON, its text)."""

    def __init__(self, context: dict[str, Json]) -> None:
        self.context = context
        self.chunks: list[str] = []
        self.size = 0
        self.work = 0
        # Keyed by id(): the context holds every object and list for the whole render, and no
        # filter makes one. A value used by many placeholders is measured and serialised once.
        self.depths: dict[int, int] = {}
        self.made: dict[tuple[int, str], Any] = {}

    def body(self) -> str:
        return "".join(self.chunks)

    def write(self, chunk: str) -> None:
        self.size += utf8_len(chunk)
        if self.size > MAX_BODY_BYTES:
            raise TemplateError(f"the rendered body is larger than {MAX_BODY_BYTES // 1024} KiB")
        self.chunks.append(chunk)

    def spend(self, chars: int) -> None:
        self.work += chars
        if self.work > MAX_WORK_CHARS:
            raise TemplateError(
                f"the placeholders make more than {MAX_WORK_CHARS // (1024 * 1024)} MiB of text "
                "(large values filtered many times)"
            )

    def once(self, value: Json, how: str, make: Callable[[], _T]) -> _T:
        key = (id(value), how)
        if key not in self.made:
            self.made[key] = make()
        return cast(_T, self.made[key])

    # JSON format

    def json(self, node: Node) -> None:
        if isinstance(node, Object):
            self.write("{")
            for index, (key, item) in enumerate(node.items):
                self.write(("," if index else "") + _dumps(key) + ":")
                self.json(item)
            self.write("}")
        elif isinstance(node, Array):
            self.write("[")
            for index, item in enumerate(node.items):
                if index:
                    self.write(",")
                self.json(item)
            self.write("]")
        elif isinstance(node, Text):
            self.write(_dumps(self.interpolate(node.parts)))
        elif isinstance(node, Whole):
            self.write(self.dump(self.evaluate(node.expr), MAX_OUTPUT_DEPTH - node.depth))
        else:
            self.write(_dumps(node))

    # Form format

    def form(self, root: Object) -> None:
        for key, node in root.items:
            for item in node.items if isinstance(node, Array) else (node,):
                # Written item by item: the size is counted before the next item is rendered.
                field = urlencode({key: self.form_values(key, item)}, doseq=True, errors="replace")
                if field:
                    self.write(("&" if self.size else "") + field)

    def form_values(self, key: str, node: Node) -> list[str]:
        if isinstance(node, Text):
            return [self.interpolate(node.parts)]
        value = self.evaluate(node.expr) if isinstance(node, Whole) else node
        if isinstance(value, list):
            return self.once(value, "form", lambda: self.form_list(key, value))
        if isinstance(value, dict):
            raise self.not_a_field(key)
        return [] if value is None else [self.text(value)]

    def form_list(self, key: str, values: list[Json]) -> list[str]:
        if any(isinstance(item, dict | list) for item in values):
            raise self.not_a_field(key)
        return [self.text(item) for item in values if item is not None]

    @staticmethod
    def not_a_field(key: str) -> TemplateError:
        return TemplateError(
            f"the form field {key!r} got an object or a list of lists, which a form cannot hold "
            "(the json filter sends it as text)"
        )

    # Values

    def evaluate(self, expr: Expr) -> Json:
        value = self.context.get(expr.root)
        for step in expr.path:
            if isinstance(value, dict):
                value = value.get(step)
            elif isinstance(value, list) and step.isascii() and step.isdigit() and len(step) < 10:
                index = int(step)
                value = value[index] if index < len(value) else None
            else:
                value = None
        for filter_ in expr.filters:
            value = apply_filter(self, filter_, value)
        return value

    def interpolate(self, parts: tuple[str | Expr, ...]) -> str:
        room = MAX_BODY_BYTES - self.size
        pieces: list[str] = []
        length = 0
        for part in parts:
            piece = part if isinstance(part, str) else self.text(self.evaluate(part))
            length += len(piece)
            if length > room:  # characters are at most bytes: the body would be over
                raise TemplateError(f"the rendered body is larger than {MAX_BODY_BYTES // 1024} KiB")
            pieces.append(piece)
        return "".join(pieces)

    def text(self, value: Json) -> str:
        """A value inside a string: text as is, nothing for a missing value, a list of plain values
        joined, anything else as compact JSON."""
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list) and self.once(
            value, "plain", lambda: not any(isinstance(v, dict | list) for v in value)
        ):
            return self.join(value, ", ")
        return self.dump(value, MAX_OUTPUT_DEPTH)

    def join(self, values: list[Json], separator: str) -> str:
        return self.once(values, "join" + separator, lambda: self.made_text(separator.join(map(self.text, values))))

    def dump(self, value: Json, max_depth: int) -> str:
        """Compact JSON of a value of the event, its depth checked first: neither this nor the
        receiver's parser meets a value nested without end."""
        if self.depth(value, MAX_OUTPUT_DEPTH) > max_depth:
            raise TemplateError(f"a value is nested more than {MAX_OUTPUT_DEPTH} levels deep in the rendered body")
        if isinstance(value, dict | list):
            return self.once(value, "json", lambda: self.made_text(_compact(value)))
        return self.made_text(_compact(value))

    def made_text(self, text: str) -> str:
        self.spend(len(text))
        return text

    def depth(self, value: Json, room: int) -> int:
        """How deeply a value nests: exact up to `room`, room + 1 for anything deeper, each object
        and list measured once (a deeper one stops the render: its depth is not kept)."""
        if not isinstance(value, dict | list):
            return 0
        known = self.depths.get(id(value))
        if known is not None:
            return known
        if room == 0:
            return 1
        deepest = 0
        for child in value.values() if isinstance(value, dict) else value:
            deepest = max(deepest, self.depth(child, room - 1))
            if deepest >= room:
                return room + 1
        self.depths[id(value)] = deepest + 1
        return deepest + 1


def _dumps(value: Json) -> str:
    return json.dumps(value, ensure_ascii=False)


def _compact(value: Json) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError as err:  # NaN or infinity, or an integer of more than 4300 digits
        raise TemplateError(f"a value cannot be written as JSON: {err}") from None
