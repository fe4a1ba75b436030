"""Notifications say what happened and to which case, once per person, a page at a time; the
channels page takes the user's email and mobile number, and a channel without its address
cannot be chosen. Server-side first, then in a real browser at desktop and phone widths."""
import html
import re
from pathlib import Path

import pytest
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from processes.rectification.declaration import Rectification
from tests.browser import DESKTOP, PHONE, browser, login  # noqa: F401
from tests.engine.models import Checklist, PlanCase
from tests.factories import drive, make_case, make_user, make_world, to_submitted
from workflow.cases import engine, records, services
from workflow.models import AuditEvent, Notification, OutboxMessage, Role, User
from workflow.trail import notify
from workflow.web.pages import NOTES_PAGE, ChannelForm

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"


def told(event, reason, case, language="zh-hans") -> str:
    """What a notification of `event` on `case` says, in `language`."""
    with translation.override(language):
        params = {"event": gettext(str(Rectification.event_label(event))), "number": case.number, "title": case.title}
        if reason:
            return gettext("%(event)s: %(reason)s (%(number)s %(title)s)") % {**params, "reason": reason}
        return gettext("%(event)s (%(number)s %(title)s)") % params


def notes_of(user, case):
    return list(Notification.objects.filter(user=user, case_id=case.pk).order_by("created_at", "pk"))


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# What a notification says -----------------------------------------------------------------------

def test_a_return_with_a_reason__the_handler_gets_one_notice_naming_the_event_the_reason_and_the_case(world):
    # given: a case the unit submitted; its handler reads email and SMS too
    world.handler_a.email, world.handler_a.phone, world.handler_a.notify_sms = "h@example.gov.cn", "13800000000", True
    world.handler_a.save()
    case = to_submitted(world, make_case(world, title="消防通道堆放杂物"))
    notify.relay()
    before = {n.pk for n in notes_of(world.handler_a, case)}
    # when: the inspector returns it with a reason
    drive(world, case, ("inspector", "return_case", {"reason": "照片不清晰"}))
    notify.relay()
    # then: the handler has one new notification, saying "returned: photos unclear" and which case
    new = [n for n in notes_of(world.handler_a, case) if n.pk not in before]
    assert [n.message for n in new] == [told("return_case", "照片不清晰", case)]
    assert "照片不清晰" in new[0].message and case.number in new[0].message and "消防通道堆放杂物" in new[0].message
    with translation.override("zh-hans"):
        assert gettext("To do: %(number)s %(title)s").split("%")[0] not in new[0].message
    # and the email and SMS say the same
    rows = OutboxMessage.objects.filter(case_id=case.pk, recipient=world.handler_a,
                                        key__startswith=new[0].key.removesuffix("in_app"))
    assert sorted(rows.values_list("channel", flat=True)) == ["email", "in_app", "sms"]
    assert set(rows.values_list("subject", flat=True)) == {told("return_case", "照片不清晰", case)}


def test_the_notice_follows_the_readers_language(world):
    world.handler_a.language = "en"
    world.handler_a.save()
    case = drive(world, to_submitted(world, make_case(world)), ("inspector", "return_case", {"reason": "照片不清晰"}))
    notify.relay()
    assert notes_of(world.handler_a, case)[-1].message == told("return_case", "照片不清晰", case, "en")
    assert notes_of(world.handler_a, case)[-1].message.startswith("Return for more rectification: 照片不清晰 (")


def test_a_long_reason_and_title_are_shortened_on_one_line(world):
    reason = "第一，" + "照片拍摄角度不对，" * 30 + "\n第二，缺少台账。"
    case = to_submitted(world, make_case(world, title="长" * 150))
    drive(world, case, ("inspector", "return_case", {"reason": reason}))
    notify.relay()
    message = notes_of(world.handler_a, case)[-1].message
    assert "\n" not in message and "…" in message and len(message) < 200
    assert engine.shorten(reason, engine.REASON_QUOTED) in message
    assert message.endswith(")") or message.endswith("）")  # the case is named whole, not cut off


def test_an_event_without_a_reason_names_the_event_and_the_case(world):
    case = make_case(world)  # opened and issued by the inspector: the unit's handler is told
    notify.relay()
    assert [n.message for n in notes_of(world.handler_a, case)] == [told("issue", "", case)]


