"""Hot backup and restore: ``GET /tasky/v1/export`` and ``POST /tasky/v1/import``.

``tasky.backup.format`` is the file format (NDJSON: a header line, then one line per schedule
and per task); the store takes the snapshot and writes the rows.
"""
