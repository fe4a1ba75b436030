"""Safety hazards through the services: a checklist inspection opens a case per failed item,
with the rule versions it was judged under; both grades' paths; acceptance failure and rework;
suspension only after placement; the notice clocks; rule versions kept after the rules change."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from processes.hazard import services
from processes.hazard.models import CHECKLIST, CRITERIA, HazardCase, Inspection
from tests.hazard_helpers import act, add_photo, inspect
from workflow.kernel import rules
from workflow.kernel.errors import ActionError, AlreadyHandled
from workflow.models import AuditEvent, RuleSet

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("hazard_rules")]


def test_each_failed_item_becomes_a_hazard_linked_back(world):
    inspection, hazards = inspect(world, fail=("B3", "C1"))
    assert Inspection.objects.get(pk=inspection.pk).failed == 2
    by_code = {h.answers[0].code: h for h in hazards}
    assert set(by_code) == {"B3", "C1"}
    major = by_code["B3"]
    assert major.proposed_grade == "major" and major.criterion == "4(三)"
    assert "彩钢板" in major.criterion_text
    assert major.criteria_version.kind == CRITERIA and major.checklist_version.kind == CHECKLIST
    assert major.unit == world.county_a and major.supervisor_unit == world.city
    assert major.source == "unannounced" and major.status == "found"
    assert by_code["C1"].proposed_grade == "" and by_code["C1"].criterion == ""


def test_an_inspection_needs_every_item_answered(world):
    inspection = services.start_inspection(actor=world.actor("inspector"), unit=world.county_a,
                                           checklist="food", kind="scheduled")
    with pytest.raises(ActionError):
        services.submit_inspection(actor=world.actor("inspector"), inspection_id=inspection.pk)
    assert HazardCase.objects.count() == 0


def test_self_inspection_is_the_units_own_and_reports_to_the_unit_above(world):
    inspection, hazards = inspect(world, checklist="building", fail=("BS2",), kind="self", actor="handler_a")
    assert inspection.kind == "self" and inspection.by_unit == world.county_a
    (hazard,) = hazards
    assert hazard.source == "self" and hazard.supervisor_unit == world.city
    with pytest.raises(ActionError):  # an inspector does not self-inspect another unit
        services.start_inspection(actor=world.actor("inspector"), unit=world.county_a, checklist="fire",
                                  kind="self")
    with pytest.raises(ActionError):  # a handler does not inspect a unit
        services.start_inspection(actor=world.actor("handler_a"), unit=world.county_b, checklist="fire",
                                  kind="scheduled")


def test_inspections_are_scoped_like_cases(world):
    inspection, _ = inspect(world, fail=())
    assert Inspection.objects.visible_to(world.handler_a).filter(pk=inspection.pk).exists()
    assert not Inspection.objects.visible_to(world.handler_b).filter(pk=inspection.pk).exists()
    assert Inspection.objects.visible_to(world.leader).filter(pk=inspection.pk).exists()


def test_general_fixed_on_the_spot_needs_before_and_after_photos(world):
    _, (hazard,) = inspect(world, fail=("D1",))
    with pytest.raises(AlreadyHandled):
        act(world, hazard, "inspector", "fix_on_spot", reason="当场更换灭火器")
    add_photo(world, hazard, "inspector", "before", 1)
    add_photo(world, hazard, "inspector", "after", 2)
    hazard = act(world, hazard, "inspector", "fix_on_spot", reason="当场更换灭火器")
    assert hazard.status == "closed" and hazard.grade == "general"


def test_general_by_deadline_recheck_fails_then_passes(world):
    _, (hazard,) = inspect(world, fail=("E2",))
    hazard = act(world, hazard, "inspector", "set_deadline", deadline_days=5, requirement="清理楼道电动车")
    assert hazard.status == "rectifying" and hazard.deadline > timezone.localdate()
    with pytest.raises(AlreadyHandled):
        act(world, hazard, "handler_a", "report_fixed", reason="已清理")
    add_photo(world, hazard, "handler_a", "after", 3)
    hazard = act(world, hazard, "handler_a", "report_fixed", reason="已清理")
    hazard = act(world, hazard, "inspector", "fail_recheck", reason="仍有一辆未移走")
    assert hazard.status == "rectifying" and hazard.rechecks == 1
    hazard = act(world, hazard, "handler_a", "report_fixed", reason="全部移走")
    hazard = act(world, hazard, "inspector", "pass_recheck")
    assert hazard.status == "closed"


def drive_major_to_acceptance(world, hazard):
    hazard = act(world, hazard, "inspector", "propose_major", reason="符合判定标准 4(三)")
    hazard = act(world, hazard, "leader", "list_hazard", deadline_days=30, requirement="拆除彩钢板房")
    assert hazard.status == "planning" and hazard.grade == "major"
    assert hazard.listing_number.endswith("号") and hazard.listing_notice_due is not None
    plan = dict(plan_measures="拆除并重建", plan_responsible="院长 李某", plan_funds="120000.50",
                plan_deadline=hazard.deadline, plan_emergency="临时转移安置方案")
    hazard = act(world, hazard, "handler_a", "file_plan", **plan)
    hazard = act(world, hazard, "leader", "return_plan", reason="资金来源不明")
    assert hazard.status == "planning"
    hazard = act(world, hazard, "handler_a", "file_plan", **plan)
    hazard = act(world, hazard, "leader", "approve_plan")
    assert hazard.status == "major_rectifying" and hazard.plan_funds == Decimal("120000.50")
    add_photo(world, hazard, "handler_a", "after", 4)
    return act(world, hazard, "handler_a", "apply_acceptance", reason="已拆除")


def test_major_path_with_failed_acceptance_and_rework(world):
    _, (hazard,) = inspect(world, fail=("B3",))
    hazard = drive_major_to_acceptance(world, hazard)
    today = timezone.localdate()
    with pytest.raises(AlreadyHandled):  # acceptance needs its own evidence
        act(world, hazard, "inspector", "pass_acceptance", acceptors="张督查、住建局王工", accepted_on=today,
            reason="合格")
    hazard = act(world, hazard, "inspector", "fail_acceptance", acceptors="张督查、住建局王工", accepted_on=today,
                 reason="仍有部分彩钢板未拆除")
    assert hazard.status == "major_rectifying" and hazard.reworks == 1
    hazard = act(world, hazard, "handler_a", "apply_acceptance", reason="全部拆除")
    add_photo(world, hazard, "inspector", "after", 5)
    hazard = act(world, hazard, "inspector", "pass_acceptance", acceptors="张督查、住建局王工", accepted_on=today,
                 reason="验收合格")
    assert hazard.status == "delisting"
    hazard = act(world, hazard, "leader", "delist")
    assert hazard.status == "delisted" and hazard.delisting_notice_due is not None
    hazard = act(world, hazard, "inspector", "publish_delisting", published_on=today, published_where="市民政局网站")
    assert hazard.status == "closed"
    actions = list(AuditEvent.objects.filter(case_id=hazard.pk).order_by("seq").values_list("action", flat=True))
    assert actions.count("fail_acceptance") == 1 and actions[-1] == "publish_delisting"


def test_suspension_only_after_placement_is_recorded(world):
    _, (hazard,) = inspect(world, fail=("SE1",), checklist="power_gas")
    hazard = act(world, hazard, "inspector", "propose_major", reason="电梯未经检验")
    hazard = act(world, hazard, "leader", "list_hazard", deadline_days=20, requirement="停用电梯并检验")
    with pytest.raises(AlreadyHandled):
        act(world, hazard, "leader", "suspend", reason="停业整顿")
    hazard = act(world, hazard, "handler_a", "record_placement", placement="32名老人转至福寿园，护理员随同")
    hazard = act(world, hazard, "leader", "suspend", reason="停业整顿")
    assert hazard.suspended
    with pytest.raises(AlreadyHandled):
        act(world, hazard, "leader", "suspend", reason="again")


def test_listing_notice_clock_is_a_unit_setting_recorded_on_the_event(world):
    from workflow.models import UnitSetting

    UnitSetting.objects.create(unit=world.city, key="hazard.listing_notice_days", value=3,
                               effective_from=timezone.localdate() - timedelta(days=1))
    _, (hazard,) = inspect(world, fail=("B3",))
    hazard = act(world, hazard, "inspector", "propose_major", reason="4(三)")
    hazard = act(world, hazard, "leader", "list_hazard", deadline_days=30, requirement="拆除")
    event = AuditEvent.objects.filter(case_id=hazard.pk, action="list_hazard").get()
    assert event.data["notice_days"] == 3
    with pytest.raises(ActionError):
        act(world, hazard, "inspector", "publish_listing", published_on=timezone.localdate() + timedelta(days=1),
            published_where="网站")
    hazard = act(world, hazard, "inspector", "publish_listing", published_on=timezone.localdate(),
                 published_where="市民政局网站")
    assert hazard.listing_published_on == timezone.localdate() and not hazard.listing_late


def test_a_case_keeps_its_rule_version_after_the_rules_change(world):
    _, (hazard,) = inspect(world, fail=("B3",))
    used = hazard.criteria_version
    used.refresh_from_db()
    assert used.used
    used.body = {**used.body, "articles": used.body["articles"][:1]}
    with pytest.raises(ValidationError):
        used.save()
    newer = RuleSet.objects.create(kind=CRITERIA, name=used.name, version="2027", title=used.title,
                                   effective_from=timezone.localdate(), body={**RuleSet.objects.get(pk=used.pk).body})
    assert rules.in_force(CRITERIA, used.name) == newer
    hazard.refresh_from_db()
    assert hazard.criteria_version_id == used.pk and "彩钢板" in hazard.criterion_text


def test_a_hand_recorded_hazard_cites_its_article_without_inventing_it(world):
    (unknown,) = services.open_by_hand(actor=world.actor("inspector"), units=[world.county_a], title="x",
                                       category="fire", source="inspection", description="x", criterion="6(一)")
    assert unknown.criterion == "6(一)" and unknown.criterion_text == "" and unknown.proposed_grade == ""
    (hazard,) = services.open_by_hand(actor=world.actor("inspector"), units=[world.county_a], title="食堂无证",
                                      category="food", source="inspection", description="无食品经营许可证",
                                      criterion="5(二)")
    assert hazard.proposed_grade == "major" and hazard.criterion_text.startswith("内设食堂")


def test_roles_are_kept_apart(world):
    _, (hazard,) = inspect(world, fail=("B3",))
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        act(world, hazard, "handler_a", "propose_major", reason="x")
    hazard = act(world, hazard, "inspector", "propose_major", reason="4(三)")
    with pytest.raises(PermissionDenied):
        act(world, hazard, "inspector", "list_hazard", deadline_days=30, requirement="x")
