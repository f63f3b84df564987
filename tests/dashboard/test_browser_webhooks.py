"""The dashboard's webhooks page in a real browser: endpoints, an endpoint's deliveries as
they go, a retry from its row, and no serious accessibility violation (axe)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.webhooks.receivers import receiver

LIVE = 20_000


def test_an_endpoints_deliveries_show_and_retry(server_factory, tab_factory):
    server = server_factory(env={"TASKY_WEBHOOK_ALLOW_PRIVATE": "1"})
    with receiver() as rx:
        rx.answers["/in"] = (500, {}, b"try later")
        made = server.post("/tasky/v1/webhooks", {"url": rx.url + "/in", "description": "ci"})
        webhook_id = made.json()["webhook_id"]
        server.post(f"/tasky/v1/webhooks/{webhook_id}/test")
        tab = tab_factory(server)
        page = tab.goto("/webhooks")
        link = page.get_by_role("link", name="ci")
        expect(link).to_be_visible()
        link.click()
        row = page.locator("#deliveries tbody tr").first
        expect(row).to_contain_text("ping", timeout=LIVE)
        expect(row).to_contain_text("try later", timeout=LIVE)
        expect(row.locator(".status")).to_have_text("pending")
        page.add_script_tag(url="/static/vendor/axe.min.js")
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        serious = [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert serious == []
        rx.answers["/in"] = (204, {}, b"")
        row.locator("[data-action=retry]").click()
        expect(row.locator(".status")).to_have_text("delivered", timeout=LIVE)
        tab.shot("webhooks")
    assert tab.errors == []
