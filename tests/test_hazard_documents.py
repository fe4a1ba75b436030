"""The hazard case's PDFs: the 隐患整改通知书 of a general hazard, the 挂牌督办通知书 of a listed
major hazard and the two public notices, rendered through WeasyPrint, fetched through the URLs
the case page links to and read back with poppler-utils; scoping and readiness are 404s."""
import shutil
import subprocess
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone

from processes.hazard import documents
from processes.hazard.declaration import Hazard
from processes.hazard.models import HazardCase
from tests.hazard_helpers import act, add_photo, inspect
from workflow.models import AuditEvent, UnitSetting

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("hazard_rules")]

PLAN = dict(plan_measures="拆除二层彩钢板房\n改建为砖混结构", plan_responsible="院长 李某", plan_funds="120000.50",
            plan_emergency="拆除期间老人临时转至一层东侧房间")


def cn(day) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def text_of(pdf: bytes, tmp_path, name="doc.pdf") -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / name
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-", "-"], input=pdf, check=True, capture_output=True).stdout
    return "".join(out.decode("utf-8").split())  # CJK lines wrap anywhere


def fetch(client, user, name, case):
    client.force_login(user)
    return client.get(reverse(f"hazard:{name}", args=[case.pk]))


def pdf_text(client, user, name, case, tmp_path) -> str:
    response = fetch(client, user, name, case)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    return text_of(response.content, tmp_path, f"{name}-{case.pk}.pdf")


@pytest.fixture
def unit(world):
    unit = world.county_a
    unit.credit_code, unit.head_name, unit.address = "52330100MJ0000000Y", "王院长", "甲县幸福路8号"
    unit.save()
    return unit


@pytest.fixture
def general(world, unit):
    _, (hazard,) = inspect(world, fail=("E2",))
    return act(world, hazard, "inspector", "set_deadline", deadline_days=5,
               requirement="立即清理楼道内停放的电动车\n设置集中充电场所")


@pytest.fixture
def listed(world, unit):
    _, (hazard,) = inspect(world, fail=("B3",))
    hazard = act(world, hazard, "inspector", "propose_major", reason="符合判定标准 4(三)")
    return act(world, hazard, "leader", "list_hazard", deadline_days=30, requirement="拆除彩钢板房\n拆除前停止使用")


def test_article_names_read_as_cited():
    assert documents.article_name("4(三)") == "第四条第（三）项"
    assert documents.article_name("12（一）") == "第十二条第（一）项"
    assert documents.article_name("20(二)") == "第二十条第（二）项"
    assert documents.article_name("附件A") == "附件A"  # another shape is printed as recorded


def test_notice_of_a_general_hazard(client, world, general, tmp_path):
    response = fetch(client, world.handler_a, "notice", general)
    name = quote(f"隐患整改通知书-{general.number}.pdf", safe="")
    assert f"filename*=UTF-8''{name}" in response["Content-Disposition"]
    text = pdf_text(client, world.handler_a, "notice", general, tmp_path)
    answer = general.answers[0]
    for fragment in ("市民政局", "安全隐患整改通知书", general.number, "甲县民政局：", "52330100MJ0000000Y", "王院长",
                     f"第{answer.code}项“{answer.title}”", "1.立即清理楼道内停放的电动车", "2.设置集中充电场所",
                     f"5个工作日内，即于{cn(general.deadline)}前完成整改", "复查", world.inspector.full_name,
                     cn(timezone.localdate(general.issued_at)), "送达回证", "—1—"):
        assert fragment in text, fragment
    assert "依据：" not in text  # the item cites no criterion, so the notice cites none


def test_notice_cites_the_recorded_criterion_only(client, world, unit, tmp_path):
    from processes.hazard import services

    (hazard,) = services.open_by_hand(actor=world.actor("inspector"), units=[unit], title="厨房无证经营",
                                      category="food", source="grid", description="内设食堂未取得食品经营许可证",
                                      criterion="5(二)", place="一楼食堂")
    hazard = act(world, hazard, "inspector", "set_deadline", deadline_days=10, requirement="办理食品经营许可证")
    text = pdf_text(client, world.inspector, "notice", hazard, tmp_path)
    assert "依据：《养老机构重大事故隐患判定标准》（2023版）第五条第（二）项：“内设食堂的，未依法取得食品经营许可证”" in text
    assert "隐患部位：一楼食堂" in text and "网格员报告核查" in text


def test_listing_notice_of_a_listed_major_hazard(client, world, listed, tmp_path):
    text = pdf_text(client, world.handler_a, "listing_notice", listed, tmp_path)
    for fragment in ("重大事故隐患挂牌督办通知书", listed.listing_number, "甲县民政局：",
                     "《养老机构重大事故隐患判定标准》第四条第（三）项所列情形", listed.criterion_text,
                     "二、限期整改指令", "1.拆除彩钢板房", f"即于{cn(listed.deadline)}前完成整改",
                     "措施、责任、资金、时限和应急预案", "验收合格后方可摘牌", cn(timezone.localdate(listed.listed_at))):
        assert fragment in text, fragment
    assert "你单位报送的治理方案如下" not in text  # no plan filed yet


