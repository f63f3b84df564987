"""A ``Service`` driven by request bodies as plain dicts (instants as epoch seconds), the way
the runtime tests submit and act: each call goes to the one service method it stands for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasky.models import Schedule, Task, TaskFilter, TaskPage
from tasky.requests import ScheduleRequest, submit_request
from tasky.service import Service


@dataclass(frozen=True)
class Submitted:
    task: Task | None = None
    schedule: Schedule | None = None


class ServiceDriver:
    def __init__(self, service: Service):
        self.service = service
        self.engine = service.engine
        self.store = service.store

    def submit(self, worker: str, body: dict[str, Any]) -> Submitted:
        request = submit_request(body)
        if isinstance(request, ScheduleRequest):
            return Submitted(schedule=self.service.schedules.create(worker, request))
        task, _ = self.service.tasks.submit(worker, request)
        return Submitted(task=task)

    def get_task(self, task_id: str) -> Task:
        return self.service.tasks.get(task_id)

    def cancel(self, task_id: str) -> Task:
        return self.service.tasks.cancel(task_id)

    def list_tasks(
        self, filters: TaskFilter, limit: int = 100, cursor: str | None = None
    ) -> TaskPage:
        return self.service.tasks.list(filters, limit, cursor)

    def get_schedule(self, schedule_id: str) -> Schedule:
        return self.service.schedules.get(schedule_id)

    def schedule_action(self, schedule_id: str, action: str) -> Submitted:
        """``pause`` or ``resume``: the schedule."""
        method = {"pause": self.service.schedules.pause, "resume": self.service.schedules.resume}
        return Submitted(schedule=method[action](schedule_id))
