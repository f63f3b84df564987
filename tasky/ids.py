"""Task ids: 32 hex digits, time-ordered (48 bits of milliseconds, then 80 bits that start
at random each millisecond), so the store's primary key is also the newest-first order of
tasks.

Within a millisecond, the ids one process makes count up from the first one's random part,
so they sort in the order they were made: a bulk action's ``max_id`` (the newest task its
count saw) then leaves out a task submitted after the count, even in the same millisecond.
Ids made by different processes in the same millisecond are unique, not ordered.
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_last_ms = -1
_last = 0
"""The millisecond of the last id made here, and its 80-bit part."""


def new_id(now: float) -> str:
    return new_ids(now, 1)[0]


def new_ids(now: float, count: int) -> list[str]:
    """``count`` ids of the millisecond of ``now``, each after the one made before it in
    that millisecond (a batch's ids: one read of the OS's randomness at most)."""
    global _last_ms, _last
    ms = int(now * 1000)
    with _lock:
        # A new millisecond starts below half the range: no count could reach its end.
        first = _last + 1 if ms == _last_ms else int.from_bytes(os.urandom(10)) >> 1
        _last_ms, _last = ms, first + count - 1
    prefix = f"{ms:012x}"
    return [f"{prefix}{part:020x}" for part in range(first, first + count)]
