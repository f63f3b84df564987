"""The backup tests run on both stores (the store suite's fixture) and, end to end, on real
servers (the end-to-end suite's)."""

from __future__ import annotations

from tests.e2e.conftest import database, server_factory  # noqa: F401  (fixtures)
from tests.store.conftest import store  # noqa: F401  (a fixture)
