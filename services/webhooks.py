"""Creating and changing webhooks: the rules that need I/O, on top of the models' shape rules.

The command line (and the API) call these, so every face applies the same rules.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from core.netguard import UnsafeAddressError, check_host
from models.tables import Webhook, WebhookCreate
from store.queries import Store


class Refused(ValueError):
    """A request that breaks a rule; the message says which, and the field."""


async def check_url_target(url: str, *, allow_private: bool) -> None:
    """Refuse a URL whose host resolves to a loopback, private, link-local or reserved address.
    Deliveries check again on the address they dial, so DNS changes later cannot get around it."""
    if allow_private:
        return
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        await check_host(parts.hostname or "", port)
    except UnsafeAddressError as err:
        raise Refused(f"url: {err}") from None


async def create_webhook(store: Store, create: WebhookCreate, *, allow_private: bool) -> Webhook:
    await check_url_target(create.url, allow_private=allow_private)
    return await store.create_webhook(create)
