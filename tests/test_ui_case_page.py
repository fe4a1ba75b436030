"""The case page every case type shares: the latest reasons at its top, one primary action per
step with the rest folded away, side requests with their stage, a granted extension's old and
new deadline, evidence images opened inline; in a real browser at desktop and phone widths."""
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import translation
import tinyhtml5

from processes.rectification.declaration import Rectification
from processes.rectification.services import case_add_evidence
from tests.browser import browser, login  # noqa: F401 - fixtures of the browser tests below
from tests.factories import PDF_BYTES, drive, make_case, make_world, to_submitted, upload
from workflow.models import Role


def page(user, case):
    """The case page as `user` reads it in English, parsed."""
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "en"
    response = client.get(f"/rectification/{case.pk}/")
    assert response.status_code == 200
    return tinyhtml5.parse(response.content.decode(), namespace_html_elements=False)


def q(node, tag, cls=None, **attrs) -> list:
    """Elements under `node` (itself included) of `tag` having class `cls` and the attributes."""
    return [e for e in node.iter(tag) if (cls is None or cls in (e.get("class") or "").split())
            and all(e.get(k) == v for k, v in attrs.items())]


def one(node, tag, cls=None, **attrs):
    found = q(node, tag, cls, **attrs)
    assert len(found) == 1, (tag, cls, attrs, len(found))
    return found[0]


def text(node) -> str:
    return " ".join("".join(node.itertext()).split())


def en(label) -> str:
    with translation.override("en"):
        return str(label)


def buttons(node, direct=False) -> list[str]:
    """The actions (values of go buttons) of the forms under `node`, or only of its child forms."""
    forms = node.findall("form") if direct else q(node, "form", "action")
    return [b.get("value") for form in forms for b in q(form, "button", name="go")]


def latest_notes(tree) -> list:
    return q(one(tree, "section", "latest"), "div", "latest-item")


def actions_card(tree):
    return one(tree, "section", "actions")


# The latest reasons at the top ---------------------------------------------------------------


def test_returned_case_shows_the_reason_and_the_previous_opinion_at_the_top(world):
    case = to_submitted(world, make_case(world))
    drive(world, case, ("inspector", "return_case", {"reason": "照片不清晰，请补拍消防通道全景"}))
    tree = page(world.handler_a, case)
    box = one(tree, "section", "latest")
    # it stands first, before the case's facts, the actions and the timeline
    assert q(one(tree, "main"), "section", "card")[0] is box
    notes = latest_notes(tree)
    assert len(notes) == 2
    latest, before = text(notes[0]), text(notes[1])
    assert en(Rectification.event_label("return_case")) in latest
    assert "照片不清晰，请补拍消防通道全景" in latest
    assert world.inspector.display_name in latest and "市民政局" in latest  # who, with the unit
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", latest)            # when
    assert "Reasons for returning" in latest                               # asked as what
    assert "latest-danger" in notes[0].get("class")
    # before it, someone else's word: the unit head approved without one, so the handler's report
    assert "已清理完毕" in before and world.handler_a.display_name in before


def test_the_unit_heads_opinion_is_the_one_before_a_return(world):
    case = drive(world, make_case(world), ("handler_a", "sign"))
    case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk, upload=upload())
    drive(world, case, ("handler_a", "submit", {"reason": "已清理"}),
          ("head_a", "head_approve", {"reason": "情况属实，同意报送"}), ("inspector", "return_case", {"reason": "缺少巡查台账"}))
    notes = latest_notes(page(world.handler_a, case))
    assert "缺少巡查台账" in text(notes[0]) and "情况属实，同意报送" in text(notes[1])
    assert world.head_a.display_name in text(notes[1]) and "Opinion" in text(notes[1])


def test_no_reason_yet_no_box(world):
    case = drive(world, make_case(world), ("handler_a", "sign"))
    assert q(page(world.handler_a, case), "section", "latest") == []


