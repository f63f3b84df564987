"""Tasky's benchmark harness: ``python -m bench.run`` (``make bench``,
``make bench-quick``) starts the real service under gunicorn on loopback, drives it over
HTTP, prints the figures beside their targets and references, and writes them as JSON to
``bench/results/latest.json``."""
