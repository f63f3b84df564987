"""SPEC's conventions, route-independent: body parsing, the error shape, auth, health and
the OpenAPI document."""

from __future__ import annotations

import io
import re
import sqlite3

import pytest

from tests.api.api_helpers import assert_error, submit

pytestmark = pytest.mark.timeout(60)

SUBMIT = "/tasky/v1/workers/echo"


# -- body parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "application/x-www-form-urlencoded"]
)
@pytest.mark.parametrize("data", [b"", b"   \n"])
def test_empty_body_is_an_empty_object(client, content_type, data):
    resp = client.post(SUBMIT, data=data, content_type=content_type)
    assert resp.status_code == 201, resp.get_json()


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/x-www-form-urlencoded", None]
)
@pytest.mark.parametrize(
    "data",
    [b"{", b'{"delay": 1,}', b"{'delay': 1}", b"\xff\xfe{}", b'{"delay": NaN}', b"[" * 100_000],
)
def test_malformed_json_is_400(client, content_type, data):
    body = assert_error(client.post(SUBMIT, data=data, content_type=content_type), 400)
    assert "JSON" in body["message"]


@pytest.mark.parametrize("data", [b"[]", b"[{}]", b'"text"', b"42", b"null", b"true"])
def test_json_that_is_not_an_object_is_400(client, data):
    body = assert_error(client.post(SUBMIT, data=data, content_type="application/json"), 400)
    assert "object" in body["message"]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "multipart/form-data; boundary=x", "application/xml", "text/json"],
)
def test_other_content_type_is_415(client, content_type):
    resp = client.post(SUBMIT, data=b"{}", content_type=content_type)
    assert_error(resp, 415)


def test_utf8_bom_is_tolerated(client):
    resp = client.post(SUBMIT, data=b'\xef\xbb\xbf{"delay": 3}', content_type="application/json")
    assert resp.status_code == 201


def test_json_suffix_types_are_json(client):
    resp = client.post(SUBMIT, data=b'{"delay": 3}', content_type="application/merge-patch+json")
    assert resp.status_code == 201


def test_body_over_max_body_is_413(make_app):
    client = make_app(max_body=200).test_client()
    small = b'{"config": {"message": "' + b"x" * 100 + b'"}}'
    assert client.post(SUBMIT, data=small).status_code == 201
    big = b'{"config": {"message": "' + b"x" * 300 + b'"}}'
    body = assert_error(client.post(SUBMIT, data=big, content_type="application/json"), 413)
    assert "200" in body["message"]
    task_id = submit(client, "echo", delay=60)["task_id"]
    assert_error(client.patch(f"/tasky/v1/tasks/{task_id}", data=big), 413)
    assert_error(client.post(f"/tasky/v1/tasks/{task_id}/cancel", data=big), 413)


@pytest.mark.parametrize("size, status", [(199, 201), (200, 201), (201, 413), (5000, 413)])
def test_streamed_body_over_max_body_is_413(make_app, size, status):
    """A chunked body has no Content-Length: the limit holds while it is read."""
    client = make_app(max_body=200).test_client()
    prefix, suffix = b'{"config": {"message": "', b'"}}'
    data = prefix + b"x" * (size - len(prefix) - len(suffix)) + suffix
    assert len(data) == size
    resp = client.post(
        SUBMIT,
        input_stream=io.BytesIO(data),
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    if status == 413:
        assert_error(resp, 413)
    else:
        assert resp.status_code == status, resp.get_json()


def test_default_max_body_is_one_mebibyte(app, client):
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    big = b'{"config": {"message": "' + b"x" * (1024 * 1024) + b'"}}'
    assert_error(client.post(SUBMIT, data=big), 413)


# -- routing errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/nope", "/tasky/v1/nope", "/tasky/v1/workers/echo/nope", "/tasky/v1/tasks/x/y/z", "/"]
)
def test_unknown_route_is_json_404(client, path):
    resp = client.get(path)
    body = assert_error(resp, 404)
    assert "<html" not in resp.get_data(as_text=True).lower()
    assert path in body["message"]


@pytest.mark.parametrize(
    "method, path",
    [
        ("delete", "/tasky/v1/workers/"),
        ("post", "/tasky/v1/workers/echo/info"),
        ("put", "/tasky/v1/workers/echo/batch"),
        ("post", "/tasky/v1/tasks/"),
        ("post", "/tasky/v1/health"),
        ("get", "/tasky/v1/tasks/abc/actions"),
    ],
)
def test_wrong_method_is_json_405(client, method, path):
    resp = getattr(client, method)(path)
    assert_error(resp, 405)
    assert resp.headers["Allow"]


# -- auth -----------------------------------------------------------------------------------


TOKEN = "s3cret-token"


