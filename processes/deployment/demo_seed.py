"""Demo 督办事项 (loaded by seed_demo): a year's work plan dispatched to the counties, one item
passed down to two townships, reports and lights at several stages; a leader's instruction
done and waiting for the leader to read its completion report; a hotline ticket; a meeting's
decisions registered but not yet dispatched. Idempotent."""
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from workflow.cases import services as platform
from workflow.cases.engine import Actor
from workflow.kernel.calendar import add_working_days
from workflow.models import Case

from . import lights, services
from .demo import load_demo_duties
from .models import ItemCase, MatterCase

PLAN = """示范市民政局2026年重点工作任务

一、兜牢兜实基本民生保障底线
（一）健全分层分类社会救助体系。年底前完成低保、特困人员动态核查，城乡低保标准提高5%。
（二）加强困难群众走访帮扶。一是建立困难群众信息台账；二是每季度开展一次入户走访。
二、加快发展养老服务
（一）推进社区老年助餐服务。到2026年底建成社区老年食堂20个，覆盖率不低于60%。
（二）开展养老机构安全隐患排查整治。6个月内完成全部养老机构消防安全评估。
三、提升基层治理和专项服务水平
（一）规范婚姻登记服务，推行“跨省通办”。
（二）推进殡葬领域突出问题专项整治，年内完成公墓年检。
"""

INSTRUCTION = "请市民政局牵头，督促东城区民政局于两周内完成辖区养老机构燃气安全专项检查，结果报我。"
HOTLINE = "市民反映西山县河口乡临时救助申请提交后一个多月无人答复，请核实办理并答复来电人。"
MEETING = """2026年第十一次局长办公会议定事项

一、由社会救助科牵头，各县区民政局配合，12月20日前完成年度低保资金清理。
二、养老服务科负责，12月底前完成第四季度养老机构星级评定复核。
"""


