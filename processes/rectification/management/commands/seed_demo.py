"""Load demo data: a city bureau, three counties, townships and institutions, one user per
role, and rectification cases in every state, issued over the past weeks; on two cases of one
problem, photos with the camera's time and place, one without, and one reused on both (以拍代改).
Safe to run again: nothing is duplicated."""
import random
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from processes.deployment import demo_seed as deployment_demo
from processes.hazard import demo_seed as hazard_demo
from processes.rectification import services
from processes.rectification.models import RectificationCase
from workflow.cases import escalation
from workflow.cases import services as case_services
from workflow.cases.engine import Actor
from workflow.kernel.calendar import WorkCalendar, add_working_days, shift_working_days
from workflow.models import Evidence, Role, Unit, UnitKind, User

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
    ("inspector_dc", "马督查", Role.INSPECTOR, "DC"), ("town_dc", "胡专干", Role.HANDLER, "DC-T0"),
    ("grid", "邵网格员", Role.GRID, "DC-T0"),
    ("fuli", "韩主任", Role.HANDLER, "DC-CHILD_WELFARE"), ("jiuzhu", "董站长助理", Role.HANDLER, "DC-RELIEF_STATION"),
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


# The inspections the demo's problems were found in (检查活动), and the rules some of them breach
# (依据: a regulation and its article). A problem without a rule here is sent without one.
INSPECTIONS = {
    "inspection": ["2026年11月消防安全专项督查", "2026年第四季度民政服务机构安全检查"],
    "audit": ["2026年社会救助资金专项审计"],
    "leader": ["2026年第四季度专项督查"],
    "hotline": [],  # a complaint looked into: no inspection of its own
}
RULES = {
    "消防通道堆放杂物": ("养老机构管理办法", "第三十条"),
    "电动车室内充电": ("养老机构管理办法", "第三十条"),
    "低保档案资料不全": ("社会救助暂行办法", "第十一条"),
    "服务对象入住评估缺失": ("养老机构管理办法", "第十五条"),
}
# Registration categories of the 统一社会信用代码 (GB 32100-2015) by kind: 机关 11, 事业单位 12,
# 社会团体 51, 民办非企业单位 52.
CREDIT_CATEGORY = {UnitKind.SOCIAL_ORG: "51", UnitKind.SOCIAL_WORK: "52"}
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
HEADS = ["杨建国", "黄丽华", "林志强", "何秀英", "高明", "罗伟", "梁静", "宋海涛", "谢芳", "韩卫东",
         "唐晓燕", "许国平", "邓丽", "曹文斌", "彭慧", "曾庆华", "萧红梅", "田志远", "董建华", "潘玉兰",
         "袁立新", "蒋桂芳", "蔡永强", "余晓明", "杜春梅", "叶振华", "程红", "魏国庆", "苏敏", "吕长青",
         "丁海燕", "任志刚", "沈丽萍", "姚建军", "卢秀兰", "姜宏"]


def credit_code(category: str, n: int) -> str:
    """A well-formed demo 统一社会信用代码: category, a made-up 330100 region, a nine-character
    organisation code, and the check character the standard computes."""
    body = f"{category}330100MB{n:07d}"
    total = sum(CREDIT_CHARS.index(ch) * pow(3, i, 31) for i, ch in enumerate(body))
    return body + CREDIT_CHARS[(31 - total % 31) % 31]


def _unit(code, name, kind, parent=None):
    unit, _ = Unit.objects.get_or_create(code=f"DEMO-{code}", defaults={"name": name, "kind": kind, "parent": parent})
    return unit


