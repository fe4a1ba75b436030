"""Helpers shared by the 督办事项 (deployment) tests: a work plan's text and its registration,
an action run through the platform, dates ahead, the Chinese of a message, spreadsheets."""
import io
from datetime import timedelta

from django.utils import timezone, translation
from openpyxl import Workbook

from processes.deployment import services
from processes.deployment.models import ItemCase
from workflow.cases import services as platform

PLAN = """示范市民政局2026年工作要点

一、兜牢民生底线
（一）提高低保标准。年底前城乡低保标准提高5%。
（二）开展困难群众走访。一是建立台账；二是每季度走访一次。
二、发展养老服务
（一）建设社区食堂。到2026年底建成20个。
"""


def register_plan(world, title="2026年工作要点", text=PLAN):
    """A work plan registered by the office (the world's inspector), its tree parsed from `text`."""
    (matter,) = services.register(actor=world.actor("inspector"), kind="plan", title=title,
                                  source_date=timezone.localdate(), urgency="normal", description=text)
    return matter


def act(world, who, case, action, model=ItemCase, **params):
    """`action` on `case` through the platform, as `who`: a person of the world by name, or an actor."""
    actor = world.actor(who) if isinstance(who, str) else who
    return platform.act(model, actor=actor, case_id=case.pk, action=action, **params)


def deadline(days=60):
    """A date `days` from today."""
    return timezone.localdate() + timedelta(days=days)


def zh(msgid):
    """The Chinese of a message id."""
    with translation.override("zh-hans"):
        return translation.gettext(msgid)


def xlsx(rows, merge=None) -> bytes:
    """A workbook of one sheet holding `rows`, with the cells of `merge` ("A2:A3") merged."""
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