# Once per person --------------------------------------------------------------------------------

def test_nobody_is_told_of_their_own_act__a_colleague_is(world):
    # given: a second handler in county A
    colleague = make_user(Role.HANDLER, world.county_a)
    case = make_case(world)
    # when: the first handler signs (the case now waits for county A's handlers to rectify)
    drive(world, case, ("handler_a", "sign"))
    notify.relay()
    # then: the handler was told once (of the issue), not again of their own signing;
    # the colleague was told of both
    assert [n.message for n in notes_of(world.handler_a, case)] == [told("issue", "", case)]
    assert [n.message for n in notes_of(colleague, case)] == [told("issue", "", case), told("sign", "", case)]


def test_a_record_written_by_someone_it_tells__they_are_not_told__their_colleague_is(world):
    colleague = make_user(Role.HANDLER, world.county_a)
    records.create_record(Checklist, actor=world.actor("handler_a"), unit=world.county_a, title="自查表",
                          tell=[(Role.HANDLER, world.county_a.pk)], message="新的自查表")
    told_ = set(OutboxMessage.objects.filter(key__startswith="ev:r:").values_list("recipient_id", flat=True))
    assert told_ == {colleague.pk}


def test_a_person_reached_twice_by_one_event_is_told_once(world):
    # given: a plan that names inspector2 as its reviewer; the plan also waits for the city's inspectors
    plan = services.open_cases(PlanCase, actor=world.actor("inspector"), units=[world.county_a],
                               title="年度计划", description="d", deadline_days=30)[0]
    plan.reviewers.add(world.inspector2)
    # when: it is launched (inspector2 now holds a task as an inspector and one as a named reviewer)
    services.act(PlanCase, actor=world.actor("inspector"), case_id=plan.pk, action="launch")
    notify.relay()
    # then: one notification for inspector2, none for the inspector who launched it
    event = AuditEvent.objects.get(case_id=plan.pk, action="launch")
    key = f"ev:case:{plan.pk}:{event.seq}:"
    assert Notification.objects.filter(user=world.inspector2, key__startswith=key).count() == 1
    assert not Notification.objects.filter(user=world.inspector, key__startswith=key).exists()
    assert OutboxMessage.objects.filter(recipient=world.inspector2, key__startswith=key).count() == 1  # in-app only


def test_queue__two_pairs_reaching_the_same_person_write_one_row_per_channel(world):
    case = make_case(world)
    written = notify.queue(case=case, who=[("handler", world.county_a.pk), ("named", world.handler_a.pk)],
                           subject="s", key="twice")
    assert written == 1
    assert list(OutboxMessage.objects.filter(key__startswith="twice:").values_list("recipient_id", flat=True)) == [
        world.handler_a.pk]


# The list ---------------------------------------------------------------------------------------

def _many(user, n, case=None):
    Notification.objects.bulk_create([Notification(key=f"t{user.pk}:{i}", user=user, case=case, message=f"通知{i:03d}")
                                      for i in range(n)])


def test_the_list_is_paged_newest_first_and_the_unread_stand_out(world):
    _many(world.handler_a, NOTES_PAGE + 5)
    Notification.objects.filter(message="通知000").update(read_at="2026-01-01T00:00:00Z")
    client = client_for(world.handler_a)
    first = client.get("/notifications/").content.decode()
    second = client.get("/notifications/?page=2").content.decode()
    assert first.count('<li class="unread">') == NOTES_PAGE
    assert second.count('<li class="unread">') == 4 and second.count('<li class="read">') == 1
    assert "通知024" in first and "通知000" in second and "通知000" not in first
    assert 'href="?page=2"' in first
    # a page past the end or no number shows a page, never an error
    assert client.get("/notifications/?page=99").status_code == 200
    assert client.get("/notifications/?page=x").status_code == 200


def test_mark_all_read_keeps_working(world):
    _many(world.handler_a, 3)
    _many(world.handler_b, 2)
    client = client_for(world.handler_a)
    assert client.post("/notifications/read/").status_code == 302
    assert not Notification.objects.filter(user=world.handler_a, read_at__isnull=True).exists()
    assert Notification.objects.filter(user=world.handler_b, read_at__isnull=True).count() == 2
    page = client.get("/notifications/").content.decode()
    assert '<li class="unread">' not in page and "/notifications/read/" not in page


