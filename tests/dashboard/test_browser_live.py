"""The dashboard's live side in a real browser: bulk actions on a filter, the overview's
charts, the live indicator, and what idle or hidden tabs cost the server."""

from __future__ import annotations

import re

from playwright.sync_api import expect

LIVE = 20_000  # ms
QUERIES = "Tasky-Dashboard-Queries"
IDLE = 12  # s: ten tabs polling every 2 s for this long, a store query per second at most


SET_VISIBILITY = """state => {
  Object.defineProperty(document, "visibilityState", {value: state, configurable: true});
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def set_visibility(page, state: str) -> None:
    """What the browser does when the tab is hidden or shown again."""
    page.evaluate(SET_VISIBILITY, state)


def dashboard_queries(server) -> int:
    """Store queries made so far by the dashboard's routes in the server's process."""
    return int(server.get("/tasky/v1/live").headers[QUERIES])


def test_a_bulk_cancel_of_a_filter_leaves_a_later_task_alone(server, tab):
    ids = [server.submit("sleeper", {"delay": 3600}) for _ in range(3)]
    other = server.submit("echo", {"delay": 3600, "config": {"message": "not a sleeper"}})
    page = tab.goto("/tasks?worker=sleeper&status=scheduled")
    expect(page.locator("#tasks tbody tr")).to_have_count(3)
    page.get_by_label("Action").select_option("cancel")
    page.get_by_role("button", name="Count matching tasks").click()
    status = page.locator("#bulk-status")
    expect(status).to_contain_text("3 task(s) match")
    later = server.submit("sleeper", {"delay": 3600})
    confirm = page.get_by_role("button", name="Cancel: 3 task(s)")
    expect(confirm).to_be_focused()
    page.keyboard.press("Enter")
    expect(status).to_contain_text("Done: 3 acted on, 0 skipped")
    assert {server.status(i) for i in ids} == {"canceled"}
    assert server.status(later) == "scheduled"
    assert server.status(other) == "scheduled"
    expect(page.locator(f'#tasks tr[data-task-id="{later}"]')).to_have_count(1)
    tab.shot("tasks-bulk")


def test_the_overview_counts_and_charts_what_finished(server_factory, tab_factory):
    server = server_factory()  # counts over the whole store: an empty one
    tab = tab_factory(server)
    for message in ("a", "b", "c"):
        server.wait_finished(server.submit("echo", {"config": {"message": message}}))
    server.submit("sleeper", {"delay": 3600})
    page = tab.goto("/?range=15m")
    # counted in the background: the page asks again until the first count is done
    expect(page.locator("#state-counts .s-completed .count")).to_have_text("3", timeout=LIVE)
    expect(page.locator("#state-counts .s-scheduled .count")).to_have_text("1")
    expect(page.locator("#worker-counts tbody tr")).to_have_count(2)
    expect(page.locator("#finished-chart rect.bar.completed")).not_to_have_count(0)
    expect(page.locator("#lateness-chart path.line.p95")).to_have_count(1)
    assert page.locator("[data-range='15m']").get_attribute("aria-current") == "true"
    page.get_by_role("link", name="24 h").click()
    expect(page).to_have_url(re.compile(r"range=24h"))
    expect(page.locator("#finished-chart rect.bar.completed")).not_to_have_count(0)
    tab.shot("overview")


def test_ten_idle_tabs_cost_one_store_query_per_interval(server, tab_factory, record_property):
    server.submit("echo", {"delay": 3600})  # not a sleeper: the bulk test counts those
    tab = tab_factory(server)
    pages = []
    for i in range(10):
        page = tab.page if i == 0 else tab.page.context.new_page()
        page.goto(server.url + ("/tasks" if i % 2 else "/"))
        page.wait_for_selector("body[data-ready]")
        pages.append(page)
    requests: list[str] = []
    for page in pages:
        page.on("request", lambda r: requests.append(r.url))
    before = dashboard_queries(server)
    pages[0].wait_for_timeout(IDLE * 1000)  # idle: what it costs is the measure
    spent = dashboard_queries(server) - before - 1  # the probe itself
    polls = [u for u in requests if "/tasky/v1/" in u]
    other = [u for u in polls if not re.search(r"/tasky/v1/(live|overview)", u)]
    print(f"\n10 idle tabs, {IDLE} s: {len(polls)} polls, {spent} store queries")
    record_property("idle_store_queries", spent)
    assert other == []
    # feed: one query per second at most; counts every 10 s; the 1 h series every 10 s
    assert spent <= IDLE + 2 + 2 + 2


def test_a_hidden_tab_sends_nothing_and_the_indicator_tells(server_factory, tab_factory):
    server = server_factory()  # stopped at the end
    tab = tab_factory(server)
    page = tab.goto("/tasks")
    expect(page.locator("#live")).to_have_text("live")
    set_visibility(page, "hidden")
    expect(page.locator("#live")).to_have_text("paused")
    seen = len(tab.requests)
    page.wait_for_timeout(6000)  # three poll intervals
    assert tab.requests[seen:] == []
    with page.expect_request(re.compile(r"/tasky/v1/live")):
        set_visibility(page, "visible")
    expect(page.locator("#live")).to_have_text("live")
    server.stop()
    expect(page.locator("#live")).to_have_text("reconnecting", timeout=LIVE)
