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

The package: `syntax` parses the placeholders of the JSON text with their lines into the `tree`,
checking each filter call against `filters`; `compiler` builds and caches the tree, and `renderer`
writes one body from it, as JSON or as a form, within the `bounds`; `context` holds the names a
placeholder starts with; `formats` and `errors` what the rest of the service sees.
"""

from core.templates.bounds import (
    MAX_BODY_BYTES,
    MAX_OUTPUT_DEPTH,
    MAX_PLACEHOLDERS,
    MAX_TEMPLATE_BYTES,
    MAX_TEMPLATE_DEPTH,
    MAX_TRUNCATE,
    MAX_WORK_CHARS,
)
from core.templates.compiler import CompiledTemplate, check_template, compile_template, render
from core.templates.context import ROOTS, template_context
from core.templates.errors import TemplateError
from core.templates.formats import FORM_CONTENT_TYPE, JSON_CONTENT_TYPE, BodyFormat, RenderedBody
from core.templates.tree import Json

__all__ = [
    "FORM_CONTENT_TYPE",
    "JSON_CONTENT_TYPE",
    "MAX_BODY_BYTES",
    "MAX_OUTPUT_DEPTH",
    "MAX_PLACEHOLDERS",
    "MAX_TEMPLATE_BYTES",
    "MAX_TEMPLATE_DEPTH",
    "MAX_TRUNCATE",
    "MAX_WORK_CHARS",
    "ROOTS",
    "BodyFormat",
    "CompiledTemplate",
    "Json",
    "RenderedBody",
    "TemplateError",
    "check_template",
    "compile_template",
    "render",
    "template_context",
]