# The channels form ------------------------------------------------------------------------------

def _error_in(response, message) -> bool:
    with translation.override("zh-hans"):
        return html.escape(str(message)) in response.content.decode()


@pytest.mark.parametrize("phone", ["12345", "23800000000", "1380000000", "138000000001", "12800000000", "１３８００００００００"])
def test_channels__a_phone_that_is_no_mainland_mobile_number_is_refused(world, phone):
    response = client_for(world.handler_a).post("/notifications/channels/", {"phone": phone, "notify_in_app": "on"})
    assert response.status_code == 200
    with translation.override("zh-hans"):
        assert html.escape(gettext("Enter a mainland China mobile number: 11 digits starting with 1.")) in \
            response.content.decode()
    world.handler_a.refresh_from_db()
    assert world.handler_a.phone == ""


def test_channels__a_bad_email_is_refused_in_chinese(world):
    response = client_for(world.handler_a).post("/notifications/channels/", {"email": "not-an-address"})
    assert response.status_code == 200 and re.search("[\u4e00-\u9fff]", response.context["form"].errors["email"][0])
    world.handler_a.refresh_from_db()
    assert world.handler_a.email == ""


@pytest.mark.parametrize("channel, address", [("notify_sms", "phone"), ("notify_email", "email")])
def test_channels__a_channel_without_its_address_is_refused(world, channel, address):
    # given: no address of that kind; the page shows the channel's box disabled, with a note
    client = client_for(world.handler_a)
    page = client.get("/notifications/channels/")
    box = re.search(rf'<input[^>]*name="{channel}"[^>]*>', page.content.decode()).group(0)
    assert "disabled" in box and "checked" not in box
    with translation.override("zh-hans"):
        assert html.escape(str(ChannelForm.NEEDS[channel][1])) in page.content.decode()
    # when: it is chosen all the same (a crafted request)
    response = client.post("/notifications/channels/", {"notify_in_app": "on", channel: "on"})
    # then: refused, with the reason, and nothing saved
    assert response.status_code == 200 and _error_in(response, ChannelForm.ERRORS[channel])
    assert response.context["form"].errors[channel]
    before = User.objects.get(pk=world.handler_a.pk)
    assert getattr(before, address) == "" and not (channel == "notify_sms" and before.notify_sms)