def test_a_comment_is_not_taken_for_the_latest_reason(world):
    from processes.rectification.services import case_comment

    case = make_case(world)
    drive(world, case, ("handler_a", "refuse", {"reason": "不属于本单位职责"}))
    case_comment(actor=world.actor("inspector"), case_id=case.pk, body="我来核实一下")
    notes = latest_notes(page(world.inspector, case))
    assert len(notes) == 1 and "不属于本单位职责" in text(notes[0]) and "我来核实" not in text(notes[0])


# Actions: one primary, the positive before the negative, the rest folded --------------------


def test_review_shows_accept_then_return_and_folds_the_rest(world):
    case = to_submitted(world, make_case(world))
    card = actions_card(page(world.inspector, case))
    assert buttons(card, direct=True) == ["accept", "return_case"]
    assert [b.get("value") for b in q(card, "button", "primary")] == ["accept"]
    fold = one(card, "details", "more")
    assert fold.get("open") is None
    assert text(one(fold, "summary")) == "More actions"
    assert buttons(fold) == ["start_review", "accept_long_term", "request_cancel"]  # as declared, cancelling last
    # the optional step says what it does, tied to its button
    start = next(form for form in q(fold, "form", "action") if buttons(form) == ["start_review"])
    help_line = one(start, "p", "help")
    assert one(start, "button").get("aria-describedby") == help_line.get("id")
    assert "Optional" in text(help_line) and "review has begun" in text(help_line)
    assert start.get("action") == f"/rectification/{case.pk}/act/start_review/"


def test_handler_keeps_submit_in_view_and_folds_progress_and_extension(world):
    case = drive(world, make_case(world), ("handler_a", "sign"))
    card = actions_card(page(world.handler_a, case))
    assert buttons(card, direct=True) == ["submit"]
    assert buttons(one(card, "details", "more")) == ["report_progress", "request_extension"]


def test_signing_comes_before_refusing(world):
    card = actions_card(page(world.handler_a, make_case(world)))
    assert buttons(card, direct=True) == ["sign", "refuse"]
    assert q(card, "details") == []


def test_nothing_to_do_says_so(world):
    card = actions_card(page(world.leader, make_case(world)))
    assert q(card, "form") == [] and "Nothing for you to do" in text(card)


# Side requests: their stage; a granted extension's deadlines -------------------------------


def test_pending_extension_shows_whose_approval_it_waits_for(world):
    case = drive(world, make_case(world), ("handler_a", "sign"))
    new = case.deadline + timedelta(days=20)
    drive(world, case, ("handler_a", "request_extension", {"reason": "需采购新设备", "new_deadline": new}),
          ("head_a", "approve_extension", {"reason": "同意延期"}))
    tree = page(world.inspector, case)
    request = one(actions_card(tree), "div", "request")
    inspector, head, leader = (en(r.label) for r in (Role.INSPECTOR, Role.UNIT_HEAD, Role.LEADER))
    assert text(one(request, "span", "stage")) == f"Awaiting approval by {inspector}"
    assert [text(li) for li in q(request, "li")] == [f"{head}(approved)", f"{inspector}(waiting)", leader]
    assert new.isoformat() in text(request) and case.deadline.isoformat() in text(request)
    assert "需采购新设备" in text(request) and world.handler_a.display_name in text(request)
    # the inspector's decision stands beside the request, approval first
    assert buttons(request) == ["approve_extension", "reject_extension"]
    # and the unit head's opinion is the latest word at the top
    assert "同意延期" in text(latest_notes(tree)[0])
    # the handler sees the same stage and has no decision to make
    request = one(actions_card(page(world.handler_a, case)), "div", "request")
    assert text(one(request, "span", "stage")) == f"Awaiting approval by {inspector}"
    assert q(request, "form") == []


def test_the_stage_reads_as_the_bureau_writes_it():
    with translation.override("zh-hans"):
        stage = translation.gettext("Awaiting approval by %(role)s") % {"role": str(Role.INSPECTOR.label)}
    # until the lead compiles the Chinese the English stands; then 待督查员审批
    assert stage in ("待督查员审批", "Awaiting approval by 督查员")


