"""The webhook metrics in ``GET /metrics``: the outbox's deliveries by status."""

from __future__ import annotations

import pytest

from tasky import create_app
from tasky.config import Settings
from tests.metrics.helpers import families, value

pytestmark = pytest.mark.timeout(60)


def test_deliveries_by_status_are_gauges_of_the_store(tmp_path):
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/tasks.db",
        files_root=str(tmp_path / "files"),
        runner="off",
    )
    client = create_app(settings).test_client()
    made = client.post("/tasky/v1/webhooks", json={"url": "http://example.com/in"}).get_json()
    client.post(f"/tasky/v1/webhooks/{made['webhook_id']}/test")
    text = client.get("/metrics").get_data(as_text=True)
    family = families(text)["tasky_webhook_deliveries"]
    assert family.type == "gauge" and family.documentation
    assert value(text, "tasky_webhook_deliveries", status="pending") == 1
    assert value(text, "tasky_webhook_deliveries", status="failed") == 0
