"""督办事项 end to end in a real browser, each person in their own browser context: the office
pastes a work plan, edits its tree and dispatches it; a county passes one item down to a
township (on a phone); units report; the issuer verifies; a leader's instruction is
registered with its scanned original and closed with a completion report the leader reads;
the plan's roll-up and lights show it all. Needs Debian's Chromium at /usr/bin/chromium."""
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser import PHONE, act, assert_no_error, browser, fill_action, login, zh  # noqa: F401
from playwright.sync_api import expect  # noqa: E402

from processes.deployment.models import ItemCase, MatterCase  # noqa: E402
from tests.factories import PDF_BYTES, make_unit, make_user, make_world  # noqa: E402
from workflow.models import Role  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PLAN = """甲市民政局2026年重点工作要点

一、兜牢民生底线
（一）提高城乡低保标准。年底前城乡低保标准提高5%。
（二）开展困难群众走访。每季度走访一次。
二、发展养老服务
（一）建设社区老年食堂。到2026年底建成20个。
"""
SCREENSHOT = "/tmp/e2e-deployment-rollup.png"


def expect_status(page, name):
    expect(page.locator(".status-box .state")).to_have_class(re.compile(rf"\bstate-{name}\b"))


def register(page, kind, title, text, **extra):
    page.goto("/matter/new/")
    page.select_option("select[name=kind]", kind)
    page.fill("input[name=title]", title)
    page.fill("input[name=source_date]", timezone.localdate().isoformat())
    for name, value in extra.items():
        locator = page.locator(f"[name={name}]")
        if locator.evaluate("el => el.tagName") == "SELECT":
            locator.select_option(value)
        else:
            locator.fill(value)
    page.fill("textarea[name=description]", text)
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r"/matter/\d+/$"))
    assert_no_error(page)
    return MatterCase.objects.get(pk=int(re.search(r"/matter/(\d+)/$", page.url).group(1)))


def edit_item(page, matter, item, units, days, title=None):
    page.goto(f"/matter/{matter.pk}/items/{item.pk}/edit/")
    if title:
        page.fill("input[name=title]", title)
    for unit in units:
        page.check(f"input[name=units][value='{unit.pk}']")
    page.fill("input[name=deadline]", (timezone.localdate() + timedelta(days=days)).isoformat())
    page.click("form.form button.primary[type=submit]")
    page.wait_for_url(re.compile(rf"/matter/{matter.pk}/items/"))
    assert_no_error(page)


