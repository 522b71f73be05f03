"""The placeholders of a template's JSON text, parsed with their line numbers: where the strings
and brackets are, each placeholder's root name, path and filter calls, and the errors that point
at a line."""

from __future__ import annotations

import json
import re

from core.templates.bounds import MAX_PLACEHOLDERS, MAX_TEMPLATE_DEPTH
from core.templates.context import ROOTS
from core.templates.errors import TemplateError
from core.templates.filters import check_filter
from core.templates.formats import BodyFormat
from core.templates.tree import Expr, Filter

# A JSON string (escapes included) or a bracket. Outside strings valid JSON has no quote, so in
# order these are exactly its strings and brackets, with their offsets for line numbers. Only run
# over valid JSON (or the valid start of it): an unclosed string would cost quadratic time.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_KEY_COLON = re.compile(r"\s*:")
_EXPR_TOKEN = re.compile(r"\s*(?:(?P<name>[^\W\d]\w*)|(?P<int>-?\d+)|(?P<str>'[^']*')|(?P<punct>[.\[\]|:,]))")


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def check_depth(text: str) -> None:
    depth = 0
    for token in _TOKEN.finditer(text):
        if token.group() in ("[", "{"):
            depth += 1
            if depth > MAX_TEMPLATE_DEPTH:
                reason = f"objects and lists are nested more than {MAX_TEMPLATE_DEPTH} levels deep"
                raise TemplateError(reason, _line(text, token.start()))
        elif token.group() in ("]", "}"):
            depth -= 1


def scan(text: str, fmt: BodyFormat) -> tuple[dict[str, tuple[str | Expr, ...]], int]:
    """Parse the placeholders of every string in the (valid) JSON text, where their lines are
    known; and, for a form, refuse objects and lists of lists. Gives each string with placeholders,
    by its value, and how many placeholders the text holds."""
    strings: dict[str, tuple[str | Expr, ...]] = {}
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
        count += sum(isinstance(part, Expr) for part in parts)
        if count > MAX_PLACEHOLDERS:
            raise TemplateError(f"more than {MAX_PLACEHOLDERS} placeholders", line)
        strings[value] = parts
    return strings, count


def _parse_string(value: str, line: int) -> tuple[str | Expr, ...]:
    # str.find rather than a regular expression: linear even for "{{{{{{..." with no "}}".
    parts: list[str | Expr] = []
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


def _parse_expr(body: str, line: int) -> Expr:
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
    filters: list[Filter] = []
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
        filters.append(check_filter(filter_name, tuple(args), line))
    if tokens[position][0] != "end":
        raise TemplateError(f"unexpected {tokens[position][1]!r} in {_show(body)}; filters follow a '|'", line)
    return Expr(root, tuple(path), tuple(filters))
