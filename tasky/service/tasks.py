"""Tasks: submitting, reading, editing, and the actions on one task."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from tasky.errors import InvalidInput, StateConflict, TaskNotFound, UnknownWorker
from tasky.ids import new_id, new_ids
from tasky.models import (
    EDITABLE_STATES,
    WAITING_STATES,
    NewTask,
    RunIf,
    Task,
    TaskFilter,
    TaskPage,
    TaskState,
    TaskStatistics,
)
from tasky.requests import BatchRequest, TaskChanges, TaskRequest
from tasky.service.base import Part, config_with_references, valid_config
from tasky.service.webhooks import record_callbacks, valid_url
from tasky.worker import Worker

ConfigCheck = Callable[[dict[str, Any] | None], dict[str, Any]]


class Tasks(Part):
    # -- submitting ---------------------------------------------------------------------------

    def submit(self, worker_name: str, request: TaskRequest) -> tuple[Task, bool]:
        """The task, and False when its idempotency key matched a stored task (returned
        instead: nothing is created)."""
        worker = self.enabled_worker(worker_name)
        now = self.clock()
        new = new_task(worker, request, now, new_id(now), lambda c: valid_config(worker, c))
        record_callbacks(self, [(new.id, request.callback_url)])
        task, created = self.engine.create_tasks([new])[0]
        if new.depends_on and created:  # released or skipped at once when its parents ended
            task = self.store.get_task(task.id) or task
        return task, created

    def submit_batch(self, worker_name: str, batch: BatchRequest) -> list[Task]:
        """All or nothing: one invalid item rejects the batch, naming its index. Items with
        equal configs have it validated once."""
        worker = self.enabled_worker(worker_name)
        now = self.clock()
        check = _once_per_config(lambda c: valid_config(worker, c))
        news, errors = [], {}
        ids = new_ids(now, len(batch.tasks))
        for index, (request, task_id) in enumerate(zip(batch.tasks, ids, strict=True)):
            try:
                if request.callback_url is not None:
                    valid_url(self, request.callback_url, "callback_url")
                news.append(new_task(worker, request, now, task_id, check))
            except InvalidInput as exc:
                errors[index] = exc.errors or {"_schema": [exc.message]}
        if errors:
            raise InvalidInput("invalid tasks in batch", errors={"tasks": errors})
        callbacks = [(n.id, r.callback_url) for n, r in zip(news, batch.tasks, strict=True)]
        record_callbacks(self, callbacks)
        return [task for task, _ in self.engine.create_tasks(news)]

    # -- reading --------------------------------------------------------------------------------

    def get(self, task_id: str) -> Task:
        task = self.store.get_task(task_id)
        if task is None:
            raise TaskNotFound(f"no task {task_id!r}")
        return task

    def list(self, filters: TaskFilter, limit: int = 100, cursor: str | None = None) -> TaskPage:
        if filters.worker is not None:
            # tasks of a worker no longer installed stay listable
            with contextlib.suppress(UnknownWorker):
                filters = replace(filters, worker=self.registry.get(filters.worker).name)
        return self.store.list_tasks(filters, limit, cursor)

    def statistics(self, task_id: str) -> TaskStatistics:
        task = self.get(task_id)
        now = self.clock()
        queued_for = task.queued_for
        if task.status in WAITING_STATES and task.execute_at < now:
            queued_for += now - task.execute_at
        return TaskStatistics(
            task_id=task.id,
            attempts=task.attempts,
            queued_for=queued_for,
            ran_for=task.duration(now) or 0.0,
            lateness=task.lateness,
        )

    # -- changing -------------------------------------------------------------------------------

    def update(self, task_id: str, changes: TaskChanges) -> Task:
        """Edit a task that has not started: ``config``, ``execute_at``/``delay``, ``timeout``,
        ``max_retries``."""
        now = self.clock()
        given = changes.given()
        fields = {k: v for k, v in given.items() if k in ("timeout", "max_retries")}
        if "config" in given:
            worker = self.registry.get(self.get(task_id).worker)
            fields["config"] = valid_config(worker, given["config"])
        if "execute_at" in given or "delay" in given:
            fields["execute_at"] = _due_at(given.get("execute_at"), given.get("delay"), now)
        if not fields:
            task = self.get(task_id)
            if task.status not in EDITABLE_STATES:
                raise StateConflict(f"task is {task.status}")
            return task
        task = self.store.update_waiting(task_id, fields, now)
        self.engine.wake()
        return task

    def cancel(self, task_id: str) -> Task:
        """Not started: canceled now. Running: ``canceling`` until the worker stops."""
        task = self.store.cancel(task_id, self.clock())
        if task.status is TaskState.CANCELING:
            self.engine.abort(task.id)
        else:
            self.engine.ended([task])
            self.engine.wake()  # its children may have been released
        return task

    def pause(self, task_id: str) -> Task:
        return self.store.pause(task_id)

    def resume(self, task_id: str) -> Task:
        task = self.store.resume(task_id, self.clock())
        self.engine.wake()
        return task

    def run(self, task_id: str) -> tuple[Task, bool]:
        """A scheduled or paused task made due now: the task and False. A finished one is
        run again as a new task, due now: that task and True."""
        task = self.get(task_id)
        if task.status.is_terminal:
            return self._rerun(task), True
        task = self.store.run_now(task_id, self.clock())
        self.engine.wake()
        return task, False

    def _rerun(self, task: Task) -> Task:
        """A new task with the worker, config and options of a finished one, due now."""
        worker = self.enabled_worker(task.worker)
        now = self.clock()
        new = NewTask(
            id=new_id(now),
            worker=worker.name,
            config=task.config,
            execute_at=now,
            created_at=now,
            timeout=task.timeout,
            max_retries=task.max_retries,
            retry_backoff=task.retry_backoff,
        )
        return self.engine.create_tasks([new])[0][0]

    def delete(self, task_id: str) -> None:
        self.store.delete_task(task_id)


def new_task(
    worker: Worker, request: TaskRequest, now: float, task_id: str, check: ConfigCheck
) -> NewTask:
    parents = list(dict.fromkeys(request.depends_on)) if request.depends_on else None
    return NewTask(
        id=task_id,
        worker=worker.name,
        config=config_with_references(request.config, parents or (), check),
        execute_at=_due_at(request.execute_at, request.delay, now),
        created_at=now,
        timeout=request.timeout,
        max_retries=request.max_retries,
        retry_backoff=request.retry_backoff,
        idempotency_key=request.idempotency_key,
        depends_on=parents,
        run_if=RunIf(request.run_if) if request.run_if else None,
    )


def _due_at(execute_at: float | None, delay: float | None, now: float) -> float:
    """``delay`` seconds from now, or ``execute_at``; a time in the past means now."""
    if delay is not None:
        return now + delay
    return now if execute_at is None else max(execute_at, now)


def _once_per_config(check: ConfigCheck) -> ConfigCheck:
    """``check`` remembering its answers: a batch's tasks often share one config, and
    validating it is most of the cost of creating a task. The key is the config's ``repr``,
    exact for JSON values (equal text, equal values of equal types) and cheaper than JSON."""
    answers: dict[str, dict[str, Any]] = {}

    def valid(config: dict[str, Any] | None) -> dict[str, Any]:
        key = repr(config)
        if key not in answers:
            answers[key] = check(config)
        return answers[key]

    return valid
