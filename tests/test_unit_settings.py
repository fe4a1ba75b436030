"""Per-unit settings (letterhead, 机关代字, ladder days, templates): inherited down the unit tree,
versions by effective date, read in one query, numbering by the unit that supplied the 代字, a
default installation unchanged, and checked in the admin."""
import hashlib
import shutil
import subprocess
from datetime import date, timedelta

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, override

from processes.rectification import services
from processes.rectification.models import RectificationCase
from processes.rectification.views_pdf import notice_context
from workflow.cases import escalation
from workflow.kernel import unit_settings
from workflow.cases.engine import Actor
from workflow.models import (AuditEvent, DocumentCounter, Escalation, EscalationPolicy, Role, Rung, UnitKind, UnitSetting, User)
from tests.factories import make_case, make_unit, make_user, make_world
from tests.test_reliability_concurrency import needs_postgres, run_together

LADDER = "ladder.rectification"
CODE = "doc_code.supervision_letter"


def version(unit, key, value, effective_from=None, **fields):
    return UnitSetting.objects.create(unit=unit, key=key, value=value,
                                      effective_from=effective_from or timezone.localdate(), **fields)


@pytest.fixture
def province(db):
    """A province-wide installation: 省民政厅 → two cities → counties → townships."""
    tree = {"province": make_unit("某省民政厅", UnitKind.CITY_BUREAU)}
    tree["city"] = make_unit("东市民政局", UnitKind.CITY_BUREAU, tree["province"])
    tree["other_city"] = make_unit("西市民政局", UnitKind.CITY_BUREAU, tree["province"])
    tree["county"] = make_unit("东市甲县民政局", parent=tree["city"])
    tree["township"] = make_unit("甲县城关镇民政办", UnitKind.TOWNSHIP_OFFICE, tree["county"])
    return tree


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# Inheritance, versions, one query ---------------------------------------------------------------
def test_setting__province_row_city_override_county_inherits(province):
    # given: the province sets a letterhead and a code; one city overrides the letterhead
    version(province["province"], "bureau_name", "某省民政厅")
    version(province["province"], CODE, "某民督函")
    version(province["city"], "bureau_name", "东市民政局（督查室）")
    # when
    county = unit_settings.setting(province["county"], "bureau_name")
    township = unit_settings.setting(province["township"], "bureau_name")
    other_city = unit_settings.setting(province["other_city"], "bureau_name")
    code = unit_settings.setting(province["township"], CODE)
    # then: the nearest unit wins, and says which unit it is
    assert (county.value, county.unit) == ("东市民政局（督查室）", province["city"])
    assert (township.value, township.unit) == ("东市民政局（督查室）", province["city"])
    assert (other_city.value, other_city.unit) == ("某省民政厅", province["province"])
    assert (code.value, code.unit) == ("某民督函", province["province"])
    # and a unit with a version of its own is not affected by those above it
    version(province["county"], "bureau_name", "甲县民政局")
    assert unit_settings.setting(province["township"], "bureau_name").value == "甲县民政局"
    assert unit_settings.setting(province["city"], "bureau_name").value == "东市民政局（督查室）"


def test_setting__a_version_effective_next_month_is_not_used_today(province):
    # given: today's version and next month's, on the city; and the county's own from next month
    today = timezone.localdate()
    next_month = today + timedelta(days=31)
    version(province["city"], "bureau_name", "东市民政局", today - timedelta(days=400))
    version(province["city"], "bureau_name", "东市民政局（今年）", today)
    version(province["city"], "bureau_name", "东市民政局（下月）", next_month)
    version(province["county"], "bureau_name", "甲县民政局（下月）", next_month)
    # when / then: today the newest version in force, and the county still inherits it
    assert unit_settings.bureau_name(province["city"]) == "东市民政局（今年）"
    assert unit_settings.setting(province["county"], "bureau_name").unit == province["city"]
    assert unit_settings.setting(province["city"], "bureau_name", on=today - timedelta(days=1)).value == "东市民政局"
    # and next month the new versions take over, the county's own first
    assert unit_settings.bureau_name(province["city"], next_month) == "东市民政局（下月）"
    assert unit_settings.bureau_name(province["township"], next_month) == "甲县民政局（下月）"
    # and before any version, the declared default
    assert unit_settings.setting(province["city"], "bureau_name", on=date(2000, 1, 1)) == (
        unit_settings.Resolved(""))


