"""The checklist-inspection pages: starting one (an inspector's, a unit's self-inspection; others
refused), filling it in with photos, submitting it (a hazard case per failed item, linked from
the page), scoping (404 for a unit that may not see it, read only for one that may not fill it
in), bad input answered with a message and nothing lost, and the report as a real PDF."""
import subprocess

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import override_settings
from django.urls import reverse

from processes.hazard import services
from processes.hazard.models import Answer, HazardCase, Inspection
from tests.factories import PDF_BYTES, upload
from tests.hazard_helpers import inspect, photo
from workflow.kernel import tokens
from workflow.models import AuditEvent, Evidence

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("hazard_rules")]


def client_for(client, user):
    client.force_login(user)
    return client


def start(world, actor="inspector", kind="unannounced", checklist="food", unit=None):
    return services.start_inspection(actor=world.actor(actor), unit=unit or world.county_a,
                                     checklist=checklist, kind=kind)


def fill_data(inspection, fail=(), **extra):
    """Every item passes except those coded in `fail`, with a note on a failed one."""
    data = {"form_token": tokens.new(), "action": "save"}
    for a in inspection.answers.all():
        data[f"r{a.position}"] = "fail" if a.code in fail else "pass"
        data[f"n{a.position}"] = "现场发现问题" if a.code in fail else ""
    data.update(extra)
    return data


def jpeg(name="site.jpg", seed=1):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, photo(seed), content_type="image/jpeg")


def photos_of(answer):
    return Evidence.objects.filter(record_type=ContentType.objects.get_for_model(Answer), record_id=answer.pk)


# Starting ---------------------------------------------------------------------------------------------
def test_an_inspector_starts_an_unannounced_inspection_of_a_unit_below(client, world):
    client_for(client, world.inspector)
    page = client.get(reverse("hazard:inspection_new"))
    assert page.status_code == 200
    body = page.content.decode()
    assert world.county_a.name in body and "养老机构消防安全检查表（2023）" in body
    response = client.post(reverse("hazard:inspection_new"), {
        "unit": world.county_a.pk, "checklist": "fire", "kind": "unannounced", "inspectors": "张督查、李督查",
        "form_token": tokens.new()})
    inspection = Inspection.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("hazard:inspection", args=[inspection.pk])
    assert (inspection.unit, inspection.by_unit, inspection.kind) == (world.county_a, world.city, "unannounced")
    assert inspection.inspectors == "张督查、李督查" and inspection.answers.count() > 10


def test_a_start_form_sent_twice_starts_one_inspection(client, world):
    client_for(client, world.inspector)
    data = {"unit": world.county_a.pk, "checklist": "fire", "kind": "scheduled", "form_token": tokens.new()}
    client.post(reverse("hazard:inspection_new"), data)
    again = client.post(reverse("hazard:inspection_new"), data)
    assert again.status_code == 302 and Inspection.objects.count() == 1


def test_an_inspector_may_not_inspect_a_unit_outside_their_reach(client, world):
    client_for(client, world.inspector)
    response = client.post(reverse("hazard:inspection_new"), {
        "unit": world.city.pk, "checklist": "fire", "kind": "scheduled", "form_token": tokens.new()})
    assert response.status_code == 200 and response.context["form"].errors["unit"]
    assert Inspection.objects.count() == 0


def test_a_handler_starts_a_self_inspection_of_their_own_unit(client, world):
    client_for(client, world.handler_a)
    page = client.get(reverse("hazard:inspection_new"))
    assert page.status_code == 200 and 'name="unit"' not in page.content.decode()
    # A unit or kind sent anyway is not read: the self-inspection is of the handler's own unit.
    client.post(reverse("hazard:inspection_new"), {"checklist": "building", "unit": world.county_b.pk,
                                                   "kind": "unannounced", "form_token": tokens.new()})
    inspection = Inspection.objects.get()
    assert (inspection.unit, inspection.by_unit, inspection.kind) == (world.county_a, world.county_a, "self")


@pytest.mark.parametrize("who", ["leader", "legal", "admin"])
def test_others_may_not_start_one(client, world, who):
    client_for(client, getattr(world, who))
    assert client.get(reverse("hazard:inspection_new")).status_code == 403
    response = client.post(reverse("hazard:inspection_new"), {"checklist": "fire", "form_token": tokens.new()})
    assert response.status_code == 403 and Inspection.objects.count() == 0


def test_an_unknown_checklist_is_refused_with_a_message(client, world):
    client_for(client, world.inspector)
    response = client.post(reverse("hazard:inspection_new"), {
        "unit": world.county_a.pk, "checklist": "nope", "kind": "scheduled", "form_token": tokens.new()})
    assert response.status_code == 200 and Inspection.objects.count() == 0
    assert response.context["form"].errors["checklist"]


