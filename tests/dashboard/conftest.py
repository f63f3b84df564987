"""Browser tests of the dashboard: real headless Chromium (Debian's ``chromium``, driven by
Playwright) against a real gunicorn server (``tests/e2e``'s ``server_factory``).

Where no Chromium can start, these tests are skipped, loudly, unless ``CI`` is set: there
they fail (``make test`` installs ``chromium`` with apt-get when it can)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import module_server_factory, server_factory  # noqa: F401  (fixtures)

CHROMIUM = os.environ.get("TASKY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(os.environ.get("TASKY_TEST_SHOTS", "/tmp/tasky-dashboard-shots"))

pytestmark = pytest.mark.e2e


def _unavailable(message: str):
    message = f"dashboard browser tests NOT RUN: {message}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set: the browser tests must run)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (requirements-test.txt)")
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Error as exc:
            _unavailable(f"Chromium does not start: {exc}")
        yield browser
        browser.close()


class Tab:
    """One page of a browser context, recording every request it makes and every console
    error or CSP violation it reports."""

    def __init__(self, page, base_url: str):
        self.page = page
        self.base_url = base_url
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on(
            "console",
            lambda msg: self.errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def goto(self, path: str):
        self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("networkidle")
        return self.page

    def foreign_requests(self) -> list[str]:
        own = urlsplit(self.base_url).netloc
        return [u for u in self.requests if urlsplit(u).netloc != own and not u.startswith("data:")]

    def serious_violations(self) -> list[str]:
        """What axe-core (vendored, served by the dashboard) finds serious or critical on the
        page shown, one line per rule."""
        if not self.page.evaluate("typeof axe !== 'undefined'"):
            self.page.add_script_tag(url="/static/vendor/axe.min.js")
        result = self.page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        return [
            f"{v['id']}: {[n['target'] for n in v['nodes']]}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]

    def violations_in_each_scheme(self, name: str) -> dict[str, list[str]]:
        """``serious_violations()`` of the page shown in the light, then the dark colour
        scheme, by scheme where there are any; a screenshot of each (``name``-scheme). The
        dashboard's colours follow the scheme through CSS alone: the page needs no reload."""
        found = {}
        for scheme in ("light", "dark"):
            self.page.emulate_media(color_scheme=scheme)
            bad = self.serious_violations()
            if bad:
                found[scheme] = bad
            self.shot(f"{name}-{scheme}")
        return found

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def tab_factory(browser):
    contexts = []

    def make(server, color_scheme: str = "light", **kwargs) -> Tab:
        context = browser.new_context(
            color_scheme=color_scheme, viewport={"width": 1280, "height": 900}, **kwargs
        )
        contexts.append(context)
        return Tab(context.new_page(), server.url)

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def server(module_server_factory):  # noqa: F811
    """One server for the module's tests: each opens tabs of its own and looks at its own
    tasks, schedules and chains (a tab is cheap, a server is not)."""
    return module_server_factory()


@pytest.fixture
def tab(tab_factory, server) -> Tab:
    return tab_factory(server)
