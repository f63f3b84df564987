"""Fields of the HTTP layer: instants as ISO-8601 text, durations computed at dump time."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

import marshmallow as ma
from flask import current_app, has_app_context

from tasky.api.context import EXTENSION


def app_timezone() -> tzinfo:
    """The zone a naive input time is read in (``TASKY_TIMEZONE``); UTC outside an app."""
    if has_app_context():
        service = current_app.extensions.get(EXTENSION)
        if service is not None:
            return service.settings.tz
    return UTC


def app_now() -> float:
    """The service's clock, so a dump agrees with the instants the service computed."""
    return current_app.extensions[EXTENSION].clock()


FIRST_INSTANT = datetime.min.replace(tzinfo=UTC).timestamp()
END_INSTANT = datetime.max.replace(tzinfo=UTC).timestamp()
"""Instants ``format_instant`` can write: FIRST_INSTANT <= instant < END_INSTANT (years 1 to
9999; END_INSTANT is datetime.max rounded up to a float, so it is not one)."""


def format_instant(value: float) -> str:
    """Epoch seconds as ``2026-11-23T17:08:32.123456Z``."""
    return datetime.fromtimestamp(value, UTC).isoformat(timespec="microseconds")[:-6] + "Z"


class Timestamp(ma.fields.Field):
    """An instant: float epoch seconds inside, ISO-8601 outside.

    Dumps as UTC with ``Z``; loads any ISO-8601 time, reading one without an offset in
    ``TASKY_TIMEZONE``. Documented in OpenAPI as ``string``/``date-time``.
    """

    default_error_messages = {
        "invalid": "Not a valid ISO-8601 time.",
        "range": "Time out of range.",
    }

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs) -> str | None:
        if value is None:
            return None
        return format_instant(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs) -> float:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise self.make_error("invalid") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=app_timezone())
        try:
            instant = moment.timestamp()
        except (OverflowError, ValueError, OSError):
            raise self.make_error("range") from None
        if not FIRST_INSTANT <= instant < END_INSTANT:  # must be dumped back as it was given
            raise self.make_error("range")
        return instant


class Duration(ma.fields.Float):
    """A task's seconds of run time: ``task.duration(now)``, null before it started."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_none", True)
        kwargs.setdefault("dump_only", True)
        kwargs.setdefault(
            "metadata",
            {
                "description": "Seconds run so far (running) or in total (finished); "
                "null before the first start."
            },
        )
        super().__init__(**kwargs)

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return obj.duration(app_now())