# The list -----------------------------------------------------------------------------------------------
def test_the_list_shows_inspections_and_self_inspections_apart(client, world):
    regulator = start(world)
    own = start(world, actor="handler_a", kind="self", checklist="building")
    start(world, unit=world.county_b)
    client_for(client, world.handler_a)
    listed = client.get(reverse("hazard:inspections"))
    assert [i.pk for i in listed.context["page"].object_list] == [regulator.pk]
    selfs = client.get(reverse("hazard:inspections"), {"tab": "self"})
    assert [i.pk for i in selfs.context["page"].object_list] == [own.pk]
    filtered = client.get(reverse("hazard:inspections"), {"tab": "inspection", "kind": "scheduled"})
    assert list(filtered.context["page"].object_list) == []
    bad = client.get(reverse("hazard:inspections"), {"status": "nonsense"})
    assert bad.status_code == 200 and [i.pk for i in bad.context["page"].object_list] == [regulator.pk]


# Filling in ---------------------------------------------------------------------------------------------
def test_fill_save_with_photos_then_submit_opens_cases(client, world):
    inspection = start(world)
    answers = {a.code: a for a in inspection.answers.all()}
    failed = "F1" if "F1" in answers else next(iter(answers))
    client_for(client, world.inspector)
    page = client.get(reverse("hazard:inspection", args=[inspection.pk]))
    body = page.content.decode()
    assert page.status_code == 200 and 'capture="environment"' in body and 'accept="image/*"' in body
    first = answers[failed]
    data = fill_data(inspection, fail=(failed,))
    data[f"p{first.position}"] = jpeg("a.jpg", 7)
    response = client.post(reverse("hazard:inspection", args=[inspection.pk]), data)
    assert response.status_code == 302
    first.refresh_from_db()
    assert (first.result, first.note) == ("fail", "现场发现问题")
    (ev,) = photos_of(first)
    assert ev.is_image and ev.photo_hash is not None and ev.uploaded_by == world.inspector
    page = client.get(reverse("hazard:inspection", args=[inspection.pk])).content.decode()
    assert reverse("evidence-download", args=[ev.pk]) in page
    # Submitting: the case opened for the failed item is linked from the page and from the item.
    data = fill_data(inspection, fail=(failed,), action="submit", summary="总体较好，一项不合格。")
    response = client.post(reverse("hazard:inspection", args=[inspection.pk]), data)
    assert response.status_code == 302
    inspection.refresh_from_db()
    assert inspection.status == "submitted" and inspection.failed == 1 and inspection.summary == "总体较好，一项不合格。"
    (hazard,) = HazardCase.objects.all()
    assert hazard.answers[0].pk == first.pk and hazard.has_photos("before")
    page = client.get(reverse("hazard:inspection", args=[inspection.pk])).content.decode()
    assert page.count(hazard.get_absolute_url()) == 2 and hazard.number in page
    assert reverse("hazard:inspection_report", args=[inspection.pk]) in page
    assert 'type="radio"' not in page  # read only once submitted
    # The same submit sent again changes nothing.
    again = client.post(reverse("hazard:inspection", args=[inspection.pk]), data)
    assert again.status_code == 302 and HazardCase.objects.count() == 1


def test_a_self_inspection_is_filled_by_the_unit_and_submitted(client, world):
    inspection = start(world, actor="handler_a", kind="self", checklist="building")
    code = inspection.answers.first().code
    client_for(client, world.head_a)
    data = fill_data(inspection, fail=(code,), action="submit")
    assert client.post(reverse("hazard:inspection", args=[inspection.pk]), data).status_code == 302
    (hazard,) = HazardCase.objects.all()
    assert hazard.source == "self" and hazard.unit == world.county_a and hazard.supervisor_unit == world.city


def test_submitting_with_items_unanswered_saves_and_says_which(client, world):
    inspection = start(world)
    client_for(client, world.inspector)
    data = fill_data(inspection, action="submit")
    last = inspection.answers.last()
    data[f"r{last.position}"] = ""
    data["summary"] = "尚未写完的意见"
    response = client.post(reverse("hazard:inspection", args=[inspection.pk]), data)
    body = response.content.decode()
    assert response.status_code == 200 and last.code in body and "尚未写完的意见" in body
    inspection.refresh_from_db()
    assert inspection.status == "open"
    assert inspection.answers.filter(result="pass").count() == inspection.answers.count() - 1


# Scoping ------------------------------------------------------------------------------------------------
def test_another_county_gets_a_404_on_record(client, world):
    inspection, _ = inspect(world, fail=("D1",))
    client_for(client, world.handler_b)
    for name in ("hazard:inspection", "hazard:inspection_report"):
        assert client.get(reverse(name, args=[inspection.pk])).status_code == 404
    assert client.post(reverse("hazard:inspection", args=[inspection.pk]), fill_data(inspection)).status_code == 404
    assert AuditEvent.objects.filter(action="access_denied", actor_id=world.handler_b.pk).count() == 3
    assert client.get(reverse("hazard:inspection", args=[10 ** 6])).status_code == 404