def test_granted_extension_shows_the_old_and_the_new_deadline(world):
    case = drive(world, make_case(world), ("handler_a", "sign"))
    old = case.deadline
    new = old + timedelta(days=30)
    drive(world, case, ("handler_a", "request_extension", {"reason": "工程量大", "new_deadline": new}),
          ("head_a", "approve_extension"), ("inspector", "approve_extension"),
          ("leader", "approve_extension", {"reason": "同意延期至新期限"}))
    tree = page(world.handler_a, case)
    status = text(one(tree, "div", "status-box"))
    assert f"Deadline {new.isoformat()}" in status and f"Extended from {old.isoformat()}" in status
    latest = text(latest_notes(tree)[0])
    assert "同意延期至新期限" in latest and f"{old.isoformat()} → {new.isoformat()}" in latest
    timeline = text(one(tree, "ol", "timeline"))
    assert f"Deadline moved from {old.isoformat()} to {new.isoformat()}" in timeline
    assert f"Deadline asked for: {new.isoformat()}" in timeline
    assert q(actions_card(tree), "div", "request") == []


def test_pending_cancellation_waits_for_the_leader(world):
    case = make_case(world)
    drive(world, case, ("inspector", "request_cancel", {"reason": "重复交办"}))
    request = one(actions_card(page(world.leader, case)), "div", "request")
    assert text(one(request, "span", "stage")) == f"Awaiting approval by {en(Role.LEADER.label)}"
    assert buttons(request) == ["approve_cancel", "reject_cancel"]


# Evidence ---------------------------------------------------------------------------------------


def test_images_open_inline_and_other_files_download(world):
    case = drive(world, make_case(world), ("handler_a", "sign"))
    image = case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk, upload=upload())
    document = case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk,
                                 upload=upload("报告.pdf", PDF_BYTES, "application/pdf"))
    figures = q(page(world.inspector, case), "figure")
    assert len(figures) == 2
    image_fig = next(f for f in figures if q(f, "img"))
    doc_fig = next(f for f in figures if not q(f, "img"))
    view = one(image_fig, "a", "view")
    assert view.get("href") == f"/evidence/{image.pk}/?inline=1"
    assert q(one(image_fig, "figcaption"), "a")[0].get("href") == f"/evidence/{image.pk}/?inline=1"
    assert one(image_fig, "a", "download").get("href") == f"/evidence/{image.pk}/"
    assert [a.get("href") for a in q(doc_fig, "a")] == [f"/evidence/{document.pk}/"] * 2
    client = Client()
    client.force_login(world.inspector)
    shown = client.get(view.get("href"))
    assert shown.status_code == 200 and shown["Content-Disposition"].startswith("inline")
    assert shown["Content-Type"] == "image/png"
    assert client.get(f"/evidence/{document.pk}/?inline=1")["Content-Disposition"].startswith("attachment")


# In a browser, at desktop and phone widths -----------------------------------------------------


@pytest.mark.parametrize("width", ["desktop", "phone"])
@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_browser__returned_case_reason_on_top_and_folded_actions(live_server, login, width):
    from playwright.sync_api import expect

    from tests.browser import DESKTOP, PHONE, act, expect_state
    from processes.rectification.models import State

    viewport = DESKTOP if width == "desktop" else PHONE
    world = make_world()
    case = to_submitted(world, make_case(world))
    inspector = login(world.inspector, viewport=viewport)
    inspector.goto(f"/rectification/{case.pk}/")
    fold = inspector.locator("section.actions details.more")
    expect(fold).to_have_count(1)
    expect(fold.locator("button[value=start_review]")).to_be_hidden()
    expect(inspector.locator("section.actions > form.action button[value=accept]")).to_be_visible()
    inspector.screenshot(path=f"/tmp/casepage-review-{width}.png", full_page=True)
    fold.locator("summary").click()
    expect(fold.locator("#help-start_review")).to_be_visible()
    fold.screenshot(path=f"/tmp/casepage-review-fold-{width}.png")
    fold.locator("summary").click()  # folded again: the helper below opens it, as a person would
    act(inspector, "start_review")
    expect_state(inspector, State.UNDER_REVIEW)
    act(inspector, "return_case", reason="照片不清晰，请补拍")
    expect_state(inspector, State.RETURNED)

    handler = login(world.handler_a, viewport=viewport)
    handler.goto(f"/rectification/{case.pk}/")
    box = handler.locator("section.latest")
    expect(box).to_be_visible()
    expect(box.locator(".latest-item").first).to_contain_text("照片不清晰，请补拍")
    # the box is on the first screen, above the actions
    assert box.bounding_box()["y"] < handler.locator("section.actions").bounding_box()["y"]
    assert box.bounding_box()["y"] < viewport["height"]
    submit = handler.locator("section.actions > form.action button[value=submit]")
    submit.scroll_into_view_if_needed()
    expect(submit).to_be_visible()
    if width == "phone":  # nothing runs off the side of a phone, and buttons are big enough to press
        assert handler.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        assert submit.bounding_box()["height"] >= 40
        label = box.locator("dt").first
        assert label.bounding_box()["width"] > 20
        assert float(label.evaluate("e => getComputedStyle(e).fontSize").removesuffix("px")) >= 14
    handler.screenshot(path=f"/tmp/casepage-returned-{width}.png", full_page=True)
    # the fold opens on a click and shows the extension request
    handler.locator("section.actions details.more summary").click()
    expect(handler.locator("section.actions details.more button[value=request_extension]")).to_be_visible()