def test_channels__saving_an_address_then_choosing_its_channel_works(world):
    client = client_for(world.handler_a)
    # when: the addresses are saved (the phone as people write it)
    response = client.post("/notifications/channels/", {"email": "chen@mz.example.gov.cn", "phone": "138 0000-1234",
                                                        "notify_in_app": "on"})
    assert response.status_code == 302
    user = User.objects.get(pk=world.handler_a.pk)
    assert (user.email, user.phone, user.notify_email, user.notify_sms) == ("chen@mz.example.gov.cn", "13800001234",
                                                                          False, False)
    # then: the boxes are enabled, and choosing the channels saves them
    page = client.get("/notifications/channels/").content.decode()
    assert "disabled" not in re.search(r'<input[^>]*name="notify_sms"[^>]*>', page).group(0)
    response = client.post("/notifications/channels/", {
        "email": "chen@mz.example.gov.cn", "phone": "13800001234", "notify_in_app": "on", "notify_email": "on",
        "notify_sms": "on"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.notify_in_app, user.notify_email, user.notify_sms) == (True, True, True)
    # and the next event reaches them on every channel
    case = make_case(world)
    assert set(OutboxMessage.objects.filter(case_id=case.pk, recipient=user).values_list("channel", flat=True)) == {
        "in_app", "email", "sms"}


def test_channels__an_address_and_its_channel_in_one_go(world):
    response = client_for(world.handler_a).post("/notifications/channels/",
                                                {"phone": "13912345678", "notify_sms": "on"})
    assert response.status_code == 302
    user = User.objects.get(pk=world.handler_a.pk)
    assert (user.phone, user.notify_sms, user.notify_in_app) == ("13912345678", True, False)


# In the browser ---------------------------------------------------------------------------------

@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
class TestInTheBrowser:
    @pytest.fixture
    def returned(self):
        """A world where county A's handler has had a case returned, and 25 older notifications."""
        world = make_world()
        case = to_submitted(world, make_case(world, title="消防通道堆放杂物"))
        old = Notification.objects.filter(user=world.handler_a).values_list("pk", flat=True)
        Notification.objects.filter(pk__in=list(old)).update(read_at="2026-01-01T00:00:00Z")
        _many(world.handler_a, 25)
        Notification.objects.filter(key__startswith="t").update(created_at="2026-01-02T00:00:00Z")
        drive(world, case, ("inspector", "return_case", {"reason": "照片不清晰，请补拍整改后的消防通道全景"}))
        notify.relay()
        return world, case

    @pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
    def test_the_list_says_what_happened_and_leads_to_the_case(self, login, returned, viewport):
        from playwright.sync_api import expect

        world, case = returned
        page = login(world.handler_a, viewport=viewport)
        page.goto("/notifications/")
        items = page.locator("ul.notices li")
        expect(items).to_have_count(NOTES_PAGE)
        first = items.first
        expect(first).to_have_class("unread")
        expect(first).to_contain_text("照片不清晰")
        expect(first).to_contain_text(case.number)
        expect(first.locator(".tag-unread")).to_be_visible()
        expect(page.locator("nav.pager")).to_be_visible()
        _fits(page)
        _no_contrast_failures(page)
        # the unread notice is a target a finger can hit, and its text is large enough
        box = first.locator("button.open").bounding_box()
        assert box["height"] >= 44 and box["width"] >= viewport["width"] * 0.8
        assert _font_px(first.locator(".text")) >= 18 and _font_px(first.locator("time")) >= 16
        # when: opened, it leads to the case and is read
        first.locator("button.open").click()
        page.wait_for_url(re.compile(rf"/{case.pk}/$"))
        page.goto("/notifications/")
        expect(page.locator("ul.notices li").first).to_have_class("read")
        # and "mark all as read" reads the rest
        page.click("form[action='/notifications/read/'] button")
        page.wait_for_url(re.compile(r"/notifications/$"))
        expect(page.locator("ul.notices li.unread")).to_have_count(0)
        page.goto("/notifications/?page=2")
        expect(page.locator("ul.notices li")).to_have_count(25 + 2 - NOTES_PAGE)  # 25 old, the issue and the return

    @pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
    def test_channels__a_channel_is_enabled_once_its_address_is_typed(self, login, viewport):
        from playwright.sync_api import expect

        world = make_world()
        page = login(world.handler_a, viewport=viewport)
        page.goto("/notifications/channels/")
        sms, email = page.locator("input[name=notify_sms]"), page.locator("input[name=notify_email]")
        expect(sms).to_be_disabled()
        expect(email).to_be_disabled()
        expect(page.locator("#id_notify_sms_helptext")).to_be_visible()
        _fits(page)
        _no_contrast_failures(page)
        # when: a wrong number is typed, the box is enabled, and the form says what is wrong
        page.fill("input[name=phone]", "2380000")
        expect(sms).to_be_enabled()
        expect(page.locator("#id_notify_sms_helptext")).to_be_hidden()
        sms.check()
        page.click("form.channels button[type=submit]")
        expect(page.locator("#id_phone_error")).to_be_visible()
        _no_contrast_failures(page)
        # when: a right one is typed and saved
        page.fill("input[name=phone]", "13800001234")
        expect(sms).to_be_enabled()
        sms.check()
        page.click("form.channels button[type=submit]")
        page.wait_for_url(re.compile(r"/notifications/$"))
        user = User.objects.get(pk=world.handler_a.pk)
        assert (user.phone, user.notify_sms) == ("13800001234", True)
        # and clearing the field again disables and unticks its box
        page.goto("/notifications/channels/")
        expect(sms).to_be_checked()
        page.fill("input[name=phone]", "")
        expect(sms).to_be_disabled()
        expect(sms).not_to_be_checked()


def _fits(page):
    """Nothing wider than the window (no sideways scrolling on a phone)."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def _font_px(locator) -> float:
    return float(locator.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))


def _no_contrast_failures(page):
    """axe-core's colour-contrast rule (WCAG 2 AA) finds nothing on the page."""
    if not AXE.exists():
        pytest.skip("axe-core is not vendored under tests/vendor/axe-core")
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'rule', values: ['color-contrast']}});
        return r.violations.flatMap(v => v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)); }""")
    assert found == []