def test_the_inspected_unit_sees_a_regulators_inspection_read_only(client, world):
    inspection = start(world)
    client_for(client, world.handler_a)
    page = client.get(reverse("hazard:inspection", args=[inspection.pk]))
    assert page.status_code == 200 and 'type="radio"' not in page.content.decode()
    response = client.post(reverse("hazard:inspection", args=[inspection.pk]), fill_data(inspection))
    assert response.status_code == 403
    assert not inspection.answers.exclude(result="").exists()
    assert AuditEvent.objects.filter(action="answer", outcome="denied", actor_id=world.handler_a.pk).exists()
    client_for(client, world.head_a)  # nor may its head
    assert client.post(reverse("hazard:inspection", args=[inspection.pk]), fill_data(inspection)).status_code == 403


# Bad input ------------------------------------------------------------------------------------------------
def saved_first(client, world):
    inspection = start(world)
    client_for(client, world.inspector)
    first = inspection.answers.first()
    data = {"form_token": tokens.new(), f"r{first.position}": "fail", f"n{first.position}": "灭火器过期"}
    assert client.post(reverse("hazard:inspection", args=[inspection.pk]), data).status_code == 302
    return inspection, first


def post_bad(client, inspection, changes):
    data = fill_data(inspection)
    data.update(changes)
    return client.post(reverse("hazard:inspection", args=[inspection.pk]), data)


def assert_nothing_lost(inspection, first):
    first.refresh_from_db()
    assert (first.result, first.note) == ("fail", "灭火器过期")
    assert not inspection.answers.filter(result="pass").exists()
    assert not Evidence.objects.exists()


@pytest.mark.parametrize("changes, message", [
    (lambda a: {f"r{a.position}": "maybe"}, "Unknown answer"),
    (lambda a: {"r999": "pass"}, "No such item on this checklist"),
    (lambda a: {f"n{a.position}": "字" * 501}, "at most 500"),
    (lambda a: {"summary": "字" * 5001, "action": "submit"}, "at most 5000"),
    (lambda a: {f"p{a.position}": upload("notes.pdf", PDF_BYTES, "application/pdf")}, "Only photos"),
    (lambda a: {f"p{a.position}": upload("fake.jpg", b"this is text, not a picture", "image/jpeg")}, "does not match"),
])
def test_bad_input_gets_a_message_and_keeps_what_was_saved(client, world, changes, message):
    inspection, first = saved_first(client, world)
    with override_settings(LANGUAGE_CODE="en-us"):
        response = post_bad(client, inspection, changes(first))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert_nothing_lost(inspection, first)


@override_settings(EVIDENCE_MAX_BYTES=300)
def test_an_oversized_photo_is_refused_with_a_message(client, world):
    inspection, first = saved_first(client, world)
    big = jpeg("big.jpg", 3)
    assert big.size > 300
    response = post_bad(client, inspection, {f"p{first.position}": big})
    assert response.status_code == 200 and response.context["form"].errors[f"p{first.position}"]
    assert_nothing_lost(inspection, first)


def test_a_bad_page_posted_is_shown_again_with_what_was_typed(client, world):
    inspection, first = saved_first(client, world)
    second = inspection.answers.all()[1]
    response = post_bad(client, inspection, {f"r{first.position}": "maybe", f"n{second.position}": "刚输入的记录"})
    assert response.status_code == 200 and "刚输入的记录" in response.content.decode()


# The report -----------------------------------------------------------------------------------------------
def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return done.stdout.decode()


def test_the_report_is_a_pdf_naming_the_unit_and_the_failed_item(client, world):
    inspection, hazards = inspect(world, fail=("B3",))
    (hazard,) = hazards
    Inspection.objects.filter(pk=inspection.pk).update(summary="彩钢板房须立即拆除。")
    client_for(client, world.leader)
    response = client.get(reverse("hazard:inspection_report", args=[inspection.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = "".join(pdf_text(response.content).split())
    assert "检查报告" in text and world.county_a.name in text and "四不两直" in text
    assert "可燃装修与彩钢板" in text and hazard.number in text and "彩钢板房须立即拆除" in text


def test_a_self_inspection_report_is_titled_so(client, world):
    inspection, _ = inspect(world, checklist="building", kind="self", actor="handler_a")
    client_for(client, world.handler_a)
    text = "".join(pdf_text(client.get(reverse("hazard:inspection_report", args=[inspection.pk])).content).split())
    assert "自查报告" in text and world.county_a.name in text


def test_no_report_before_submitting(client, world):
    inspection = start(world)
    client_for(client, world.inspector)
    assert client.get(reverse("hazard:inspection_report", args=[inspection.pk])).status_code == 404