@pytest.mark.parametrize("width", ["desktop", "phone"])
@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_browser__extension_stage_and_inline_image(live_server, login, width):
    from playwright.sync_api import expect

    from tests.browser import DESKTOP, PHONE, act

    def stage(role):  # as the page reads it in Chinese (English until the Chinese is compiled)
        with translation.override("zh-hans"):
            return translation.gettext("Awaiting approval by %(role)s") % {"role": str(role.label)}

    viewport = DESKTOP if width == "desktop" else PHONE
    world = make_world()
    case = drive(world, make_case(world), ("handler_a", "sign"))
    case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk, upload=upload("现场.png"))
    old = case.deadline
    new = old + timedelta(days=15)
    drive(world, case, ("handler_a", "request_extension", {"reason": "需采购设备", "new_deadline": new}))
    head = login(world.head_a, viewport=viewport)
    head.goto(f"/rectification/{case.pk}/")
    request = head.locator("section.actions .request")
    expect(request.locator(".stage")).to_have_text(stage(Role.UNIT_HEAD))
    head.screenshot(path=f"/tmp/casepage-extension-head-{width}.png", full_page=True)
    act(head, "approve_extension", reason="同意")
    inspector = login(world.inspector, viewport=viewport)
    inspector.goto(f"/rectification/{case.pk}/")
    expect(inspector.locator("section.actions .request .stage")).to_have_text(stage(Role.INSPECTOR))
    inspector.screenshot(path=f"/tmp/casepage-extension-inspector-{width}.png", full_page=True)
    # a click on the photo shows it in the browser, not as a download
    link = inspector.locator(".evidence figure a.view")
    link.scroll_into_view_if_needed()
    with inspector.expect_response(re.compile(r"/evidence/.+\?inline=1$")) as shown:
        link.click()
    response = shown.value
    assert response.headers["content-disposition"].startswith("inline")
    assert response.headers["content-type"] == "image/png"
    inspector.wait_for_load_state()
    assert "inline=1" in inspector.url
    # granted up the chain, the handler sees the new deadline and the old one
    inspector.goto(f"/rectification/{case.pk}/")
    act(inspector, "approve_extension")
    leader = login(world.leader, viewport=viewport)
    leader.goto(f"/rectification/{case.pk}/")
    act(leader, "approve_extension", reason="同意延期")
    handler = login(world.handler_a, viewport=viewport)
    handler.goto(f"/rectification/{case.pk}/")
    status = handler.locator(".status-box")
    expect(status).to_contain_text(new.isoformat())
    expect(status.locator(".extended")).to_be_visible()
    expect(status.locator(".extended")).to_contain_text(old.isoformat())
    expect(handler.locator("section.latest .latest-item").first).to_contain_text(f"{old.isoformat()} → {new.isoformat()}")
    handler.screenshot(path=f"/tmp/casepage-extended-handler-{width}.png", full_page=True)
