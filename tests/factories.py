"""Builders for test data: a small unit tree with one user per role."""
import itertools
from dataclasses import dataclass

from workflow.cases.engine import Actor
from workflow.models import Role, Unit, UnitKind, User

_seq = itertools.count(1)
PASSWORD = "Duban-test-2026"


def make_unit(name, kind=UnitKind.COUNTY_BUREAU, parent=None) -> Unit:
    return Unit.objects.create(code=f"U{next(_seq)}", name=name, kind=kind, parent=parent)


def make_user(role, unit, username=None) -> User:
    username = username or f"{role}{next(_seq)}"
    return User.objects.create_user(username=username, password=PASSWORD, role=role, unit=unit,
                                    full_name=username)


@dataclass
class World:
    """A city bureau with two county bureaus (A and B) and people in each."""

    city: Unit
    county_a: Unit
    county_b: Unit
    inspector: User
    inspector2: User
    leader: User
    legal: User
    admin: User
    handler_a: User
    head_a: User
    handler_b: User
    head_b: User

    def actor(self, name) -> Actor:
        return Actor(user=getattr(self, name), ip="127.0.0.1")


def make_world() -> World:
    city = make_unit("市民政局", UnitKind.CITY_BUREAU)
    county_a = make_unit("甲县民政局", parent=city)
    county_b = make_unit("乙县民政局", parent=city)
    return World(
        city=city, county_a=county_a, county_b=county_b,
        inspector=make_user(Role.INSPECTOR, city), inspector2=make_user(Role.INSPECTOR, city),
        leader=make_user(Role.LEADER, city), legal=make_user(Role.LEGAL, city),
        admin=make_user(Role.ADMIN, city),
        handler_a=make_user(Role.HANDLER, county_a), head_a=make_user(Role.UNIT_HEAD, county_a),
        handler_b=make_user(Role.HANDLER, county_b), head_b=make_user(Role.UNIT_HEAD, county_b),
    )


def make_case(world: World, unit=None, issue=True, **fields):
    from processes.rectification import services

    defaults = dict(title="消防通道堵塞", description="二楼消防通道堆放杂物", requirement="立即清理并建立巡查制度")
    defaults.update(fields)
    return services.case_create(actor=world.actor("inspector"), unit=unit or world.county_a, issue=issue, **defaults)


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


# Real files that pass the content checks.
PNG_BYTES = _png()
PDF_BYTES = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def upload(name="photo.png", data=PNG_BYTES, content_type="image/png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


def drive(world: World, case, *steps):
    """Run (actor_name, action, params) steps through the service layer."""
    from processes.rectification import services

    for actor_name, action, *rest in steps:
        params = rest[0] if rest else {}
        case = services.case_act(actor=world.actor(actor_name), case_id=case.pk, action=action, **params)
    return case


def to_submitted(world: World, case):
    """Take an issued case to the point where the inspector reviews it."""
    from processes.rectification import services

    case = drive(world, case, ("handler_a", "sign"))
    services.case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk, upload=upload())
    return drive(world, case, ("handler_a", "submit", {"reason": "已清理完毕"}), ("head_a", "head_approve"))
