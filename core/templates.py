"""Request bodies shaped for the receiver: a JSON document with placeholders, rendered per event.

A customer writes the body a helpdesk, a CRM or a chat channel expects as JSON, with placeholders
in its strings: `{"text": "New lead: {{ contact.name }} ({{ contact.tags | join:', ' }})"}`.

Why this rather than a general engine (Jinja2, even sandboxed): the customers are not developers
and the engine runs their text on our workers, so it must be impossible to abuse and hard to get
wrong.

- Safe by construction: a placeholder is a path through the event's JSON (dict keys and list
  indexes only, never an attribute of a Python object) and a few fixed filters. There is no code,
  no call, no import, no loop, no file or network access; names starting with `__` are refused.
- Escaping right by construction: values are placed into the parsed JSON structure and serialised
  by `json`, or encoded by `urlencode` for forms, never spliced into text. A contact's name with
  quotes or newlines cannot break the body.
- Linear time and bounded output: no loops exist, so rendering is one pass over the template. The
  template's size, depth and placeholder count are capped, the body's size is counted while it is
  written (rendering stops as soon as it is over), and the text filters make is capped too.
- Errors with line numbers when the webhook is saved: unknown names and filters, a placeholder in
  a key, a form field holding an object, are found by `check_template` before any event is sent.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeAlias, TypeVar, cast
from urllib.parse import urlencode

from models.payload import delivery_body


class BodyFormat(StrEnum):
    STANDARD = "standard"
    """The contract's JSON body (models.payload.delivery_body)."""
    JSON = "json"
    """The template rendered as JSON: `application/json`."""
    FORM = "form"
    """The template, a flat JSON object, rendered as `application/x-www-form-urlencoded`."""


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

JSON_CONTENT_TYPE = "application/json"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

ROOTS = (
    "contact",
    "event",
    "payload",
    "webhook",
    "type",
    "event_id",
    "workspace_id",
    "occurred_at",
    "delivery_id",
    "test",
)

Json: TypeAlias = Any
"""A JSON value as `json.loads` gives it: dict, list, str, int, float, bool or None."""
_T = TypeVar("_T")


class TemplateError(ValueError):
    """A template that cannot be compiled (with the line, where known) or cannot render an event."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {reason}" if line is not None else reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True)
class RenderedBody:
    content: bytes
    content_type: str


# --- The compiled form -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Filter:
    name: str
    args: tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class _Expr:
    root: str
    path: tuple[str, ...]
    filters: tuple[_Filter, ...]


@dataclass(frozen=True, slots=True)
class _Text:
    """A string with text around its placeholders, or several: interpolated."""

    parts: tuple[str | _Expr, ...]


@dataclass(frozen=True, slots=True)
class _Whole:
    """A string that is exactly one placeholder: replaced by the value, with its JSON type."""

    expr: _Expr
    depth: int
    """How many objects and lists enclose it, for the output's depth cap."""


@dataclass(frozen=True, slots=True)
class _Object:
    items: tuple[tuple[str, _Node], ...]


@dataclass(frozen=True, slots=True)
class _Array:
    items: tuple[_Node, ...]


_Node: TypeAlias = "_Object | _Array | _Text | _Whole | str | int | float | bool | None"


@dataclass(frozen=True)
class CompiledTemplate:
    fmt: BodyFormat
    root: _Node
    placeholders: int

    def render(self, context: dict[str, Json]) -> RenderedBody:
        renderer = _Renderer(context)
        if self.fmt is BodyFormat.FORM:
            assert isinstance(self.root, _Object)  # compile_template refuses anything else
            renderer.form(self.root)
            return RenderedBody(renderer.body().encode("ascii"), FORM_CONTENT_TYPE)
        renderer.json(self.root)
        # "replace": a lone surrogate (JSON text may hold "\ud800") has no UTF-8 form; it becomes "?".
        return RenderedBody(renderer.body().encode("utf-8", "replace"), JSON_CONTENT_TYPE)


# --- Compiling ----------------------------------------------------------------------------------

# A JSON string (escapes included) or a bracket. Outside strings valid JSON has no quote, so in
# order these are exactly its strings and brackets, with their offsets for line numbers. Only run
# over valid JSON (or the valid start of it): an unclosed string would cost quadratic time.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_KEY_COLON = re.compile(r"\s*:")
_EXPR_TOKEN = re.compile(r"\s*(?:(?P<name>[^\W\d]\w*)|(?P<int>-?\d+)|(?P<str>'[^']*')|(?P<punct>[.\[\]|:,]))")


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "replace"))