def test_plan_from_paste_to_roll_up_and_an_instruction_to_its_reading(live_server, login):
    world = make_world()
    town = make_unit("城关镇民政办", parent=world.county_a)
    county_inspector = make_user(Role.INSPECTOR, world.county_a)
    town_clerk = make_user(Role.HANDLER, town)

    # 1. The office pastes the plan; the tree is there to edit.
    office = login(world.inspector)
    plan = register(office, "plan", "2026年重点工作要点", PLAN)
    office.goto(f"/matter/{plan.pk}/items/")
    expect(office.locator(".plan-tree .plan-item")).to_have_count(5)
    items = list(plan.plan_items.order_by("position"))
    low, visits, canteen = items[1], items[2], items[4]
    # Re-level: 走访 moves one level out and back in; retitle and choose units.
    office.locator(f"#item-{visits.pk} form:has(input[value=out]) button").click()
    assert_no_error(office)
    office.locator(f"#item-{visits.pk} form:has(input[value=in]) button").click()
    assert_no_error(office)
    edit_item(office, plan, low, [world.county_a, world.county_b], 60, title="城乡低保标准提高5%")
    edit_item(office, plan, canteen, [world.county_a], 90)
    expect(office.locator(f"#item-{low.pk} .plan-head")).to_contain_text("城乡低保标准提高5%")
    office.locator("button[name=go][value=dispatch]").click()
    office.wait_for_load_state()
    assert_no_error(office)
    plan.refresh_from_db()
    assert plan.status == "dispatched"
    assert ItemCase.objects.filter(parent=plan).count() == 3

    # 2. County A signs; its inspector passes the item down to the township, due earlier.
    county_item = ItemCase.objects.get(parent=plan, plan_item=low, unit=world.county_a)
    handler = login(world.handler_a)
    handler.goto(f"/item/{county_item.pk}/")
    act(handler, "sign")
    expect_status(handler, "working")
    county = login(county_inspector)
    county.goto(f"/item/{county_item.pk}/")
    county.locator(f"a[href='/item/new/?parent={county_item.pk}']").first.click()
    county.wait_for_url(re.compile(r"/item/new/"))
    county.check(f"input[name=units][value='{town.pk}']")
    county.fill("input[name=title]", "城关镇低保标准调整")
    county.fill("textarea[name=description]", "按全市要求完成本镇低保标准调整。")
    county.fill("input[name=deadline]", (county_item.deadline - timedelta(days=10)).isoformat())
    county.click("form.form button[type=submit]")
    county.wait_for_load_state()
    assert_no_error(county)
    town_item = ItemCase.objects.get(parent=county_item)
    assert town_item.unit_id == town.pk and town_item.plan_item_id == low.pk

    # 3. The township, on a phone, signs, reports progress and completion; the county verifies.
    clerk = login(town_clerk, viewport=PHONE)
    clerk.goto(f"/item/{town_item.pk}/")
    act(clerk, "sign")
    fill_action(clerk, "report_progress", percent=60)
    act(clerk, "report_progress", reason="已完成入户核查。")
    act(clerk, "submit", reason="本镇低保标准已调整到位。")
    expect_status(clerk, "submitted")
    county.goto(f"/item/{town_item.pk}/")
    act(county, "verify", reason="核验无误。")
    expect_status(county, "verified")

    # 4. County A reports up once; the office verifies. County B is still at it.
    handler.goto(f"/item/{county_item.pk}/")
    act(handler, "submit", reason="全县低保标准已提高5%。")
    office.goto(f"/item/{county_item.pk}/")
    act(office, "verify", reason="同意办结。")
    expect_status(office, "verified")

    # 5. The plan's roll-up shows a share done and the lights.
    office.goto(f"/matter/{plan.pk}/")
    assert_no_error(office)
    panel = office.locator("main")
    expect(panel).to_contain_text("城乡低保标准提高5%")
    expect(panel).to_contain_text("33%")  # one of the three units' shares verified done
    office.screenshot(path=SCREENSHOT, full_page=True)

    # 6. A leader's instruction, its scanned original, an item, and the completion report read.
    instruction = register(office, "instruction", "关于敬老院燃气安全的批示", "请督促甲县两周内完成燃气安全检查。",
                           origin="王局长", urgency="urgent", source_ref="批示〔2026〕3号")
    assert instruction.doc_number.endswith("号") and "批办" in instruction.doc_number
    office.set_input_files("form.upload input[type=file]", files=[
        {"name": "批示原件.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}])
    office.click("form.upload button[type=submit]")
    office.wait_for_load_state()
    assert_no_error(office)
    expect(office.locator(".evidence")).to_contain_text("批示原件.pdf")
    (only,) = instruction.plan_items.all()
    edit_item(office, instruction, only, [world.county_a], 10)
    office.locator("button[name=go][value=dispatch]").click()
    office.wait_for_load_state()
    assert_no_error(office)
    gas = ItemCase.objects.get(parent=instruction)
    handler.goto(f"/item/{gas.pk}/")
    act(handler, "sign")
    act(handler, "submit", reason="已完成全县敬老院燃气安全检查。")
    office.goto(f"/item/{gas.pk}/")
    act(office, "verify")
    office.goto(f"/matter/{instruction.pk}/")
    fill_action(office, "report", completion_report="甲县已完成燃气安全检查，发现问题已整改。建议办结。")
    act(office, "report")
    expect_status(office, "reported")
    leader = login(world.leader)
    leader.goto("/inbox/?tab=todo")
    expect(leader.locator(f"a[href='/matter/{instruction.pk}/']").first).to_be_visible()
    leader.goto(f"/matter/{instruction.pk}/")
    act(leader, "read_report", reason="阅。")
    expect_status(leader, "closed")
    expect(leader.locator("main")).to_contain_text(zh("Closed"))
