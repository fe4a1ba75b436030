"""Units' duties (职责): suggesting an item's units from its text (keywords as substrings of
Chinese text, full and half width alike, the duty's own words when it has no keywords, generic
words ignored, ranked by more and longer words then by name, read in one query, never crashing
and never showing a word the text lacks), the admin's pages for duties and the lights' rule
versions (clear errors, never a 500, a version in force kept), loading duties from a table
(good, hostile and unknown-unit files) and the demo's duties."""
import csv
import io
import re
import zipfile
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from processes.deployment import duties
from processes.deployment.demo import DEMO_DUTIES, load_demo_duties
from processes.deployment.duties import Folded, keywords, score_duty, shared_words, suggest
from processes.deployment.models import LightRule, UnitDuty
from tests.deployment_helpers import xlsx
from tests.factories import make_unit, make_user
from workflow.models import Role, UnitKind, User


@pytest.fixture
def bureaus(world):
    """Four county-level units with duties: relief and elderly care by keywords, funerals by
    the duty's own words only, and one with no duties at all."""
    relief = world.county_a
    care = world.county_b
    funerals = make_unit("丙县民政局", parent=world.city)
    bare = make_unit("丁县民政局", parent=world.city)
    UnitDuty.objects.create(unit=relief, duty="社会救助", keywords="低保，特困；临时救助 、 低保审核")
    UnitDuty.objects.create(unit=relief, duty="婚姻登记", keywords="婚姻 结婚")
    UnitDuty.objects.create(unit=care, duty="养老服务", keywords="养老、助餐、老年人")
    UnitDuty.objects.create(unit=funerals, duty="负责全县殡葬管理工作和公墓建设", keywords="")
    return {"relief": relief, "care": care, "funerals": funerals, "bare": bare}


def names(suggestions):
    return [s.unit.name for s in suggestions]


# Suggesting ---------------------------------------------------------------------------------------
def test_keywords_split_on_spaces_commas_and_enumeration_marks():
    assert keywords("低保，特困；临时救助 、 低保审核,, ;　养老") == ["低保", "特困", "临时救助", "低保审核", "养老"]
    assert keywords("") == [] and keywords(" ，、 ") == []


def test_suggest__keywords_match_inside_chinese_text_and_rank_the_units(bureaus):
    units = list(bureaus.values())
    found = suggest("规范低保审核确认，落实特困人员供养，推进老年助餐", units)
    assert names(found) == ["甲县民政局", "乙县民政局"]  # the bare unit and the funerals' are not suggested
    relief, care = found
    assert relief.duty == "社会救助" and relief.words == ["低保审核", "特困"]  # 低保 is inside 低保审核
    assert care.duty == "养老服务" and care.words == ["助餐"]
    assert relief.score > care.score > 0


def test_suggest__a_unit_is_suggested_for_its_best_duty(bureaus):
    (found,) = suggest("办理结婚登记和婚姻家庭辅导，另有一户低保", [bureaus["relief"]])
    assert found.duty == "婚姻登记" and found.words == ["婚姻", "结婚"]


def test_suggest__full_and_half_width_are_the_same_and_the_text_is_quoted_as_written(world):
    UnitDuty.objects.create(unit=world.county_a, duty="热线办理", keywords="12345热线，ＡＰＰ")
    (found,) = suggest("办理１２３４５热线转来的app投诉", [world.county_a])
    assert found.words == ["１２３４５热线", "app"]


def test_suggest__a_duty_without_keywords_matches_its_own_words_with_less_weight(bureaus):
    UnitDuty.objects.create(unit=bureaus["bare"], duty="公墓", keywords="殡葬")
    found = suggest("推进殡葬改革", [bureaus["funerals"], bureaus["bare"]])
    assert names(found) == ["丁县民政局", "丙县民政局"]
    assert [s.words for s in found] == [["殡葬"], ["殡葬"]]
    assert found[0].score > found[1].score


def test_suggest__generic_words_alone_do_not_match(bureaus):
    UnitDuty.objects.create(unit=bureaus["bare"], duty="负责有关工作的管理", keywords="")
    assert suggest("负责有关工作的管理和落实", [bureaus["bare"]]) == []
    (found,) = suggest("加强公墓建设管理", [bureaus["funerals"]])
    assert found.words == ["公墓建设"]


def test_suggest__ties_go_by_name_and_limit_counts(world):
    units = [make_unit(name, parent=world.city) for name in ("戊县民政局", "丙县民政局", "乙县民政局2")]
    for unit in units:
        UnitDuty.objects.create(unit=unit, duty="养老服务", keywords="养老")
    found = suggest("养老", units)
    assert names(found) == sorted(u.name for u in units) and len({s.score for s in found}) == 1
    assert names(suggest("养老", units, limit=2)) == sorted(u.name for u in units)[:2]
    assert suggest("养老", units, limit=0) == [] and suggest("", units) == [] and suggest("养老", []) == []


