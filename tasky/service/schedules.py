"""Schedules: creating, reading, editing, pausing, firing once and deleting them."""

from __future__ import annotations

from dataclasses import replace

from tasky.errors import InvalidInput, ScheduleNotFound
from tasky.ids import new_id
from tasky.models import Schedule, SchedulePage, ScheduleState, Task
from tasky.requests import TRIGGER_FIELDS, ChainScheduleRequest, ScheduleChanges, ScheduleRequest
from tasky.schedules import run_of, trigger_of
from tasky.service.base import Part, valid_config
from tasky.service.chains import chain_template
from tasky.service.webhooks import record_callbacks


class Schedules(Part):
    def create(self, worker_name: str, request: ScheduleRequest) -> Schedule:
        worker = self.enabled_worker(worker_name)
        return self._create(worker.name, valid_config(worker, request.config), request)

    def create_chain(self, request: ChainScheduleRequest) -> Schedule:
        """A schedule whose every tick stores one run of the chain (checked as a submit)."""
        template = chain_template(self, request.chain, self.clock())
        schedule = replace(request.schedule, callback_url=request.chain.callback_url)
        return self._create("", {}, schedule, template)

    def _create(
        self,
        worker: str,
        config: dict,
        request: ScheduleRequest,
        chain: dict | None = None,
    ) -> Schedule:
        now = self.clock()
        draft = Schedule(
            id=new_id(now),
            worker=worker,
            config=config,
            cron=request.cron,
            interval=request.interval,
            timezone=request.timezone or self.settings.timezone,
            status=ScheduleState.ACTIVE,
            next_run_at=None,
            created_at=now,
            overlap=request.overlap,
            misfire=request.misfire,
            start_at=request.start_at,
            end_at=request.end_at,
            timeout=request.timeout,
            max_retries=request.max_retries,
            retry_backoff=request.retry_backoff,
            chain=chain,
        )
        first_run = self._first_run(draft, now, new_interval=True)
        if first_run is None:
            raise InvalidInput(
                "the schedule would never fire",
                errors={"end_at": ["No tick falls between start_at and end_at."]},
            )
        record_callbacks(self, [(draft.id, request.callback_url)])
        schedule = self.store.create_schedule(replace(draft, next_run_at=first_run))
        self.engine.wake()
        return schedule

    def get(self, schedule_id: str) -> Schedule:
        schedule = self.store.get_schedule(schedule_id)
        if schedule is None:
            raise ScheduleNotFound(f"no schedule {schedule_id!r}")
        return schedule

    def list(self, limit: int = 100, cursor: str | None = None) -> SchedulePage:
        return self.store.list_schedules(limit, cursor)

    def update(self, schedule_id: str, changes: ScheduleChanges) -> Schedule:
        """Change the trigger, config or options. A new trigger recomputes ``next_run_at``
        from now; other changes leave the coming tick as it is."""
        current = self.get(schedule_id)
        fields = changes.given()
        if "config" in fields and current.chain is not None:
            message = "A chain schedule has no config of its own: its steps have."
            raise InvalidInput(message, errors={"config": [message]})
        if "config" in fields:
            worker = self.registry.get(current.worker)
            fields["config"] = valid_config(worker, fields["config"])
        if fields.get("cron") is not None:
            fields.setdefault("interval", None)
        if fields.get("interval") is not None:
            fields.setdefault("cron", None)
        if any(name in fields for name in TRIGGER_FIELDS):
            draft = replace(current, **fields)
            next_run_at = self._first_run(draft, self.clock(), "interval" in fields)
            if draft.status is ScheduleState.ACTIVE:
                fields["next_run_at"] = next_run_at
        schedule = self.store.update_schedule(schedule_id, fields)
        self.engine.wake()
        return schedule

    def pause(self, schedule_id: str) -> Schedule:
        schedule = self.store.update_schedule(
            schedule_id, {"status": ScheduleState.PAUSED}, expect_status=ScheduleState.ACTIVE
        )
        self.engine.wake()
        return schedule

    def resume(self, schedule_id: str) -> Schedule:
        """Active again from now on: ticks missed while paused are not made up."""
        current = self.get(schedule_id)
        schedule = self.store.update_schedule(
            schedule_id,
            {"status": ScheduleState.ACTIVE, "next_run_at": self._first_run(current, self.clock())},
            expect_status=ScheduleState.PAUSED,
        )
        self.engine.wake()
        return schedule

    def run(self, schedule_id: str) -> Task:
        """One run now, outside the trigger: the new task (a chain's first step)."""
        schedule = self.get(schedule_id)
        if schedule.chain is None:
            self.enabled_worker(schedule.worker)
        now = self.clock()
        task = self.store.run_schedule_now(schedule_id, run_of(schedule, now, now), now)
        self.engine.wake()
        return task

    def delete(self, schedule_id: str) -> None:
        """Remove it; its runs that have not started are canceled, the others kept."""
        self.engine.ended(self.store.delete_schedule(schedule_id, self.clock()))

    def _first_run(
        self, schedule: Schedule, now: float, new_interval: bool = False
    ) -> float | None:
        """The first tick at or after now (and ``start_at``); a ``TriggerError`` (422) for a
        bad trigger. A ``new_interval`` (not a stored one) must not be below
        ``TASKY_MIN_INTERVAL``: a tiny one would flood the store with tasks."""
        trigger = trigger_of(schedule)
        floor = self.settings.min_interval
        if new_interval and schedule.interval is not None and schedule.interval < floor:
            message = f"interval must be at least {floor:g} s (TASKY_MIN_INTERVAL)"
            raise InvalidInput(message, errors={"interval": [message]})
        return trigger.first_run(now)
