"""A Python client for the Tasky API: one method per route, typed answers, one exception per
error class.

    from tasky.client import Client
    tasky = Client()                              # TASKY_URL, TASKY_API_TOKEN
    task = tasky.submit("echo", {"message": "hi"})
    print(tasky.wait(task.task_id, timeout=30).status)

Submits are safe to repeat: a task submit carries an ``idempotency_key`` (one the client makes
up unless given one), and when the connection drops after the request went out, so that the
answer is lost, the client sends it again with the same key: the server creates the task at
most once. ``retry=False`` sends no made-up key and never repeats. Schedules take no key, so a
schedule submit is never repeated. Besides, a request whose connection could not be opened,
and a GET whose connection broke (a keep-alive connection the server had just closed), are
sent once more: neither can have changed anything.

The client speaks HTTP only (``requests``, one keep-alive session); it imports nothing of the
server.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter, Retry

from tasky.client.backup import BackupMethods
from tasky.client.chains import Chain, ChainMethods, ChainSummary, SubmittedChain
from tasky.client.errors import (
    BadRequest,
    Conflict,
    ConnectionFailed,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServerError,
    TaskyClientError,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
    WaitTimeout,
    error_for,
)
from tasky.client.records import (
    Health,
    Page,
    Record,
    Runner,
    Schedule,
    SubmittedSchedule,
    SubmittedTask,
    Task,
    TaskResult,
    TaskStatistics,
    TaskStatus,
    TaskSummary,
    Worker,
    WorkerStatistics,
)

__all__ = [
    "BadRequest",
    "Chain",
    "ChainSummary",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "Health",
    "MethodNotAllowed",
    "NotFound",
    "Page",
    "PayloadTooLarge",
    "Runner",
    "Schedule",
    "ServerError",
    "SubmittedChain",
    "SubmittedSchedule",
    "SubmittedTask",
    "Task",
    "TaskResult",
    "TaskStatistics",
    "TaskStatus",
    "TaskSummary",
    "TaskyClientError",
    "Unauthorized",
    "UnsupportedMediaType",
    "ValidationFailed",
    "WaitTimeout",
    "Worker",
    "WorkerStatistics",
]

DEFAULT_URL = "http://127.0.0.1:8888"
TERMINAL = frozenset({"completed", "failed", "canceled"})
SUBMIT_ATTEMPTS = 3  # a lost answer is asked again twice
R = TypeVar("R", bound=Record)


def _instant(value: datetime | str | None) -> str | None:
    """A time for the API: an ISO string as given, a datetime in ISO form (naive = server zone)."""
    return value.isoformat() if isinstance(value, datetime) else value


def _reason(exc: requests.RequestException) -> str:
    """The useful end of a ``requests`` failure (``[Errno 111] Connection refused``, …)."""
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] [^'\")]+", text) or re.search(
        r"Remote end closed connection without response|timed out", text
    )
    return found.group(0) if found else type(exc).__name__


def _without_none(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


class Client(ChainMethods, BackupMethods):
    """The Tasky API at ``url`` (default ``$TASKY_URL``, else http://127.0.0.1:8888), with the
    bearer ``token`` (default ``$TASKY_API_TOKEN``). ``timeout`` bounds each HTTP request."""

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 30):
        self.url = (url or os.environ.get("TASKY_URL") or DEFAULT_URL).rstrip("/")
        self.base = self.url + "/tasky/v1"
        self.timeout = timeout
        self.session = requests.Session()
        once_more = Retry(total=1, status=0, redirect=0, allowed_methods={"GET"})
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, HTTPAdapter(max_retries=once_more))
        token = token if token is not None else os.environ.get("TASKY_API_TOKEN")
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP ---------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        **options: Any,
    ) -> requests.Response:
        """One call to ``/tasky/v1<path>``: the response of a 2xx, else the matching error.
        ``options`` go to ``requests`` (``stream``, ``data``, ``headers``, ``timeout``)."""
        options.setdefault("timeout", self.timeout)
        try:
            resp = self.session.request(
                method, self.base + path, json=body, params=params, **options
            )
        except requests.RequestException as exc:
            why = _reason(exc)
            raise ConnectionFailed(f"{method} {path}: no answer from {self.url} ({why})") from exc
        if resp.status_code >= 400:
            try:
                payload = resp.json()
            except ValueError:
                payload = None
            raise error_for(resp.status_code, payload)
        return resp

    def _get(self, cls: type[R], path: str, params: dict[str, Any] | None = None) -> R:
        return cls.from_json(self.request("GET", path, params=params).json())

    def _page(self, cls: type[R], key: str, path: str, params: dict[str, Any]) -> Page[R]:
        answer = self.request("GET", path, params=params).json()
        return Page([cls.from_json(item) for item in answer[key]], answer.get("next_cursor"))

    @staticmethod
    def _iterate(fetch: Callable[[str | None], Page[R]]) -> Iterator[R]:
        cursor: str | None = None
        while True:
            page = fetch(cursor)
            yield from page.items
            cursor = page.next_cursor
            if cursor is None:
                return

    # -- workers ------------------------------------------------------------------------------

    def workers(self) -> list[Worker]:
        return [Worker.from_json(w) for w in self.request("GET", "/workers/").json()]

    def worker_info(self, name: str) -> Worker:
        return self._get(Worker, f"/workers/{name}/info")

    def worker_statistics(self, name: str) -> WorkerStatistics:
        return self._get(WorkerStatistics, f"/workers/{name}/statistics")

    def submit(
        self,
        worker: str,
        config: dict[str, Any] | None = None,
        *,
        execute_at: datetime | str | None = None,
        delay: float | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry_backoff: float | None = None,
        idempotency_key: str | None = None,
        cron: str | None = None,
        interval: float | None = None,
        timezone: str | None = None,
        start_at: datetime | str | None = None,
        end_at: datetime | str | None = None,
        overlap: str | None = None,
        misfire: str | None = None,
        retry: bool = True,
    ) -> SubmittedTask | SubmittedSchedule:
        """Create a task, or with ``cron`` or ``interval`` a schedule.

        A task submit sends ``idempotency_key``, or with ``retry`` (the default) a new random
        one, and is sent again (up to 3 times in all) when its answer is lost. ``retry=False``
        sends only the key given and sends once.
        """
        schedule = cron is not None or interval is not None
        if idempotency_key is None and retry and not schedule:
            idempotency_key = uuid.uuid4().hex
        body = _without_none(
            config=config,
            execute_at=_instant(execute_at),
            delay=delay,
            timeout=timeout,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            idempotency_key=idempotency_key,
            cron=cron,
            interval=interval,
            timezone=timezone,
            start_at=_instant(start_at),
            end_at=_instant(end_at),
            overlap=overlap,
            misfire=misfire,
        )
        path = f"/workers/{worker}"
        if retry and idempotency_key is not None:
            resp = self._post_retried(path, body)
        else:
            resp = self.request("POST", path, body)
        answer = resp.json()
        if "schedule_id" in answer:
            return SubmittedSchedule.from_json(answer)
        task = SubmittedTask.from_json(answer)
        return dataclasses.replace(task, created=resp.status_code == 201)

    def _post_retried(self, path: str, body: dict[str, Any]) -> requests.Response:
        """POST a body that carries an idempotency key, sent again (``SUBMIT_ATTEMPTS`` tries
        in all) when the connection fails before the answer arrives."""
        for attempt in range(1, SUBMIT_ATTEMPTS + 1):
            try:
                return self.request("POST", path, body)
            except ConnectionFailed:
                if attempt == SUBMIT_ATTEMPTS:
                    raise
                time.sleep(0.1 * 2**attempt)
        raise AssertionError("unreachable")

    def submit_batch(self, worker: str, tasks: list[dict[str, Any]]) -> list[str]:
        """Create many tasks at once, all or nothing; each item is a submit body."""
        return self.request("POST", f"/workers/{worker}/batch", {"tasks": tasks}).json()["task_ids"]

    # -- tasks --------------------------------------------------------------------------------

    def task(self, task_id: str) -> Task:
        return self._get(Task, f"/tasks/{task_id}")

    def status(self, task_id: str) -> TaskStatus:
        return self._get(TaskStatus, f"/tasks/{task_id}/status")

    def result(self, task_id: str) -> TaskResult:
        return self._get(TaskResult, f"/tasks/{task_id}/result")

    def task_statistics(self, task_id: str) -> TaskStatistics:
        return self._get(TaskStatistics, f"/tasks/{task_id}/statistics")

    def wait(self, task_id: str, timeout: float | None = None) -> TaskStatus:
        """Poll the task's status until it is final (completed, failed or canceled), every
        0.05 s at first, then less often, up to every 1 s; ``WaitTimeout`` after ``timeout``
        seconds (None: no limit)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = 0.05
        while True:
            status = self.status(task_id)
            if status.status in TERMINAL:
                return status
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WaitTimeout(f"task {task_id} is still {status.status} after {timeout} s")
                interval = min(interval, left)
            time.sleep(interval)
            interval = min(interval * 2, 1.0)

    def cancel(self, task_id: str) -> Task:
        """Cancel a task: ``canceled`` at once, or ``canceling`` while a running one stops."""
        return Task.from_json(self.request("POST", f"/tasks/{task_id}/cancel").json())

    def _act(self, task_id: str, action: str) -> Task:
        path = f"/tasks/{task_id}/actions"
        return Task.from_json(self.request("POST", path, {"action": action}).json())

    def pause(self, task_id: str) -> Task:
        return self._act(task_id, "pause")

    def resume(self, task_id: str) -> Task:
        return self._act(task_id, "resume")

    def run(self, task_id: str) -> Task:
        """Make a waiting task due now; for a finished task, the copy it submits (a new id)."""
        return self._act(task_id, "run")

    def update(
        self,
        task_id: str,
        *,
        config: dict[str, Any] | None = None,
        execute_at: datetime | str | None = None,
        delay: float | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> Task:
        """Change a task that has not started (only the fields given)."""
        body = _without_none(
            config=config,
            execute_at=_instant(execute_at),
            delay=delay,
            timeout=timeout,
            max_retries=max_retries,
        )
        return Task.from_json(self.request("PATCH", f"/tasks/{task_id}", body).json())

    def delete(self, task_id: str) -> None:
        self.request("DELETE", f"/tasks/{task_id}")

    def tasks(
        self,
        *,
        status: str | None = None,
        worker: str | None = None,
        schedule_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[TaskSummary]:
        """One page of tasks, newest first."""
        params = _without_none(
            status=status, worker=worker, schedule_id=schedule_id, limit=limit, cursor=cursor
        )
        return self._page(TaskSummary, "tasks", "/tasks/", params)

    def iter_tasks(
        self,
        *,
        status: str | None = None,
        worker: str | None = None,
        schedule_id: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[TaskSummary]:
        """Every matching task, newest first, fetching page after page as it goes."""
        return self._iterate(
            lambda cursor: self.tasks(
                status=status,
                worker=worker,
                schedule_id=schedule_id,
                limit=page_size,
                cursor=cursor,
            )
        )

    # -- schedules ----------------------------------------------------------------------------

    def schedules(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Schedule]:
        params = _without_none(limit=limit, cursor=cursor)
        return self._page(Schedule, "schedules", "/schedules/", params)

    def iter_schedules(self, *, page_size: int | None = None) -> Iterator[Schedule]:
        return self._iterate(lambda cursor: self.schedules(limit=page_size, cursor=cursor))

    def schedule(self, schedule_id: str) -> Schedule:
        return self._get(Schedule, f"/schedules/{schedule_id}")

    def update_schedule(self, schedule_id: str, **changes: Any) -> Schedule:
        """Change a schedule: any field of ``PATCH /schedules/<id>`` (``cron``, ``interval``,
        ``timezone``, ``config``, ``start_at``/``end_at`` (None clears), options)."""
        body = {name: _instant(value) for name, value in changes.items()}
        return Schedule.from_json(self.request("PATCH", f"/schedules/{schedule_id}", body).json())

    def _schedule_act(self, schedule_id: str, action: str) -> dict[str, Any]:
        path = f"/schedules/{schedule_id}/actions"
        return self.request("POST", path, {"action": action}).json()

    def pause_schedule(self, schedule_id: str) -> Schedule:
        return Schedule.from_json(self._schedule_act(schedule_id, "pause"))

    def resume_schedule(self, schedule_id: str) -> Schedule:
        return Schedule.from_json(self._schedule_act(schedule_id, "resume"))

    def run_schedule(self, schedule_id: str) -> Task:
        """Fire the schedule once now; the task it created."""
        return Task.from_json(self._schedule_act(schedule_id, "run"))

    def delete_schedule(self, schedule_id: str) -> None:
        self.request("DELETE", f"/schedules/{schedule_id}")

    # -- operations ---------------------------------------------------------------------------

    def health(self) -> Health:
        """The server's health; a server that is up but unwell raises ``ServerError`` (503)."""
        return self._get(Health, "/health")

    def runners(self) -> list[Runner]:
        return [Runner.from_json(r) for r in self.request("GET", "/runners").json()["runners"]]
