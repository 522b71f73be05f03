"""A template's JSON text compiled into its tree, once (a bounded cache), and rendered per event."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from core.templates.bounds import MAX_TEMPLATE_BYTES, utf8_len
from core.templates.errors import TemplateError
from core.templates.formats import FORM_CONTENT_TYPE, JSON_CONTENT_TYPE, BodyFormat, RenderedBody
from core.templates.renderer import Renderer
from core.templates.syntax import check_depth, scan
from core.templates.tree import Array, Expr, Json, Node, Object, Text, Whole


@dataclass(frozen=True)
class CompiledTemplate:
    fmt: BodyFormat
    root: Node
    placeholders: int

    def render(self, context: dict[str, Json]) -> RenderedBody:
        renderer = Renderer(context)
        if self.fmt is BodyFormat.FORM:
            assert isinstance(self.root, Object)  # compile_template refuses anything else
            renderer.form(self.root)
            return RenderedBody(renderer.body().encode("ascii"), FORM_CONTENT_TYPE)
        renderer.json(self.root)
        # "replace": a lone surrogate (JSON text may hold "\ud800") has no UTF-8 form; it becomes "?".
        return RenderedBody(renderer.body().encode("utf-8", "replace"), JSON_CONTENT_TYPE)


@functools.lru_cache(maxsize=256)
def compile_template(text: str, fmt: BodyFormat) -> CompiledTemplate:
    """Every delivery renders one of a workspace's few templates: compiled once, kept in a bounded
    cache (a failure is not cached, and costs the same again)."""
    if fmt is BodyFormat.STANDARD:
        raise TemplateError("the standard body has no template")
    if utf8_len(text) > MAX_TEMPLATE_BYTES:
        raise TemplateError(f"the template is larger than {MAX_TEMPLATE_BYTES // 1024} KiB")
    try:
        document = json.loads(text, object_pairs_hook=_object, parse_constant=_constant, parse_float=_float)
    except RecursionError:  # hundreds of levels: the scan finds where the one too many begins
        check_depth(text)
        raise TemplateError("objects and lists are nested too deep") from None
    except json.JSONDecodeError as err:
        raise TemplateError(f"not valid JSON: {err.msg} (column {err.colno})", err.lineno) from None
    except TemplateError:
        raise
    except ValueError as err:  # an integer of more than 4300 digits
        raise TemplateError(f"not valid JSON: {err}") from None
    check_depth(text)
    if fmt is BodyFormat.FORM and not isinstance(document, dict):
        raise TemplateError('a form template is a JSON object of fields, e.g. {"name": "{{ contact.name }}"}')
    strings, count = scan(text, fmt)
    return CompiledTemplate(fmt, _compile_node(document, strings, 0), count)


def render(text: str, fmt: BodyFormat, context: dict[str, Json]) -> RenderedBody:
    """The body for one delivery. Raises TemplateError, and nothing else for a context of JSON
    values, when the template is invalid or its output breaks a bound."""
    return compile_template(text, fmt).render(context)


def check_template(text: str, fmt: BodyFormat, sample_context: dict[str, Json]) -> None:
    """For saving a webhook: the template compiles and renders the sample event of its trigger."""
    render(text, fmt, sample_context)


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


def _compile_node(value: Json, strings: dict[str, tuple[str | Expr, ...]], depth: int) -> Node:
    if isinstance(value, dict):
        return Object(tuple((key, _compile_node(item, strings, depth + 1)) for key, item in value.items()))
    if isinstance(value, list):
        return Array(tuple(_compile_node(item, strings, depth + 1) for item in value))
    if isinstance(value, str) and value in strings:
        parts = strings[value]
        if len(parts) == 1 and isinstance(parts[0], Expr):
            return Whole(parts[0], depth)
        return Text(parts)
    node: Node = value
    return node
