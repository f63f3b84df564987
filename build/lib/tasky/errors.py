"""The exception tree: each class carries its HTTP status; its docstring is the default message."""

from __future__ import annotations


class TaskyError(Exception):
    """Tasky could not do that."""

    status_code = 500

    def __init__(self, message: str | None = None, errors: dict | None = None):
        self.message = message or (self.__doc__ or "").strip()
        self.errors = errors
        super().__init__(self.message)


class InvalidInput(TaskyError):
    """The request does not validate."""

    status_code = 422


class NotFound(TaskyError):
    """No such resource."""

    status_code = 404


class UnknownWorker(NotFound):
    """No worker has that name."""


class TaskNotFound(NotFound):
    """No task has that id."""


class ScheduleNotFound(NotFound):
    """No schedule has that id."""


class WorkerDisabled(TaskyError):
    """This worker is disabled on this server."""

    status_code = 403


class StateConflict(TaskyError):
    """The action does not fit the current state."""

    status_code = 409


class StoreUnavailable(TaskyError):
    """The store cannot be reached."""

    status_code = 503


class RunnerUnavailable(TaskyError):
    """This server's runner is down."""

    status_code = 503


class ConfigError(TaskyError, ValueError):
    """A TASKY_* variable has a value the service cannot use."""


class TriggerError(InvalidInput, ValueError):
    """The trigger does not validate. ``field`` names the request field at fault; ``others``
    the fields that share the fault (both of ``cron`` and ``interval`` given)."""

    def __init__(self, message: str, field: str, *others: str):
        super().__init__(message, errors={name: [message] for name in (field, *others)})
        self.field = field
