"""Local stand-ins for the services the receiver presets send to (models.presets): a judge per
service, written from its public API documentation, that checks a request as the real service
would (path and its ids, method, content type, authentication, required fields and their types)
and answers what the service answers, on success and on failure.

`ServiceEmulator.answer(method, path, headers, body)` takes requests to `/svc/{service}/...`
followed by the service's own path, so `http://127.0.0.1:PORT/svc/zendesk/api/v2/tickets.json`
stands in for `https://acme.zendesk.com/api/v2/tickets.json`. Put one behind the dev stack's
receiver (`Receiver(services=ServiceEmulator())`) and point a webhook made from a preset there
(`stand_in_url`). What each service accepted is kept in `created[service]`, what it refused in
`rejected`.

The credentials each stand-in expects are DEMO_CREDENTIALS (`demo_auth(service)` gives them in the
shape of a webhook's `auth`); an emulator built with `credentials={}` accepts any well-formed one.

Where the documentation leaves an answer open (the exact body of a 415, say) the judge answers in
the service's documented error shape and says so in a comment. Two services answer success for
requests they drop, as the real ones do: Salesforce Web-to-Lead (always 200) and an Apps Script
web app whose script throws (its error page comes with a 200); both note the drop in `rejected`.

Layout: `judging` holds what every judge reads and answers, `checks` the checks several services
make alike; one module a service (`google_sheets`, `zendesk`, `freshdesk`, `hubspot`, `salesforce`,
`mailchimp`, `slack`, `discord`) holds its judge, the documentation it follows and its demo
credentials; `stand_ins` lists them by name (DEMO_CREDENTIALS, DEMO_PRESET_VALUES, `demo_auth`,
`stand_in_url`); `emulator` holds `ServiceEmulator`.
"""

from devstack.services.emulator import ServiceEmulator
from devstack.services.stand_ins import DEMO_CREDENTIALS, DEMO_PRESET_VALUES, demo_auth, stand_in_url

__all__ = ["DEMO_CREDENTIALS", "DEMO_PRESET_VALUES", "ServiceEmulator", "demo_auth", "stand_in_url"]
