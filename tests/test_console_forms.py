"""The console's forms without a browser: a refusal's messages, from the form, the models or the
services, each placed under the field it names, without the field's name in front."""

from __future__ import annotations

import pytest

from console.forms import FORM, WebhookForm, field_errors, inputs
from core.errors import Conflict, ServiceError
from models.tables import WebhookCreate
from services.webhooks import validated


def test_a_services_refusal_of_several_fields_is_split_under_each() -> None:
    # The service's own check of a whole webhook names every field at fault in one message.
    with pytest.raises(ServiceError) as refused:
        validated(WebhookCreate, {"name": " ", "event_type": "tag.applied", "url": "ftp://crm.example.com/in"})
    assert refused.value.field == "name" and "; url: " in refused.value.message
    assert refused.value.problems == [("name", "must not be empty"), ("url", "URL must start with http:// or https://")]
    form = WebhookForm()
    form.refuse(refused.value)
    assert form.errors == {"name": "must not be empty", "url": "URL must start with http:// or https://"}


def test_a_message_naming_no_field_of_the_form_goes_to_its_top_saying_which() -> None:
    form = WebhookForm()
    form.refuse(ServiceError("must be true or false", "enabled"))  # no input for it on the form
    assert form.errors == {FORM: "enabled: must be true or false"}
    form.refuse(ServiceError("the store is read-only"))
    assert form.errors == {FORM: "the store is read-only"}


def test_a_small_forms_inputs_take_their_own_messages() -> None:
    taken = Conflict("a folder named 'Sales' already exists", "name")
    assert field_errors(taken.problems, inputs("name")) == {"name": "a folder named 'Sales' already exists"}
    assert field_errors(taken.problems, inputs("key")) == {FORM: "name: a folder named 'Sales' already exists"}
