"""The office's pages for a matter's tree of items (processes.deployment.editor): the tree as
the office and as others see it, each edit through its form, the imports of a work plan (file
or pasted text) and of a task table with its preview and unmatched units, and bad or hostile
input answered with a message, never a 500."""
import io
import zipfile
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from processes.deployment import services
from processes.deployment.editor import PENDING
from processes.deployment.forms import sentences
from processes.deployment.models import MatterCase, PlanItem, UnitDuty
from tests.deployment_helpers import register_plan, xlsx, zh
from tests.factories import make_unit, make_user
from workflow.kernel import tokens
from workflow.models import AuditEvent, Role, UnitKind


@pytest.fixture(autouse=True)
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def plan(world):
    return register_plan(world)


def client_for(client, user):
    client.force_login(user)
    return client


def items_of(matter):
    return list(PlanItem.objects.filter(matter=matter).order_by("position"))


def url(name, *args):
    return reverse(f"matter:{name}", args=args)


def later(days=30):
    return (timezone.localdate() + timedelta(days=days)).isoformat()


# The tree ----------------------------------------------------------------------------------------
def test_the_office_sees_the_tree_with_its_edits(client, world, plan):
    response = client_for(client, world.inspector).get(url("items", plan.pk))
    assert response.status_code == 200
    page = response.content.decode()
    first, second = items_of(plan)[:2]
    assert "兜牢民生底线" in page and "提高低保标准" in page
    assert url("item-edit", plan.pk, first.pk) in page and url("item-split", plan.pk, second.pk) in page
    assert url("act", plan.pk, "dispatch") in page and 'name="form_token"' in page
    assert 'class="plan-item level-2' in page
    # The other inspector of the office edits too.
    assert url("item-edit", plan.pk, first.pk) in client_for(client, world.inspector2).get(
        url("items", plan.pk)).content.decode()


def test_others_who_see_the_matter_read_it_and_others_get_404(client, world, plan):
    first = items_of(plan)[0]
    page = client_for(client, world.leader).get(url("items", plan.pk)).content.decode()
    assert "兜牢民生底线" in page and url("item-edit", plan.pk, first.pk) not in page
    assert url("act", plan.pk, "dispatch") not in page
    for name, args in (("item-edit", (plan.pk, first.pk)), ("item-split", (plan.pk, first.pk)),
                       ("item-delete", (plan.pk, first.pk)), ("import", (plan.pk,))):
        assert client.get(url(name, *args)).status_code == 403
    for name in ("item-move", "item-merge"):
        assert client.post(url(name, plan.pk, first.pk), {"direction": "in"}).status_code == 403
    assert client.post(url("item-add", plan.pk), {"title": "x"}).status_code == 403
    client_for(client, world.handler_a)
    assert client.get(url("items", plan.pk)).status_code == 404
    assert client.get(url("item-edit", plan.pk, first.pk)).status_code == 404
    assert client.post(url("item-merge", plan.pk, first.pk)).status_code == 404
    assert AuditEvent.objects.filter(action="access_denied", actor_id=world.handler_a.pk).exists()
    client.logout()
    assert client.get(url("items", plan.pk)).status_code == 302  # to the log-in page
    client_for(client, world.inspector)
    assert client.get(url("items", 2 ** 70)).status_code == 404
    assert client.get(url("item-edit", plan.pk, 2 ** 70)).status_code == 404
    assert client.post(url("item-move", plan.pk, 2 ** 70), {"direction": "in"}).status_code == 404
    assert client.get(url("item-edit", plan.pk, first.pk + 10_000)).status_code == 404


