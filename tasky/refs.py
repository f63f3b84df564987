"""Values a task's config takes from its parents' results, by reference.

Anywhere in a config, ``{"$from": NAME, "path": POINTER, "default": VALUE}`` stands for a
value of the result ``{status, output, error}`` of the parent NAME (a step name in a chain,
else a task id): ``path`` is a JSON Pointer (RFC 6901) into it, the whole result when
omitted. The store replaces each reference when the task is released; a path with no value
and no ``default`` fails the task. Whole values only: a reference is never spliced into a
string.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

FROM = "$from"
REF_KEYS = frozenset({FROM, "path", "default"})


class MissingValue(Exception):
    """A reference whose path leads to no value, and has no default."""


def _refs(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if FROM in value:
            yield value
            return
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def has_references(config: Any) -> bool:
    return next(_refs(config), None) is not None


def reference_errors(config: Any, names: Mapping[str, str] | set[str]) -> list[str]:
    """What is wrong with the references of ``config``, given the ``names`` of its parents."""
    errors = []
    for ref in _refs(config):
        source, path = ref.get(FROM), ref.get("path", "")
        if set(ref) - REF_KEYS:
            errors.append(f"A reference takes only {sorted(REF_KEYS)}, not {sorted(set(ref))}.")
        elif not isinstance(source, str) or source not in names:
            errors.append(f"$from {source!r} is none of the tasks this one depends on.")
        elif not isinstance(path, str) or (path and not path.startswith("/")):
            errors.append(f"path {path!r} is not a JSON Pointer (such as /output/rows/0).")
    return errors


def resolve(config: Any, results: Mapping[str, Mapping[str, Any]]) -> Any:
    """``config`` with each reference replaced by its value in ``results`` (by parent name).
    Raises :class:`MissingValue` naming the first path that leads nowhere."""
    if isinstance(config, dict):
        if FROM in config:
            return _value(config, results)
        return {key: resolve(item, results) for key, item in config.items()}
    if isinstance(config, list):
        return [resolve(item, results) for item in config]
    return config


def _value(ref: Mapping[str, Any], results: Mapping[str, Mapping[str, Any]]) -> Any:
    source, path = ref[FROM], ref.get("path", "")
    value: Any = results.get(source)
    tokens = path.split("/")[1:] if path else []
    for token in (t.replace("~1", "/").replace("~0", "~") for t in tokens):
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            if "default" in ref:
                return ref["default"]
            raise MissingValue(f"$from {source!r}: no value at {path or '/'}")
    return value
