"""Demo hazards (loaded by seed_demo): checklist inspections of 东城区's institutions over the past
weeks, by the city's inspectors unannounced and scheduled and by the elderly-care home itself;
the hazards they found at each stage of both paths — fixed on the spot, rectifying by a
deadline, awaiting re-check, a major one listed and awaiting its plan, one awaiting acceptance
after a failed one, one de-listed and closed; and two reports from outside, one taken up and
one waiting. Idempotent: skipped once the city supervises any hazard."""
import io
import random
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from workflow.cases import services as platform
from workflow.cases.engine import Actor
from workflow.cases.evidence import attach_record_evidence
from workflow.models import Case

from . import services
from .models import Answer, HazardCase, Inspection
from .rule_data import install


def picture(seed: int) -> bytes:
    """A photo of its own (a distinct perceptual hash): coloured blocks drawn from `seed`."""
    from PIL import Image

    rng = random.Random(seed)
    image = Image.new("RGB", (320, 240), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    for _ in range(14):
        x, y = rng.randrange(0, 300), rng.randrange(0, 220)
        image.paste((rng.randrange(256), rng.randrange(256), rng.randrange(256)),
                    (x, y, x + rng.randrange(20, 160), y + rng.randrange(20, 120)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


class Demo:
    def __init__(self, units, users):
        self.units, self.a = units, {name: Actor(user, "127.0.0.1") for name, user in users.items()}
        self.seed = 9000

    def photo(self, case, who, stage):
        self.seed += 1
        upload = SimpleUploadedFile(f"现场照片{self.seed}.jpg", picture(self.seed), content_type="image/jpeg")
        platform.add_evidence(HazardCase, actor=self.a[who], case_id=case.pk, upload=upload, stage=stage)

    def act(self, case, who, action, **params):
        return platform.act(HazardCase, actor=self.a[who], case_id=case.pk, action=action, **params)

    def inspect(self, unit, checklist, kind, fails=None, who="inspector", days_ago=0, notes=None, done=True):
        """An inspection of `unit`: the items in `fails` fail with their notes, the rest pass or
        (for those tagged "not applicable" in `notes`) are marked so."""
        notes, fails = notes or {}, fails or {}
        on = timezone.localdate() - timedelta(days=days_ago)
        inspection = services.start_inspection(actor=self.a[who], unit=unit, checklist=checklist, kind=kind, on=on)
        answers = {}
        for answer in inspection.answers.all():
            if answer.code in fails:
                answers[answer.position] = ("fail", fails[answer.code])
            elif notes.get(answer.code) == "na":
                answers[answer.position] = ("na", "")
            else:
                answers[answer.position] = ("pass", "")
        if not done:  # left half-filled for the inspector to finish
            answers = dict(list(answers.items())[: len(answers) // 2])
        services.answer(actor=self.a[who], inspection_id=inspection.pk, answers=answers)
        for answer in inspection.answers.filter(code__in=list(fails)):  # the photo taken of each failed item
            self.seed += 1
            upload = SimpleUploadedFile(f"检查照片{self.seed}.jpg", picture(self.seed), content_type="image/jpeg")
            attach_record_evidence(Answer, answer.pk, actor=self.a[who], upload=upload, note=answer.title)
        hazards = []
        if done:
            hazards = services.submit_inspection(actor=self.a[who], inspection_id=inspection.pk,
                                                 summary="检查情况已当场反馈单位负责人。")
        if days_ago:
            Inspection.objects.filter(pk=inspection.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
            Case.objects.filter(pk__in=[h.pk for h in hazards]).update(
                created_at=timezone.now() - timedelta(days=days_ago))
        return {h.answers[0].code: h for h in hazards}


def seed(units: dict, users: dict) -> int:
    """Load the demo hazards once, all or nothing; returns how many hazard cases were opened."""
    with transaction.atomic():
        return _seed(units, users)


def _seed(units: dict, users: dict) -> int:
    if not {"grid", "fuli", "jiuzhu"} <= set(users) or HazardCase.objects.filter(supervisor_unit=units["CITY"]).exists():
        return 0
    install()  # the shipped checklists and criteria, should an administrator have removed them
    demo, today = Demo(units, users), timezone.localdate()
    home, welfare, relief = units["DC-ELDERLY_CARE"], units["DC-CHILD_WELFARE"], units["DC-RELIEF_STATION"]

    # Five weeks ago: an unannounced fire-safety check of the elderly-care home (四不两直).
    found = demo.inspect(home, "fire", "unannounced", days_ago=35, fails={
        "B3": "后院加建的彩钢板活动室芯材为聚苯乙烯泡沫，老人日间在内活动",
        "C1": "二楼东侧疏散通道堆放床垫、纸箱",
        "D1": "一楼走廊2具灭火器压力不足",
        "E2": "护理楼走廊电动自行车充电"})
    demo.photo(found["D1"], "inspector", "after")  # the before photo is the checklist item's
    demo.act(found["D1"], "inspector", "fix_on_spot", reason="当场更换2具灭火器，并登记检验日期")
    demo.act(found["C1"], "inspector", "set_deadline", deadline_days=5, requirement="清理疏散通道，建立每日巡查记录")
    demo.photo(found["C1"], "yanglao", "after")
    demo.act(found["C1"], "yanglao", "report_fixed", reason="杂物已全部清理，巡查记录已建立")
    demo.act(found["C1"], "inspector", "pass_recheck", reason="复查通道畅通")
    demo.act(found["E2"], "inspector", "set_deadline", deadline_days=10,
             requirement="设置集中充电区，严禁在室内、安全出口、疏散通道停放和充电")
    major = found["B3"]
    demo.act(major, "inspector", "propose_major", reason="符合《养老机构重大事故隐患判定标准》第四条（三）")
    demo.act(major, "leader", "list_hazard", deadline_days=40,
             requirement="立即停止使用彩钢板活动室，拆除或更换为不燃材料，整改完成前不得安排老人入内")

    # Four weeks ago: the child-welfare home's food safety, scheduled; its canteen had no licence.
    food = demo.inspect(welfare, "food", "scheduled", days_ago=28, who="inspector2", fails={
        "FS1": "食堂食品经营许可证已于上年过期，未办理延续", "FS8": "当日午餐未留样"})
    demo.act(food["FS8"], "inspector2", "set_deadline", deadline_days=3, requirement="每餐次每个品种留样并冷藏保存")
    demo.photo(food["FS8"], "fuli", "after")
    demo.act(food["FS8"], "fuli", "report_fixed", reason="已购置留样柜，建立留样记录")
    licence = food["FS1"]
    demo.act(licence, "inspector2", "propose_major", reason="符合判定标准第五条（二）")
    licence = demo.act(licence, "leader", "list_hazard", deadline_days=20, requirement="暂停食堂供餐，改由配送；办理食品经营许可")
    demo.act(licence, "fuli", "file_plan", plan_measures="暂停食堂自制餐，委托有资质企业配送；向市场监管部门申请许可",
             plan_responsible="院长 杨建国", plan_funds="18000.00", plan_deadline=licence.deadline,
             plan_emergency="配送中断时由福寿园食堂临时供餐")
    demo.act(licence, "leader", "approve_plan", reason="同意")
    demo.act(licence, "inspector", "publish_listing", published_on=today,
             published_where="示范市民政局门户网站")
    demo.photo(licence, "fuli", "after")
    demo.act(licence, "fuli", "apply_acceptance", reason="已取得食品经营许可证")
    demo.act(licence, "inspector", "fail_acceptance", acceptors="张督查、市场监管局 王工", accepted_on=today,
             reason="许可证经营项目未含热食类制售，需变更")
    demo.act(licence, "fuli", "apply_acceptance", reason="已变更许可经营项目")

    # Three months ago: the relief station's special equipment — listed, accepted, de-listed and closed.
    old = demo.inspect(relief, "power_gas", "scheduled", days_ago=90, fails={"SE1": "电梯定期检验已过期5个月"})
    lift = old["SE1"]
    demo.act(lift, "inspector", "propose_major", reason="符合判定标准第四条（四）")
    lift = demo.act(lift, "leader", "list_hazard", deadline_days=30, requirement="立即停用电梯，委托特种设备检验机构检验")
    demo.act(lift, "inspector", "publish_listing", published_on=today, published_where="示范市民政局门户网站")
    demo.act(lift, "jiuzhu", "file_plan", plan_measures="停用电梯，委托检验并维修", plan_responsible="站长 林志强",
             plan_funds="42000.00", plan_deadline=lift.deadline, plan_emergency="停用期间安排人员协助受助人员上下楼")
    demo.act(lift, "leader", "approve_plan")
    demo.photo(lift, "jiuzhu", "after")
    demo.act(lift, "jiuzhu", "apply_acceptance", reason="电梯已检验合格，取得检验报告")
    demo.photo(lift, "inspector", "other")
    demo.act(lift, "inspector", "pass_acceptance", acceptors="张督查、区市场监管局 李工", accepted_on=today,
             reason="检验报告合格，现场运行正常")
    demo.act(lift, "leader", "delist", reason="同意摘牌")
    demo.act(lift, "inspector", "publish_delisting", published_on=today, published_where="示范市民政局门户网站")

    # Last week: the home's own self-inspection of electricity and gas, one failure.
    demo.inspect(home, "power_gas", "self", who="yanglao", days_ago=6, fails={"EL6": "部分老人房间使用电热毯，未登记"},
                 notes={"SE1": "na", "SE2": "na"})
    # Today: a building-safety check of the home the inspector has begun and not finished.
    demo.inspect(home, "building", "scheduled", done=False)
    return HazardCase.objects.filter(supervisor_unit__in=[units["CITY"], units["DC"]]).count()