def test_suggest__more_and_longer_words_rank_higher(world):
    one_short, one_long, two = (make_unit(n, parent=world.city) for n in ("甲单位", "乙单位", "丙单位"))
    UnitDuty.objects.create(unit=one_short, duty="甲", keywords="低保")
    UnitDuty.objects.create(unit=one_long, duty="乙", keywords="低保审核确认")
    UnitDuty.objects.create(unit=two, duty="丙", keywords="低保、确认")
    assert names(suggest("低保审核确认", [one_short, one_long, two])) == ["乙单位", "丙单位", "甲单位"]


@pytest.mark.parametrize("as_queryset", [True, False])
def test_suggest__the_duties_are_read_in_one_query(bureaus, as_queryset):
    from workflow.models import Unit

    units = Unit.objects.filter(pk__in=[u.pk for u in bureaus.values()]) if as_queryset else list(bureaus.values())
    with CaptureQueriesContext(connection) as queries:
        found = suggest("低保、养老和殡葬", units)
        assert [s.unit.name for s in found]  # the units come with the duties
    assert len(queries) == 1
    assert names(found) == ["乙县民政局", "甲县民政局", "丙县民政局"]  # 低保 and 养老 tie: by name


WORDS = st.sampled_from(["低保", "特困", "养老", "助餐", "殡葬", "公墓", "管理", "工作", "负责", "ＡＢ", "ab", "ﬁ",
                         "，", "、", " ", "\n", "\x00", "𠀀", "İ", "ß"])


@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=300), st.lists(WORDS, max_size=40).map("".join)))
def test_suggest__never_crashes_and_only_quotes_the_text(bureaus, text):
    found = suggest(text, list(bureaus.values()))
    assert len(found) <= 5
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    for suggestion in found:
        assert suggestion.score > 0 and suggestion.words
        assert all(word and word in text for word in suggestion.words)


@hsettings(max_examples=300, deadline=None)
@given(st.text(max_size=80), st.text(max_size=80), st.text(max_size=200))
def test_score_duty__any_duty_keywords_and_text(duty, words, text):
    folded = Folded(text)
    score, matched = score_duty(UnitDuty(duty=duty, keywords=words), folded)
    assert (score > 0) == bool(matched)
    for word in matched:
        assert word in folded.folded and folded.original(word) in text
    for word in shared_words(duty, folded):
        assert len(word) >= 2 and word in folded.folded


# Admin --------------------------------------------------------------------------------------------
@pytest.fixture
def superadmin(world):
    user = make_user(Role.ADMIN, world.city)
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(User.objects.get(pk=user.pk))
    return client


@pytest.fixture
def staff_admin(world):
    """The administrator as staff with the duty and rule permissions (and the units', for the picker)."""
    user = world.admin
    User.objects.filter(pk=user.pk).update(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["deployment", "workflow"],
                                                        content_type__model__in=["unitduty", "lightrule", "unit"]))
    client = Client()
    client.force_login(User.objects.get(pk=user.pk))
    return client


@pytest.mark.parametrize("who", ["superadmin", "staff_admin"])
def test_admin__duty_pages_list_search_and_pick_the_unit_by_search(bureaus, request, who):
    client = request.getfixturevalue(who)
    listing = client.get(reverse("admin:deployment_unitduty_changelist"))
    searched = client.get(reverse("admin:deployment_unitduty_changelist"), {"q": "殡葬"})
    added = client.get(reverse("admin:deployment_unitduty_add"))
    picked = client.get(reverse("admin:autocomplete"), {"app_label": "deployment", "model_name": "unitduty",
                                                        "field_name": "unit", "term": "丙县"})
    assert listing.status_code == searched.status_code == added.status_code == picked.status_code == 200
    assert listing.context["cl"].result_count == 4 and searched.context["cl"].result_count == 1
    assert "admin-autocomplete" in added.content.decode()
    assert [r["text"] for r in picked.json()["results"]] == ["丙县民政局"]


def test_admin__duty_is_added_and_a_duplicate_or_bad_one_refused(bureaus, superadmin):
    url = reverse("admin:deployment_unitduty_add")
    unit = bureaus["bare"].pk
    good = superadmin.post(url, {"unit": unit, "duty": "  区划  地名管理 ", "keywords": "区划、地名"})
    again = superadmin.post(url, {"unit": unit, "duty": "区划 地名管理", "keywords": ""})
    empty = superadmin.post(url, {"unit": unit, "duty": "   ", "keywords": ""})
    long_word = superadmin.post(url, {"unit": unit, "duty": "门牌", "keywords": "门" * 31})
    no_unit = superadmin.post(url, {"unit": "99999999999999999999", "duty": "门牌", "keywords": ""})
    assert good.status_code == 302
    assert list(UnitDuty.objects.filter(unit_id=unit).values_list("duty", "keywords")) == [("区划 地名管理", "区划、地名")]
    for refused, field in ((again, "duty"), (empty, "duty"), (long_word, "keywords"), (no_unit, "unit")):
        assert refused.status_code == 200 and field in refused.context["adminform"].form.errors
    assert UnitDuty.objects.filter(unit_id=unit).count() == 1


