"""One headless Chromium (Debian's /usr/bin/chromium) for the whole session, driven by
Playwright. Every page records console errors and CSP violations; a test fails if any occur."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from pytest_django.live_server_helper import LiveServer

from config.api_fastpath import FastPathHandler

CHROMIUM = os.environ.get("KEYHOUSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Playwright's sync API runs an event loop in this thread; Django must still allow ORM calls
# from the tests themselves.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def live_server(django_db_blocker) -> Iterator[LiveServer]:
    """pytest-django's live server, but serving what gunicorn serves, ``config.wsgi``'s
    handler (with its fast path for hot API requests, which the nginx forward-auth tests go
    through), made when the server starts (after the session's STATIC_ROOT is set), and
    static files from WhiteNoise and the collected, hashed files (as in production) instead
    of the development finders."""
    with django_db_blocker.unblock():
        server = LiveServer("localhost", start=False)
        server.thread.static_handler = lambda _django_handler: FastPathHandler()
        server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageProblems(list):
    """Console errors and Content-Security-Policy violations seen by a page."""


@pytest.fixture
def page_problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def context_options() -> dict:
    return {}


@pytest.fixture
def page(browser: Browser, live_server, page_problems, context_options) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, **context_options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on(
        "console",
        lambda message: message.type == "error" and page_problems.append(message.text),
    )
    page.on("pageerror", lambda error: page_problems.append(str(error)))
    yield page
    context.close()
    assert list(page_problems) == [], "the browser reported errors or CSP violations"
