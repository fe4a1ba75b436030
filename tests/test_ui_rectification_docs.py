"""What rectification's documents and demo show: the 整改通知书 keeps the inspection and the
legal basis apart and prints the unit's record; the demo's cases are spread over past weeks
with the rungs their dates give; the red list shows its totals, and on a phone each count
keeps its rung's label."""
import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone, translation

from processes.rectification import views_pdf
from processes.rectification.models import RectificationCase
from tests.browser import PHONE, browser, login  # noqa: F401
from tests.factories import make_case, make_user
from workflow.admin import BAD_CREDIT_CODE, credit_code_valid
from workflow.cases import escalation
from workflow.kernel.errors import ActionError
from workflow.models import Case, Escalation, Role, Rung, Unit, User

VALID_CODE = "91350100M000100Y43"  # a well-formed code (its check character is right)


# The notice ----------------------------------------------------------------------------------
def notice_text(user, case, tmp_path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    request = RequestFactory().get(f"/rectification/{case.pk}/notice.pdf")
    request.user = user
    path = tmp_path / f"notice-{case.pk}.pdf"
    path.write_bytes(views_pdf.notice_pdf(request, case.pk).content)
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return "".join(text.split())  # CJK lines wrap anywhere


@pytest.fixture
def recorded_unit(world):
    unit = world.county_a
    unit.credit_code, unit.head_name = VALID_CODE, "李建国"
    unit.save()
    return unit


def test_notice__prints_the_inspection_and_the_legal_basis_apart(world, recorded_unit, tmp_path):
    # given: a problem found in an inspection, breaching an article of a regulation
    case = make_case(world, basis="2026年11月消防安全专项督查", regulation="养老机构管理办法", article="第三十条")
    # when
    text = notice_text(world.inspector, case, tmp_path)
    # then: the inspection is where the problem was found, the rule is what it breaches
    assert "在2026年11月消防安全专项督查中对你单位进行了检查" in text
    assert "经查，你单位存在以下问题，不符合《养老机构管理办法》第三十条的规定：" in text
    assert "不符合2026年11月消防安全专项督查" not in text
    assert "1.二楼消防通道堆放杂物" in text


def test_notice__prints_the_units_credit_code_and_person_in_charge(world, recorded_unit, tmp_path):
    # given
    case = make_case(world)
    # when
    text = notice_text(world.handler_a, case, tmp_path)
    # then
    assert f"统一社会信用代码：{VALID_CODE}" in text
    assert "负责人：李建国" in text


def test_notice__a_case_without_a_basis_cites_no_rule(world, tmp_path):
    # given: no inspection named, no regulation
    case = make_case(world, source="hotline")
    # when
    text = notice_text(world.inspector, case, tmp_path)
    # then: no rule is invented, the problem is still stated
    assert "不符合" not in text and "规定" not in text.split("二、整改要求")[0]
    assert "市民政局对你单位开展了投诉举报核查" in text
    assert "经查，你单位存在以下问题：1.二楼消防通道堆放杂物" in text


def test_notice__the_regulation_is_cited_in_book_title_marks_once(world, tmp_path):
    # given: the title typed with its marks, the article as a bare number
    case = make_case(world, regulation="《社会救助暂行办法》", article="11")
    # when
    text = notice_text(world.inspector, case, tmp_path)
    # then
    assert "不符合《社会救助暂行办法》第11条的规定" in text
    assert "《《" not in text


def test_notice__an_article_without_its_regulation_is_refused(world):
    # when / then
    with pytest.raises(ActionError):
        make_case(world, article="第三十条")
    assert not Case.objects.exists()


def test_new_case_form__takes_the_regulation_and_article(world, client):
    # given
    client.force_login(world.inspector)
    form = {"units": [world.county_a.pk], "title": "消防通道堵塞", "source": "inspection", "deadline_days": 10,
            "description": "二楼消防通道堆放杂物", "requirement": "立即清理", "issue_now": "on",
            "basis": "2026年11月消防安全专项督查"}
    # when
    page = client.get("/rectification/new/").content.decode()
    too_long = client.post("/rectification/new/", {**form, "regulation": "长" * 101})
    orphan = client.post("/rectification/new/", {**form, "article": "第三十条"})
    created = client.post("/rectification/new/", {**form, "regulation": "养老机构管理办法", "article": "第三十条"})
    # then
    assert 'name="regulation"' in page and 'name="article"' in page
    assert too_long.status_code == 200 and orphan.status_code == 200
    with translation.override("zh-hans"):
        assert translation.gettext("Name the regulation the article belongs to, or leave the article empty.") \
            in orphan.content.decode()
    assert created.status_code == 302
    case = RectificationCase.objects.get()
    assert (case.basis, case.regulation, case.article) == ("2026年11月消防安全专项督查", "养老机构管理办法", "第三十条")


def test_api__takes_and_shows_the_legal_basis(world, client):
    # given
    client.force_login(world.inspector)
    body = {"unit": world.county_a.pk, "title": "消防通道堵塞", "description": "二楼消防通道堆放杂物",
            "requirement": "立即清理", "regulation": "养老机构管理办法", "article": "第三十条"}
    # when
    created = client.post("/api/v1/rectification/cases/", body, content_type="application/json")
    orphan = client.post("/api/v1/rectification/cases/", {**body, "regulation": ""}, content_type="application/json")
    too_long = client.post("/api/v1/rectification/cases/", {**body, "article": "条" * 51},
                           content_type="application/json")
    # then
    assert created.status_code == 201, created.content
    detail = client.get(f"/api/v1/rectification/cases/{created.json()['id']}/").json()
    assert (detail["regulation"], detail["article"]) == ("养老机构管理办法", "第三十条")
    # an article alone is refused with its reason (a rule between fields: the API's refusal code for
    # such rules, 400 or 409); a bound is a 400 naming the field
    assert orphan.status_code in (400, 409)
    with translation.override("zh-hans"):
        assert translation.gettext("Name the regulation the article belongs to, or leave the article empty.") \
            in orphan.json()["detail"]
    assert too_long.status_code == 400 and "article" in too_long.json()
    assert RectificationCase.objects.count() == 1


# The unit's record in the admin --------------------------------------------------------------
@pytest.fixture
def superadmin(world):
    user = make_user(Role.ADMIN, world.city)
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(User.objects.get(pk=user.pk))
    return client


def unit_form(unit, **changes):
    return {"code": unit.code, "name": unit.name, "kind": unit.kind, "parent": unit.parent_id or "",
            "credit_code": "", "head_name": "", "address": "", **changes}


def test_admin__the_unit_form_edits_credit_code_and_person_in_charge(world, superadmin):
    # given
    url = reverse("admin:workflow_unit_change", args=[world.county_a.pk])
    # when
    page = superadmin.get(url).content.decode()
    saved = superadmin.post(url, unit_form(world.county_a, credit_code=VALID_CODE.lower(), head_name="李建国"))
    # then
    assert 'name="credit_code"' in page and 'name="head_name"' in page
    assert saved.status_code == 302
    unit = Unit.objects.get(pk=world.county_a.pk)
    assert (unit.credit_code, unit.head_name) == (VALID_CODE, "李建国")


@pytest.mark.parametrize("code", ["12330100MB0000000", "91350100M000100Y44", "91350100M000100I43"])
def test_admin__a_malformed_credit_code_is_refused_in_chinese(world, superadmin, code):
    # when
    response = superadmin.post(reverse("admin:workflow_unit_change", args=[world.county_a.pk]),
                               unit_form(world.county_a, credit_code=code))
    # then
    assert response.status_code == 200
    with translation.override("zh-hans"):
        assert translation.gettext(BAD_CREDIT_CODE) in response.content.decode()
    assert Unit.objects.get(pk=world.county_a.pk).credit_code == ""


# The demo's dates ------------------------------------------------------------------------------
@pytest.fixture
def seeded(db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    return RectificationCase.objects.filter(supervisor_unit__code="DEMO-CITY")


def test_seed__cases_are_issued_over_past_weeks_never_after_their_deadline(seeded):
    today = timezone.localdate()
    issued = [case for case in seeded if case.issued_at is not None]
    days = {timezone.localdate(case.issued_at) for case in issued}
    # then: issued before today, on many days over more than three weeks
    assert len(issued) > 40
    assert all(timezone.localdate(case.issued_at) <= case.deadline for case in issued)
    assert all(timezone.localdate(case.issued_at) < today for case in issued)
    assert len(days) >= 10 and min(days) <= today - timedelta(days=21)
    # nothing happened before the case was opened, nor after now
    now = timezone.now()
    for case in issued:
        assert case.created_at <= case.issued_at <= now
        assert case.signed_at is None or case.issued_at <= case.signed_at <= now
        assert case.closed_at is None or case.issued_at <= case.closed_at <= now


def test_seed__rungs_follow_from_the_dates_as_the_sweep_gives_them(seeded):
    today = timezone.localdate()
    # when: the daily sweep runs right after seeding
    fired = escalation.sweep(today)
    # then: nothing was left for it, and each case's rungs are those its deadline gives today
    assert fired == 0
    rungs = set()
    for case in seeded.select_related("unit", "supervisor_unit"):
        if not escalation.in_ladder(case) and case.rung == 0:
            continue
        due = escalation.rung_dates(case.deadline, escalation.case_policy(case, today))
        expected = sum(1 for day in due.values() if day <= today)
        assert case.rung == expected, (case.number, case.status, case.deadline, case.rung)
        assert set(Escalation.objects.filter(case=case).values_list("rung", flat=True)) == set(range(1, expected + 1))
        rungs.add(case.rung)
    assert {0, Rung.REMINDER, Rung.YELLOW, Rung.RED, Rung.ACCOUNTABILITY} <= rungs  # every kind of light is shown


def test_seed__units_have_their_records_and_a_second_run_changes_nothing(seeded):
    # given
    before = list(seeded.order_by("pk").values_list("pk", "issued_at", "deadline", "rung", "next_rung_on"))
    units = list(Unit.objects.filter(code__startswith="DEMO-").order_by("pk").values_list("credit_code", "head_name"))
    # when
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    # then
    assert list(seeded.order_by("pk").values_list("pk", "issued_at", "deadline", "rung", "next_rung_on")) == before
    assert list(Unit.objects.filter(code__startswith="DEMO-").order_by("pk")
                .values_list("credit_code", "head_name")) == units
    assert all(credit_code_valid(code) and head for code, head in units)


# The red list ----------------------------------------------------------------------------------
def overdue(world, unit, days_ago):
    case = make_case(world, unit=unit)
    case.deadline = timezone.localdate() - timedelta(days=days_ago)
    Case.objects.filter(pk=case.pk).update(deadline=case.deadline, next_rung_on=escalation.next_rung_on(case))
    return case


@pytest.fixture
def escalated(world):
    overdue(world, world.county_a, 40)
    overdue(world, world.county_a, 1)
    overdue(world, world.county_b, 10)
    escalation.sweep(timezone.localdate())
    return world


def test_red_list__the_all_units_row_shows_its_total(escalated, client):
    # given
    client.force_login(escalated.inspector)
    # when
    page = client.get("/red-list/").content.decode()
    # then
    totals_row = re.search(r'<tr class="rung-totals">(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(?:<strong>)?(\d+)(?:</strong>)?</td>", totals_row)
    expected = Case.objects.filter(phase="open", rung__gt=0).count()  # each open case once, at its rung
    assert len(cells) == len(Rung.values) + 1
    assert int(cells[-1]) == sum(int(n) for n in cells[:-1]) == expected == 3


@pytest.mark.e2e
def test_red_list__on_a_phone_each_count_keeps_its_rungs_label(escalated, login):
    # given
    page = login(escalated.leader, viewport=PHONE)
    # when
    page.goto("/red-list/")
    # then: every count reads with its rung's label before it, the total too
    cells = page.locator("table.rung-table tr.rung-totals td.rung-n")
    assert cells.count() == len(Rung.values) + 1
    with translation.override("zh-hans"):
        labels = [str(label) for label in Rung.labels] + [translation.gettext("Total")]
    shown = [cells.nth(n).evaluate("el => getComputedStyle(el, '::before').content") for n in range(cells.count())]
    assert [label.strip('"').strip() for label in shown] == labels
    texts = cells.all_inner_texts()
    assert texts[-1].strip() == "3"
    # and a unit's counts sit together on a few lines of its card, not one per line
    first, last = cells.first.bounding_box(), cells.last.bounding_box()
    assert last["y"] - first["y"] < 3 * first["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