def test_setting__one_query_then_from_memory_until_a_version_is_saved(province):
    # given: versions on three levels above the township
    for unit in (province["province"], province["city"], province["county"]):
        version(unit, CODE, f"{unit.name[:2]}督函")
    unit_settings.forget_settings()
    # when: looked up twice
    with CaptureQueriesContext(connection) as first:
        found = unit_settings.setting(province["township"], CODE)
    with CaptureQueriesContext(connection) as second:
        again = unit_settings.setting(province["township"], CODE)
    # then: one query for the unit and its ancestors, none the second time
    assert len(first) == 1 and len(second) == 0
    assert "workflow_unitsetting" in first[0]["sql"]
    assert found == again and found.unit == province["county"]
    # and a saved version is read at once (the cache forgets it)
    version(province["township"], CODE, "城关民督函")
    assert unit_settings.setting(province["township"], CODE).value == "城关民督函"


def test_setting__undeclared_keys_are_refused(province):
    with pytest.raises(LookupError):
        unit_settings.setting(province["city"], "doc_code.no_such_document")
    assert unit_settings.declared("bureau_name.x") is None and unit_settings.declared("doc_code.") is None
    assert unit_settings.declared(CODE) is not None and unit_settings.declared(LADDER) is not None


def test_setting__a_stored_value_that_fails_its_check_gives_the_default(province):
    # given: a version written past the checks (not through the admin)
    version(province["city"], LADDER, {"red_after": "soon"})
    # when / then
    found = unit_settings.setting(province["county"], LADDER)
    assert found.unit is None and found.value == {"remind_before": 2, "red_after": 3, "interview_after": 5,
                                                  "accountability_after": 5}


# The 督办函: 代字 and numbering --------------------------------------------------------------------
def _red(case):
    overdue = timezone.localdate() - timedelta(days=9)
    RectificationCase.objects.filter(pk=case.pk).update(rung=Rung.RED, deadline=overdue)


def _letter(client, unit):
    return client.post(f"/red-list/{unit.pk}/letter.pdf")


def _pdf_text(pdf: bytes, tmp_path) -> str | None:
    if shutil.which("pdftotext") is None:
        return None
    path = tmp_path / f"{hashlib.sha256(pdf).hexdigest()}.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return "".join(out.split())


@pytest.fixture
def rendered(monkeypatch):
    """The HTML of every PDF the supervision letter view renders, and the template it chose."""
    from workflow.web import leadership as views_leadership

    seen = []
    real = views_leadership.render_pdf

    def keep(template, context, request=None):
        seen.append((template, render_to_string(template, context)))
        return real(template, context, request)

    monkeypatch.setattr(views_leadership, "render_pdf", keep)
    return seen


def townships(world):
    """Two township offices under county A, each with a leader and a red-listed case."""
    result = []
    for name in ("甲县城关镇民政办", "甲县河西乡民政办"):
        township = make_unit(name, UnitKind.TOWNSHIP_OFFICE, world.county_a)
        _red(make_case(world, unit=township))
        result.append((township, make_user(Role.LEADER, township)))
    return result


def test_letter__townships_using_their_countys_code_count_on_its_counter(world, tmp_path, rendered):
    # given: county A's 代字, inherited by its two townships
    version(world.county_a, CODE, "甲县民督函")
    (first, first_leader), (second, second_leader) = townships(world)
    year = timezone.localdate().year
    # when: each township's leader sends a 督办函 to their own township, the first twice
    letters = [_letter(web(first_leader), first), _letter(web(second_leader), second),
               _letter(web(first_leader), first)]
    # then: one count, the county's: three distinct numbers under the one code
    assert [r.status_code for r in letters] == [200, 200, 200]
    assert DocumentCounter.objects.get(unit=world.county_a, kind="supervision_letter", year=year).last == 3
    assert not DocumentCounter.objects.filter(unit__in=[first, second]).exists()
    events = AuditEvent.objects.filter(action="supervision_letter").order_by("created_at", "pk")
    assert [(e.data["serial"], e.data["code"], e.data["numbered_by"]) for e in events] == [
        (n, "甲县民督函", world.county_a.pk) for n in (1, 2, 3)]
    numbers = [f'<p class="letter-no">甲县民督函〔{year}〕{n}号</p>' for n in (1, 2, 3)]
    assert [number in html for number, (_t, html) in zip(numbers, rendered)] == [True] * 3
    text = _pdf_text(letters[1].content, tmp_path)
    if text is not None:
        assert f"甲县民督函〔{year}〕2号" in text
    # and a township with a code of its own counts on its own
    version(second, CODE, "河西民督函")
    assert _letter(web(second_leader), second).status_code == 200
    assert DocumentCounter.objects.get(unit=second, kind="supervision_letter", year=year).last == 1
    assert f'<p class="letter-no">河西民督函〔{year}〕1号</p>' in rendered[-1][1]


