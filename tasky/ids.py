"""Task ids: 32 hex digits, time-ordered (48 bits of milliseconds, then 80 random bits), so
the store's primary key is also the newest-first order of tasks."""

from __future__ import annotations

import os


def new_id(now: float) -> str:
    return f"{int(now * 1000):012x}{os.urandom(10).hex()}"
