"""The filters a placeholder may apply: what each takes, checked when a template is compiled, and
what each does to a value when it renders."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from core.templates.bounds import MAX_OUTPUT_DEPTH, MAX_TRUNCATE
from core.templates.errors import TemplateError
from core.templates.tree import Filter, Json

if TYPE_CHECKING:
    from core.templates.renderer import Renderer

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
    "escape_html": ((), 0, "escape_html"),
    "escape_slack": ((), 0, "escape_slack"),
}

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def check_filter(name: str, args: tuple[str | int, ...], line: int) -> Filter:
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
    return Filter(name, args)


def apply_filter(renderer: Renderer, filter_: Filter, value: Json) -> Json:
    """The filter applied to a value, within the render's bounds (the text it makes is counted)."""
    name, args = filter_.name, filter_.args
    if name == "default":
        return args[0] if value is None or value == "" else value
    if name == "json":
        return renderer.dump(value, MAX_OUTPUT_DEPTH)
    if name == "string":
        return renderer.text(value)
    if name == "number":
        return _to_number(value)
    if name in ("first", "last"):
        if not isinstance(value, list):
            return value
        return (value[0] if name == "first" else value[-1]) if value else None
    if name == "join":
        return renderer.join(value, str(args[0]) if args else ", ") if isinstance(value, list) else value
    if value is None:  # text filters keep a missing value missing, for a `default` after them
        return None
    text = renderer.text(value)
    if name == "truncate":
        return text[: int(args[0])]
    renderer.spend(len(text))  # the other text filters read all of it
    if name == "upper":
        return text.upper()
    if name == "lower":
        return text.lower()
    if name == "trim":
        return text.strip()
    if name == "escape_html":  # a contact's name in an HTML field (Freshdesk's description)
        return html.escape(text, quote=False)
    if name == "escape_slack":
        # Slack's mrkdwn reads <!channel>, <@U123> and <url|label> as control sequences; these
        # three are all it asks to escape (api.slack.com/reference/surfaces/formatting#escaping).
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    first, last = _split_name(text)
    return first if name == "first_name" else last


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