def rule_form(**changes):
    data = {"effective_from": (timezone.localdate() + timedelta(days=1)).isoformat(), "report_day": "25",
            "yellow_gap": "10", "red_gap": "30", "note": ""}
    return {**data, **changes}


@pytest.mark.parametrize("changes, field", [
    ({"yellow_gap": "30"}, "yellow_gap"),
    ({"yellow_gap": "40"}, "yellow_gap"),
    ({"report_day": "0"}, "report_day"),
    ({"report_day": "29"}, "report_day"),
    ({"report_day": "99999999999999999999"}, "report_day"),
    ({"report_day": "二十"}, "report_day"),
    ({"red_gap": "101"}, "red_gap"),
    ({"red_gap": "-1"}, "red_gap"),
    ({"effective_from": "99999-01-01"}, "effective_from"),
])
def test_admin__light_rule_errors_are_shown_not_500(world, superadmin, changes, field):
    response = superadmin.post(reverse("admin:deployment_lightrule_add"), rule_form(**changes))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not LightRule.objects.exists()


def test_admin__light_rule_is_added_and_a_version_in_force_is_kept(world, superadmin):
    url = reverse("admin:deployment_lightrule_add")
    assert superadmin.get(url).status_code == 200
    assert superadmin.post(url, rule_form(effective_from=timezone.localdate().isoformat())).status_code == 302
    assert superadmin.post(url, rule_form()).status_code == 302
    same_day = superadmin.post(url, rule_form())
    assert same_day.status_code == 200 and "effective_from" in same_day.context["adminform"].form.errors
    in_force, coming = LightRule.objects.order_by("effective_from")
    listing = superadmin.get(reverse("admin:deployment_lightrule_changelist"))
    assert listing.status_code == 200 and listing.context["cl"].result_count == 2
    # a version in force is shown, not changed; a coming one may still be corrected
    change = reverse("admin:deployment_lightrule_change", args=[in_force.pk])
    assert superadmin.get(change).status_code == 200
    assert superadmin.post(change, rule_form(effective_from=in_force.effective_from.isoformat(),
                                             yellow_gap="5")).status_code == 403
    assert superadmin.post(reverse("admin:deployment_lightrule_change", args=[coming.pk]),
                           rule_form(yellow_gap="5")).status_code == 302
    in_force.refresh_from_db()
    coming.refresh_from_db()
    assert (in_force.yellow_gap, coming.yellow_gap) == (10, 5)


# Loading a table ----------------------------------------------------------------------------------
def csv_bytes(rows, encoding="utf-8-sig") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def numbers(text) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text)]


