"""Hazard reports from outside (RELIABILITY 33): the public form served without a login, with its
captcha, throttling, photo checks and query code; grid members' reports; the inspectors' triage;
and the host that serves only the public pages."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings

from processes.hazard import services_reports as reports
from processes.hazard.models import HazardCase, Report
from tests.factories import PDF_BYTES, make_unit, make_user, upload
from tests.hazard_helpers import photo
from workflow.cases.evidence import EvidenceRejected
from workflow.cases.engine import Actor
from workflow.kernel.errors import ActionError
from workflow.models import AuditEvent, Evidence, OutboxMessage, Role, UnitKind
from workflow.trail import audit

pytestmark = pytest.mark.django_db
REPORT_URL, QUERY_URL = "/public/hazard/report/", "/public/hazard/query/"
SCRIPT = "<script>alert('x')</script>"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_cache_and_captcha(monkeypatch):
    """Counters start at nought; the captcha takes "PASSED" (django-simple-captcha's test mode)."""
    from captcha.conf import settings as captcha_settings

    monkeypatch.setattr(captcha_settings, "CAPTCHA_TEST_MODE", True)
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def grid(world):
    township = make_unit("甲镇民政办", UnitKind.TOWNSHIP_OFFICE, parent=world.county_a)
    return make_user(Role.GRID, township)


@pytest.fixture
def home(world):
    return make_unit("甲县福寿园养老院", UnitKind.ELDERLY_CARE, parent=world.county_a)


def stored_files() -> int:
    return sum(len(files) for _dir, _subdirs, files in os.walk(settings.EVIDENCE_ROOT))


def form_data(world, **extra):
    data = {"unit": world.county_a.pk, "place": "城东路12号", "subject": "福寿园养老院", "category": "fire",
            "description": "二楼消防通道堆满杂物", "contact": "13800000000",
            "captcha_0": "key", "captcha_1": "PASSED"}
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def file_by_form(client, world, photos=(), **extra):
    data = form_data(world, **extra)
    if photos:
        data["photos"] = list(photos)
    return client.post(REPORT_URL, data)


def code_of(response) -> str:
    text = response.content.decode()
    marker = text.index("<strong>") + len("<strong>")
    return text[marker:text.index("</strong>", marker)]


def query(client, code):
    return client.post(QUERY_URL, {"code": code})


# Filing and following ------------------------------------------------------------------------------
def test_a_report_files_without_login_and_its_code_finds_it(world):
    client = Client()
    page = client.get(REPORT_URL)
    assert page.status_code == 200 and b"captcha" in page.content
    assert world.county_a.name.encode() in page.content and world.city.name.encode() in page.content
    response = file_by_form(client, world, photos=[upload("a.jpg", photo(1), "image/jpeg")])
    assert response.status_code == 200
    code = code_of(response)
    assert len(code) == 14 and code.count("-") == 2
    report = Report.objects.get()
    assert report.channel == "public" and report.created_by is None and report.unit == world.county_a
    assert report.query_hash == reports.code_hash(code.replace("-", "")) and code not in str(vars(report))
    assert response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    # Photos are the report's evidence; the events name no user and the chain verifies.
    (evidence,) = Evidence.objects.filter(record_id=report.pk)
    assert evidence.is_image and evidence.photo_hash is not None and evidence.uploaded_by is None
    events = AuditEvent.objects.filter(chain=report.audit_chain).order_by("seq")
    assert [(e.action, e.actor_id) for e in events] == [("file_report", None), ("upload_evidence", None)]
    assert audit.verify() == []
    # The code, typed in lower case with spaces, finds the report.
    found = query(client, code.lower().replace("-", " "))
    assert found.status_code == 200
    assert report.get_status_display().encode() in found.content and b"13800000000" not in found.content
    assert "城东路12号".encode() in found.content


@pytest.mark.parametrize("code", ["AAAA-AAAA-AAAA", "abc", "0000-0000-0000", "' OR 1=1 --", "x" * 40])
def test_a_forged_or_unknown_code_says_no_such_report(world, code):
    reports.file_report(actor=Actor(user=None), unit=world.county_a, place="城东路", description="杂物")
    response = query(Client(), code)
    assert response.status_code == 200
    assert b"No report has this query code" in response.content or "没有".encode() in response.content
    assert "城东路".encode() not in response.content


def test_the_bureaus_inspectors_are_told_of_a_new_report(world):
    county_inspector = make_user(Role.INSPECTOR, world.county_a)
    reports.file_report(actor=Actor(user=None), unit=world.county_a, place="城东路", description="杂物")
    told = OutboxMessage.objects.filter(case=None, recipient=county_inspector)
    assert told.exists() and "城东路" in told.first().subject
    assert not OutboxMessage.objects.filter(recipient=world.handler_a).exists()


def test_the_same_answer_for_a_malformed_and_an_unknown_code():
    assert reports.lookup("not a code") is None and reports.lookup("2345-6789-ABCD") is None


def test_script_in_text_is_escaped_on_the_query_and_triage_pages(world):
    client = Client()
    code = code_of(file_by_form(client, world, place=SCRIPT, description=SCRIPT, subject=SCRIPT))
    report = Report.objects.get()
    assert report.place == SCRIPT  # kept as typed: text, never markup
    reports.decline(actor=world.actor("inspector"), report_id=report.pk, reply=SCRIPT)
    for page in (query(client, code), _logged_in(world.inspector).get(f"/hazard/reports/{report.pk}/"),
                 _logged_in(world.inspector).get("/hazard/reports/")):
        assert page.status_code == 200
        assert SCRIPT.encode() not in page.content
        assert b"&lt;script&gt;" in page.content


def test_the_captcha_is_required_and_checked(world):
    client = Client()
    missing = file_by_form(client, world, captcha_0=None, captcha_1=None)
    assert missing.status_code == 400
    page = client.get(REPORT_URL)
    key = page.context["form"]["captcha"].field.widget._key
    wrong = file_by_form(client, world, captcha_0=key, captcha_1="WRONG")
    assert wrong.status_code == 400 and Report.objects.count() == 0
    assert "captcha" in wrong.context["form"].errors


@pytest.mark.parametrize("field,value", [("place", ""), ("description", ""), ("place", "x" * 201),
                                         ("description", "x" * 2001), ("contact", "x" * 101),
                                         ("category", "nuclear"), ("unit", "999999999999999999999")])
def test_bad_fields_are_refused_with_a_message(world, field, value):
    response = file_by_form(Client(), world, **{field: value})
    assert response.status_code == 400 and field in response.context["form"].errors
    assert Report.objects.count() == 0


def test_only_a_bureau_can_be_reported_to(world, home):
    response = file_by_form(Client(), world, unit=home.pk)
    assert response.status_code == 400 and "unit" in response.context["form"].errors
    with pytest.raises(ActionError):
        reports.file_report(actor=Actor(user=None), unit=home, place="x", description="y")


# Photos ------------------------------------------------------------------------------------------------
@override_settings(PUBLIC_PHOTO_MAX_BYTES=1000)
def test_an_oversized_photo_is_refused_and_nothing_is_kept(world):
    before = stored_files()
    big = photo(2)
    assert len(big) > 1000
    response = file_by_form(Client(), world, photos=[upload("big.jpg", big, "image/jpeg")])
    assert response.status_code == 413
    assert "big.jpg" in response.context["form"].errors["photos"][0]
    assert Report.objects.count() == 0 and Evidence.objects.count() == 0 and stored_files() == before
    # The service refuses it too, whoever calls it.
    with pytest.raises(EvidenceRejected) as refused:
        reports.file_report(actor=Actor(user=None), unit=world.county_a, place="x", description="y",
                            photos=[upload("big.jpg", big, "image/jpeg")])
    assert refused.value.status == 413
    assert Report.objects.count() == 0 and stored_files() == before


@pytest.mark.parametrize("name,data,content_type", [
    ("doc.pdf", PDF_BYTES, "application/pdf"),                              # not an image
    ("x.jpg", b"MZ\x90\x00" + b"\x00" * 200, "image/jpeg"),                 # a program named .jpg
    ("x.jpg.php", photo(3), "image/jpeg"),                                  # a script's extension
    ("x.png", b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script>", "image/png"),  # polyglot
])
def test_a_file_that_is_no_photo_is_refused_and_the_report_is_not_half_saved(world, name, data, content_type):
    before = stored_files()
    response = file_by_form(Client(), world, photos=[upload("ok.jpg", photo(4), "image/jpeg"),
                                                     upload(name, data, content_type)])
    assert response.status_code == 400
    assert response.context["form"].errors["photos"]
    assert Report.objects.count() == 0 and Evidence.objects.count() == 0 and stored_files() == before
    assert not AuditEvent.objects.filter(action="file_report").exists()


def test_at_most_three_photos(world):
    photos = [upload(f"p{i}.jpg", photo(10 + i), "image/jpeg") for i in range(4)]
    response = file_by_form(Client(), world, photos=photos)
    assert response.status_code == 400 and Report.objects.count() == 0


def test_a_failure_after_storing_removes_the_stored_photos(world, monkeypatch):
    before = stored_files()

    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr("workflow.cases.evidence.add_record_files", broken)
    with pytest.raises(RuntimeError):
        reports.file_report(actor=Actor(user=None), unit=world.county_a, place="x", description="y",
                            photos=[upload("a.jpg", photo(5), "image/jpeg")])
    assert Report.objects.count() == 0 and stored_files() == before


# Throttling ---------------------------------------------------------------------------------------------
LIMITS = {"page": (3, 10 ** 9), "post": (100, 10 ** 9), "report": (2, 10 ** 9), "query": (3, 10 ** 9)}


@override_settings(PUBLIC_RATE_LIMITS=LIMITS)
def test_flooding_the_form_gets_429_after_the_limit(world):
    client = Client()
    assert [file_by_form(client, world).status_code for _ in range(2)] == [200, 200]
    flooded = file_by_form(client, world)
    assert flooded.status_code == 429 and int(flooded["Retry-After"]) > 0
    assert b"429" in flooded.content and Report.objects.count() == 2
    # Another address still may.
    assert file_by_form(Client(REMOTE_ADDR="10.0.0.9"), world).status_code == 200
    # Page views are limited too (each draws a captcha).
    assert [client.get(REPORT_URL).status_code for _ in range(4)] == [200, 200, 200, 429]


@override_settings(PUBLIC_RATE_LIMITS={**LIMITS, "post": (2, 10 ** 9)})
def test_wrong_captchas_count_against_the_posts_limit(world):
    client = Client()
    codes = [file_by_form(client, world, captcha_0=None, captcha_1=None).status_code for _ in range(3)]
    assert codes == [400, 400, 429]
    assert file_by_form(client, world).status_code == 429 and Report.objects.count() == 0


@override_settings(PUBLIC_RATE_LIMITS=LIMITS)
def test_guessing_codes_is_throttled(world):
    client = Client()
    assert [query(client, f"2345-6789-ABC{c}").status_code for c in "DEFG"] == [200, 200, 200, 429]


@override_settings(PUBLIC_RATE_LIMITS={**LIMITS, "report": (1, 10 ** 9)}, PUBLIC_CLIENT_IP_HEADER="HTTP_X_REAL_IP")
def test_behind_a_proxy_the_clients_address_is_counted(world):
    proxy = Client(REMOTE_ADDR="127.0.0.1")
    assert proxy.post(REPORT_URL, form_data(world), HTTP_X_REAL_IP="1.2.3.4").status_code == 200
    assert proxy.post(REPORT_URL, form_data(world), HTTP_X_REAL_IP="1.2.3.4").status_code == 429
    assert proxy.post(REPORT_URL, form_data(world), HTTP_X_REAL_IP="5.6.7.8").status_code == 200


# The public-only host -----------------------------------------------------------------------------------
@override_settings(ROOT_URLCONF="config.urls_public")
def test_public_only_serves_the_form_and_404s_everything_else(world):
    client = Client()
    assert client.get(REPORT_URL).status_code == 200
    assert client.get(QUERY_URL).status_code == 200
    assert file_by_form(client, world).status_code == 200
    staff = Client()
    staff.force_login(world.inspector)
    for url in ("/admin/", "/admin/login/", "/api/v1/", "/api/v1/schema/", "/accounts/login/", "/", "/inbox/",
                "/hazard/", "/hazard/reports/", f"/hazard/{1}/", "/rectification/", "/evidence/"
                "00000000-0000-0000-0000-000000000000/"):
        for who in (client, staff):
            response = who.get(url)
            assert response.status_code == 404, url
    # Its 404 page links to the form, and nowhere on the main site.
    missing = client.get("/nowhere/").content.decode()
    assert f'href="{REPORT_URL}"' in missing and 'href="/"' not in missing and "/accounts/" not in missing


@override_settings(ROOT_URLCONF="config.urls_public", CSRF_FAILURE_VIEW="config.urls_public.csrf_failure")
def test_public_only_refuses_a_form_without_its_csrf_token_with_its_own_page(world):
    response = Client(enforce_csrf_checks=True).post(REPORT_URL, form_data(world))
    assert response.status_code == 403 and Report.objects.count() == 0
    assert f'href="{REPORT_URL}"'.encode() in response.content and b'href="/inbox/"' not in response.content


def test_the_setting_picks_the_public_urlconf():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DUBAN_PUBLIC_ONLY": "1"}
    out = subprocess.run([sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
                          "print(settings.ROOT_URLCONF, settings.SESSION_COOKIE_NAME, settings.CSRF_FAILURE_VIEW)"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["config.urls_public", "duban_public_session", "config.urls_public.csrf_failure"]


# Grid members ---------------------------------------------------------------------------------------------
def test_a_grid_member_reports_to_the_bureau_above_and_sees_their_list(world, grid):
    client = _logged_in(grid)
    assert client.get("/hazard/grid/report/").status_code == 200
    data = {k: v for k, v in form_data(world).items() if not k.startswith("captcha") and k != "unit"}
    data["photos"] = [upload("g.jpg", photo(6), "image/jpeg")]
    response = client.post("/hazard/grid/report/", data)
    assert response.status_code == 302
    report = Report.objects.get()
    assert report.channel == "grid" and report.unit == world.county_a and report.created_by == grid
    assert report.query_hash == "" and Evidence.objects.get(record_id=report.pk).uploaded_by == grid
    listing = client.get("/hazard/grid/reports/")
    assert listing.status_code == 200 and "城东路12号".encode() in listing.content
    # Someone else's own list does not hold it; other roles have no such pages.
    other = make_user(Role.GRID, world.county_b)
    assert "城东路12号".encode() not in _logged_in(other).get("/hazard/grid/reports/").content
    assert _logged_in(world.handler_a).get("/hazard/grid/report/").status_code == 404
    assert _logged_in(grid).get("/hazard/reports/").status_code == 404


def test_a_grid_member_cannot_choose_another_bureau(world, grid):
    report, code = reports.file_report(actor=Actor(user=grid), unit=world.county_b, place="x", description="y")
    assert report.unit == world.county_a and code == ""
    with pytest.raises(ActionError):
        reports.file_report(actor=world.actor("handler_a"), unit=world.county_a, place="x", description="y")


# Triage --------------------------------------------------------------------------------------------------
def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_take_up_opens_a_linked_hazard_case_and_the_query_page_shows_its_state(world, home):
    client = Client()
    code = code_of(file_by_form(client, world, photos=[upload("a.jpg", photo(7), "image/jpeg")]))
    report = Report.objects.get()
    inspector = _logged_in(world.inspector)
    listing = inspector.get("/hazard/reports/")
    assert listing.status_code == 200 and "城东路12号".encode() in listing.content
    page = inspector.get(f"/hazard/reports/{report.pk}/")
    assert page.status_code == 200 and b"13800000000" in page.content and b"inline=1" in page.content
    token = page.context["take_up"]["form_token"].value()
    response = inspector.post(f"/hazard/reports/{report.pk}/take-up/",
                              {"unit": home.pk, "reply": "已受理，将派员核查", "form_token": token})
    assert response.status_code == 302
    report.refresh_from_db()
    case = HazardCase.objects.get()
    assert report.status == "accepted" and report.case_id == case.pk and report.handled_by == world.inspector
    assert case.unit == home and case.source == "public" and case.category == "fire" and case.status == "found"
    assert case.supervisor_unit == world.city and "二楼消防通道堆满杂物" in case.description
    assert "13800000000" not in case.description + case.title
    assert AuditEvent.objects.filter(chain=report.audit_chain, action="take_up", actor_id=world.inspector.pk).exists()
    # The same form again changes nothing.
    again = inspector.post(f"/hazard/reports/{report.pk}/take-up/", {"unit": home.pk, "form_token": token})
    assert again.status_code == 302 and HazardCase.objects.count() == 1
    found = query(client, code)
    assert str(HazardCase.spec.state_label("found")).encode() in found.content or "待定级".encode() in found.content
    assert "已受理，将派员核查".encode() in found.content
    assert case.number.encode() not in found.content and world.inspector.full_name.encode() not in found.content


def test_take_up_only_below_the_inspectors_unit(world):
    report, _code = reports.file_report(actor=Actor(user=None), unit=world.county_a, place="x", description="y")
    response = _logged_in(world.inspector).post(f"/hazard/reports/{report.pk}/take-up/", {"unit": world.city.pk})
    assert response.status_code == 400 and HazardCase.objects.count() == 0
    assert Report.objects.get().status == "received"


def test_decline_shows_the_reply(world):
    client = Client()
    code = code_of(file_by_form(client, world))
    report = Report.objects.get()
    inspector = _logged_in(world.inspector)
    empty = inspector.post(f"/hazard/reports/{report.pk}/decline/", {"reply": ""})
    assert empty.status_code == 400 and Report.objects.get().status == "received"
    long = inspector.post(f"/hazard/reports/{report.pk}/decline/", {"reply": "x" * 1001})
    assert long.status_code == 400
    done = inspector.post(f"/hazard/reports/{report.pk}/decline/", {"reply": "经核实不属于民政管辖"})
    assert done.status_code == 302
    report.refresh_from_db()
    assert report.status == "declined" and report.handled_by == world.inspector
    assert "经核实不属于民政管辖".encode() in query(client, code).content
    # Handled once: taking it up now changes nothing.
    with pytest.raises(ActionError):
        reports.take_up(actor=world.actor("inspector"), report_id=report.pk, unit=world.county_a)
    assert HazardCase.objects.count() == 0


def test_another_countys_inspector_cannot_see_the_report(world, home):
    report, _code = reports.file_report(actor=Actor(user=None), unit=world.county_a, place="城东路", description="y")
    inspector_b = make_user(Role.INSPECTOR, world.county_b)
    client = _logged_in(inspector_b)
    assert client.get(f"/hazard/reports/{report.pk}/").status_code == 404
    assert client.post(f"/hazard/reports/{report.pk}/decline/", {"reply": "x"}).status_code == 404
    assert client.post(f"/hazard/reports/{report.pk}/take-up/", {"unit": home.pk}).status_code == 404
    assert "城东路".encode() not in client.get("/hazard/reports/").content
    evidence_free = Report.objects.get()
    assert evidence_free.status == "received"
    assert AuditEvent.objects.filter(action="access_denied", actor_id=inspector_b.pk).exists()
    # A county A inspector sees it; a leader may read it but not act on it.
    assert _logged_in(make_user(Role.INSPECTOR, world.county_a)).get(f"/hazard/reports/{report.pk}/").status_code == 200
    assert _logged_in(world.leader).get(f"/hazard/reports/{report.pk}/").status_code == 200
    assert _logged_in(world.leader).post(f"/hazard/reports/{report.pk}/decline/", {"reply": "x"}).status_code == 403
    assert _logged_in(world.handler_a).get(f"/hazard/reports/{report.pk}/").status_code == 404


def test_the_report_photos_are_served_only_to_those_who_see_the_report(world):
    report, _code = reports.file_report(actor=Actor(user=None), unit=world.county_a, place="x", description="y",
                                        photos=[upload("a.jpg", photo(8), "image/jpeg")])
    evidence = Evidence.objects.get(record_id=report.pk)
    url = f"/evidence/{evidence.pk}/?inline=1"
    assert _logged_in(world.inspector).get(url).status_code == 200
    assert _logged_in(make_user(Role.INSPECTOR, world.county_b)).get(url).status_code == 404
    assert Client().get(url).status_code in (302, 404)