def _records(units):
    """Give each demo unit the credit code and person in charge its documents print, where the
    administrator has not entered them (an entry made since is kept)."""
    for n, unit in enumerate(units.values(), start=1):
        fields = []
        if not unit.credit_code:
            category = ("11" if unit.kind in (UnitKind.CITY_BUREAU, UnitKind.COUNTY_BUREAU, UnitKind.TOWNSHIP_OFFICE)
                        else CREDIT_CATEGORY.get(unit.kind, "12"))
            unit.credit_code = credit_code(category, n)
            fields.append("credit_code")
        if not unit.head_name:
            unit.head_name = HEADS[(n - 1) % len(HEADS)]
            fields.append("head_name")
        if fields:
            Unit.objects.filter(pk=unit.pk).update(**{name: getattr(unit, name) for name in fields})


class Command(BaseCommand):
    help = "Load demo units, users, rectification cases, supervised matters and hazards (idempotent)."

    def handle(self, *args, **options):
        with transaction.atomic():
            units = self._units()
            _records(units)
            users = self._users(units)
        created = self._cases(units, users)
        photos = _camera_photos(units, users)
        matters = deployment_demo.seed(units, users)
        hazards = hazard_demo.seed(units, users)
        self.stdout.write(self.style.SUCCESS(
            f"Demo data ready: {Unit.objects.filter(code__startswith='DEMO-').count()} units, "
            f"{len(users)} users, {created} new cases, {photos} new camera photos, "
            f"{matters} new supervised matters, {hazards} new hazards (password for every demo login: {PASSWORD})."
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
                        Q(content_type__app_label="workflow",
                          content_type__model__in=["unit", "user", "calendaryear", "calendarday", "outboxmessage",
                                                   "escalationpolicy", "unitsetting", "proposal", "ruleset"])
                        | Q(content_type__app_label="deployment", content_type__model__in=["unitduty", "lightrule"])))
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
            regulation, article = RULES.get(title, ("", ""))
            inspector = a["inspector" if i % 3 else "inspector2"]
            source = rng.choice(["inspection", "audit", "hotline", "leader"])
            inspections = INSPECTIONS[source]
            case = services.case_create(actor=inspector, unit=units[unit_code], title=title,
                                        description=description, requirement=requirement, source=source,
                                        basis=inspections[i % len(inspections)] if inspections else "",
                                        regulation=regulation,
                                        article=article, deadline_days=rng.choice([5, 10, 15, 20]),
                                        issue=goal != "draft")
            self._advance(case, goal, a, inspector, a[handler], a[head], units)
            _backdate(case.pk, goal, i, rng)
            created += 1
        # Each case's rungs follow from its dates, as the daily sweep would have fired them.
        escalation.sweep(timezone.localdate())
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
        services.case_add_evidence(actor=handler, case_id=case.pk, upload=_demo_photo(f"report-{case.pk}"))
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

# How many working days before (-) or after (+) its deadline an open case in a state where the
# deadline binds the unit stands today, in turn: most are in time, some near the deadline
# (reminder), due (yellow), some days overdue (red) or long overdue (interview, accountability).
LADDER_OFFSETS = [-6, -1, 1, 4, -4, 10, -8, 0, 15, -2, 6, -5, -9, 2]
FINISHED = ("submitted", "accepted", "long_term", "closed")


