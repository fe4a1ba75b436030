"""End to end in a real browser: one rectification case from opening to sign-off.

Every step goes through the web pages as the person who would do it, each in their own
browser context (own cookies, own session). Needs Debian's Chromium at /usr/bin/chromium.
"""
import re

import pytest

from tests.browser import act, assert_no_error, browser, expect_state, login, zh  # noqa: F401
from playwright.sync_api import expect  # noqa: E402

from processes.rectification.declaration import Rectification  # noqa: E402
from processes.rectification.models import RectificationCase, State  # noqa: E402
from tests.factories import PNG_BYTES, make_world  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOT = "/tmp/e2e-closed.png"
SCREENSHOT_404 = "/tmp/e2e-404.png"


def test_case_from_opening_to_sign_off_in_the_browser(live_server, login):
    world = make_world()

    # 1. The inspector opens a case for county A and issues it at once.
    page = login(world.inspector)
    page.click("header nav a[href='/rectification/new/']")
    page.wait_for_url(re.compile(r"/rectification/new/$"))
    page.check(f"input[name=units][value='{world.county_a.pk}']")
    page.fill("input[name=title]", "敬老院消防通道堵塞")
    page.fill("textarea[name=description]", "二楼东侧消防通道堆放床垫和纸箱，影响疏散。")
    page.fill("textarea[name=requirement]", "立即清理，建立每日巡查台账。")
    expect(page.locator("input[name=issue_now]")).to_be_checked()
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r"/rectification/\d+/$"))
    assert_no_error(page)
    expect_state(page, State.ISSUED)
    case_url = page.url
    pk = int(re.search(r"/rectification/(\d+)/$", case_url).group(1))
    case = RectificationCase.objects.get(pk=pk)
    assert case.unit_id == world.county_a.pk and case.title == "敬老院消防通道堵塞"
    case_link = f"a[href='/rectification/{pk}/']"

    # 2. County A's handler finds it in the inbox, signs, uploads a photo, submits.
    handler = login(world.handler_a)
    handler.goto("/inbox/?tab=todo")
    expect(handler.locator(".tabs a.active")).to_have_attribute("href", "?tab=todo")
    expect(handler.locator(f"table.list {case_link}").first).to_be_visible()
    handler.locator(f"table.list {case_link}").first.click()
    handler.wait_for_url(case_url)
    act(handler, "sign")
    expect_state(handler, State.SIGNED)
    handler.set_input_files("form.upload input[type=file]", files=[
        {"name": "现场照片.png", "mimeType": "image/png", "buffer": PNG_BYTES}])
    handler.fill("form.upload input[name=note]", "清理后现场")
    handler.click("form.upload button[type=submit]")
    handler.wait_for_load_state()
    assert_no_error(handler)
    image = handler.locator(".evidence figure img")
    expect(image).to_have_count(1)
    image.scroll_into_view_if_needed()
    handler.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("img => img.naturalWidth") == 8
    expect(handler.locator(".evidence figcaption")).to_contain_text("现场照片.png")
    act(handler, "submit", reason="已清理全部杂物，建立每日巡查台账。")
    expect_state(handler, State.PENDING_HEAD)
    expect(handler.locator(".reports")).to_contain_text("已清理全部杂物")

    # 3. County A's head approves and sends it up.
    head = login(world.head_a)
    head.goto(case_url)
    act(head, "head_approve", reason="情况属实，同意报送。")
    expect_state(head, State.SUBMITTED)

    # 4. The inspector reviews and accepts.
    page.goto(case_url)
    act(page, "accept", reason="整改到位。")
    expect_state(page, State.ACCEPTED)

    # 5. The leader signs off; the case is closed and the timeline shows every step.
    leader = login(world.leader)
    leader.goto(case_url)
    act(leader, "sign_off", reason="同意销号。")
    expect_state(leader, State.CLOSED)
    expect(leader.locator(".actions")).not_to_contain_text(zh(Rectification.event_label("sign_off")))
    steps = ["create", "issue", "sign", "upload_evidence", "submit", "head_approve", "accept", "sign_off"]
    timeline = leader.locator("ol.timeline > li")
    expect(timeline).to_have_count(len(steps))
    labels = [text.strip() for text in timeline.locator("strong").all_inner_texts()]
    assert labels == [zh(Rectification.event_label(step)) for step in steps]
    for reason in ("已清理全部杂物", "情况属实，同意报送。", "整改到位。", "同意销号。"):
        expect(leader.locator("ol.timeline")).to_contain_text(reason)
    leader.screenshot(path=SCREENSHOT, full_page=True)
    assert RectificationCase.objects.get(pk=pk).status == State.CLOSED

    # 6. The handler's "done" tab lists the case.
    handler.goto("/inbox/?tab=done")
    expect(handler.locator(".tabs a.active")).to_have_attribute("href", "?tab=done")
    expect(handler.locator(f"table.list {case_link}").first).to_be_visible()
    handler.goto("/inbox/?tab=todo")
    expect(handler.locator(f"table.list {case_link}")).to_have_count(0)


def test_head_of_another_unit_gets_404_for_the_case(live_server, login):
    world = make_world()
    page = login(world.inspector)
    page.goto("/rectification/new/")
    page.check(f"input[name=units][value='{world.county_a.pk}']")
    page.fill("input[name=title]", "灭火器过期未更换")
    page.fill("textarea[name=description]", "3 具干粉灭火器超过检验期限。")
    page.fill("textarea[name=requirement]", "更换过期灭火器。")
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r"/rectification/\d+/$"))
    case_path = re.search(r"/rectification/\d+/$", page.url).group(0)

    outsider = login(world.head_b)
    response = outsider.goto(case_path)
    assert response.status == 404
    expect(outsider.locator("body")).not_to_contain_text("灭火器过期未更换")
    expect(outsider.locator(".status-box, form.action, .timeline")).to_have_count(0)
    expect(outsider.locator("body")).to_contain_text("404")
    outsider.screenshot(path=SCREENSHOT_404, full_page=True)