def seed(units: dict, users: dict) -> int:
    """Load the demo matters once; returns how many were registered."""
    city = units["CITY"]
    load_demo_duties(units)  # what each unit is responsible for, to suggest units for items
    if MatterCase.objects.filter(supervisor_unit=city).exists():
        return 0
    a = {name: Actor(user, "127.0.0.1") for name, user in users.items()}
    office, today = a["inspector"], timezone.localdate()
    counties = [units[code] for code in ("DC", "XS", "NH")]
    handlers = {"DC": a["handler"], "XS": a["handler2"], "NH": a["handler3"]}

    # The work plan: items edited and dispatched about six weeks ago.
    (plan,) = services.register(actor=office, kind="plan", title="示范市民政局2026年重点工作任务",
                                source_ref="示民发〔2026〕1号", source_date=today - timedelta(days=60),
                                urgency="normal", description=PLAN)
    items = list(plan.plan_items.order_by("position"))
    leaves = [item for item in items if item.level == 2]
    plans = [
        (leaves[0], counties, [], 120, "5%"),
        (leaves[1], counties, [], 90, "每季度走访一次"),
        (leaves[2], [units["DC"]], [units["XS"]], 150, "20个；不低于60%"),
        (leaves[3], counties, [], 45, "100%"),
        (leaves[4], [units["NH"]], [], 100, ""),
        (leaves[5], [units["XS"]], [], 30, ""),
    ]
    for item, lead, co, days, target in plans:
        services.update_item(plan.pk, item.pk, actor=office, title=item.title, text=item.text,
                             deadline=add_working_days(today, days).date, target=target, cadence="monthly",
                             units=lead, co_units=co)
    platform.act(MatterCase, actor=office, case_id=plan.pk, action="dispatch")
    cases = {(case.plan_item_id, case.unit.code.removeprefix("DEMO-")): case
             for case in ItemCase.objects.filter(parent=plan).select_related("unit")}
    _backdate_issue([case.pk for case in cases.values()], days=42)

    def item_act(who, case, action, **kw):
        return platform.act(ItemCase, actor=who, case_id=case.pk, action=action, **kw)

    # Social assistance: Dongcheng well ahead, Xishan on schedule, Nanhu not signed yet.
    relief = leaves[0].pk
    item_act(handlers["DC"], cases[(relief, "DC")], "sign")
    item_act(handlers["DC"], cases[(relief, "DC")], "report_progress", reason="已完成低保对象动态核查的80%。",
             percent=80)
    item_act(handlers["XS"], cases[(relief, "XS")], "sign")
    item_act(handlers["XS"], cases[(relief, "XS")], "report_progress", reason="核查工作过半。", percent=40)
    # Visits: Dongcheng passes the item down to its two townships, due a week earlier.
    visits = cases[(leaves[1].pk, "DC")]
    item_act(handlers["DC"], visits, "sign")
    county_office = a["inspector_dc"]
    towns = [units["DC-T0"], units["DC-T1"]]
    children = services.open_items(actor=county_office, units=towns, parent=visits, title=visits.title,
                                   description=visits.description, target=visits.target,
                                   deadline=visits.deadline - timedelta(days=7), cadence="monthly")
    town = next(child for child in children if child.unit_id == units["DC-T0"].pk)
    item_act(a["town_dc"], town, "sign")
    item_act(a["town_dc"], town, "report_progress", reason="已建立信息台账，完成第一轮走访。", percent=50)
    # Canteens: Dongcheng leads with Xishan; the co-unit has reported its part.
    canteen = cases[(leaves[2].pk, "DC")]
    item_act(handlers["DC"], canteen, "sign")
    item_act(handlers["XS"], canteen, "contribute", reason="已完成3处选址。", percent=30)
    item_act(handlers["DC"], canteen, "report_progress", reason="已建成8个社区老年食堂。", percent=40)
    # Fire safety: Xishan reported done, waiting for the office to verify; Nanhu has done it.
    fire = leaves[3].pk
    item_act(handlers["XS"], cases[(fire, "XS")], "sign")
    item_act(handlers["XS"], cases[(fire, "XS")], "submit", reason="全县12家养老机构消防安全评估已全部完成。")
    item_act(handlers["NH"], cases[(fire, "NH")], "sign")
    item_act(handlers["NH"], cases[(fire, "NH")], "submit", reason="已完成评估并建立台账。")
    item_act(office, cases[(fire, "NH")], "verify", reason="材料齐全，予以办结。")

    # A leader's instruction: done, its completion report waits for the leader.
    (instruction,) = services.register(actor=office, kind="instruction", title="关于养老机构燃气安全的批示",
                                       origin="王局长", source_ref="局领导批示第12号",
                                       source_date=today - timedelta(days=20), urgency="urgent",
                                       description=INSTRUCTION)
    (only,) = instruction.plan_items.all()
    services.update_item(instruction.pk, only.pk, actor=office, title="养老机构燃气安全专项检查", text=only.text,
                         deadline=add_working_days(today, 10).date, target="", cadence="none",
                         units=[units["DC"]], co_units=[])
    platform.act(MatterCase, actor=office, case_id=instruction.pk, action="dispatch")
    gas = ItemCase.objects.get(parent=instruction)
    item_act(handlers["DC"], gas, "sign")
    item_act(handlers["DC"], gas, "submit", reason="辖区6家养老机构燃气设施已全部检查，发现问题2处，已当场整改。")
    item_act(office, gas, "verify", reason="已核实。")
    platform.act(MatterCase, actor=office, case_id=instruction.pk, action="report",
                 completion_report="东城区民政局已完成辖区6家养老机构燃气安全专项检查，发现的2处问题已当场整改，"
                                   "现场复核无误。建议办结。")

    # A hotline ticket with the hotline's own number and deadline.
    (hotline,) = services.register(actor=office, kind="hotline", title="临时救助申请无人答复", origin="12345热线",
                                   hotline_ticket="12345-20261120-0318", hotline_deadline=today + timedelta(days=12),
                                   source_date=today - timedelta(days=3), urgency="expedited", description=HOTLINE)
    (ticket,) = hotline.plan_items.all()
    services.update_item(hotline.pk, ticket.pk, actor=office, title="核实办理临时救助申请并答复来电人",
                         text=ticket.text, deadline=today + timedelta(days=10), target="", cadence="none",
                         units=[units["XS"]], co_units=[])
    platform.act(MatterCase, actor=office, case_id=hotline.pk, action="dispatch")

    # A meeting's decisions, registered: the office still has to choose units and dispatch.
    services.register(actor=office, kind="meeting", title="2026年第十一次局长办公会议定事项", origin="局长办公会",
                      source_ref="会议纪要〔2026〕11号", source_date=today - timedelta(days=2), urgency="normal",
                      description=MEETING)
    lights.refresh_open(today)
    return 4


def _backdate_issue(pks, days: int):
    """Items dispatched `days` ago, as they would have been (their clocks and lights follow)."""
    when = timezone.now() - timedelta(days=days)
    table = Case._meta.db_table
    with connection.cursor() as cursor:
        placeholders = ", ".join(["%s"] * len(pks))
        cursor.execute(f'UPDATE "{table}" SET issued_at = %s, created_at = %s WHERE process_id IN ({placeholders})',
                       [when, when, *pks])
