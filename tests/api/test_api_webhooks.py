"""``/tasky/v1/webhooks`` and ``/tasky/v1/webhook-deliveries``: every route and its errors."""

from __future__ import annotations

import pytest

URL = "/tasky/v1/webhooks"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def app(make_app):
    return make_app(webhook_allow_private=True, webhook_secret=SECRET)


def create(client, **body):
    answer = client.post(URL, json={"url": "http://127.0.0.1:9/in", **body})
    assert answer.status_code == 201, answer.json
    return answer.json


def test_create_read_list_change_delete(client, clock):
    made = create(client, events=["task.failed"], filter={"worker": "greeter"}, description="d")
    assert made["secret"].startswith("whsec_")
    assert made["filter"] == {"worker": "Greeter", "chain_id": None, "schedule_id": None}
    one = client.get(f"{URL}/{made['webhook_id']}").json
    assert "secret" not in one and one["events"] == ["task.failed"] and one["enabled"] is True
    clock.advance(1)  # ids are time-ordered: the second one is newer
    create(client)
    page = client.get(f"{URL}?limit=1").json
    assert len(page["webhooks"]) == 1 and page["next_cursor"]
    rest = client.get(f"{URL}?limit=1&cursor={page['next_cursor']}").json
    assert rest["webhooks"][0]["webhook_id"] == made["webhook_id"]
    changed = client.patch(f"{URL}/{made['webhook_id']}", json={"enabled": False}).json
    assert changed["enabled"] is False and changed["disabled_reason"]
    assert client.post(f"{URL}/{made['webhook_id']}/test").status_code == 409
    assert client.patch(f"{URL}/{made['webhook_id']}", json={"enabled": True}).json["enabled"]
    assert client.delete(f"{URL}/{made['webhook_id']}").status_code == 204
    assert client.get(f"{URL}/{made['webhook_id']}").status_code == 404


def test_rotate_test_and_deliveries(client):
    made = create(client)
    rotated = client.post(f"{URL}/{made['webhook_id']}/rotate").json
    assert rotated["secret"] != made["secret"]
    ping = client.post(f"{URL}/{made['webhook_id']}/test")
    assert ping.status_code == 202 and ping.json["event"] == "ping"
    listed = client.get(f"{URL}/{made['webhook_id']}/deliveries").json["deliveries"]
    assert [d["delivery_id"] for d in listed] == [ping.json["delivery_id"]]
    assert listed[0]["status"] == "pending"
    retry = client.post(f"/tasky/v1/webhook-deliveries/{ping.json['delivery_id']}/retry")
    assert retry.status_code == 202 and retry.json["attempts"] == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "http:///nohost"}, "url"),
        ({"url": "http://169.254.169.254/latest"}, "url"),
        ({"url": "http://[fe80::1]/x"}, "url"),
        ({"url": "http://example.com", "events": ["task.exploded"]}, "events"),
        ({"url": "http://example.com", "events": []}, "events"),
        ({"url": "http://example.com", "filter": {"worker": "nobody"}}, "filter"),
        ({"url": "http://example.com", "filter": {"color": "red"}}, "filter"),
        ({"events": ["task.failed"]}, "url"),
        ({"url": "http://example.com", "secret": "mine"}, "secret"),
    ],
)
def test_bad_endpoints_are_422(client, body, field):
    answer = client.post(URL, json=body)
    assert answer.status_code == 422, answer.json
    assert field in answer.json["errors"]


def test_private_literal_addresses_need_the_setting(make_app):
    client = make_app().test_client()
    answer = client.post(URL, json={"url": "http://127.0.0.1:8080/in"})
    assert answer.status_code == 422 and "127.0.0.1" in answer.json["errors"]["url"][0]
    assert client.post(URL, json={"url": "http://localhost:8080/in"}).status_code == 201


def test_unknown_ids_are_404(client):
    missing = "0" * 32
    for method, path in [
        ("get", f"{URL}/{missing}"),
        ("patch", f"{URL}/{missing}"),
        ("delete", f"{URL}/{missing}"),
        ("post", f"{URL}/{missing}/rotate"),
        ("post", f"{URL}/{missing}/test"),
        ("get", f"{URL}/{missing}/deliveries"),
        ("post", f"/tasky/v1/webhook-deliveries/{missing}/retry"),
    ]:
        answer = getattr(client, method)(path)
        assert answer.status_code == 404, (method, path)
        assert answer.json["code"] == 404


def test_callback_url_on_submits(client, store):
    task = client.post("/tasky/v1/workers/echo", json={"callback_url": "http://127.0.0.1/cb"})
    assert task.status_code == 201
    batch = client.post(
        "/tasky/v1/workers/echo/batch", json={"tasks": [{"callback_url": "ftp://x"}, {}]}
    )
    assert batch.status_code == 422
    assert "callback_url" in batch.json["errors"]["tasks"]["0"]
    schedule = client.post(
        "/tasky/v1/workers/echo", json={"interval": 60, "callback_url": "http://127.0.0.1/s"}
    )
    assert schedule.status_code == 201


def test_callback_url_needs_the_server_secret(make_app):
    client = make_app().test_client()
    answer = client.post("/tasky/v1/workers/echo", json={"callback_url": "http://x.example/cb"})
    assert answer.status_code == 422
    assert "TASKY_WEBHOOK_SECRET" in answer.json["errors"]["callback_url"][0]
    assert client.get("/tasky/v1/tasks/").json["tasks"] == []


def test_webhook_routes_need_the_token(make_app):
    client = make_app(api_token="t").test_client()
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers={"Authorization": "Bearer t"}).status_code == 200