@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_letter__two_townships_at_once_get_distinct_numbers_from_the_countys_count():
    # given
    world = make_world()
    version(world.county_a, CODE, "甲县民督函")
    pairs = townships(world)
    clients = [web(leader) for _township, leader in pairs]
    # when: both letters at once
    results = run_together(*[(lambda c=c, t=t: _letter(c, t)) for c, (t, _l) in zip(clients, pairs)])
    # then
    assert [(kind, r.status_code) for kind, r in results] == [("ok", 200), ("ok", 200)]
    serials = sorted(e.data["serial"] for e in AuditEvent.objects.filter(action="supervision_letter"))
    assert serials == [1, 2]
    assert DocumentCounter.objects.get(unit=world.county_a, kind="supervision_letter").last == 2


def test_default_installation__code_letterhead_and_numbering_are_todays(world, tmp_path, rendered, settings):
    # given: no unit setting at all
    settings.DUBAN_BUREAU_NAME = ""
    _red(make_case(world))
    year = timezone.localdate().year
    # when
    letter = _letter(web(world.leader), world.county_a)
    # then: the city bureau's name's first two characters and 民督函, counted by the city bureau
    assert letter.status_code == 200
    template, html = rendered[0]
    assert template == "pdf/supervision_letter.html"
    assert f'<p class="letter-no">市民民督函〔{year}〕1号</p>' in html
    assert '<div class="letter-mark">市民政局</div>' in html and "<p>市民政局</p>" in html
    assert DocumentCounter.objects.get(unit=world.city, kind="supervision_letter", year=year).last == 1
    text = _pdf_text(letter.content, tmp_path)
    if text is not None:
        assert f"市民民督函〔{year}〕1号" in text
    # and the notice carries the supervising unit's own name; pages show no bureau name
    case = RectificationCase.objects.select_related("unit", "supervisor_unit", "created_by").first()
    notice = render_to_string("pdf/rectification_notice.html", notice_context(case))
    assert '<h1 class="title">市民政局整改通知书</h1>' in notice and "<p>市民政局（印章）</p>" in notice
    page = web(world.handler_a).get(reverse("inbox"))
    assert page.status_code == 200 and 'class="bureau"' not in page.content.decode()


def test_letterhead__documents_carry_the_issuers_and_pages_the_users(world, rendered, settings):
    # given: the letterhead set on the city bureau, and the installation's name for everyone else
    settings.DUBAN_BUREAU_NAME = "示范省民政系统"
    version(world.city, "bureau_name", "示范市民政局")
    _red(make_case(world))
    stranger = make_unit("外市民政局", UnitKind.CITY_BUREAU)
    # when
    _letter(web(world.leader), world.county_a)
    case = RectificationCase.objects.select_related("unit", "supervisor_unit", "created_by").first()
    notice = render_to_string("pdf/rectification_notice.html", notice_context(case))
    county_page = web(world.handler_a).get(reverse("inbox")).content.decode()
    stranger_page = web(make_user(Role.HANDLER, stranger)).get(reverse("inbox")).content.decode()
    # then: the letter and the notice carry it; pages of units below the city show it
    assert '<div class="letter-mark">示范市民政局</div>' in rendered[0][1]
    assert '<h1 class="title">示范市民政局整改通知书</h1>' in notice
    assert '<span class="bureau">示范市民政局</span>' in county_page
    # and a unit outside the city has the installation's default on pages and its own name on documents
    assert '<span class="bureau">示范省民政系统</span>' in stranger_page
    assert unit_settings.letterhead(stranger) == "外市民政局"


def test_letter__template_override(world, rendered):
    # given: the city chooses another installed template for its letters
    version(world.city, "template.supervision_letter", "pdf/supervision_letter.html")
    _red(make_case(world))
    assert _letter(web(world.leader), world.county_a).status_code == 200
    assert rendered[0][0] == "pdf/supervision_letter.html"
    # and a template that is no longer installed falls back to the document's own
    UnitSetting.objects.filter(key="template.supervision_letter").update(value="pdf/gone.html")
    unit_settings.forget_settings()
    assert unit_settings.document_template(world.county_a, "supervision_letter") == "pdf/supervision_letter.html"


