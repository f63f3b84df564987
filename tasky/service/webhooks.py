"""Webhooks: endpoints, their deliveries, and the callbacks of submits.

A URL is checked when it is given: http or https with a host, and when the host is an
address written out, that address as the sender would check it at connect time
(``tasky.netguard``), so an endpoint that could never receive anything is refused at once.
A name is checked after resolution, at each send.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Sequence
from typing import Any, cast

from tasky import netguard
from tasky.errors import InvalidInput, NotFound, UnknownWorker
from tasky.ids import new_id
from tasky.requests import WebhookChanges, WebhookRequest
from tasky.service.base import Part
from tasky.stores.webhooks import WebhookStatements
from tasky.webhooks.events import (
    DEFAULT_EVENTS,
    EVENTS,
    Delivery,
    DeliveryPage,
    Endpoint,
    EndpointPage,
)
from tasky.webhooks.signing import new_secret

ROTATION_OVERLAP = 24 * 3600.0
"""Seconds the secret replaced by a rotation keeps signing beside the new one."""
MAX_URL = 2000


class Webhooks(Part):
    @property
    def _hooks(self) -> WebhookStatements:
        """The store, as the home of webhooks (every store is one)."""
        return cast(WebhookStatements, self.store)

    # -- endpoints ---------------------------------------------------------------------------

    def create(self, request: WebhookRequest) -> Endpoint:
        """A new endpoint, with its secret (shown to the client only in this answer)."""
        now = self.clock()
        endpoint = Endpoint(
            id=new_id(now),
            url=valid_url(self, request.url),
            events=_valid_events(request.events),
            worker=self._worker_name(request.worker),
            chain_id=request.chain_id,
            schedule_id=request.schedule_id,
            description=request.description,
            secret=new_secret(),
            created_at=now,
        )
        return self._hooks.create_webhook(endpoint)

    def get(self, webhook_id: str) -> Endpoint:
        endpoint = self._hooks.get_webhook(webhook_id)
        if endpoint is None:
            raise NotFound(f"no webhook {webhook_id!r}")
        return endpoint

    def list(self, limit: int = 100, cursor: str | None = None) -> EndpointPage:
        return self._hooks.list_webhooks(limit, cursor)

    def update(self, webhook_id: str, changes: WebhookChanges) -> Endpoint:
        given = changes.given()
        fields: dict[str, Any] = dict(given)
        if "url" in given:
            fields["url"] = valid_url(self, given["url"])
        if "events" in given:
            fields["events"] = _valid_events(given["events"])
        if "worker" in given:
            fields["worker"] = self._worker_name(given["worker"])
        if fields.pop("enabled", False):
            fields.update(disabled_at=None, disabled_reason=None)
        elif "enabled" in given:
            fields.update(disabled_at=self.clock(), disabled_reason="disabled by a client")
        return self._hooks.update_webhook(webhook_id, fields)

    def delete(self, webhook_id: str) -> None:
        self._hooks.delete_webhook(webhook_id)

    def rotate(self, webhook_id: str) -> Endpoint:
        """A new secret; the one it replaces keeps signing for ``ROTATION_OVERLAP``."""
        old = self.get(webhook_id)
        changes = {
            "secret": new_secret(),
            "previous_secret": old.secret,
            "previous_until": self.clock() + ROTATION_OVERLAP,
        }
        return self._hooks.update_webhook(webhook_id, changes)

    def test(self, webhook_id: str) -> Delivery:
        """Send a ``ping`` event to the endpoint."""
        delivery = self._hooks.ping_webhook(webhook_id, self.clock())
        self.engine.wake()
        return delivery

    # -- deliveries --------------------------------------------------------------------------

    def deliveries(
        self, webhook_id: str, limit: int = 100, cursor: str | None = None
    ) -> DeliveryPage:
        return self._hooks.list_deliveries(webhook_id, limit, cursor)

    def retry(self, delivery_id: str) -> Delivery:
        """Send a delivery again now, under its id, with a fresh count of attempts."""
        delivery = self._hooks.retry_delivery(delivery_id, self.clock())
        self.engine.wake()
        return delivery

    def _worker_name(self, name: str | None) -> str | None:
        if name is None:
            return None
        try:
            return self.registry.get(name).name
        except UnknownWorker:
            raise InvalidInput(
                "unknown worker", errors={"filter": {"worker": [f"No worker {name!r}."]}}
            ) from None


def _valid_events(events: list[str] | None) -> list[str]:
    if events is None:
        return list(DEFAULT_EVENTS)
    unknown = [event for event in events if event not in EVENTS]
    if unknown or not events:
        message = f"Events are {', '.join(EVENTS)}."
        raise InvalidInput("unknown events", errors={"events": [message]})
    return list(dict.fromkeys(events))


def _bad_url(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"invalid {field}", errors={field: [message]})


def record_callbacks(part: Part, callbacks: Sequence[tuple[str, str | None]]) -> None:
    """Record the ``(target_id, callback_url)`` pairs that have a URL (checked, and refused
    when the server has no ``TASKY_WEBHOOK_SECRET``), before their targets are stored."""
    given = [(target, url) for target, url in callbacks if url is not None]
    if not given:
        return
    if not part.settings.webhook_secret:
        message = "this server has no TASKY_WEBHOOK_SECRET to sign callbacks with"
        raise InvalidInput(message, errors={"callback_url": [message]})
    checked = [(target, valid_url(part, url, "callback_url")) for target, url in given]
    cast(WebhookStatements, part.store).add_callbacks(checked)


def valid_url(part: Part, url: str, field: str = "url") -> str:
    """``url`` when it may receive deliveries; ``InvalidInput`` otherwise."""
    try:
        parts = urllib.parse.urlsplit(url)
        scheme, host, _ = parts.scheme, parts.hostname, parts.port  # a bad port raises
    except ValueError:
        scheme, host = "", None
    if scheme not in ("http", "https") or not host or len(url) > MAX_URL:
        raise _bad_url(field, "Give an http or https URL with a host.")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return url  # a name: checked once resolved, at each send
    try:
        netguard.check_address(str(address), part.settings.webhook_allow_private)
    except netguard.AddressRefused as exc:
        raise _bad_url(field, str(exc)) from None
    return url