def run(tmp_path, name, data, *args):
    path = tmp_path / name
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    call_command("load_duties", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


TABLE = [
    ["单位名称", "主要职责", "关键词"],
    ["甲县民政局", "社会救助", "低保、特困"],
    [None, "婚姻登记", "婚姻 结婚"],           # merged down: the unit above
    ["乙县民政局", "养老服务", "养老，助餐"],
    ["", "", ""],
    ["不存在的局", "区划地名", "地名"],
    ["乙县民政局", "  殡葬  管理 ", None],
]


def test_load_duties__xlsx_with_heading_merged_unit_cells_and_unknown_names(world, tmp_path):
    out, err = run(tmp_path, "职责.xlsx", xlsx(TABLE, merge="A2:A3"))
    got = sorted(UnitDuty.objects.values_list("unit__name", "duty", "keywords"))
    assert got == [("乙县民政局", "养老服务", "养老，助餐"), ("乙县民政局", "殡葬 管理", ""),
                   ("甲县民政局", "婚姻登记", "婚姻 结婚"), ("甲县民政局", "社会救助", "低保、特困")]
    assert numbers(out)[:1] == [4] and "不存在的局" in err and 6 in numbers(err)
    # again: nothing added; a changed keyword updates, a table without keywords keeps them
    changed = [row[:] for row in TABLE]
    changed[1][2] = "低保、特困、临时救助"
    changed[3][2] = None
    out, err = run(tmp_path, "职责.xlsx", xlsx(changed, merge="A2:A3"))
    assert UnitDuty.objects.count() == 4
    assert UnitDuty.objects.get(duty="社会救助").keywords == "低保、特困、临时救助"
    assert UnitDuty.objects.get(duty="养老服务").keywords == "养老，助餐"
    assert sorted(numbers(out)) == [0, 1, 3]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_load_duties__csv_of_two_columns(world, tmp_path, encoding):
    rows = [["甲县民政局", "社会救助（低保、特困）"], ["乙县民政局", "养老服务"]]
    run(tmp_path, "duties.csv", csv_bytes(rows, encoding))
    assert sorted(UnitDuty.objects.values_list("unit__name", "duty", "keywords")) == [
        ("乙县民政局", "养老服务", ""), ("甲县民政局", "社会救助（低保、特困）", "")]
    (found,) = suggest("做好低保工作", [world.county_a, world.county_b])
    assert found.unit == world.county_a and found.words == ["低保"]


def test_load_duties__ambiguous_names_bad_rows_and_dry_run(world, tmp_path):
    make_unit("城关镇民政办", UnitKind.TOWNSHIP_OFFICE, parent=world.county_a)
    make_unit("城关镇民政办", UnitKind.TOWNSHIP_OFFICE, parent=world.county_b)
    rows = [["城关镇民政办", "入户调查"], ["甲县民政局", "职" * 201], ["甲县民政局", ""], ["甲县民政局", "养老服务"]]
    out, err = run(tmp_path, "duties.csv", csv_bytes(rows), "--dry-run")
    assert "城关镇民政办" in err and {1, 2, 3} <= set(numbers(err))
    assert not UnitDuty.objects.exists()
    run(tmp_path, "duties.csv", csv_bytes(rows))
    assert list(UnitDuty.objects.values_list("duty", flat=True)) == ["养老服务"]


def with_part(data: bytes, name: str, content: bytes) -> bytes:
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


GOOD = xlsx([["甲县民政局", "社会救助", "低保"]])


@pytest.mark.parametrize("name, data", [
    ("macros.xlsx", with_part(GOOD, "xl/vbaProject.bin", b"\x00" * 100)),
    ("bomb.xlsx", with_part(GOOD, "xl/worksheets/sheet9.xml", b"\x00" * (3 * 1024 * 1024))),
    ("program.xlsx", with_part(GOOD, "xl/media/run.exe", b"MZ")),
    ("word.xlsx", with_part(b"", "[Content_Types].xml", b"<Types/>")),
    ("fake.xlsx", b"just text, not a workbook"),
    ("broken.xlsx", GOOD[:200]),
    ("empty.csv", b""),
    ("nul.csv", "甲县民政局,社会救助\x00".encode()),
    ("utf16.csv", "甲县民政局,社会救助".encode("utf-16")),
    ("duties.txt", b"a,b"),
])
def test_load_duties__hostile_or_wrong_files_are_refused(world, tmp_path, name, data):
    with pytest.raises(CommandError):
        run(tmp_path, name, data)
    assert not UnitDuty.objects.exists()


def test_load_duties__size_and_rows_are_bounded(world, tmp_path, monkeypatch):
    monkeypatch.setattr(duties, "TABLE_MAX_BYTES", 100)
    with pytest.raises(CommandError):
        run(tmp_path, "big.csv", csv_bytes([["甲县民政局", "社会救助" * 10]] * 5))
    monkeypatch.setattr(duties, "TABLE_MAX_BYTES", 2 * 1024 * 1024)
    monkeypatch.setattr(duties, "TABLE_MAX_ROWS", 3)
    with pytest.raises(CommandError):
        run(tmp_path, "long.xlsx", xlsx([["甲县民政局", f"职责{n}"] for n in range(5)]))
    with pytest.raises(CommandError):
        call_command("load_duties", str(tmp_path / "missing.csv"))
    assert not UnitDuty.objects.exists()


# Demo ---------------------------------------------------------------------------------------------
def test_demo_duties_cover_the_demo_units_and_load_once(db):
    from processes.rectification.management.commands.seed_demo import Command

    units = Command()._units()
    assert set(DEMO_DUTIES) <= set(units)
    added = load_demo_duties(units)
    assert added == sum(len(rows) for rows in DEMO_DUTIES.values()) == UnitDuty.objects.count()
    assert load_demo_duties(units) == 0
    county = [units[code] for code in ("DC-T0", "DC-ELDERLY_CARE", "DC-FUNERAL_HOME", "DC-RELIEF_STATION")]
    assert suggest("新建老年助餐点5个，完成养老院消防改造", county)[0].unit == units["DC-ELDERLY_CARE"]
    assert suggest("推进惠民殡葬，规范遗体接运", county)[0].unit == units["DC-FUNERAL_HOME"]
    assert suggest("开展流浪乞讨人员街面巡查", county)[0].unit == units["DC-RELIEF_STATION"]
    assert suggest("规范低保审核确认和入户调查", county)[0].unit == units["DC-T0"]