@functools.lru_cache(maxsize=256)
def compile_template(text: str, fmt: BodyFormat) -> CompiledTemplate:
    """Every delivery renders one of a workspace's few templates: compiled once, kept in a bounded
    cache (a failure is not cached, and costs the same again)."""
    if fmt is BodyFormat.STANDARD:
        raise TemplateError("the standard body has no template")
    if _utf8_len(text) > MAX_TEMPLATE_BYTES:
        raise TemplateError(f"the template is larger than {MAX_TEMPLATE_BYTES // 1024} KiB")
    try:
        document = json.loads(text, object_pairs_hook=_object, parse_constant=_constant, parse_float=_float)
    except RecursionError:  # hundreds of levels: the scan finds where the one too many begins
        _check_depth(text)
        raise TemplateError("objects and lists are nested too deep") from None
    except json.JSONDecodeError as err:
        raise TemplateError(f"not valid JSON: {err.msg} (column {err.colno})", err.lineno) from None
    except TemplateError:
        raise
    except ValueError as err:  # an integer of more than 4300 digits
        raise TemplateError(f"not valid JSON: {err}") from None
    _check_depth(text)
    if fmt is BodyFormat.FORM and not isinstance(document, dict):
        raise TemplateError('a form template is a JSON object of fields, e.g. {"name": "{{ contact.name }}"}')
    strings, count = _scan(text, fmt)
    return CompiledTemplate(fmt, _compile_node(document, strings, 0), count)