# Editing ----------------------------------------------------------------------------------------
def test_edit_an_item_with_its_units(client, world, plan):
    item = items_of(plan)[1]
    client_for(client, world.inspector)
    page = client.get(url("item-edit", plan.pk, item.pk)).content.decode()
    assert "甲县民政局" in page and 'name="units"' in page and 'name="co_units"' in page
    response = client.post(url("item-edit", plan.pk, item.pk), {
        "title": "提高城乡低保标准", "text": item.text, "deadline": later(), "target": "提高5%", "cadence": "quarterly",
        "units": [world.county_a.pk], "co_units": [world.county_b.pk]})
    assert response.status_code == 302 and response["Location"].endswith(f"#item-{item.pk}")
    item.refresh_from_db()
    assert item.title == "提高城乡低保标准" and item.cadence == "quarterly" and item.target == "提高5%"
    assert list(item.units.all()) == [world.county_a] and list(item.co_units.all()) == [world.county_b]
    assert AuditEvent.objects.filter(case_id=plan.pk, action="edit_item").exists()
    page = client.get(url("items", plan.pk)).content.decode()
    assert "提高城乡低保标准" in page and "甲县民政局" in page and "乙县民政局" in page


@pytest.mark.parametrize("change, error", [
    ({"title": ""}, None),
    ({"title": "长" * 201}, None),
    ({"text": "长" * 20_001}, None),
    ({"target": "长" * 501}, None),
    ({"deadline": "2026-02-30"}, None),
    ({"deadline": "9999-01-01"}, None),
    ({"cadence": "daily"}, None),
    ({"units": ["not a number"]}, None),
    ({"units": [str(2 ** 70)]}, None),
    ({"deadline": (timezone.localdate() - timedelta(days=1)).isoformat()}, "The deadline must be today or later."),
])
def test_bad_edits_are_refused_with_a_message(client, world, plan, change, error):
    item = items_of(plan)[1]
    data = {"title": "提高低保标准", "text": "正文", "deadline": later(), "target": "", "cadence": "monthly",
            "units": [world.county_a.pk], **change}
    response = client_for(client, world.inspector).post(url("item-edit", plan.pk, item.pk), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="error' in page
    if error:
        assert zh(error) in page
    assert PlanItem.objects.get(pk=item.pk).title == item.title


def test_units_outside_the_office_and_unit_conflicts_are_refused(client, world, plan):
    item = items_of(plan)[1]
    elsewhere = make_unit("外市民政局", UnitKind.CITY_BUREAU)
    client_for(client, world.inspector)
    base = {"title": "提高低保标准", "text": "正文", "deadline": later(), "cadence": "monthly"}
    for units, co_units in (([elsewhere.pk], []), ([world.city.pk], []), ([world.county_a.pk], [world.county_a.pk]),
                            ([world.county_a.pk, world.county_b.pk], [world.county_b.pk])):
        response = client.post(url("item-edit", plan.pk, item.pk), {**base, "units": units, "co_units": co_units})
        assert response.status_code == 200 and 'class="error' in response.content.decode()
    assert not PlanItem.objects.get(pk=item.pk).units.exists()


def test_move_merge_split_delete_and_add(client, world, plan):
    client_for(client, world.inspector)
    items = items_of(plan)
    second_top = next(i for i in items if i.number == "二、")
    response = client.post(url("item-move", plan.pk, second_top.pk), {"direction": "in"})
    assert response.status_code == 302
    assert PlanItem.objects.get(pk=second_top.pk).level == 2
    client.post(url("item-move", plan.pk, second_top.pk), {"direction": "out"})
    assert PlanItem.objects.get(pk=second_top.pk).level == 1
    # Out of the first level: the service refuses, the page says why.
    response = client.post(url("item-move", plan.pk, items[0].pk), {"direction": "out"}, follow=True)
    assert zh("The item cannot move to that level.") in response.content.decode()
    response = client.post(url("item-move", plan.pk, items[0].pk), {"direction": "sideways"}, follow=True)
    assert response.status_code == 200 and PlanItem.objects.get(pk=items[0].pk).level == 1

    # Split after the first sentence: offered as a choice of sentences.
    visit = items[2]
    page = client.get(url("item-split", plan.pk, visit.pk)).content.decode()
    points = sentences(visit.text)
    assert points and f'value="{points[0][0]}"' in page
    response = client.post(url("item-split", plan.pk, visit.pk), {"at": "99999"})
    assert response.status_code == 200 and 'class="error' in response.content.decode()
    response = client.post(url("item-split", plan.pk, visit.pk), {"at": str(points[0][0])})
    assert response.status_code == 302
    assert len(items_of(plan)) == len(items) + 1
    assert PlanItem.objects.get(pk=visit.pk).text == visit.text[:points[0][0]].rstrip()

    # Merge it back into the item before it.
    new = items_of(plan)[3]
    response = client.post(url("item-merge", plan.pk, new.pk))
    assert response.status_code == 302 and len(items_of(plan)) == len(items)
    response = client.post(url("item-merge", plan.pk, items[0].pk), follow=True)
    assert zh("The first item has nothing before it to merge into.") in response.content.decode()

    # Delete asks first, naming the items under it.
    page = client.get(url("item-delete", plan.pk, items[0].pk)).content.decode()
    assert "提高低保标准" in page
    assert client.post(url("item-delete", plan.pk, items[0].pk)).status_code == 302
    assert [i.number for i in items_of(plan)] == ["二、", "（一）"]

    # Add: bounded, and at the end.
    response = client.post(url("item-add", plan.pk), {"title": "长" * 201}, follow=True)
    assert response.status_code == 200 and len(items_of(plan)) == 2
    response = client.post(url("item-add", plan.pk), {"title": "开展专项督查", "text": "每季度督查一次。"})
    assert response.status_code == 302
    assert items_of(plan)[-1].title == "开展专项督查"
    for method in (client.get,):
        assert method(url("item-move", plan.pk, items[0].pk)).status_code == 405


def test_a_single_sentence_has_nowhere_to_split(client, world, plan):
    item = services.add_item(plan.pk, actor=world.actor("inspector"), title="一句话", text="只有一句话")
    count = len(items_of(plan))
    page = client_for(client, world.inspector).get(url("item-split", plan.pk, item.pk)).content.decode()
    assert 'type="radio"' not in page and url("item-edit", plan.pk, item.pk) in page
    response = client.post(url("item-split", plan.pk, item.pk), {"at": "2"})
    assert response.status_code == 200 and len(items_of(plan)) == count


def test_sentences_are_cut_after_their_marks():
    assert sentences("一是建立台账；二是每季度走访一次。") == [(7, "一是建立台账；")]
    assert sentences("甲。“乙。”丙") == [(2, "甲。"), (6, "“乙。”")]
    assert sentences("无标点") == [] and sentences("") == []


def test_dispatch_from_the_tree_and_dispatched_items_are_locked(client, world, plan):
    item = items_of(plan)[1]
    services.update_item(plan.pk, item.pk, actor=world.actor("inspector"), title=item.title, text=item.text,
                         deadline=timezone.localdate() + timedelta(days=30), target="", cadence="monthly",
                         units=[world.county_a], co_units=[])
    client_for(client, world.inspector)
    page = client.get(url("items", plan.pk)).content.decode()
    assert 'disabled' not in page.split(url("act", plan.pk, "dispatch"))[1].split("</form>")[0]
    response = client.post(url("act", plan.pk, "dispatch"), {"form_token": tokens.new()})
    assert response.status_code == 302
    assert MatterCase.objects.get(pk=plan.pk).status == "dispatched"
    page = client.get(url("items", plan.pk)).content.decode()
    assert url("item-edit", plan.pk, item.pk) not in page and url("item-edit", plan.pk, items_of(plan)[2].pk) in page
    response = client.get(url("item-edit", plan.pk, item.pk), follow=True)
    assert zh("This item has been dispatched; it can no longer be changed.") in response.content.decode()
    response = client.post(url("item-move", plan.pk, item.pk), {"direction": "out"}, follow=True)
    assert zh("This item has been dispatched; it can no longer be changed.") in response.content.decode()


def test_duty_suggestions_on_the_edit_page(client, world, plan):
    item = items_of(plan)[1]
    UnitDuty.objects.create(unit=world.county_b, duty="城乡低保审核确认", keywords="低保")
    client_for(client, world.inspector)
    page = client.get(url("item-edit", plan.pk, item.pk)).content.decode()
    assert "城乡低保审核确认" in page and "?suggested=1" in page
    page = client.get(url("item-edit", plan.pk, item.pk) + "?suggested=1").content.decode()
    assert f'value="{world.county_b.pk}" checked' in page


# Importing a work plan ------------------------------------------------------------------------------
def upload(name, data, content_type="application/octet-stream"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


def test_import_pasted_text_and_a_text_file(client, world, plan):
    before = len(items_of(plan))
    client_for(client, world.inspector)
    assert client.get(url("import", plan.pk)).status_code == 200
    token = tokens.new()
    data = {"source": "text", "text": "一、加强队伍建设\n二、开展业务培训。每季度一次。", "form_token": token}
    response = client.post(url("import", plan.pk), data)
    assert response.status_code == 302
    assert len(items_of(plan)) == before + 2
    assert AuditEvent.objects.filter(case_id=plan.pk, action="import_plan").count() == 1
    response = client.post(url("import", plan.pk), data, follow=True)  # the same form again: nothing twice
    assert len(items_of(plan)) == before + 2 and response.status_code == 200
    gbk = "一、推进社会救助\n二、完善养老服务".encode("gb18030")
    response = client.post(url("import", plan.pk), {"source": "file", "file": upload("方案.txt", gbk),
                                                    "form_token": tokens.new()})
    assert response.status_code == 302 and items_of(plan)[-1].title == "完善养老服务"


def _docx(paragraphs):
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_import_a_word_plan_and_refuse_hostile_files(client, world, plan, settings):
    before = len(items_of(plan))
    client_for(client, world.inspector)
    response = client.post(url("import", plan.pk), {"source": "file", "file": upload("plan.docx", _docx(
        ["某局工作要点", "一、加强党建", "（一）理论学习。每月1次。"]))})
    assert response.status_code == 302
    assert {"加强党建", "理论学习"} <= {i.title for i in items_of(plan)[before:]}
    before = len(items_of(plan))
    with zipfile.ZipFile(io.BytesIO(_docx(["一、加强党建"]))) as archive:
        parts = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    types = parts["[Content_Types].xml"].replace(b"wordprocessingml.document.main+xml",
                                                 b"ms-word.document.macroEnabled.main+xml")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in {**parts, "[Content_Types].xml": types}.items():
            archive.writestr(name, data)
    cases = [
        ("plan.docx", buffer.getvalue(), "The Word document contains macros or embedded programs and was refused."),
        ("plan.docx", b"not a zip at all", "The file is not a Word (.docx) document."),
        ("plan.pdf", b"%PDF-1.4", "Only .txt and .docx files can be imported as a work plan."),
        ("plan.txt", b"\x00\x01\x02\x03" * 100, "The text file's encoding could not be recognised. Save it as UTF-8 "
                                                  "or GBK and try again."),
        ("plan.txt", b"   ", "No items were found in the text."),
    ]
    for name, data, message in cases:
        response = client.post(url("import", plan.pk), {"source": "file", "file": upload(name, data)})
        assert response.status_code == 200, name
        assert zh(message) in response.content.decode(), name
    settings.WORKPLAN_MAX_BYTES = 10
    response = client.post(url("import", plan.pk), {"source": "file", "file": upload("plan.txt", "一、很长的方案".encode())})
    assert response.status_code == 200 and "10" in response.content.decode()
    response = client.post(url("import", plan.pk), {"source": "text", "text": "x" * 200_001})
    assert response.status_code == 200 and 'class="error' in response.content.decode()
    assert client.post(url("import", plan.pk), {"source": "other"}).status_code == 404
    assert client.post(url("import", plan.pk), {"source": "file"}).status_code == 200
    assert len(items_of(plan)) == before


def test_import_is_for_an_editable_matter_only(client, world, plan):
    services.add_item(plan.pk, actor=world.actor("inspector"), title="x")
    MatterCase.objects.filter(pk=plan.pk).update(status="closed")
    client_for(client, world.inspector)
    response = client.get(url("import", plan.pk), follow=True)
    assert zh("The matter's items can no longer be changed.") in response.content.decode()
    page = client.get(url("items", plan.pk)).content.decode()
    assert url("import", plan.pk) not in page


# Importing a task table -----------------------------------------------------------------------------
TABLE = [["2026年重点工作任务分解表"], [],
         ["序号", "重点任务", "牵头单位", "配合单位", "完成时限"],
         [1, "推进养老服务体系建设", "甲县民政局", "城关镇民政办", "2026年12月底前"],
         [2, "规范低保审核确认", "丙县民政局", "乙县民政局", "每季度"]]


@pytest.fixture
def townships(world):
    return (make_unit("城关镇民政办", UnitKind.TOWNSHIP_OFFICE, parent=world.county_a),
            make_unit("城关镇民政办", UnitKind.TOWNSHIP_OFFICE, parent=world.county_b))


def _preview(client, plan, data, name="任务表.xlsx"):
    response = client.post(url("import-table-upload", plan.pk), {"file": upload(name, data)})
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def test_task_table_preview_resolve_and_import(client, world, plan, townships, var_dir):
    before = len(items_of(plan))
    client_for(client, world.inspector)
    preview = _preview(client, plan, xlsx(TABLE))
    assert len(list((var_dir / "task-tables").iterdir())) == 1
    page = client.get(preview).content.decode()
    assert "推进养老服务体系建设" in page and "丙县民政局" in page and "城关镇民政办" in page
    assert 'name="unit_0"' in page and 'name="unit_1"' in page
    # 城关镇民政办 is two units: its candidates; 丙县民政局 none: every unit below the office's own.
    resolve = client.get(preview).context["resolve"]
    fields = {entry["name"]: field for entry, field in resolve.rows()}
    assert {int(v) for v, _label in fields["城关镇民政办"].field.choices if v} == {t.pk for t in townships}
    assert {int(v) for v, _label in fields["丙县民政局"].field.choices if v} >= {world.county_a.pk, world.county_b.pk}
    names = [entry["name"] for entry, _field in resolve.rows()]
    choice = {f"unit_{names.index('城关镇民政办')}": townships[0].pk, f"unit_{names.index('丙县民政局')}": "",
              "form_token": tokens.new()}
    # A unit that is not among the choices is refused.
    response = client.post(preview, {**choice, f"unit_{names.index('城关镇民政办')}": world.city.pk})
    assert response.status_code == 200 and 'class="error' in response.content.decode()
    response = client.post(preview, choice)
    assert response.status_code == 302
    added = items_of(plan)[before:]
    assert [i.title for i in added] == ["推进养老服务体系建设", "规范低保审核确认"]
    assert list(added[0].units.all()) == [world.county_a] and list(added[0].co_units.all()) == [townships[0]]
    assert not added[1].units.exists() and list(added[1].co_units.all()) == [world.county_b]
    assert added[0].deadline.isoformat() == "2026-12-31"
    assert AuditEvent.objects.filter(case_id=plan.pk, action="import_table").count() == 1
    assert not list((var_dir / "task-tables").iterdir())
    assert PENDING not in client.session or not client.session[PENDING]
    response = client.post(preview, choice, follow=True)  # the table is gone: upload it again
    assert len(items_of(plan)) == before + 2 and response.status_code == 200


def test_task_table_mapping_and_discard(client, world, plan, var_dir):
    client_for(client, world.inspector)
    preview = _preview(client, plan, xlsx(TABLE))
    page = client.get(preview + "?map_task=C").content.decode()
    assert "甲县民政局" in page  # the task now read from column C
    assert client.get(preview + "?map_task=ZZZZ&map_lead=" + "A" * 500).status_code == 200
    page = client.get(preview + "?map_task=H").content.decode()  # beyond the table: chosen again
    assert 'name="map_task"' in page and "重点任务" in page
    response = client.post(preview, {"discard": "1"})
    assert response.status_code == 302 and not list((var_dir / "task-tables").iterdir())
    assert client.get(preview).status_code == 302


def test_task_tables_are_kept_per_user_and_bounded(client, world, plan, var_dir):
    client_for(client, world.inspector)
    keys = [_preview(client, plan, xlsx(TABLE)) for _n in range(7)]
    assert len(list((var_dir / "task-tables").iterdir())) == 5
    assert client.get(keys[0]).status_code == 302 and client.get(keys[-1]).status_code == 200
    client_for(client, world.inspector2)  # another inspector of the office cannot open it
    assert client.get(keys[-1]).status_code == 302
    for bad in ("..", "..%2F..%2Fetc", "x" * 32, "0" * 31):
        assert client.get(url("import-table", plan.pk, bad)).status_code in (302, 404)


def test_hostile_and_wrong_task_tables_are_refused(client, world, plan, settings, var_dir):
    client_for(client, world.inspector)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", b"\0" * (8 * 1024 * 1024))
    macro = io.BytesIO()
    with zipfile.ZipFile(macro, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0")
    for data, message in ((b"plain text", "Only Excel workbooks (.xlsx) can be imported as a task table."),
                          (b"", None), (bomb.getvalue(), None), (macro.getvalue(), None)):
        response = client.post(url("import-table-upload", plan.pk), {"file": upload("t.xlsx", data)})
        assert response.status_code == 200
        page = response.content.decode()
        assert 'role="alert"' in page or 'class="error' in page
        if message:
            assert zh(message) in page
    # A workbook without a task heading: its columns are chosen by hand.
    preview = _preview(client, plan, xlsx([["一", "推进养老服务", "甲县民政局"], ["二", "规范低保审核", "乙县民政局"]]))
    page = client.get(preview).content.decode()
    assert zh("No heading row with a task column (任务) was found; map the columns by hand.") in page
    assert 'name="map_task"' in page and "推进养老服务 / 规范低保审核" in page
    page = client.get(preview + "?map_task=B&map_lead=C&map_number=A").content.decode()
    assert "推进养老服务" in page and 'name="unit_0"' not in page
    response = client.post(preview, {"map_task": "B", "map_lead": "C", "map_number": "A", "form_token": tokens.new()})
    assert response.status_code == 302
    assert [(i.title, [u.name for u in i.units.all()]) for i in items_of(plan)[-2:]] == [
        ("推进养老服务", ["甲县民政局"]), ("规范低保审核", ["乙县民政局"])]
    # A zip that passes the first checks but is no workbook: discarded when read.
    damaged = io.BytesIO()
    with zipfile.ZipFile(damaged, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<not a workbook")
    preview = _preview(client, plan, damaged.getvalue())
    response = client.get(preview, follow=True)
    assert zh("The office document is damaged and cannot be opened.") in response.content.decode()
    assert not list((var_dir / "task-tables").iterdir())
    settings.TASK_TABLE_MAX_BYTES = 100
    response = client.post(url("import-table-upload", plan.pk), {"file": upload("t.xlsx", xlsx(TABLE))})
    assert response.status_code == 200 and not list((var_dir / "task-tables").iterdir())


def test_only_the_office_imports_a_task_table(client, world, plan):
    client_for(client, world.leader)
    response = client.post(url("import-table-upload", plan.pk), {"file": upload("t.xlsx", xlsx(TABLE))})
    assert response.status_code == 403
    assert client.get(url("import-table", plan.pk, "0" * 32)).status_code == 403
    client_for(client, make_user(Role.INSPECTOR, world.county_a))
    assert client.get(url("import", plan.pk)).status_code == 404
