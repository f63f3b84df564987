"""Tasky's built-in workers, one module each; the registry loads every module of this package.

They use only the plugin API in :mod:`tasky.worker` (and the server's
:class:`tasky.config.Settings`), the same face of the engine a third-party worker gets.
"""