def _backdate(pk, goal, i, rng):
    """Move a freshly made case back in time: issued some working days ago (a draft written a
    few days ago), its deadline counted from that day as issuing counts it, its signature,
    report and closure between then and today, and its next rung from the new deadline. A case
    is never issued after its deadline, nor anything dated after today."""
    case = RectificationCase.objects.get(pk=pk)
    calendar, today, now = WorkCalendar(), timezone.localdate(), timezone.now()
    days = case.deadline_days

    def at(day: date, hour: int, minute: int = 0):
        moment = timezone.make_aware(datetime.combine(day, time(hour, minute)))
        return min(moment, now)

    def back(working_days):
        return shift_working_days(calendar, today, -max(working_days, 0))

    minute = (i * 7) % 50
    if goal == "draft":
        written = back(rng.randint(0, 3))
        RectificationCase.objects.filter(pk=pk).update(created_at=at(written, 9, minute),
                                                       updated_at=at(written, 9, minute + 5))
        return
    if goal in ("refused", "cancelled"):
        age = rng.randint(1, 4) if goal == "refused" else rng.randint(6, 12)
    elif goal == "extension":
        age = max(days - 6, 1)  # asked before the deadline, which is still ahead
    elif goal in FINISHED:
        age = rng.randint(max(days // 2, 3), 8 + days * 2)
    else:
        age = max(days + LADDER_OFFSETS[i % len(LADDER_OFFSETS)], 1)
    issued_on = back(age)
    deadline = add_working_days(issued_on, days)
    issued_at = at(issued_on, 9, minute)
    fields = {"created_at": issued_at - timedelta(minutes=30), "issued_at": issued_at, "updated_at": issued_at,
              "deadline": deadline.date, "calendar_warning": deadline.warning}
    if case.signed_at:
        next_day = shift_working_days(calendar, issued_on, 1)  # signed the next working day, or the same
        signed = at(next_day, 10, minute)
        fields["signed_at"] = fields["updated_at"] = signed if signed < now else at(issued_on, 14, minute)
    if goal in FINISHED:  # reported in time: halfway to the deadline at the latest
        done = min(shift_working_days(calendar, issued_on, max(days // 2, 1)), today)
        fields["updated_at"] = at(done, 15, minute)
    if goal in ("closed", "cancelled"):
        ended = min(shift_working_days(calendar, issued_on, max(days // 2, 1) + (1 if goal == "closed" else 2)), today)
        fields["closed_at"] = fields["updated_at"] = at(ended, 16, minute)
    case.deadline, case.rung = deadline.date, 0
    fields["next_rung_on"] = escalation.next_rung_on(case)
    RectificationCase.objects.filter(pk=pk).update(**fields)


# Photo evidence (workflow.cases.photos): the 东城区 cases of one problem get photos with the time
# and place their camera recorded, before and after the fix and in that order; a photo sent
# through a messaging app, which keeps neither; and on the second case the first case's
# after-photo again, resized and re-encoded (以拍代改), which the case pages flag on both.
PHOTO_PROBLEM = "消防通道堆放杂物"
PLACES = [(31.230416, 121.473701), (31.227302, 121.468855)]  # two sites in the demo city
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def _picture(seed: str, caption: str = ""):
    """A deterministic picture: broad shapes and some grain, different for each seed, with a
    caption along the bottom (the Noto CJK font when installed)."""
    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(seed)
    image = Image.new("RGB", (640, 480), tuple(rng.randrange(90, 230) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(10):
        x, y = rng.randrange(600), rng.randrange(400)
        box = (x, y, x + rng.randrange(80, 320), y + rng.randrange(60, 240))
        (draw.ellipse if rng.random() < 0.4 else draw.rectangle)(box, fill=tuple(rng.randrange(256) for _ in range(3)))
    for _ in range(1500):
        draw.point((rng.randrange(640), rng.randrange(480)), fill=(rng.randrange(256),) * 3)
    if caption:
        try:
            font = ImageFont.truetype(FONT, 22)
        except OSError:
            font = ImageFont.load_default()
        draw.rectangle((0, 440, 640, 480), fill=(30, 30, 30))
        draw.text((14, 446), caption, font=font, fill=(255, 255, 255))
    return image


def _jpeg(image, name: str, taken=None, place=None, quality=88):
    """The picture as an uploaded JPEG; with `taken` (an aware datetime) and `place` (latitude,
    longitude) written into its EXIF as a phone's camera writes them."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    options = {}
    if taken is not None:
        exif = Image.Exif()
        exif[0x010F], exif[0x0110] = "Demo", "Phone camera"
        local = taken.astimezone(timezone.get_default_timezone())
        offset = local.strftime("%z")  # +0800
        exif.get_ifd(0x8769).update({0x9003: local.strftime("%Y:%m:%d %H:%M:%S"), 0x9011: f"{offset[:3]}:{offset[3:]}"})
        if place is not None:
            def dms(value):
                minutes, seconds = divmod(round(abs(value) * 3600, 2), 60)
                return (float(int(minutes // 60)), float(int(minutes % 60)), seconds)
            exif.get_ifd(0x8825).update({1: "N", 2: dms(place[0]), 3: "E", 4: dms(place[1])})
        options["exif"] = exif.tobytes()
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, **options)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def _camera_photos(units, users) -> int:
    """Upload the photo story onto the first two 东城区 cases of PHOTO_PROBLEM the handler may
    still add evidence to, through the real upload path. Once: skipped when those cases
    already hold a before- or after-photo."""
    from PIL import Image

    mine = RectificationCase.objects.filter(unit=units["DC"], supervisor_unit=units["CITY"], title=PHOTO_PROBLEM)
    if Evidence.objects.filter(case__in=mine, stage__in=[Evidence.Stage.BEFORE, Evidence.Stage.AFTER]).exists():
        return 0
    handler = users["handler"]
    cases = [case for case in mine.order_by("pk") if case.may_upload(handler)][:2]
    if len(cases) < 2:
        return 0
    actor, now, calendar = Actor(handler, "127.0.0.1"), timezone.now(), WorkCalendar()

    def moments(case):
        """Before and after: in working hours a quarter and two thirds of the days from signing
        to today, kept between signing and now and in that order."""
        start = case.signed_at or case.issued_at or case.created_at
        first_day = timezone.localdate(start)
        days = [first_day + timedelta(days=n) for n in range((timezone.localdate(now) - first_day).days + 1)]
        days = [day for day in days if calendar.is_workday(day)] or [first_day]
        out = []
        for part, at in ((0.25, time(10, 20, 14)), (0.67, time(15, 42, 37))):
            moment = timezone.make_aware(datetime.combine(days[round((len(days) - 1) * part)], at))
            out.append(min(max(moment, start + timedelta(minutes=20)), now - timedelta(minutes=5)))
        if out[1] <= out[0]:
            out[1] = out[0] + (now - out[0]) / 2
        return [moment.replace(microsecond=0) for moment in out]

    def add(case, upload, stage, note):
        case_services.add_evidence(RectificationCase, actor=actor, case_id=case.pk, upload=upload,
                                   stage=stage, note=note)

    first, second = cases
    before, after = moments(first)
    add(first, _jpeg(_picture("story-1", "二楼东侧消防通道：床垫、纸箱堆放"), "整改前现场.jpg", before, PLACES[0]),
        Evidence.Stage.BEFORE, "整改前：通道内堆放床垫、纸箱")
    fixed = _picture("story-2", "二楼东侧消防通道：已清理")
    add(first, _jpeg(fixed, "整改后现场.jpg", after, PLACES[0]), Evidence.Stage.AFTER, "整改后：杂物已清理，通道畅通")
    add(first, _jpeg(_picture("story-3", "每日巡查台账（第一页）"), "巡查台账.jpg", quality=75), Evidence.Stage.OTHER,
        "巡查台账，经政务钉钉转发")
    before, _ = moments(second)
    add(second, _jpeg(_picture("story-4", "二楼东侧消防通道：纸箱、杂物堆放"), "整改前现场.jpg", before, PLACES[1]),
        Evidence.Stage.BEFORE, "整改前：通道内堆放纸箱")
    copy = fixed.resize((480, 360), Image.Resampling.LANCZOS)  # saved from a chat: smaller, re-encoded, no EXIF
    add(second, _jpeg(copy, "整改后现场.jpg", quality=70), Evidence.Stage.AFTER, "整改后：杂物已清理")
    return 5


def _demo_photo(seed):
    """The site photo of a case's report: a picture of its own (the same picture on two cases
    would be flagged as reused), without camera facts."""
    return _jpeg(_picture(seed), "现场照片.jpg", quality=80)
