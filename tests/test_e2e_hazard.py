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

from tests.browser import PHONE, act, assert_no_error, browser, fill_action, login, zh  # noqa: F401
from playwright.sync_api import expect  # noqa: E402

from processes.hazard.declaration import Hazard  # noqa: E402
from processes.hazard.models import HazardCase  # noqa: E402
from tests.factories import make_unit, make_user, make_world  # noqa: E402
from tests.hazard_helpers import photo  # noqa: E402
from workflow.models import Role, UnitKind  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hazard_rules")]


def expect_status(page, name):
    badge = page.locator(".status-box .state")
    expect(badge).to_have_class(re.compile(rf"\bstate-{name}\b"))
    expect(badge).to_have_text(zh(Hazard.state(name).label))


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


def answer_item(page, position, result, note="", photo_seed=None):
    item = page.locator(f"#item-{position}")
    item.locator(f"label.inspection-choice-{result}").click()
    if note:
        item.locator("input[name^=n]").fill(note)
    if photo_seed is not None:
        item.locator("input[type=file]").set_input_files(files=[
            {"name": f"检查{photo_seed}.jpg", "mimeType": "image/jpeg", "buffer": photo(photo_seed)}])


def test_a_phone_inspection_to_both_grades_closed_and_the_major_one_de_listed(live_server, login):
    world = make_world()
    home = make_unit("甲县福寿园养老院", UnitKind.ELDERLY_CARE, parent=world.county_a)
    keeper = make_user(Role.HANDLER, home)
    inspector = login(world.inspector, PHONE)

    # An unannounced fire-safety inspection, filled in on the phone: three items fail, with photos.
    inspector.goto("/hazard/inspections/new/")
    inspector.select_option("select[name=unit]", str(home.pk))
    inspector.select_option("select[name=checklist]", "fire")
    inspector.check("input[name=kind][value=unannounced]")
    inspector.click("form button[type=submit]")
    inspector.wait_for_url(re.compile(r"/hazard/inspections/\d+/$"))
    assert_no_error(inspector)
    items = inspector.locator("article.inspection-item")
    fails = {"B3": ("后院彩钢板活动室芯材为泡沫", 11), "C1": ("二楼疏散通道堆放杂物", 12), "D1": ("灭火器压力不足", 13)}
    for index in range(items.count()):
        code = items.nth(index).locator(".inspection-code").inner_text().strip()
        position = int(items.nth(index).get_attribute("id").split("-")[1])
        if code in fails:
            note, seed = fails[code]
            answer_item(inspector, position, "fail", note, seed)
        else:
            answer_item(inspector, position, "pass")
    inspector.fill("textarea[name=summary]", "已向院长当面反馈")
    inspector.click("button[name=action][value=submit]")
    inspector.wait_for_load_state()
    assert_no_error(inspector)
    hazards = {h.answers[0].code: h for h in HazardCase.objects.filter(unit=home)}
    assert set(hazards) == set(fails)
    for hazard in hazards.values():
        expect(inspector.locator(f"a[href='{hazard.get_absolute_url()}']").first).to_be_visible()
    assert hazards["B3"].proposed_grade == "major" and hazards["B3"].criterion == "4(三)"

    # General, fixed on the spot: the checklist item's photo is the before photo; the after one is added.
    open_case(inspector, hazards["D1"])
    expect_status(inspector, "found")
    upload_photo(inspector, "after", 21)
    act(inspector, "fix_on_spot", "当场更换灭火器")
    expect_status(inspector, "closed")

    # General, by a deadline: the home rectifies, the inspector re-checks.
    open_case(inspector, hazards["C1"])
    fill_action(inspector, "set_deadline", deadline_days=3, requirement="清理疏散通道")
    act(inspector, "set_deadline")
    expect_status(inspector, "rectifying")
    home_page = login(keeper, PHONE)
    open_case(home_page, hazards["C1"])
    upload_photo(home_page, "after", 22)
    act(home_page, "report_fixed", "杂物已清理")
    expect_status(home_page, "rechecking")
    open_case(inspector, hazards["C1"])
    act(inspector, "pass_recheck", "复查合格")
    expect_status(inspector, "closed")

    # Major: proposed, listed, planned, approved; placement recorded before suspension.
    major = hazards["B3"]
    open_case(inspector, major)
    act(inspector, "propose_major", "符合判定标准第四条（三）")
    expect_status(inspector, "listing")
    leader = login(world.leader, PHONE)
    open_case(leader, major)
    fill_action(leader, "list_hazard", deadline_days=30, requirement="拆除彩钢板活动室")
    act(leader, "list_hazard")
    expect_status(leader, "planning")
    open_case(home_page, major)
    fill_action(home_page, "file_plan", plan_measures="拆除并改建为不燃结构", plan_responsible="院长 李某",
                plan_funds="86000.00", plan_deadline=HazardCase.objects.get(pk=major.pk).deadline.isoformat(),
                plan_emergency="施工期间老人不得进入该区域")
    act(home_page, "file_plan")
    expect_status(home_page, "plan_review")
    open_case(leader, major)
    act(leader, "approve_plan", "同意")
    expect_status(leader, "major_rectifying")
    expect(leader.locator("button[name=go][value=suspend]")).to_have_count(0)  # no placement recorded yet
    open_case(home_page, major)
    fill_action(home_page, "record_placement", placement="12名老人转至乙县福寿园，护理员随同")
    act(home_page, "record_placement")
    open_case(leader, major)
    act(leader, "suspend", "整改期间停业整顿")
    expect(leader.locator(".card")).to_contain_text(["停业整顿"])

    # Rectified; the first acceptance fails, the second passes with named acceptors and evidence.
    open_case(home_page, major)
    upload_photo(home_page, "after", 23)
    act(home_page, "apply_acceptance", "彩钢板已拆除")
    today = timezone.localdate().isoformat()
    open_case(inspector, major)
    fill_action(inspector, "fail_acceptance", acceptors="张督查、住建局王工", accepted_on=today)
    act(inspector, "fail_acceptance", "仍有一处彩钢板吊顶")
    expect_status(inspector, "major_rectifying")
    open_case(home_page, major)
    act(home_page, "apply_acceptance", "吊顶已更换")
    open_case(inspector, major)
    upload_photo(inspector, "other", 24)
    fill_action(inspector, "pass_acceptance", acceptors="张督查、住建局王工", accepted_on=today)
    act(inspector, "pass_acceptance", "验收合格")
    expect_status(inspector, "delisting")
    open_case(leader, major)
    act(leader, "delist", "同意摘牌")
    expect_status(leader, "delisted")
    open_case(inspector, major)
    fill_action(inspector, "publish_delisting", published_on=today, published_where="甲市民政局网站")
    act(inspector, "publish_delisting")
    expect_status(inspector, "closed")
    major.refresh_from_db()
    assert major.reworks == 1 and major.suspended is False and major.acceptors == "张督查、住建局王工"

    # The listing notice and the inspection report are real PDFs.
    for url in (f"/hazard/{major.pk}/listing-notice.pdf",
                f"/hazard/inspections/{major.answers[0].inspection_id}/report.pdf"):
        response = leader.request.get(url)
        assert response.status == 200 and response.body().startswith(b"%PDF"), url
