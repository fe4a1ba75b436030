"""Safety hazards end to end in a real browser on a phone-sized screen, each person in their own
browser context: an inspector runs an unannounced checklist inspection of an elderly-care home
and submits it with failed items; a general hazard is fixed on the spot with before and after
photos, another is rectified by a deadline and re-checked; the major hazard is listed by the
leader, planned by the home (五落实), approved, its residents' placement recorded before the
leader orders suspension, rectified, fails its first acceptance, passes the second with named
acceptors, is de-listed and its notice recorded; the indicators and the PDFs show it.
Needs Debian's Chromium at /usr/bin/chromium."""
import re

import pytest
from django.utils import timezone

from tests.browser import PHONE, act, assert_no_error, browser, login, zh  # noqa: F401
from playwright.sync_api import expect  # noqa: E402

from processes.hazard.declaration import Hazard  # noqa: E402
from processes.hazard.models import HazardCase  # noqa: E402
from tests.factories import make_unit, make_user, make_world  # noqa: E402
from tests.hazard_helpers import photo  # noqa: E402
from workflow.models import Role, UnitKind  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def expect_status(page, name):
    expect(page.locator(".status-box .state")).to_have_class(re.compile(rf"\bstate-{name}\b"))
    expect(page.locator(".status-box .state")).to_have_text(Hazard.state_label(name) and zh(Hazard.state(name).label))


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


def upload_photo(page, stage, seed):
    page.set_input_files("form.upload input[type=file]", files=[
        {"name": f"现场{seed}.jpg", "mimeType": "image/jpeg", "buffer": photo(seed)}])
    page.select_option("form.upload select[name=stage]", stage)
    page.click("form.upload button[type=submit]")
    page.wait_for_load_state()
    assert_no_error(page)


def open_case(page, case):
    page.goto(case.get_absolute_url())
    assert_no_error(page)
