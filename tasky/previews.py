"""The next fire times of a trigger, computed by the code that fires schedules
(``tasky.schedules.trigger_of``), so a preview shows what will run, DST rules included."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tasky.errors import InvalidInput
from tasky.models import Schedule, ScheduleState
from tasky.requests import TRIGGER_FIELDS
from tasky.schedules import trigger_of
from tasky.service import Service

MAX_PREVIEW = 100


def preview(service: Service, query: dict[str, Any], count: int) -> dict[str, Any]:
    """The first ``count`` ticks at or after now of the trigger in ``query`` (cron or
    interval, timezone, start_at, end_at). With ``schedule_id``, of that schedule with the
    fields of ``query`` changed, as a PATCH would change it."""
    now = service.clock()
    given = {name: query[name] for name in TRIGGER_FIELDS if name in query}
    if given.get("cron") is not None:
        given.setdefault("interval", None)
    if given.get("interval") is not None:
        given.setdefault("cron", None)
    if query.get("schedule_id"):
        base = service.schedules.get(query["schedule_id"])
    else:
        base = Schedule(
            id="",
            worker="",
            config={},
            cron=None,
            interval=None,
            timezone=service.settings.timezone,
            status=ScheduleState.ACTIVE,
            next_run_at=None,
            created_at=now,
        )
    draft = replace(base, **given)
    if draft.cron is None and draft.interval is None:
        message = "Give a cron expression or an interval."
        raise InvalidInput(message, errors={"cron": [message], "interval": [message]})
    trigger = trigger_of(draft)  # a bad trigger is a TriggerError: 422, naming its field
    zone = ZoneInfo(draft.timezone)
    ticks: list[float] = []
    at = trigger.first_run(now)
    while at is not None and len(ticks) < count:
        ticks.append(at)
        at = trigger.next_after(at)
    return {
        "timezone": draft.timezone,
        "fire_times": [
            {"at": tick, "local": datetime.fromtimestamp(tick, zone).isoformat()} for tick in ticks
        ],
    }