# Ladder days per supervising unit ---------------------------------------------------------------
def overdue_case(world, deadline, actor=None, unit=None):
    case = (services.case_create(actor=actor, unit=unit, issue=True, title="消防通道堵塞",
                                 description="杂物", requirement="清理") if actor else make_case(world))
    case.deadline = deadline
    RectificationCase.objects.filter(pk=case.pk).update(deadline=deadline, next_rung_on=escalation.next_rung_on(case))
    return RectificationCase.objects.get(pk=case.pk)


def test_ladder__a_supervising_units_days_change_the_rung_dates(world):
    # given: the case type's policy, and the city bureau's own faster ladder
    EscalationPolicy.objects.create(case_type="rectification", remind_before=2, red_after=5, interview_after=5,
                                    accountability_after=5)
    version(world.city, LADDER, {"remind_before": 1, "red_after": 1, "interview_after": 2, "accountability_after": 3})
    county_inspector = make_user(Role.INSPECTOR, world.county_a)
    deadline = timezone.localdate() + timedelta(days=14)
    # when: a case supervised by the city, and one by county A (which sets nothing itself)
    city_case = overdue_case(world, deadline)
    township = make_unit("甲县城关镇民政办", UnitKind.TOWNSHIP_OFFICE, world.county_a)
    county_case = overdue_case(world, deadline, Actor(user=county_inspector, ip="127.0.0.1"), township)
    # then: both use the city's days (county A inherits them) ...
    fast = escalation.rung_dates(deadline, EscalationPolicy(remind_before=1, red_after=1, interview_after=2,
                                                            accountability_after=3))
    assert escalation.rung_dates(deadline, escalation.case_policy(city_case)) == fast
    assert escalation.rung_dates(deadline, escalation.case_policy(county_case)) == fast
    assert city_case.next_rung_on == fast[Rung.REMINDER] != escalation.rung_dates(
        deadline, escalation.policy_for("rectification"))[Rung.REMINDER]
    # ... and the sweep fires red one working day after the deadline, not five
    escalation.sweep(today=fast[Rung.RED])
    assert set(Escalation.objects.filter(case=city_case).values_list("rung", flat=True)) == {
        Rung.REMINDER, Rung.YELLOW, Rung.RED}
    # and a county's own version is nearer than the city's for its cases only
    version(world.county_a, LADDER, {"remind_before": 0, "red_after": 9, "interview_after": 9,
                                     "accountability_after": 9})
    assert escalation.case_policy(county_case).red_after == 9
    assert escalation.case_policy(city_case).red_after == 1
    # and without a unit the case type's policy still answers
    assert escalation.policy_for("rectification").red_after == 5


def test_ladder__the_sweep_looks_up_each_supervising_unit_once(world):
    # given: many due cases under one supervising unit that has its own days
    version(world.city, LADDER, {"remind_before": 2, "red_after": 3, "interview_after": 5, "accountability_after": 5})
    today = timezone.localdate()
    for n in range(6):
        overdue_case(world, today - timedelta(days=n))
    escalation.forget_policies()
    # when
    with CaptureQueriesContext(connection) as queries:
        fired = escalation.sweep(today=today)
    # then: one settings lookup (and no unit read) for all six cases
    statements = [q["sql"] or "" for q in queries]
    assert fired > 0
    assert len([sql for sql in statements if "workflow_unitsetting" in sql]) == 1
    assert not [sql for sql in statements if sql.lstrip().startswith("SELECT") and 'FROM "workflow_unit"' in sql]


# Admin -------------------------------------------------------------------------------------------
@pytest.fixture
def superadmin(world):
    user = make_user(Role.ADMIN, world.city)
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    return User.objects.get(pk=user.pk)


ADD = "admin:workflow_unitsetting_add"


def _post(client, unit, key, value, effective_from=None):
    return client.post(reverse(ADD), {"unit": unit.pk, "key": key, "value": value,
                                      "effective_from": (effective_from or timezone.localdate()).isoformat()})


def _errors(response, field="value") -> list[str]:
    assert response.status_code == 200, response.status_code
    return list(response.context["adminform"].form.errors.get(field, []))


