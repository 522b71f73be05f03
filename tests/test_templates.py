"""Body templates (core.templates): rendering, errors with line numbers, hostile templates and
contexts, and properties over generated templates and events. Pure Python: no Temporal."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core.templates import (
    MAX_BODY_BYTES,
    MAX_OUTPUT_DEPTH,
    MAX_PLACEHOLDERS,
    MAX_TEMPLATE_BYTES,
    MAX_TEMPLATE_DEPTH,
    BodyFormat,
    RenderedBody,
    TemplateError,
    check_template,
    compile_template,
    render,
    template_context,
)
from models.payload import delivery_body
from models.presets import PRESETS
from models.samples import sample_event

JSON = BodyFormat.JSON
FORM = BodyFormat.FORM


def context(*, data: dict[str, Any] | None = None, **contact: Any) -> dict[str, Any]:
    event = sample_event("tag.applied", data=data)
    event["contact"].update(contact)
    return template_context(event, "wh_1", "Helpdesk", "msg_1")


def rendered(template: str, ctx: dict[str, Any] | None = None) -> Any:
    body = render(template, JSON, ctx or context())
    assert body.content_type == "application/json"
    return json.loads(body.content)


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": value}
    return value


# --- Rendering -----------------------------------------------------------------------------------


def test_slack_body() -> None:
    body = render('{"text": "New lead: {{contact.name}} ({{contact.tags | join:\', \'}})"}', JSON, context())
    assert body == RenderedBody(b'{"text":"New lead: Jane Doe (VIP, Order Closed)"}', "application/json")


def test_a_contacts_name_cannot_ping_a_slack_channel_or_inject_html() -> None:
    # Contacts choose their own names: markup in them must reach the receiver as text.
    ctx = context(name="<!channel> & <https://evil.example|Pay here>")
    slack = rendered('{"text": "{{ contact.name | escape_slack }}"}', ctx)
    assert slack == {"text": "&lt;!channel&gt; &amp; &lt;https://evil.example|Pay here&gt;"}
    ctx = context(name='<img src=x onerror="alert(1)">')
    assert rendered('{"d": "{{ contact.name | escape_html }}"}', ctx) == {"d": '&lt;img src=x onerror="alert(1)"&gt;'}
    hostile = context(name="<!channel> <b>x</b>")
    slack = json.loads(render(PRESETS["slack"].body_template or "", JSON, hostile).content)
    assert "<!channel>" not in slack["text"]
    freshdesk = json.loads(render(PRESETS["freshdesk"].body_template or "", JSON, hostile).content)
    assert "<b>" not in freshdesk["description"]  # HTML there; the subject is plain text


def test_a_whole_string_placeholder_keeps_the_json_type() -> None:
    ctx = context(custom_fields={"age": 41, "vip": True, "address": {"city": "Hà Nội"}})
    template = """{
      "tags": "{{contact.tags}}",
      "spaced": "{{   contact.tags   }}",
      "age": "{{ contact.custom_fields.age }}",
      "vip": "{{ contact.custom_fields.vip }}",
      "address": "{{ contact.custom_fields.address }}",
      "missing": "{{ contact.custom_fields.nope }}",
      "test": "{{ test }}",
      "text_around": " {{contact.tags}}"
    }"""
    assert rendered(template, ctx) == {
        "tags": ["VIP", "Order Closed"],
        "spaced": ["VIP", "Order Closed"],
        "age": 41,
        "vip": True,
        "address": {"city": "Hà Nội"},
        "missing": None,
        "test": False,
        "text_around": " VIP, Order Closed",
    }


def test_the_whole_template_can_be_one_placeholder() -> None:
    assert rendered('"{{ contact.tags }}"') == ["VIP", "Order Closed"]
    assert rendered('"{{ payload }}"') == delivery_body(sample_event("tag.applied"), "wh_1", "Helpdesk")


def test_interpolation_formats_each_type() -> None:
    ctx = context(
        custom_fields={
            "n": 2.5,
            "yes": True,
            "none": None,
            "obj": {"a": [1, "b"]},
            "objs": [{"a": 1}],
            "mixed": [1, None, "x"],
        }
    )
    template = (
        '{"s": "n={{contact.custom_fields.n}} yes={{contact.custom_fields.yes}} none={{contact.custom_fields.none}}'
        " missing={{contact.custom_fields.nope}} obj={{contact.custom_fields.obj}}"
        ' objs={{contact.custom_fields.objs}} mixed={{contact.custom_fields.mixed}}"}'
    )
    assert rendered(template, ctx) == {
        "s": 'n=2.5 yes=true none= missing= obj={"a":[1,"b"]} objs=[{"a":1}] mixed=1, , x'
    }


def test_default() -> None:
    ctx = context(name=None, custom_fields={"empty": "", "zero": 0, "company": "Acme"})
    template = """{
      "name": "{{ contact.name | default:'A contact' }}",
      "empty": "{{ contact.custom_fields.empty | default:'-' }}",
      "zero": "{{ contact.custom_fields.zero | default:'-' }}",
      "missing": "Company: {{ contact.custom_fields.nope | default:'n/a' }}",
      "present": "{{ contact.custom_fields.company | default:'n/a' }}"
    }"""
    assert rendered(template, ctx) == {
        "name": "A contact",
        "empty": "-",
        "zero": 0,
        "missing": "Company: n/a",
        "present": "Acme",
    }


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("Jane Doe", "Jane", "Doe"),
        ("  Jane   van der  Berg ", "Jane", "van der Berg"),
        ("Cher", "", "Cher"),  # a CRM's required last name is never empty when there is a name
        ("", "", ""),
        (None, None, None),
    ],
)
def test_first_name_and_last_name(name: str | None, first: str | None, last: str | None) -> None:
    template = '{"first": "{{ contact.name | first_name }}", "last": "{{ contact.name | last_name }}"}'
    assert rendered(template, context(name=name)) == {"first": first, "last": last}


def test_a_missing_last_name_can_take_a_default() -> None:
    template = '{"last": "{{ contact.name | last_name | default:\'[not provided]\' }}"}'
    assert rendered(template, context(name=None)) == {"last": "[not provided]"}


def test_bracket_paths_and_list_indexes() -> None:
    ctx = context(custom_fields={"First Name": "Jane", "a.b": "dotted", "0": "zero key"})
    template = """{
      "first": "{{ contact.custom_fields['First Name'] }}",
      "dotted": "{{ contact.custom_fields['a.b'] | upper }}",
      "tag0": "{{ contact.tags.0 }}",
      "tag1": "{{ contact.tags[1] }}",
      "tag9": "{{ contact.tags.9 }}",
      "digit_key": "{{ contact.custom_fields.0 }}",
      "nested": "{{ contact['custom_fields']['First Name'] | lower }}"
    }"""
    assert rendered(template, ctx) == {
        "first": "Jane",
        "dotted": "DOTTED",
        "tag0": "VIP",
        "tag1": "Order Closed",
        "tag9": None,
        "digit_key": "zero key",
        "nested": "jane",
    }


def test_a_missing_custom_field_is_null_whole_and_empty_inside_text() -> None:
    template = '{"whole": "{{ contact.custom_fields.phone }}", "text": "Phone: {{ contact.custom_fields.phone }}"}'
    assert rendered(template) == {"whole": None, "text": "Phone: "}


def test_the_other_filters() -> None:
    ctx = context(name="  Jane Doe  ", custom_fields={"n": " 42 ", "f": "1.5e3", "bad": "12abc", "list": [3, 4]})
    template = """{
      "upper": "{{ contact.name | trim | upper }}",
      "lower": "{{ contact.name | lower | trim }}",
      "truncate": "{{ contact.name | trim | truncate:4 }}",
      "first": "{{ contact.tags | first }}",
      "last": "{{ contact.tags | last }}",
      "first_of_text": "{{ contact.channel | first }}",
      "json": "{{ contact.tags | json }}",
      "json_missing": "{{ contact.custom_fields.nope | json }}",
      "string": "{{ contact.custom_fields.list | string }}",
      "string_missing": "{{ contact.custom_fields.nope | string }}",
      "number": "{{ contact.custom_fields.n | number }}",
      "float": "{{ contact.custom_fields.f | number }}",
      "not_a_number": "{{ contact.custom_fields.bad | number }}",
      "join": "{{ contact.custom_fields.list | join:' + ' }}",
      "join_default": "{{ contact.tags | join }}",
      "upper_list": "{{ contact.tags | upper }}",
      "missing_stays_missing": "{{ contact.custom_fields.nope | upper | truncate:3 }}"
    }"""
    assert rendered(template, ctx) == {
        "upper": "JANE DOE",
        "lower": "jane doe",
        "truncate": "Jane",
        "first": "VIP",
        "last": "Order Closed",
        "first_of_text": "messenger",
        "json": '["VIP","Order Closed"]',
        "json_missing": "null",
        "string": "3, 4",
        "string_missing": "",
        "number": 42,
        "float": 1500.0,
        "not_a_number": None,
        "join": "3 + 4",
        "join_default": "VIP, Order Closed",
        "upper_list": "VIP, ORDER CLOSED",
        "missing_stays_missing": None,
    }


def test_the_context_roots() -> None:
    event = sample_event("tag.applied")
    ctx = template_context(event, "wh_1", "Helpdesk", "msg_1")
    assert set(ctx) == {
        "type",
        "event_id",
        "workspace_id",
        "occurred_at",
        "contact",
        "event",
        "webhook",
        "delivery_id",
        "test",
        "payload",
    }
    assert ctx["event"] == {"tag": "Order Closed"}
    assert ctx["webhook"] == {"id": "wh_1", "name": "Helpdesk"}
    assert ctx["test"] is False
    assert ctx["payload"] == delivery_body(event, "wh_1", "Helpdesk")
    template = (
        '{"s": "{{type}} {{event_id}} {{workspace_id}} {{occurred_at}} {{event.tag}} {{webhook.name}} {{delivery_id}}",'
        ' "p": "{{ payload.data.contact.id }}", "t": "{{ test }}"}'
    )
    test_send = template_context({**event, "test_webhook_id": "wh_1"}, "wh_1", "Helpdesk", "msg_1")
    assert rendered(template, test_send) == {
        "s": "tag.applied evt_sample ws_acme 2026-11-24T10:00:00Z Order Closed Helpdesk msg_1",
        "p": "c_42",
        "t": True,
    }


def test_literal_values_pass_through() -> None:
    template = '{"a": [1, 2.5, true, null, "x}}y", "{ {not a placeholder} }"], "b": {"c": -3}, "{% if %}": "{#"}'
    assert rendered(template) == json.loads(template)


def test_the_form_format_encodes_fields_lists_and_unicode_exactly() -> None:
    ctx = context(name="Nguyễn Văn A")
    template = """{
      "name": "{{ contact.name }}",
      "tags": "{{ contact.tags }}",
      "city": "Hà Nội",
      "vip": true,
      "score": 1.5,
      "none": null,
      "phone": "{{ contact.custom_fields.phone }}",
      "extra": ["a b", "{{ contact.custom_fields.email }}", null, false],
      "note": "id={{ contact.id }}&x",
      "more": ["{{ contact.tags }}", "x"]
    }"""
    body = render(template, FORM, ctx)
    assert body.content_type == "application/x-www-form-urlencoded"
    assert body.content == (
        b"name=Nguy%E1%BB%85n+V%C4%83n+A&tags=VIP&tags=Order+Closed&city=H%C3%A0+N%E1%BB%99i"
        b"&vip=true&score=1.5&extra=a+b&extra=jane%40example.com&extra=false&note=id%3Dc_42%26x"
        b"&more=VIP&more=Order+Closed&more=x"
    )
    assert parse_qs(body.content.decode(), strict_parsing=True)["name"] == ["Nguyễn Văn A"]


@pytest.mark.parametrize(
    "name",
    ['O\'Brien "Bob"', "line one\nline two\r\n\ttab", "Nguyễn 😀 \u2028 \x00 \\ \u00e9", '"}, "admin": true, "x": "'],
)
def test_values_are_escaped_by_construction(name: str) -> None:
    template = '{"whole": "{{ contact.name }}", "around": "<{{ contact.name }}>", "tags": "{{ contact.tags }}"}'
    ctx = context(name=name, tags=[name, "x"])
    assert rendered(template, ctx) == {"whole": name, "around": f"<{name}>", "tags": [name, "x"]}
    form = parse_qs(render(template, FORM, ctx).content.decode("ascii"), strict_parsing=True)
    assert form == {"whole": [name], "around": [f"<{name}>"], "tags": [name, "x"]}


def test_a_placeholder_in_the_context_is_not_expanded() -> None:
    assert rendered('{"a": "{{ contact.name }}"}', context(name="{{ payload }}")) == {"a": "{{ payload }}"}


def test_compiled_templates_are_cached_in_a_bounded_cache() -> None:
    text = '{"a": "{{ contact.id }}"}'
    assert compile_template(text, JSON) is compile_template(text, JSON)
    assert compile_template(text, JSON) is not compile_template(text, FORM)
    assert compile_template.cache_info().maxsize == 256


def test_the_standard_body_has_no_template() -> None:
    with pytest.raises(TemplateError, match="the standard body has no template"):
        render("{}", BodyFormat.STANDARD, context())


def test_check_template_renders_the_sample() -> None:
    check_template('{"a": "{{ contact.custom_fields.email }}"}', FORM, context())
    with pytest.raises(TemplateError, match="form field 'a' got an object"):
        check_template('{"a": "{{ contact.custom_fields }}"}', FORM, context())
    with pytest.raises(TemplateError, match="unknown filter"):
        check_template('{"a": "{{ contact | nope }}"}', JSON, context())


# --- Errors with line numbers --------------------------------------------------------------------

ERRORS: list[tuple[str, BodyFormat, int | None, str]] = [
    ('{\n  "a": 1,\n  "b": 2\n  "c": 3\n}', JSON, 4, "not valid JSON: Expecting ',' delimiter (column 3)"),
    (
        '{\n  "a": "x",\n  "b": "Hi {{ contac.name }}"\n}',
        JSON,
        3,
        "unknown name 'contac'; names start with one of contact, event, payload, webhook, type, event_id,",
    ),
    (
        '{\n  "a": "{{ contact.name | uper }}"\n}',
        JSON,
        2,
        "unknown filter 'uper'; known: default, join, upper, lower, trim, truncate, first, last, json, first_name,",
    ),
    ('{\n "a": "{{ contact.name"\n}', JSON, 2, "'{{' without a closing '}}'"),
    ('{\n "a": "{{ contact.name {{ contact.id }}"\n}', JSON, 2, "'{{' inside '{{ contact.name {{ contact.id }}'"),
    ('{\n "a": {\n  "{{ contact.id }}": 1}}', JSON, 3, "a key cannot hold a placeholder"),
    ('{\n "a": "x",\n "b": {"c": 1}\n}', FORM, 3, "a form field holds text, a number, a boolean or a list of them"),
    ('{\n "a": [\n  ["x"]]}', FORM, 3, "a form field's list holds text, numbers and booleans, not lists"),
    ('["{{ contact.name }}"]', FORM, None, "a form template is a JSON object of fields"),
    ('{"a":\n "{{   }}"}', JSON, 2, "an empty placeholder"),
    ('{"a": "{{ contact.name | truncate:\'x\' }}"}', JSON, 1, "the filter 'truncate' is written truncate:100"),
    ('{"a": "{{ contact.name | truncate:100001 }}"}', JSON, 1, "truncate takes a length from 0 to 100000"),
    ('{"a": "{{ contact.name | default }}"}', JSON, 1, "the filter 'default' is written default:'text'"),
    ('{"a": "{{ contact.name | upper:\'x\' }}"}', JSON, 1, "the filter 'upper' is written upper"),
    ("{\"a\": \"{{ contact.name | join:', ', ';' }}\"}", JSON, 1, "the filter 'join' is written"),
    ('{"a": "{{ contact.name | default:\'x }}"}', JSON, 1, "a quote (') without its closing quote"),
    ('{"a": "{{ contact.custom_fields[\'x\' }}"}', JSON, 1, "expected ']'"),
    ('{"a": "{{ contact.tags.-1 }}"}', JSON, 1, "a list index cannot be negative"),
    ('{"a": "{{ contact.name upper }}"}', JSON, 1, "unexpected 'upper'"),
    ('{"a": "{{ contact..name }}"}', JSON, 1, "expected a name or a list index after '.'"),
    ('{"a": 1, "a": 2}', JSON, None, "the key 'a' appears twice in one object"),
    ('{"a": NaN}', JSON, None, "not valid JSON: NaN"),
    ('{"a": 1e999}', JSON, None, "the number 1e999 is too large"),
    ("", JSON, 1, "not valid JSON: Expecting value"),
]


@pytest.mark.parametrize(("template", "fmt", "line", "reason"), ERRORS)
def test_errors_name_the_line(template: str, fmt: BodyFormat, line: int | None, reason: str) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template(template, fmt)
    assert caught.value.line == line
    assert caught.value.reason.startswith(reason)
    assert str(caught.value) == (f"line {line}: " if line else "") + caught.value.reason


def test_a_template_over_64_kib_is_refused() -> None:
    compile_template('{"a": "' + "x" * (MAX_TEMPLATE_BYTES - 10) + '"}', JSON)
    with pytest.raises(TemplateError, match="larger than 64 KiB") as caught:
        compile_template('{"a": "' + "é" * (MAX_TEMPLATE_BYTES // 2) + '"}', JSON)
    assert caught.value.line is None


def test_nesting_over_32_levels_is_refused_at_the_level_too_deep() -> None:
    compile_template(json.dumps(nested(MAX_TEMPLATE_DEPTH), indent=1), JSON)
    with pytest.raises(TemplateError, match="nested more than 32 levels") as caught:
        compile_template(json.dumps(nested(40), indent=1), JSON)
    assert caught.value.line == MAX_TEMPLATE_DEPTH + 1


def test_thousands_of_levels_are_refused_without_recursion_error() -> None:
    with pytest.raises(TemplateError, match="nested more than 32 levels") as caught:
        compile_template("[" * 30_000 + "]" * 30_000, JSON)
    assert caught.value.line == 1


def test_more_than_1000_placeholders_are_refused() -> None:
    with pytest.raises(TemplateError, match="more than 1000 placeholders") as caught:
        compile_template("[\n" + ",\n".join(['"{{ type }}"'] * (MAX_PLACEHOLDERS + 1)) + "]", JSON)
    assert caught.value.line == MAX_PLACEHOLDERS + 2


# --- Hostile templates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "placeholder",
    [
        "{{ contact.__class__ }}",
        "{{ __import__('os') }}",
        "{{ open('/etc/passwd') }}",
        "{{ contact.name.__len__ }}",
        "{{ contact['__class__'] }}",
        "{{ contact.name.__class__.__mro__ }}",
        "{{ contact.name.upper() }}",
        "{{ ''.__class__ }}",
        "{{ self }}",
        "{{ config.items() }}",
        "{{ lipsum.__globals__.os.popen('id').read() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ 7 * 7 }}",
        "{{ contact.name | attr:'__class__' }}",
        "{{ contact.name | format('%s') }}",
        "{{ contact.name; import os }}",
        "{{ contact.name if true else 1 }}",
        '{{ contact.custom_fields["x"] }}',
    ],
)
def test_code_and_attribute_access_are_refused_at_compile(placeholder: str) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template(json.dumps({"a": placeholder}), JSON)
    assert caught.value.line == 1


def test_names_are_dict_keys_never_attributes() -> None:
    template = """{
      "method": "{{ contact.name.upper }}",
      "list_method": "{{ contact.tags.append }}",
      "dict_method": "{{ contact.custom_fields.items }}",
      "key": "{{ contact.custom_fields.keys }}"
    }"""
    ctx = context(custom_fields={"keys": "a custom field named keys"})
    assert rendered(template, ctx) == {
        "method": None,
        "list_method": None,
        "dict_method": None,
        "key": "a custom field named keys",
    }


def test_template_syntax_of_other_engines_is_plain_text() -> None:
    template = '{"a": "{% for x in range(10**9) %}{{ contact.id }}{% endfor %} ${7*7} #{x}"}'
    assert rendered(template) == {"a": "{% for x in range(10**9) %}c_42{% endfor %} ${7*7} #{x}"}


def test_1000_placeholders_render_in_one_pass() -> None:
    # An endless loop cannot be written: the language has no loop, recursion or call, so rendering
    # is one pass over the template (at most 1000 placeholders, each a lookup and a few filters).
    template = json.dumps(
        {f"k{i}": "{{ contact.name | upper | truncate:5 }} {{ contact.tags | join:'/' }}" for i in range(500)}
    )
    assert compile_template(template, JSON).placeholders == MAX_PLACEHOLDERS
    assert rendered(template)["k499"] == "JANE  VIP/Order Closed"


def test_a_brace_bomb_fails_fast() -> None:
    # "{{{{..." with no "}}": found by str.find, not a backtracking regular expression.
    with pytest.raises(TemplateError, match="without a closing"):
        compile_template('{"a": "' + "{" * 60_000 + '"}', JSON)
    with pytest.raises(TemplateError, match="not valid JSON"):
        compile_template('["' + '\\"' * 30_000, JSON)


def big_context() -> dict[str, Any]:
    return context(custom_fields={"notes": "x" * 100_000, "more": ["y" * 1000] * 50})


@pytest.mark.parametrize(
    ("template", "fmt"),
    [
        ("[" + ",".join(['"{{ payload }}"'] * 1000) + "]", JSON),
        ('{"a": "' + "{{ payload }}" * 1000 + '"}', JSON),
        ('{"a": "' + "{{ contact.custom_fields.notes | upper }}" * 1000 + '"}', JSON),
        ("[" + ",".join(['"{{ contact.custom_fields.more | json }}"'] * 1000) + "]", JSON),
        ('{"a": ["' + '", "'.join(["{{ payload | json }}"] * 1000) + '"]}', FORM),
        ("{" + ",".join(f'"k{i}": "{{{{ contact.custom_fields.notes }}}}"' for i in range(1000)) + "}", FORM),
    ],
)
def test_megabytes_of_output_are_stopped_at_256_kib(template: str, fmt: BodyFormat) -> None:
    with pytest.raises(TemplateError, match="the rendered body is larger than 256 KiB"):
        render(template, fmt, big_context())


def test_the_body_limit_is_exact() -> None:
    template = '{"a": "{{ contact.name }}"}'  # {"a":"..."}: 8 bytes around the name
    assert len(render(template, JSON, context(name="x" * (MAX_BODY_BYTES - 8))).content) == MAX_BODY_BYTES
    with pytest.raises(TemplateError, match="larger than 256 KiB"):
        render(template, JSON, context(name="x" * (MAX_BODY_BYTES - 7)))
    with pytest.raises(TemplateError, match="larger than 256 KiB"):  # counted in bytes, not characters
        render(template, JSON, context(name="é" * (MAX_BODY_BYTES // 2)))
    # a=... : each "é" is %C3%A9 once encoded
    assert len(render(template, FORM, context(name="é" * ((MAX_BODY_BYTES - 2) // 6))).content) <= MAX_BODY_BYTES
    with pytest.raises(TemplateError, match="larger than 256 KiB"):
        render(template, FORM, context(name="é" * ((MAX_BODY_BYTES - 2) // 6 + 1)))


def test_much_work_for_little_output_is_stopped() -> None:
    template = "[" + ",".join(['"{{ contact.custom_fields.notes | upper | truncate:1 }}"'] * 1000) + "]"
    with pytest.raises(TemplateError, match="more than 4 MiB of text"):
        render(template, JSON, big_context())


def test_a_value_used_by_many_placeholders_is_serialised_once() -> None:
    template = "[" + ",".join(['"{{ payload | json | truncate:1 }}"', '"{{ contact.tags | truncate:2 }}"'] * 500) + "]"
    assert rendered(template, big_context()) == ["{", "VI"] * 500


def test_a_deep_value_inserted_whole_is_a_render_error() -> None:
    for depth in (100, 10_000):
        ctx = context(custom_fields={"deep": nested(depth)})
        for template in (
            '{"a": "{{ contact.custom_fields.deep }}"}',
            '{"a": "x {{ contact.custom_fields.deep }}"}',
            '{"a": "{{ contact.custom_fields.deep | json }}"}',
            '{"a": "{{ contact.custom_fields.deep | string }}"}',
            '{"a": "{{ payload }}"}',
        ):
            with pytest.raises(TemplateError, match="nested more than 64 levels"):
                render(template, JSON, ctx)


def test_the_output_depth_counts_the_template_and_the_value() -> None:
    template = '{"a": {"b": "{{ contact.custom_fields.deep }}"}}'  # two levels of template
    rendered(template, context(custom_fields={"deep": nested(MAX_OUTPUT_DEPTH - 2)}))
    with pytest.raises(TemplateError, match="nested more than 64 levels"):
        render(template, JSON, context(custom_fields={"deep": nested(MAX_OUTPUT_DEPTH - 1)}))


@pytest.mark.parametrize(
    ("value", "reason"),
    [(float("nan"), "cannot be written as JSON"), (float("inf"), "cannot be written as JSON"), (10**5000, "cannot")],
    ids=["nan", "infinity", "5000 digits"],
)
def test_values_that_are_not_json_are_render_errors(value: Any, reason: str) -> None:
    for template in ('{"a": "{{ contact.custom_fields.v }}"}', '{"a": "x{{ contact.custom_fields.v }}"}'):
        for fmt in (JSON, FORM):
            with pytest.raises(TemplateError, match=reason):
                render(template, fmt, context(custom_fields={"v": value}))


def test_lone_surrogates_are_replaced_not_raised() -> None:
    ctx = context(name="a\ud800b")
    assert rendered('{"a": "{{ contact.name }}"}', ctx) == {"a": "a?b"}
    assert render('{"a": "{{ contact.name }}"}', FORM, ctx).content == b"a=a%3Fb"


def test_a_form_field_that_gets_an_object_is_a_render_error() -> None:
    for template in ('{"a": "{{ contact }}"}', '{"a": "{{ event }}"}', '{"a": ["{{ payload }}"]}'):
        with pytest.raises(TemplateError, match="form field 'a' got an object") as caught:
            render(template, FORM, context())
        assert caught.value.line is None
    ctx = context(custom_fields={"grid": [[1, 2]]})
    with pytest.raises(TemplateError, match="list of lists"):
        render('{"a": "{{ contact.custom_fields.grid }}"}', FORM, ctx)
    assert render('{"a": "{{ contact | json }}"}', FORM, context()).content.startswith(b"a=%7B%22id%22")


# --- Properties ----------------------------------------------------------------------------------

PATHS = [
    "contact",
    "contact.name",
    "contact.id",
    "contact.tags",
    "contact.tags.0",
    "contact.tags[3]",
    "contact.custom_fields",
    "contact.custom_fields.email",
    "contact.custom_fields['First Name']",
    "contact.custom_fields['a.b']",
    "contact.custom_fields.deep.a.a",
    "contact.custom_fields.nope.x.y",
    "event",
    "event.tag",
    "payload",
    "payload.data.contact",
    "webhook.name",
    "type",
    "test",
    "occurred_at",
]
FILTERS = [
    "default:'-'",
    "join:', '",
    "join",
    "upper",
    "lower",
    "trim",
    "truncate:3",
    "truncate:0",
    "first",
    "last",
    "json",
    "first_name",
    "last_name",
    "string",
    "number",
]
JUNK = [
    "{{",
    "}}",
    "{{ }}",
    "{{ contact.__class__ }}",
    "{{ nope }}",
    "{{ contact.name | nope }}",
    "{{ contact.name | truncate:'x' }}",
    "{{ contact.( }}",
    "{{ contact.name | }}",
    "{{ contact.name' }}",
    "{{{ contact.name }}}",
    "{%",
    "\\",
    '"',
]

placeholders = st.builds(
    lambda path, filters: "{{ " + " | ".join([path, *filters]) + " }}",
    st.sampled_from(PATHS),
    st.lists(st.sampled_from(FILTERS), max_size=3),
)
tricky_text = st.sampled_from(['O\'Brien "Bob"', "line\nbreak", "Nguyễn Văn A", "😀", "\\", "\x00", "{ }", "&a=b"])
pieces = st.one_of(placeholders, st.text(max_size=8), tricky_text, st.sampled_from(JUNK))
template_strings = st.lists(pieces, max_size=4).map("".join)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False))
json_templates = st.recursive(
    scalars | template_strings,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=10,
)
form_templates = st.dictionaries(
    st.text(max_size=6),
    scalars | template_strings | st.lists(scalars | template_strings, max_size=3) | st.just({"nested": 1}),
    max_size=6,
)

lone_surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2)
names = st.one_of(st.none(), st.text(max_size=20), tricky_text, lone_surrogates)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), names),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8,
)
field_names = st.one_of(st.text(max_size=4), st.sampled_from(["email", "First Name", "a.b", "deep", "__class__"]))
contexts = st.builds(
    lambda name, tags, fields, data, test: template_context(
        {
            **sample_event("tag.applied", data=data),
            "contact": {"id": "c_1", "name": name, "channel": "messenger", "tags": tags, "custom_fields": fields},
            **({"test_webhook_id": "wh_1"} if test else {}),
        },
        "wh_1",
        "Hook",
        "msg_1",
    ),
    names,
    st.lists(names, max_size=4),
    st.dictionaries(field_names, json_values, max_size=4),
    st.dictionaries(st.text(max_size=4), json_values, max_size=2),
    st.booleans(),
)
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(json_templates, st.sampled_from([None, 2]), contexts)
def test_a_json_render_is_json_or_a_template_error(template: Any, indent: int | None, ctx: dict[str, Any]) -> None:
    try:
        body = render(json.dumps(template, indent=indent, ensure_ascii=False), JSON, ctx)
    except TemplateError as err:
        event("refused at render" if err.line is None else "refused at compile")
        return
    event("rendered")
    result = json.loads(body.content)
    if isinstance(template, dict):
        assert list(result) == list(template)


@PROPERTY
@given(form_templates, contexts)
def test_a_form_render_is_a_form_or_a_template_error(template: dict[str, Any], ctx: dict[str, Any]) -> None:
    try:
        body = render(json.dumps(template, indent=1), FORM, ctx)
    except TemplateError as err:
        event("refused at render" if err.line is None else "refused at compile")
        return
    event("rendered")
    assert body.content.isascii()
    assert set(parse_qs(body.content.decode(), keep_blank_values=True, strict_parsing=True)) <= set(template)


@PROPERTY
@given(st.text(), st.lists(st.text(), max_size=3))
def test_any_name_round_trips(name: str, tags: list[str]) -> None:
    template = '{"whole": "{{ contact.name }}", "around": "<{{ contact.name }}>", "tags": "{{ contact.tags }}"}'
    ctx = context(name=name, tags=tags)
    assert rendered(template, ctx) == {"whole": name, "around": f"<{name}>", "tags": tags}
    form = parse_qs(render(template, FORM, ctx).content.decode(), keep_blank_values=True)
    assert form["around"] == [f"<{name}>"]
    assert form.get("tags", []) == tags
