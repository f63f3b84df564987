"""Versioned schema migrations: numbered SQL files under ``schema/<dialect>/``."""

from __future__ import annotations

from importlib.resources import files


def migrations(dialect: str) -> list[tuple[int, str]]:
    """``(number, sql)`` of each ``NNNN_name.sql`` file of the dialect, in order."""
    folder = files("tasky.stores.schema").joinpath(dialect)
    found = [
        (int(entry.name.split("_", 1)[0]), entry.read_text())
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(found)
