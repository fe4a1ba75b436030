"""Browser fixtures and helpers for the end-to-end tests: Debian's Chromium through Playwright,
one fresh context per logged-in user, desktop or phone sized.

Use: ``from tests.browser import browser, login  # noqa: F401`` (pytest finds fixtures by name)."""
import os
import re
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium", allow_module_level=True)

from django.utils import translation  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.factories import PASSWORD  # noqa: E402

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API runs an asyncio loop in this thread; Django's ORM refuses to run
    # while one is running unless told it is safe (here it is: no concurrent coroutines).
    # Set only while the loop exists, so other test modules keep Django's safety check.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def login(browser, live_server):
    """login(user, viewport=DESKTOP) -> a page in a fresh browser context, logged in as that user."""
    contexts = []

    def _login(user, viewport=DESKTOP):
        context = browser.new_context(base_url=live_server.url, viewport=viewport)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.goto("/accounts/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url(re.compile(r"/inbox/"))
        expect(page.locator("header .who")).to_contain_text(user.display_name)
        return page

    yield _login
    for context in contexts:
        context.close()


def zh(label) -> str:
    """The Chinese of a lazy label, or of a msgid given as a plain string."""
    with translation.override("zh-hans"):
        return translation.gettext(label) if isinstance(label, str) else str(label)


def act(page, action, reason=None):
    """Press one action's button on the case page, optionally writing its reason first. An
    action folded away (under "More actions") is unfolded first, as a person would."""
    form = page.locator(f"form.action:has(button[name=go][value={action}])")
    expect(form).to_have_count(1)
    fold = page.locator(f"details:not([open]):has(button[name=go][value={action}])")
    if fold.count():
        fold.locator("> summary").click()
        expect(form).to_be_visible()
    if reason is not None:
        form.locator("textarea[name=reason]").fill(reason)
    form.locator(f"button[name=go][value={action}]").click()
    page.wait_for_load_state()
    assert_no_error(page)


def fill_action(page, action, **fields):
    """Fill an action's own fields (beyond the reason) before pressing it with ``act``."""
    form = page.locator(f"form.action:has(button[name=go][value={action}])")
    fold = page.locator(f"details:not([open]):has(button[name=go][value={action}])")
    if fold.count():
        fold.locator("> summary").click()
    for name, value in fields.items():
        field = form.locator(f"[name={name}]")
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(str(value))


def assert_no_error(page):
    errors = page.locator(".messages .msg-error")
    assert errors.count() == 0, errors.all_inner_texts()


def expect_state(page, state):
    badge = page.locator(".status-box .state")
    expect(badge).to_have_class(re.compile(rf"\bstate-{state.value}\b"))
    expect(badge).to_have_text(zh(state.label))
