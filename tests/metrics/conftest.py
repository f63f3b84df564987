"""The end-to-end tests here start real servers the way tests/e2e does."""

from __future__ import annotations

from tests.e2e.conftest import server_factory  # noqa: F401  (a fixture)