def _object(pairs: list[tuple[str, Json]]) -> dict[str, Json]:
    result: dict[str, Json] = {}
    for key, value in pairs:
        if key in result:
            raise TemplateError(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def _constant(name: str) -> Json:
    raise TemplateError(f"not valid JSON: {name}")


def _float(literal: str) -> float:
    number = float(literal)
    if number in (float("inf"), float("-inf")):
        raise TemplateError(f"the number {literal[:20]} is too large")
    return number


def _check_depth(text: str) -> None:
    depth = 0
    for token in _TOKEN.finditer(text):
        if token.group() in ("[", "{"):
            depth += 1
            if depth > MAX_TEMPLATE_DEPTH:
                reason = f"objects and lists are nested more than {MAX_TEMPLATE_DEPTH} levels deep"
                raise TemplateError(reason, _line(text, token.start()))
        elif token.group() in ("]", "}"):
            depth -= 1


def _scan(text: str, fmt: BodyFormat) -> tuple[dict[str, tuple[str | _Expr, ...]], int]:
    """Parse the placeholders of every string in the (valid) JSON text, where their lines are
    known; and, for a form, refuse objects and lists of lists. Gives each string with placeholders,
    by its value, and how many placeholders the text holds."""
    strings: dict[str, tuple[str | _Expr, ...]] = {}
    count = 0
    stack: list[str] = []
    for token in _TOKEN.finditer(text):
        raw = token.group()
        if raw in ("[", "{"):
            if fmt is BodyFormat.FORM and raw == "{" and stack:
                reason = "a form field holds text, a number, a boolean or a list of them, not an object"
                raise TemplateError(reason, _line(text, token.start()))
            if fmt is BodyFormat.FORM and raw == "[" and stack != ["{"]:
                reason = "a form field's list holds text, numbers and booleans, not lists"
                raise TemplateError(reason, _line(text, token.start()))
            stack.append(raw)
            continue
        if raw in ("]", "}"):
            stack.pop()
            continue
        value = json.loads(raw) if "\\" in raw else raw[1:-1]
        if "{{" not in value:
            continue
        line = _line(text, token.start())
        if _KEY_COLON.match(text, token.end()):
            raise TemplateError("a key cannot hold a placeholder; keys are written as they are sent", line)
        parts = _parse_string(value, line)
        count += sum(isinstance(part, _Expr) for part in parts)
        if count > MAX_PLACEHOLDERS:
            raise TemplateError(f"more than {MAX_PLACEHOLDERS} placeholders", line)
        strings[value] = parts
    return strings, count


def _parse_string(value: str, line: int) -> tuple[str | _Expr, ...]:
    # str.find rather than a regular expression: linear even for "{{{{{{..." with no "}}".
    parts: list[str | _Expr] = []
    end = 0
    while (start := value.find("{{", end)) != -1:
        close = value.find("}}", start + 2)
        if close == -1:
            raise TemplateError(f"'{{{{' without a closing '}}}}' in {value[start:][:40]!r}", line)
        body = value[start + 2 : close]
        if "{{" in body:
            raise TemplateError(f"'{{{{' inside {value[start : close + 2][:60]!r}: is a '}}}}' missing?", line)
        if start > end:
            parts.append(value[end:start])
        parts.append(_parse_expr(body.strip(), line))
        end = close + 2
    if end < len(value):
        parts.append(value[end:])
    return tuple(parts)


def _tokenize(body: str, line: int) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(body):
        match = _EXPR_TOKEN.match(body, position)
        if match is None:
            char = body[position:].lstrip()[0]
            problem = "a quote (') without its closing quote" if char == "'" else f"unexpected {char!r}"
            example = "{{ contact.name | upper }}"
            raise TemplateError(f"{problem} in {_show(body)}; a placeholder holds a name and filters: {example}", line)
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _show(body: str) -> str:
    return "{{ " + (body if len(body) <= 60 else body[:60] + "...") + " }}"


def _parse_expr(body: str, line: int) -> _Expr:
    tokens = _tokenize(body, line)
    if not tokens:
        raise TemplateError("an empty placeholder {{ }}", line)
    tokens.append(("end", ""))
    position = 0

    def take(*kinds: str) -> tuple[str, str] | None:
        nonlocal position
        kind, value = tokens[position]
        if kind in kinds or (kind == "punct" and value in kinds):
            position += 1
            return kind, value
        return None

    def expect(what: str, *kinds: str) -> str:
        token = take(*kinds)
        if token is None:
            found = tokens[position][1] or "the end"
            raise TemplateError(f"expected {what} in {_show(body)}, found {found!r}", line)
        return token[1]

    def name(value: str) -> str:
        if value.startswith("__"):
            raise TemplateError(f"the name {value!r} is not allowed (names may not start with '__')", line)
        return value

    root = name(expect("a name", "name"))
    if root not in ROOTS:
        raise TemplateError(f"unknown name {root!r}; names start with one of {', '.join(ROOTS)}", line)
    path: list[str] = []
    while True:
        if take("."):
            step = expect("a name or a list index after '.'", "name", "int")
        elif take("["):
            step = expect("a quoted name or a list index in [ ]", "str", "int")
            expect("']'", "]")
            step = step[1:-1] if step.startswith("'") else step
        else:
            break
        if step.startswith("-"):
            raise TemplateError(f"a list index cannot be negative: {step}", line)
        path.append(name(step))
    filters: list[_Filter] = []
    while take("|"):
        filter_name = expect("a filter name after '|'", "name")
        args: list[str | int] = []
        if take(":"):
            while True:
                kind, value = tokens[position]
                expect("a filter argument ('text' or a number)", "str", "int")
                if kind == "int" and len(value) > 9:
                    raise TemplateError(f"the number {value[:20]} is too large", line)
                args.append(value[1:-1] if kind == "str" else int(value))
                if not take(","):
                    break
        filters.append(_check_filter(filter_name, tuple(args), line))
    if tokens[position][0] != "end":
        raise TemplateError(f"unexpected {tokens[position][1]!r} in {_show(body)}; filters follow a '|'", line)
    return _Expr(root, tuple(path), tuple(filters))


def _check_filter(name: str, args: tuple[str | int, ...], line: int) -> _Filter:
    spec = _FILTER_ARGS.get(name)
    if spec is None:
        raise TemplateError(f"unknown filter {name!r}; known: {', '.join(_FILTER_ARGS)}", line)
    kinds, required, usage = spec
    if not required <= len(args) <= len(kinds) or any(
        not isinstance(arg, kind) for arg, kind in zip(args, kinds, strict=False)
    ):
        raise TemplateError(f"the filter {name!r} is written {usage}", line)
    if name == "truncate" and not 0 <= int(args[0]) <= MAX_TRUNCATE:
        raise TemplateError(f"truncate takes a length from 0 to {MAX_TRUNCATE}", line)
    return _Filter(name, args)


def _compile_node(value: Json, strings: dict[str, tuple[str | _Expr, ...]], depth: int) -> _Node:
    if isinstance(value, dict):
        return _Object(tuple((key, _compile_node(item, strings, depth + 1)) for key, item in value.items()))
    if isinstance(value, list):
        return _Array(tuple(_compile_node(item, strings, depth + 1) for item in value))
    if isinstance(value, str) and value in strings:
        parts = strings[value]
        if len(parts) == 1 and isinstance(parts[0], _Expr):
            return _Whole(parts[0], depth)
        return _Text(parts)
    node: _Node = value
    return node


# --- Filters --------------------------------------------------------------------------------------

# name: (argument types, how many are required, how it is written)
_FILTER_ARGS: dict[str, tuple[tuple[type, ...], int, str]] = {
    "default": ((str,), 1, "default:'text'"),
    "join": ((str,), 0, "join or join:', '"),
    "upper": ((), 0, "upper"),
    "lower": ((), 0, "lower"),
    "trim": ((), 0, "trim"),
    "truncate": ((int,), 1, "truncate:100"),
    "first": ((), 0, "first"),
    "last": ((), 0, "last"),
    "json": ((), 0, "json"),
    "first_name": ((), 0, "first_name"),
    "last_name": ((), 0, "last_name"),
    "string": ((), 0, "string"),
    "number": ((), 0, "number"),
}

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _to_number(value: Json) -> Json:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if not isinstance(value, str) or len(value) > 400 or not _NUMBER.fullmatch(text := value.strip()):
        return None
    if text.lstrip("+-").isdigit():
        return int(text)
    number = float(text)
    return number if abs(number) != float("inf") else None


def _split_name(text: str) -> tuple[str, str]:
    """A one-word name is the last name: a CRM's required last name is never empty when there is
    a name."""
    words = text.split()
    if len(words) < 2:
        return "", "".join(words)
    return words[0], " ".join(words[1:])


# --- Rendering ---------------------------------------------------------------------------------


class _Renderer:
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
        self.size += _utf8_len(chunk)
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

    def json(self, node: _Node) -> None:
        if isinstance(node, _Object):
            self.write("{")
            for index, (key, item) in enumerate(node.items):
                self.write(("," if index else "") + _dumps(key) + ":")
                self.json(item)
            self.write("}")
        elif isinstance(node, _Array):
            self.write("[")
            for index, item in enumerate(node.items):
                if index:
                    self.write(",")
                self.json(item)
            self.write("]")
        elif isinstance(node, _Text):
            self.write(_dumps(self.interpolate(node.parts)))
        elif isinstance(node, _Whole):
            self.write(self.dump(self.evaluate(node.expr), MAX_OUTPUT_DEPTH - node.depth))
        else:
            self.write(_dumps(node))

    # Form format

    def form(self, root: _Object) -> None:
        for key, node in root.items:
            for item in node.items if isinstance(node, _Array) else (node,):
                # Written item by item: the size is counted before the next item is rendered.
                field = urlencode({key: self.form_values(key, item)}, doseq=True, errors="replace")
                if field:
                    self.write(("&" if self.size else "") + field)

    def form_values(self, key: str, node: _Node) -> list[str]:
        if isinstance(node, _Text):
            return [self.interpolate(node.parts)]
        value = self.evaluate(node.expr) if isinstance(node, _Whole) else node
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

    def evaluate(self, expr: _Expr) -> Json:
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
            value = self.apply(filter_, value)
        return value

    def apply(self, filter_: _Filter, value: Json) -> Json:
        name, args = filter_.name, filter_.args
        if name == "default":
            return args[0] if value is None or value == "" else value
        if name == "json":
            return self.dump(value, MAX_OUTPUT_DEPTH)
        if name == "string":
            return self.text(value)
        if name == "number":
            return _to_number(value)
        if name in ("first", "last"):
            if not isinstance(value, list):
                return value
            return (value[0] if name == "first" else value[-1]) if value else None
        if name == "join":
            return self.join(value, str(args[0]) if args else ", ") if isinstance(value, list) else value
        if value is None:  # text filters keep a missing value missing, for a `default` after them
            return None
        text = self.text(value)
        if name == "truncate":
            return text[: int(args[0])]
        self.spend(len(text))  # the other text filters read all of it
        if name == "upper":
            return text.upper()
        if name == "lower":
            return text.lower()
        if name == "trim":
            return text.strip()
        first, last = _split_name(text)
        return first if name == "first_name" else last

    def interpolate(self, parts: tuple[str | _Expr, ...]) -> str:
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


# --- The API ---------------------------------------------------------------------------------------


def render(text: str, fmt: BodyFormat, context: dict[str, Json]) -> RenderedBody:
    """The body for one delivery. Raises TemplateError, and nothing else for a context of JSON
    values, when the template is invalid or its output breaks a bound."""
    return compile_template(text, fmt).render(context)


def check_template(text: str, fmt: BodyFormat, sample_context: dict[str, Json]) -> None:
    """For saving a webhook: the template compiles and renders the sample event of its trigger."""
    render(text, fmt, sample_context)


def template_context(event: dict[str, Json], webhook_id: str, webhook_name: str, delivery_id: str) -> dict[str, Json]:
    """The names a placeholder starts with, from the event as stored (its JSON form)."""
    return {
        "type": event["type"],
        "event_id": event["event_id"],
        "workspace_id": event["workspace_id"],
        "occurred_at": event["occurred_at"],
        "contact": event["contact"],
        "event": event.get("data", {}),
        "webhook": {"id": webhook_id, "name": webhook_name},
        "delivery_id": delivery_id,
        "test": bool(event.get("test_webhook_id")),
        "payload": delivery_body(event, webhook_id, webhook_name),
    }
