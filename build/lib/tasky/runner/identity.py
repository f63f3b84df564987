"""Who a runner is: its host, its process, its name as a lease owner."""

from __future__ import annotations

import os
import socket

import psutil


def host_id() -> str:
    """This machine: its hostname and the id of the running kernel's boot, so that two
    machines that share a hostname never take each other for the same one."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()[:8]
    except OSError:
        boot = "noboot"
    return f"{socket.gethostname().replace(':', '_')}/{boot}"


def owner_id() -> str:
    """This process's name as a lease owner: ``host:pid:random``."""
    return f"{host_id()}:{os.getpid()}:{os.urandom(4).hex()}"


def process_alive(pid: int) -> bool:
    """A zombie counts as gone: it runs nothing, and an init that does not reap keeps it."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def owner_parts(owner: str) -> tuple[str, int | None]:
    """The host and pid of a lease owner's name (pid None when the name has none)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    return host, int(pid) if pid.isdigit() else None
