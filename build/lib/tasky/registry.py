"""Finds worker plugins: the ``tasky.workers`` entry-point group (the built-ins of ``workers/``
register there too, from ``pyproject.toml``) and the modules named in ``TASKY_PLUGINS``."""

from __future__ import annotations

import importlib
import inspect
from importlib.metadata import entry_points

from tasky.config import Settings
from tasky.errors import ConfigError, UnknownWorker
from tasky.worker import Worker

ENTRY_POINT_GROUP = "tasky.workers"


class Registry:
    """One instance of each worker, by lower-case name."""

    def __init__(self, settings: Settings, worker_classes: list[type[Worker]]):
        self._workers: dict[str, Worker] = {}
        for cls in worker_classes:
            if not cls.name:
                raise ConfigError(f"worker class {cls.__module__}.{cls.__qualname__} has no name")
            key = cls.name.lower()
            if type(self._workers.get(key)) is cls:
                continue  # one class found twice (installed and named in TASKY_PLUGINS)
            if key in self._workers:
                first = type(self._workers[key])
                raise ConfigError(
                    f"two workers are named {cls.name!r}: {first.__module__}.{first.__qualname__}"
                    f" and {cls.__module__}.{cls.__qualname__}"
                )
            self._workers[key] = cls(settings)

    @classmethod
    def discover(cls, settings: Settings) -> Registry:
        classes = [ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP)]
        for spec in settings.plugins:
            classes += _classes_named(spec)
        return cls(settings, classes)

    def get(self, name: str) -> Worker:
        try:
            return self._workers[name.lower()]
        except KeyError:
            raise UnknownWorker(f"no worker named {name!r}") from None

    def all(self) -> list[Worker]:
        return sorted(self._workers.values(), key=lambda w: w.name)


def _worker_classes_in(module) -> list[type[Worker]]:
    return [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, Worker) and obj is not Worker and obj.__module__ == module.__name__
    ]


def _classes_named(spec: str) -> list[type[Worker]]:
    """``pkg.mod`` (every Worker subclass it defines) or ``pkg.mod:Class``."""
    module_name, _, class_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"TASKY_PLUGINS: cannot import {module_name!r}: {exc}") from exc
    if not class_name:
        found = _worker_classes_in(module)
        if not found:
            raise ConfigError(f"TASKY_PLUGINS: {module_name!r} defines no Worker subclass")
        return found
    cls = getattr(module, class_name, None)
    if not (inspect.isclass(cls) and issubclass(cls, Worker)):
        raise ConfigError(f"TASKY_PLUGINS: {spec!r} is not a Worker subclass")
    return [cls]