def _message(message, **params) -> str:
    with override("zh-hans"):
        return gettext(message) % params if params else gettext(message)


@pytest.mark.parametrize("key, value, message, params", [
    (LADDER, "three days", unit_settings.NEEDS_LADDER, {"limit": unit_settings.LADDER_MAX_DAYS}),
    (LADDER, '{"remind_before": 2, "red_after": 3}', unit_settings.NEEDS_LADDER, {"limit": 250}),
    (LADDER, '{"remind_before": -1, "red_after": 3, "interview_after": 5, "accountability_after": 5}',
     unit_settings.NEEDS_LADDER, {"limit": 250}),
    (LADDER, '{"remind_before": true, "red_after": 3, "interview_after": 5, "accountability_after": 5}',
     unit_settings.NEEDS_LADDER, {"limit": 250}),
    (LADDER, '{"remind_before": 2, "red_after": 1e400, "interview_after": 5, "accountability_after": 5}',
     unit_settings.NEEDS_LADDER, {"limit": 250}),
    (LADDER, "[" * 1500, unit_settings.NEEDS_LADDER, {"limit": 250}),
    (CODE, "甲县\t民督函", unit_settings.CONTROL_CHARACTERS, {}),
    (CODE, "甲" * 21, unit_settings.TOO_LONG, {"limit": 20}),
    ("bureau_name", "   ", "This field is required.", {}),
    ("template.supervision_letter", "../../etc/passwd", unit_settings.NEEDS_TEMPLATE, {}),
    ("template.supervision_letter", "pdf/no_such_letter.html", unit_settings.NO_TEMPLATE, {}),
])
def test_admin__a_bad_value_is_a_form_error_not_a_500(world, superadmin, key, value, message, params):
    # when
    response = _post(web(superadmin), world.county_a, key, value)
    # then: the form again, with the key's message in the catalogue's Chinese, and nothing saved
    assert _errors(response) == [_message(message, **params)]
    assert not UnitSetting.objects.exists()


def test_admin__unknown_keys_and_codes_of_another_unit_are_refused(world, superadmin):
    client = web(superadmin)
    # an undeclared key
    assert _errors(_post(client, world.county_a, "doc_code.no_such_document", "甲民督函"), "key")
    # a 代字 another unit already has: they would count the same numbers twice
    version(world.county_b, CODE, "乙县民督函")
    assert _errors(_post(client, world.county_a, CODE, "乙县民督函")) == [
        _message(unit_settings.CODE_TAKEN, unit="乙县民政局")]
    assert UnitSetting.objects.count() == 1


def test_admin__a_good_version_is_saved_with_its_author_and_then_kept_as_it_was(world, superadmin):
    client = web(superadmin)
    # when: a ladder for county A, from today
    response = _post(client, world.county_a, LADDER,
                     '{"remind_before": 1, "red_after": 2, "interview_after": 3, "accountability_after": 4}')
    # then
    assert response.status_code == 302
    row = UnitSetting.objects.get()
    assert row.value == {"remind_before": 1, "red_after": 2, "interview_after": 3, "accountability_after": 4}
    assert row.created_by == superadmin and row.effective_from == timezone.localdate()
    assert escalation.policy_for("rectification", world.county_a).accountability_after == 4
    # and a version in force is shown, not changed
    url = reverse("admin:workflow_unitsetting_change", args=[row.pk])
    page = client.get(url)
    assert page.status_code == 200 and "<textarea" not in page.content.decode()
    refused = client.post(url, {"unit": world.county_a.pk, "key": LADDER, "value": "{}",
                                "effective_from": row.effective_from.isoformat()})
    assert refused.status_code == 403
    # and a version not yet in force may be corrected
    later = version(world.county_a, "bureau_name", "甲县民政局", timezone.localdate() + timedelta(days=10))
    fixed = client.post(reverse("admin:workflow_unitsetting_change", args=[later.pk]), {
        "unit": world.county_a.pk, "key": "bureau_name", "value": "甲县民政局（新）",
        "effective_from": later.effective_from.isoformat()})
    assert fixed.status_code == 302 and UnitSetting.objects.get(pk=later.pk).value == "甲县民政局（新）"
    # and the list shows every version
    listing = client.get(reverse("admin:workflow_unitsetting_changelist"), {"setting": "ladder."})
    assert listing.status_code == 200 and listing.context["cl"].result_count == 1