@pytest.fixture
def locked_client(make_app):
    return make_app(api_token=TOKEN).test_client()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": "Bearer "},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer \u00e9t\u00e9"},
    ],
)
def test_missing_or_wrong_token_is_401(locked_client, headers):
    for method, path in [
        ("get", "/tasky/v1/workers/"),
        ("post", SUBMIT),
        ("get", "/tasky/v1/tasks/"),
        ("get", "/tasky/v1/nope"),
    ]:
        resp = getattr(locked_client, method)(path, headers=headers)
        assert_error(resp, 401)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_right_token_passes(locked_client, scheme):
    headers = {"Authorization": f"{scheme} {TOKEN}"}
    assert locked_client.get("/tasky/v1/workers/", headers=headers).status_code == 200
    resp = locked_client.post(SUBMIT, json={}, headers=headers)
    assert resp.status_code == 201
    assert locked_client.get(resp.headers["Location"], headers=headers).status_code == 200
    assert_error(locked_client.get("/tasky/v1/nope", headers=headers), 404)


def test_open_routes_need_no_token(locked_client):
    assert locked_client.get("/tasky/v1/health").status_code == 200
    assert locked_client.get("/tasky/v1/openapi.json").status_code == 200
    assert locked_client.get("/tasky/v1/docs").status_code == 200
    # the dashboard and its static files are not there yet: 404, not 401
    assert_error(locked_client.get("/"), 404)
    assert_error(locked_client.get("/static/app.js"), 404)


def test_no_token_configured_means_no_auth(client):
    assert client.get("/tasky/v1/workers/").status_code == 200


# -- health ---------------------------------------------------------------------------------


def test_health(client):
    resp = client.get("/tasky/v1/health")
    assert resp.status_code == 200
    assert resp.get_json() == {
        "status": "ok",
        "store": "sqlite",
        "version": "0.1.0",
        "workers": ["Greeter", "broken", "echo", "locked", "sleeper"],
        "runner": "off",
    }


def test_health_is_503_when_the_store_is_unreachable(client, store, monkeypatch):
    def unreachable():
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(store, "ping", unreachable)
    body = assert_error(client.get("/tasky/v1/health"), 503)
    assert "unreachable" in body["message"]


# -- OpenAPI --------------------------------------------------------------------------------


def api_routes(app):
    """(OpenAPI path, method) of every /tasky/v1 route the app serves."""
    docs = {"/tasky/v1/openapi.json", "/tasky/v1/docs"}
    routes = set()
    for rule in app.url_map.iter_rules():
        if (
            rule.rule.startswith("/tasky/v1")
            and rule.rule not in docs
            and not rule.rule.startswith("/tasky/v1/docs/")
        ):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_openapi_lists_every_route_with_schemas(app, client):
    resp = client.get("/tasky/v1/openapi.json")
    assert resp.status_code == 200
    spec = resp.get_json()
    assert spec["openapi"] == "3.0.3"
    assert spec["info"]["title"] == "Tasky" and spec["info"]["version"] == "v1"
    routes = api_routes(app)
    # 5 worker, 11 task, 7 schedule, 7 chain, health, runners, live, overview, export, import,
    # 8 webhook, 1 webhook delivery
    assert len(routes) == 45
    assert ("/tasky/v1/runners", "get") in routes
    for path, method in routes:
        operation = spec["paths"][path][method]
        assert operation["summary"], (path, method)
        responses = {code: r for code, r in operation["responses"].items() if code != "default"}
        assert responses, (path, method)
        if method in ("post", "put", "patch") and "requestBody" in operation:
            content = operation["requestBody"]["content"]
            if "application/json" in content:  # an import's body is NDJSON
                assert "$ref" in content["application/json"]["schema"]
    documented = {(p, m) for p, ops in spec["paths"].items() for m in ops if m != "parameters"}
    assert documented == routes


def test_openapi_components(client):
    spec = client.get("/tasky/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert {
        "Submit",
        "Submitted",
        "Task",
        "TaskItem",
        "TaskPage",
        "TaskStatus",
        "TaskResult",
        "Worker",
        "WorkerStatistics",
        "Batch",
        "Health",
        "Runners",
        "Runner",
        "Error",
        "ScheduleSubmitted",
        "Schedule",
        "SchedulePage",
        "SchedulePatch",
        "ScheduleAction",
    } <= set(schemas)
    assert schemas["Task"]["properties"]["execute_at"] == {"type": "string", "format": "date-time"}
    assert schemas["Submit"]["properties"]["execute_at"]["format"] == "date-time"
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["paths"]["/tasky/v1/health"]["get"]["security"] == []
    submit_op = spec["paths"]["/tasky/v1/workers/{name}"]["post"]
    assert {"200", "201"} <= set(submit_op["responses"])
    assert "Location" in submit_op["responses"]["201"]["headers"]


def test_swagger_ui_page(client):
    resp = client.get("/tasky/v1/docs")
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    assert "swagger-ui" in page and "/tasky/v1/openapi.json" in page


def test_swagger_ui_assets_are_served_locally(locked_client):
    page = locked_client.get("/tasky/v1/docs").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page)
    assert {a.rsplit("/", 1)[1] for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for asset in assets:
        assert asset.startswith("/tasky/v1/docs/assets/"), asset
        with locked_client.get(asset) as resp:
            assert resp.status_code == 200 and len(resp.data) > 1000, asset
