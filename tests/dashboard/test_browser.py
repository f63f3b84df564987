"""The dashboard in a real browser against a real server: forms, live status, row actions,
schedules and their preview, the token prompt, where requests go, and accessibility."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tasky.dashboard import NAV

PAGES = ["/", "/workers", "/workers/sleeper", "/tasks", "/schedules", "/schedules/new", "/runners"]
LIVE = 20_000  # ms: status changes shown by polling, well within this


def test_pages_carry_a_strict_csp_and_need_no_token(server_factory):
    server = server_factory(env={"TASKY_API_TOKEN": "sesame"})
    for path in [*PAGES, "/static/css/dashboard.css", "/static/js/lib/api.js"]:
        resp = server.get(path)
        assert resp.status_code == 200, path
    page = server.get("/tasks")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert "Server-Timing" in page.headers
    assert server.get("/tasky/v1/tasks/").status_code == 401  # the data still needs it


def test_submit_from_the_generated_form_then_watch_and_cancel_from_the_row(server, tab):
    page = tab.goto("/workers/sleeper")
    seconds = page.locator("[name='config.seconds']")
    expect(seconds).to_have_attribute("type", "number")
    expect(seconds).to_have_attribute("max", "86400")
    seconds.fill("60")
    page.get_by_role("button", name="Submit").click()
    link = page.locator("#form-result a[data-task-id]")
    expect(link).to_be_visible()
    task_id = link.get_attribute("data-task-id")

    page = tab.goto("/tasks?worker=sleeper")
    page.evaluate("window.notReloaded = true")
    row = page.locator(f'tr[data-task-id="{task_id}"]')
    expect(row.locator(".status")).to_have_text("running", timeout=LIVE)
    cancel = row.locator("[data-action=cancel]")
    expect(row.locator("[data-action=delete]")).to_be_disabled()
    cancel.focus()  # by keyboard: focus, then Enter
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    expect(page.locator(f'tr[data-task-id="{task_id}"] .status')).to_have_text(
        "canceled", timeout=LIVE
    )
    assert page.evaluate("window.notReloaded") is True
    assert server.status(task_id) == "canceled"
    tab.shot("tasks")
    assert tab.errors == []


def test_a_422_is_shown_beside_its_field(tab):
    page = tab.goto("/workers/sleeper")
    page.locator("[name='config.seconds']").fill("100000")
    page.get_by_role("button", name="Submit").click()
    error = page.locator("#e-c-seconds")
    expect(error).to_be_visible()
    expect(error).to_contain_text("86400")
    expect(page.locator("[name='config.seconds']")).to_have_attribute("aria-invalid", "true")

    page.locator("[name='config.seconds']").fill("1")
    page.get_by_label("On a schedule").check()
    page.get_by_label("Cron expression").fill("61 * * * *")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#e-cron")).to_contain_text("minute")
    expect(page.locator("#e-c-seconds")).to_be_hidden()
    tab.shot("submit-422")


def test_cron_schedule_in_berlin_previews_across_dst_and_pauses(server, tab_factory):
    tab = tab_factory(server, timezone_id="UTC")
    page = tab.goto("/schedules/new")
    page.get_by_label("Worker").select_option("echo")
    page.locator("[name='config.message']").fill("tick")
    page.get_by_label("Cron expression").fill("30 2 * * *")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_label("Start at (your local time)").fill("2027-03-26T12:00:00")
    preview = page.locator("#preview li")
    expect(preview).to_have_count(10)
    # 02:30 does not exist in Berlin on 28 March 2027: that run fires when the gap ends
    expect(preview.nth(0)).to_contain_text("2027-03-27 02:30:00+01:00")
    expect(preview.nth(1)).to_contain_text("2027-03-28 03:00:00+02:00")
    expect(preview.nth(2)).to_contain_text("2027-03-29 02:30:00+02:00")
    tab.shot("schedule-new")
    page.get_by_role("button", name="Create schedule").click()
    page.locator("#form-result a").click()

    expect(page.locator("#s-status")).to_have_text("active")
    expect(page.locator("#preview li").nth(1)).to_contain_text("2027-03-28 03:00:00+02:00")
    page.get_by_role("button", name=re.compile("^Pause schedule")).click()
    expect(page.locator("#s-status")).to_have_text("paused")
    page.get_by_role("button", name=re.compile("^Resume schedule")).click()
    expect(page.locator("#s-status")).to_have_text("active")
    schedules = [  # the module's other tests make schedules of their own on this server
        s
        for s in server.get("/tasky/v1/schedules/").json()["schedules"]
        if s["config"] == {"message": "tick"}
    ]
    assert [s["status"] for s in schedules] == ["active"]
    assert schedules[0]["next_run_at"] == "2027-03-27T01:30:00.000000Z"
    tab.shot("schedule")


def test_the_page_asks_for_the_token_once(server_factory, tab_factory):
    server = server_factory(env={"TASKY_API_TOKEN": "sesame"})
    tab = tab_factory(server)
    page = tab.goto("/workers")
    dialog = page.locator("#token-dialog")
    expect(dialog).to_be_visible()
    page.get_by_label("Token", exact=True).fill("wrong")
    page.keyboard.press("Enter")
    expect(page.locator("#token-error")).to_be_visible()
    page.get_by_label("Token", exact=True).fill("sesame")
    page.keyboard.press("Enter")
    expect(page.locator("#workers tbody tr")).not_to_have_count(0)
    assert page.evaluate("sessionStorage.getItem('tasky.token')") == "sesame"
    page = tab.goto("/tasks")
    expect(page.locator("#q-worker option", has_text="sleeper")).to_have_count(1)
    expect(dialog).to_be_hidden()


def test_every_request_goes_to_the_servers_own_origin(server, tab):
    server.submit("echo", {"config": {"message": "hi"}})
    for path in PAGES:
        tab.goto(path)
    assert tab.requests and tab.foreign_requests() == []


def test_the_theme_toggle_persists(tab):
    page = tab.goto("/tasks")
    toggle = page.locator("#theme-toggle")
    expect(toggle).to_have_text("Theme: auto")
    toggle.click()
    toggle.click()
    expect(toggle).to_have_text("Theme: dark")
    page = tab.goto("/schedules")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(13, 17, 23)"


def test_axe_finds_no_serious_violation_in_either_scheme(server, tab):
    task_id = server.submit("echo", {"config": {"message": "hi"}})
    server.wait_finished(task_id)
    schedule = server.post("/tasky/v1/workers/echo", {"cron": "@daily"}).json()
    found = {}
    for path in [*PAGES, f"/tasks/{task_id}", f"/schedules/{schedule['schedule_id']}"]:
        tab.goto(path)
        bad = tab.violations_in_each_scheme(path.strip("/").replace("/", "_") or "overview")
        if bad:
            found[path] = bad
    assert found == {}


def test_task_detail_shows_output_and_timeline_and_clones_into_the_form(server, tab):
    task_id = server.submit("echo", {"config": {"message": "hello"}, "max_retries": 2})
    server.wait_finished(task_id)
    page = tab.goto(f"/tasks/{task_id}")
    expect(page.locator("#t-status")).to_have_text("completed")
    expect(page.locator("#t-output")).to_contain_text('"message": "hello"')
    expect(page.locator("#timeline")).to_contain_text("Lateness")
    expect(page.locator("[data-action=delete]")).to_be_enabled()
    expect(page.locator("[data-action=cancel]")).to_be_disabled()
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#output-note")).to_have_text(re.compile("Copied|Selected"))
    page.get_by_role("link", name="Clone and edit").click()
    # a new page that builds its form from two reads: past 5 s on a loaded machine
    expect(page.locator("[name='config.message']")).to_have_value("hello", timeout=LIVE)
    expect(page.locator("[name='max_retries']")).to_have_value("2")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#form-result a[data-task-id]")).to_be_visible()
    clone = page.locator("#form-result a[data-task-id]").get_attribute("data-task-id")
    assert server.wait_finished(clone)["config"] == {"message": "hello"}
    tab.shot("task")


def test_the_runners_page_lists_the_live_runner(tab):
    page = tab.goto("/runners")
    row = page.locator("#runners tbody tr").first
    expect(row).to_contain_text("live", timeout=LIVE)
    expect(row).to_contain_text("sleeper")


def test_the_keyboard_reaches_the_skip_link_the_navigation_and_the_theme(tab):
    page = tab.goto("/schedules")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    # Tab through the navigation until the theme toggle, bounded so a lost focus fails.
    focused = []
    while "Theme: auto" not in focused and len(focused) < 20:
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.textContent.trim()"))
    nav = {label for _, _, label in NAV}
    assert nav | {"Theme: auto"} <= set(focused)
    page.locator("#theme-toggle").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#theme-toggle")).to_have_text("Theme: light")
