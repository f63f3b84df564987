"""Task ids: 32 hex digits, time-ordered (48 bits of milliseconds, then 80 random bits), so
the store's primary key is also the newest-first order of tasks."""

from __future__ import annotations

import os


def new_id(now: float) -> str:
    return f"{int(now * 1000):012x}{os.urandom(10).hex()}"


def new_ids(now: float, count: int) -> list[str]:
    """``count`` ids of the same millisecond, their random parts read from the OS at once
    (a batch's ids: one system call instead of one per task)."""
    prefix = f"{int(now * 1000):012x}"
    random = os.urandom(10 * count).hex()
    return [prefix + random[start : start + 20] for start in range(0, 20 * count, 20)]
