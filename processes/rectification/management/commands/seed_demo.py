"""Load demo data: a city bureau, three counties, townships and institutions, one user per
role, and rectification cases in every state. Safe to run again: nothing is duplicated."""
import random
from datetime import timedelta

from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from processes.rectification import services
from processes.rectification.models import RectificationCase
from workflow.cases import escalation
from workflow.cases.engine import Actor
from workflow.models import Role, Unit, UnitKind, User

PASSWORD = "Duban2026"
COUNTIES = [("DC", "东城区民政局"), ("XS", "西山县民政局"), ("NH", "南湖县民政局")]
INSTITUTIONS = [
    (UnitKind.ELDERLY_CARE, "福寿园养老院"), (UnitKind.CHILD_WELFARE, "儿童福利院"),
    (UnitKind.RELIEF_STATION, "救助管理站"), (UnitKind.FUNERAL_HOME, "殡仪馆"),
    (UnitKind.SOCIAL_ORG, "慈善协会"), (UnitKind.SOCIAL_WORK, "社工站"),
]
# (login, full name, role, unit code)
USERS = [
    ("inspector", "张督查", Role.INSPECTOR, "CITY"), ("inspector2", "李督查", Role.INSPECTOR, "CITY"),
    ("leader", "王局长", Role.LEADER, "CITY"), ("legal", "赵法制", Role.LEGAL, "CITY"),
    ("sysadmin", "系统管理员", Role.ADMIN, "CITY"),
    ("handler", "陈承办", Role.HANDLER, "DC"), ("unithead", "刘负责人", Role.UNIT_HEAD, "DC"),
    ("handler2", "周承办", Role.HANDLER, "XS"), ("unithead2", "吴负责人", Role.UNIT_HEAD, "XS"),
    ("handler3", "郑承办", Role.HANDLER, "NH"), ("unithead3", "孙负责人", Role.UNIT_HEAD, "NH"),
    ("yanglao", "钱院长助理", Role.HANDLER, "DC-ELDERLY_CARE"), ("yanglaohead", "冯院长", Role.UNIT_HEAD, "DC-ELDERLY_CARE"),
]
PROBLEMS = [
    ("消防通道堆放杂物", "二楼东侧消防通道堆放床垫、纸箱，影响疏散。", "立即清理，建立每日巡查台账。"),
    ("灭火器过期未更换", "3 具干粉灭火器压力不足，超过检验期限。", "更换过期灭火器，登记检验日期。"),
    ("低保档案资料不全", "抽查 20 户低保档案，5 户缺少家庭经济状况核对报告。", "补齐核对报告，完善档案管理制度。"),
    ("特困供养资金发放滞后", "第三季度特困供养金延迟 25 天发放。", "查明原因，按月足额发放，报送整改说明。"),
    ("电动车室内充电", "护理楼走廊发现电动自行车充电。", "设置集中充电区，张贴禁止室内充电标识。"),
    ("厨房燃气报警器失效", "食堂燃气泄漏报警器未通电。", "修复报警器并联动切断阀，提交检测报告。"),
    ("临时救助审批超时", "4 件临时救助申请超过审批时限。", "完成审批，建立办理时限提醒。"),
    ("服务对象入住评估缺失", "新入住老人未做能力评估。", "补做入住评估并存档。"),
]


def _unit(code, name, kind, parent=None):
    unit, _ = Unit.objects.get_or_create(code=f"DEMO-{code}", defaults={"name": name, "kind": kind, "parent": parent})
    return unit