def test_listing_notice_carries_the_filed_plan(client, world, listed, tmp_path):
    hazard = act(world, listed, "handler_a", "file_plan", plan_deadline=listed.deadline, **PLAN)
    hazard = act(world, hazard, "leader", "approve_plan")
    text = pdf_text(client, world.leader, "listing_notice", hazard, tmp_path)
    for fragment in ("你单位报送的治理方案如下", "拆除二层彩钢板房", "改建为砖混结构", "院长李某", "120,000.50元",
                     f"{cn(hazard.plan_deadline)}前", "拆除期间老人临时转至一层东侧房间", "经市民政局审核同意"):
        assert fragment in text, fragment


def test_listing_notice_keeps_the_wording_of_the_version_it_was_judged_under(client, world, listed, tmp_path):
    from workflow.kernel import rules
    from workflow.models import RuleSet

    used = listed.criteria_version
    body = {**used.body, "articles": [{**a, "text": "新版措辞"} if a["code"] == "4(三)" else a
                                      for a in used.body["articles"]]}
    RuleSet.objects.create(kind=used.kind, name=used.name, version="2027", title=used.title,
                           effective_from=timezone.localdate(), body=body)
    assert rules.in_force(used.kind, used.name).version == "2027"
    text = pdf_text(client, world.handler_a, "listing_notice", listed, tmp_path)
    assert listed.criterion_text in text and "新版措辞" not in text and "2023版" in text


def test_listing_notice_uses_the_template_an_administrator_set(client, world, listed):
    UnitSetting.objects.create(unit=world.city, key="template.hazard_listing", value="pdf/hazard_notice.html",
                               effective_from=timezone.localdate() - timedelta(days=1))
    from workflow.kernel.unit_settings import forget_settings

    forget_settings()
    client.force_login(world.handler_a)
    pdf = client.get(reverse("hazard:listing_notice", args=[listed.pk])).content
    text = "".join(subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
                   .stdout.decode().split())
    assert "安全隐患整改通知书" in text and "挂牌督办通知书" not in text


def test_public_notices_follow_listing_and_delisting(client, world, listed, tmp_path):
    text = pdf_text(client, world.inspector, "listing_public_notice", listed, tmp_path)
    for fragment in ("实行挂牌督办的公告", "甲县民政局", listed.listing_number, listed.title,
                     f"挂牌日期：{cn(timezone.localdate(listed.listed_at))}", f"整改期限：{cn(listed.deadline)}前",
                     "特此公告。市民政局"):
        assert fragment in text, fragment
    assert fetch(client, world.inspector, "delisting_public_notice", listed).status_code == 404

    hazard = act(world, listed, "handler_a", "file_plan", plan_deadline=listed.deadline, **PLAN)
    hazard = act(world, hazard, "leader", "approve_plan")
    add_photo(world, hazard, "handler_a", "after", 4)
    hazard = act(world, hazard, "handler_a", "apply_acceptance", reason="已拆除")
    add_photo(world, hazard, "inspector", "after", 5)
    today = timezone.localdate()
    hazard = act(world, hazard, "inspector", "pass_acceptance", acceptors="张督查", accepted_on=today, reason="合格")
    hazard = act(world, hazard, "leader", "delist")
    text = pdf_text(client, world.inspector, "delisting_public_notice", hazard, tmp_path)
    for fragment in ("摘牌的公告", "甲县民政局", hazard.listing_number, f"验收日期：{cn(today)}",
                     f"摘牌日期：{cn(timezone.localdate(hazard.delisted_at))}", "特此公告"):
        assert fragment in text, fragment
    # the listing notice stays available after de-listing
    assert fetch(client, world.handler_a, "listing_notice", hazard).status_code == 200


def test_another_countys_handler_gets_404_and_an_audit_event(client, world, general, listed):
    for name, case in (("notice", general), ("listing_notice", listed), ("listing_public_notice", listed)):
        assert fetch(client, world.handler_b, name, case).status_code == 404
    targets = sorted(e.data["target"] for e in AuditEvent.objects.filter(action="access_denied"))
    assert targets == ["hazard_listing_notice", "hazard_listing_public_notice", "hazard_notice"]


def test_documents_not_ready_are_404(client, world, general, listed):
    _, (found,) = inspect(world, fail=("D1",))
    for name, case in (("notice", listed), ("notice", found), ("listing_notice", general),
                       ("listing_notice", found), ("listing_public_notice", general),
                       ("delisting_public_notice", listed)):
        assert fetch(client, world.inspector, name, case).status_code == 404, (name, case.status)
    assert not AuditEvent.objects.filter(action="access_denied").exists()  # visible, just not there yet
    assert fetch(client, world.inspector, "notice", HazardCase(pk=987654)).status_code == 404


def test_the_case_page_documents_name_these_urls(world, general, listed):
    by_name = {d.name: d for d in Hazard.documents}
    assert {"notice", "listing_notice"} <= set(by_name)
    for d in Hazard.documents:
        reverse(f"hazard:{d.name}", args=[1])  # every declared document has its URL here
    assert by_name["notice"].is_ready(general) and not by_name["notice"].is_ready(listed)
    assert by_name["listing_notice"].is_ready(listed) and not by_name["listing_notice"].is_ready(general)