class Command(BaseCommand):
    help = "Load demo units, users and rectification cases (idempotent)."

    def handle(self, *args, **options):
        with transaction.atomic():
            units = self._units()
            users = self._users(units)
        created = self._cases(units, users)
        self.stdout.write(self.style.SUCCESS(
            f"Demo data ready: {Unit.objects.filter(code__startswith='DEMO-').count()} units, "
            f"{len(users)} users, {created} new cases (password for every demo login: {PASSWORD})."
        ))

    def _units(self):
        units = {"CITY": _unit("CITY", "示范市民政局", UnitKind.CITY_BUREAU)}
        for code, name in COUNTIES:
            county = units[code] = _unit(code, name, UnitKind.COUNTY_BUREAU, units["CITY"])
            short = name[:2]
            for n, town in enumerate(("城关镇", "河口乡")):
                units[f"{code}-T{n}"] = _unit(f"{code}-T{n}", f"{short}{town}民政办", UnitKind.TOWNSHIP_OFFICE, county)
            for kind, inst in INSTITUTIONS:
                units[f"{code}-{kind.name}"] = _unit(f"{code}-{kind.name}", f"{short}{inst}", kind, county)
        return units

    def _users(self, units):
        users = {}
        for login, full_name, role, unit_code in USERS:
            user, created = User.objects.get_or_create(
                username=login, defaults={"full_name": full_name, "role": role, "unit": units[unit_code]})
            if created:
                user.set_password(PASSWORD)
                if role == Role.ADMIN:
                    user.is_staff = True
                    user.save()
                    user.user_permissions.set(Permission.objects.filter(
                        content_type__app_label="workflow",
                        content_type__model__in=["unit", "user", "calendaryear", "calendarday", "outboxmessage",
                                                  "escalationpolicy", "unitsetting", "proposal"]))
                user.save()
            users[login] = user
        return users

    def _cases(self, units, users):
        if RectificationCase.objects.filter(supervisor_unit=units["CITY"]).count() >= 50:
            return 0
        rng = random.Random(2026)
        targets = [("DC", "handler", "unithead"), ("XS", "handler2", "unithead2"),
                   ("NH", "handler3", "unithead3"), ("DC-ELDERLY_CARE", "yanglao", "yanglaohead")]
        plan = (["draft"] * 4 + ["issued"] * 7 + ["refused"] * 2 + ["signed"] * 6 + ["rectifying"] * 8
                + ["pending_head"] * 5 + ["submitted"] * 5 + ["returned"] * 4 + ["accepted"] * 4
                + ["long_term"] * 3 + ["closed"] * 6 + ["cancelled"] * 1 + ["extension"] * 2)
        a = {name: Actor(users[name], "127.0.0.1") for name in users}
        created = 0
        for i, goal in enumerate(plan):
            unit_code, handler, head = targets[i % len(targets)]
            title, description, requirement = PROBLEMS[i % len(PROBLEMS)]
            inspector = a["inspector" if i % 3 else "inspector2"]
            case = services.case_create(actor=inspector, unit=units[unit_code], title=title,
                                        description=description, requirement=requirement,
                                        source=rng.choice(["inspection", "audit", "hotline", "leader"]),
                                        basis="2026年第四季度专项督查", deadline_days=rng.choice([5, 10, 15, 20]),
                                        issue=goal != "draft")
            self._advance(case, goal, a, inspector, a[handler], a[head], units)
            created += 1
        self._make_overdue(units)
        return created

    def _advance(self, case, goal, a, inspector, handler, head, units):
        act = lambda actor, action, **kw: services.case_act(actor=actor, case_id=case.pk, action=action, **kw)  # noqa: E731
        if goal in ("draft", "issued"):
            return
        if goal == "refused":
            act(handler, "refuse", reason="该问题属于乡镇民政办职责范围，请调整承办单位。")
            return
        if goal == "cancelled":
            act(inspector, "request_cancel", reason="问题已在上级专项行动中一并整改。")
            act(a["leader"], "approve_cancel", reason="同意撤销。")
            return
        act(handler, "sign")
        if goal == "signed":
            return
        act(handler, "report_progress", reason="已制定整改方案，正在落实。")
        if goal == "extension":
            new_deadline = (case.deadline or timezone.localdate()) + timedelta(days=20)
            act(handler, "request_extension", reason="需采购设备，供货周期较长。", new_deadline=new_deadline)
            return
        if goal == "rectifying":
            return
        services.case_add_evidence(actor=handler, case_id=case.pk, upload=_demo_photo(case.title))
        act(handler, "submit", reason="已按要求完成整改，附现场照片。")
        if goal == "pending_head":
            return
        act(head, "head_approve", reason="情况属实，同意报送。")
        if goal == "submitted":
            return
        if goal == "returned":
            act(inspector, "return_case", reason="照片未能反映整改后全貌，请补充台账。")
            return
        if goal == "long_term":
            act(inspector, "accept_long_term", reason="需长期坚持，按月报告进展。", report_every_days=30)
            return
        act(inspector, "accept", reason="整改到位。")
        if goal == "accepted":
            return
        act(a["leader"], "sign_off", reason="同意销号。")

    def _make_overdue(self, units):
        """Backdate some open cases so the demo shows overdue ones (red lights)."""
        today = timezone.localdate()
        open_cases = (RectificationCase.objects.filter(supervisor_unit=units["CITY"], deadline__isnull=False)
                      .exclude(status__in=["closed", "cancelled", "draft"]).order_by("pk"))
        changed = []
        for n, case in enumerate(open_cases[::3][:12]):
            case.deadline = today - timedelta(days=1 + n * 2)
            changed.append(case)
        for case in open_cases[1::5][:5]:
            case.deadline = today + timedelta(days=1)
            changed.append(case)
        for case in changed:  # the ladder counts from the new deadline; the sweep fires the rungs
            RectificationCase.objects.filter(pk=case.pk).update(
                deadline=case.deadline, next_rung_on=escalation.next_rung_on(case))


def _demo_photo(title):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), (236, 240, 243))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 300, 600, 440), fill=(120, 144, 156))
    draw.rectangle((80, 120, 260, 300), fill=(198, 40, 40))
    draw.text((300, 150), "rectified", fill=(33, 33, 33))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return SimpleUploadedFile("现场照片.jpg", buffer.getvalue(), content_type="image/jpeg")
