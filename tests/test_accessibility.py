"""Accessibility in a real browser: axe-core (vendored under tests/vendor/axe-core, never served
by the product) checks one page of every page type the site has, as the people who see it, at
desktop and phone widths, against WCAG 2.0/2.1 levels A and AA, plus a few structural rules
(one main landmark, one h1, headings in order, all content in landmarks). The same walk checks
the text size older staff need (适老化): no visible text under 16px, primary content at 18px or
more, and on a phone every button, field and menu entry at least 44px tall.

The page types are listed below; a test walks the URL resolver and fails when a page type
appears that is neither listed nor named as not a page (a POST-only action, a file download,
a redirect), so a new page cannot escape the check. /admin/ (Django's own) and the API are
out of scope. Needs Debian's Chromium at /usr/bin/chromium."""
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.browser import DESKTOP, PHONE, TIMEOUT_MS, browser, login  # noqa: F401
from tests.factories import PASSWORD, drive, make_case, make_unit, make_user, make_world, to_submitted, upload  # noqa: F401

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
STRUCTURE_RULES = ["landmark-one-main", "page-has-heading-one", "heading-order", "region", "landmark-unique"]
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}

# Every page type a person sees, by URL name. The generic pages every case type has are named
# "<type>:..." and checked on rectification, the product's process (one template serves them all);
# a process's own URLs are named in its namespace.
PAGE_TYPES = {
    "login": "log in, empty and after a wrong password (anonymous)",
    "home": "redirects to the inbox; checked as the inbox",
    "inbox": "the inbox, to-do and done tabs",
    "notifications": "the notification list",
    "notification-settings": "the notification channels",
    "red-list": "the red list (leader, inspector)",
    "<type>:list": "the case list, with and without a refused filter",
    "<type>:new": "the new-case form",
    "<type>:detail": "the case page in each state and for each role that acts",
    "matter:rollup": "the roll-up of supervised matters, with and without a refused filter",
    "matter:items": "the tree of a matter's items, for its office and read-only",
    "matter:item-edit": "an item's edit form, with units suggested by their duties",
    "matter:item-split": "splitting an item",
    "matter:item-delete": "removing an item (confirmation)",
    "matter:import": "importing a work plan or a task table",
    "matter:import-table": "a task table's preview, with its unmatched units",
    "hazard:inspections": "checklist inspections, supervisory and self-inspections apart",
    "hazard:inspection_new": "starting an inspection, and a unit's self-inspection",
    "hazard:inspection": "an inspection being filled in on a phone, and one submitted",
    "hazard:indicators": "the hazard indicators",
    "hazard:indicator_cases": "the cases or units behind one indicator",
    "hazard:reports": "reports from outside, for the bureau's inspectors",
    "hazard:report": "one report from outside, to take up or decline",
    "hazard:grid-report": "a grid member's report form",
    "hazard:grid-reports": "a grid member's own reports",
    "public:hazard:report": "the public report form (anonymous, with its captcha)",
    "public:hazard:query": "the public query page (anonymous), before and after a code",
}
# URL names that are not pages: POST-only actions, file downloads.
NOT_PAGES = {
    "logout": "POST: logs out",
    "set_language": "POST: switches the language",
    "notifications-read": "POST: marks all read",
    "notification-open": "POST: marks one read and redirects to its case",
    "supervision-letter": "POST: a PDF download",
    "evidence-download": "a file download",
    "document-download": "a file download",
    "<type>:act": "POST: one action on a case",
    "<type>:upload": "POST: evidence upload",
    "<type>:comment": "POST: a comment",
    "<type>:export": "an Excel download",
    "rectification:notice": "a PDF download",
    "rectification:bulletin": "a PDF download",
    "matter:item-add": "POST: adds an item",
    "matter:item-move": "POST: moves an item a level",
    "matter:item-merge": "POST: merges an item into the one before",
    "matter:import-table-upload": "POST: a task table's upload, then its preview",
    "matter:task_table_xlsx": "an Excel download",
    "matter:task_table_pdf": "a PDF download",
    "matter:progress_docx": "a Word download",
    "matter:progress_pdf": "a PDF download",
    "hazard:notice": "a PDF download",
    "hazard:listing_notice": "a PDF download",
    "hazard:listing_public_notice": "a PDF download",
    "hazard:delisting_public_notice": "a PDF download",
    "hazard:inspection_report": "a PDF download",
    "hazard:report-take-up": "POST: takes a report up, opening a hazard case",
    "hazard:report-decline": "POST: declines a report with a reply",
    "captcha-image": "the captcha's picture",
    "captcha-image-2x": "the captcha's picture, twice the size",
}
OUT_OF_SCOPE_PREFIXES = ("admin/", "api/")


def site_url_names() -> set[str]:
    """Every named URL of the site outside /admin/ and the API, namespaced as reverse() takes it;
    a generic page of a case type is named "<type>:<name>" whatever the type."""
    from workflow.kernel import registry
    from workflow.web.urls import case_type_patterns

    keys = {spec.key for spec in registry.case_types()}
    generic = {pattern.name for pattern in case_type_patterns("any")}
    names = set()

    def walk(patterns, prefix, namespace):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith(OUT_OF_SCOPE_PREFIXES):
                continue
            if isinstance(pattern, URLResolver):
                ns = namespace
                if pattern.namespace:
                    ns = f"{namespace}{pattern.namespace}:"
                walk(pattern.url_patterns, route, ns)
            elif isinstance(pattern, URLPattern) and pattern.name:
                if namespace[:-1] in keys and pattern.name in generic:
                    names.add(f"<type>:{pattern.name}")
                else:
                    names.add(namespace + pattern.name)

    walk(get_resolver().url_patterns, "", "")
    return names


def test_every_page_type_of_the_site_is_checked_or_named_as_not_a_page():
    names = site_url_names()
    unlisted = names - set(PAGE_TYPES) - set(NOT_PAGES)
    assert not unlisted, f"new URL names: add each to PAGE_TYPES (and visit it below) or to NOT_PAGES: {sorted(unlisted)}"
    gone = (set(PAGE_TYPES) | set(NOT_PAGES)) - names
    assert not gone, f"listed but no longer in the URL resolver: {sorted(gone)}"


# --- the checks run in each page --------------------------------------------------------------

READABILITY_JS = """(phone) => {
  const problems = [];
  const visible = el => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const describe = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
    ' "' + (el.innerText || el.value || '').trim().slice(0, 30) + '"';
  const main = document.querySelector('main');
  if (main && parseFloat(getComputedStyle(main).fontSize) < 18)
    problems.push('main text is ' + getComputedStyle(main).fontSize + ', under 18px');
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || seen.has(el) || !visible(el)) continue;
    seen.add(el);
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < 16) problems.push('text at ' + size + 'px: ' + describe(el));
  }
  if (phone) {
    const controls = document.querySelectorAll(
      'button, .btn, input:not([type=hidden]):not([type=checkbox]):not([type=radio]), select, textarea, ' +
      'summary, header nav a, .tabs a, .pager a, label:has(> input[type=checkbox]), label:has(> input[type=radio])');
    for (const el of controls) {
      if (!visible(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.height < 44 - 0.5) problems.push('touch target ' + Math.round(r.height) + 'px tall: ' + describe(el));
    }
  }
  return problems;
}"""


def check(page, label, results, site_rules=True):
    """Run axe-core and the readability checks on the page as it stands; file what they find.
    Without site_rules, WCAG only: no structure rules, no readability checks."""
    page.wait_for_load_state("load")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, which the site's Content-Security-Policy
        # (script-src 'self') does not govern; a <script> tag with the same text would be refused.
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    found = page.evaluate(
        """async ([tags, rules]) => {
          const wcag = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
          const structure = rules.length ? await axe.run(document, {runOnly: {type: 'rule', values: rules}, resultTypes: ['violations']})
            : {violations: []};
          return wcag.violations.concat(structure.violations).map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}));
        }""", [WCAG_TAGS, STRUCTURE_RULES if site_rules else []])
    readability = page.evaluate(READABILITY_JS, page.viewport_size["width"] < 760) if site_rules else []
    results[label] = {"axe": found, "readability": readability, "url": page.url}


def report(results) -> str:
    lines = []
    for label, result in results.items():
        nodes = sum(len(v["nodes"]) for v in result["axe"])
        if not nodes and not result["readability"]:
            continue
        lines.append(f"\n== {label} ({result['url']}): {nodes} axe node(s), {len(result['readability'])} readability")
        for violation in result["axe"]:
            lines.append(f"  [{violation['id']}] {violation['help']} ({violation['impact']})")
            for node in violation["nodes"]:
                summary = " ".join((node["summary"] or "").split())
                lines.append(f"    {node['target']}: {summary[:300]}")
        for problem in result["readability"]:
            lines.append(f"  [readability] {problem}")
    return "\n".join(lines)


# --- realistic data: cases in every state a role meets, escalations, notifications --------------

def seed():
    from processes.rectification import services
    from processes.rectification.models import RectificationCase
    from workflow.cases import escalation
    from workflow.trail import notify

    from workflow.models import UnitKind

    world = make_world()
    make_unit("甲县福寿园养老院", UnitKind.ELDERLY_CARE, parent=world.county_a)  # the unit tree has a branch
    cases = {}
    cases["issued"] = make_case(world, title="敬老院消防通道堵塞", description="二楼东侧消防通道堆放床垫和纸箱。")
    cases["signed"] = drive(world, make_case(world, title="灭火器过期未更换"), ("handler_a", "sign"))
    services.case_add_evidence(actor=world.actor("handler_a"), case_id=cases["signed"].pk, upload=upload("现场照片.png"))
    cases["pending_head"] = drive(world, make_case(world, title="食堂燃气报警器失灵"), ("handler_a", "sign"))
    services.case_add_evidence(actor=world.actor("handler_a"), case_id=cases["pending_head"].pk, upload=upload())
    cases["pending_head"] = drive(world, cases["pending_head"], ("handler_a", "submit", {"reason": "已更换报警器"}))
    cases["submitted"] = to_submitted(world, make_case(world, title="护理员持证上岗不足"))
    cases["returned"] = drive(world, to_submitted(world, make_case(world, title="安全出口指示灯损坏")),
                              ("inspector", "return_case", {"reason": "照片不清晰，请补充整改后全景照片"}))
    cases["accepted"] = drive(world, to_submitted(world, make_case(world, title="床位登记台账缺失")),
                              ("inspector", "accept", {"reason": "整改到位"}))
    cases["closed"] = drive(world, to_submitted(world, make_case(world, title="消毒记录不全")),
                            ("inspector", "accept"), ("leader", "sign_off", {"reason": "同意销号"}))
    extension = drive(world, make_case(world, title="电梯年检逾期"), ("handler_a", "sign"))
    cases["extension"] = drive(world, extension, ("handler_a", "request_extension", {
        "reason": "需等待特种设备检验机构排期", "new_deadline": extension.deadline + timedelta(days=10)}))
    cases["refused"] = drive(world, make_case(world, title="殡葬服务收费公示不全"),
                             ("handler_a", "refuse", {"reason": "不属于我单位职责"}))
    cases["draft"] = make_case(world, issue=False, title="福利院厨房排烟不畅")
    cases["county_b"] = make_case(world, unit=world.county_b, title="救助站床铺消毒不及时")
    # Overdue cases on the ladder, so the red list and the case page show rungs.
    today = date.today()
    for days, title, unit in ((30, "养老院电气线路老化", world.county_a), (12, "儿童福利院监控缺失", world.county_b)):
        case = make_case(world, unit=unit, title=title)
        deadline = today - timedelta(days=days)
        case.deadline = deadline
        RectificationCase.objects.filter(pk=case.pk).update(deadline=deadline, next_rung_on=escalation.next_rung_on(case))
        cases.setdefault("red", case)
    escalation.sweep(today=today)
    cases.update(deployment(world))
    cases.update(hazards(world))
    notify.relay()
    return world, cases


def hazards(world) -> dict:
    """A submitted inspection of county A with a general and a major hazard, the major one
    listed and waiting for its five-point plan, and an inspection half filled in."""
    from processes.hazard import services as hazard_services
    from processes.hazard.rule_data import install
    from tests.hazard_helpers import act, inspect

    install()
    done, found = inspect(world, fail=("B3", "C1"))
    by_code = {h.answers[0].code: h for h in found}
    major = act(world, by_code["B3"], "inspector", "propose_major", reason="符合判定标准第四条（三）")
    major = act(world, major, "leader", "list_hazard", deadline_days=30, requirement="拆除彩钢板活动室")
    open_one = hazard_services.start_inspection(actor=world.actor("inspector"), unit=world.county_a,
                                                checklist="food", kind="scheduled")
    from processes.hazard import services_reports
    from workflow.cases.engine import Actor

    from workflow.models import Role, UnitKind

    town = make_unit("甲县城关镇民政办", UnitKind.TOWNSHIP_OFFICE, parent=world.county_a)
    world.grid = make_user(Role.GRID, town)
    report, _code = services_reports.file_report(
        actor=Actor(None, "127.0.0.1"), unit=world.city, place="甲县福寿园养老院二楼",
        description="走廊里有电动车在充电", category="electrical")
    services_reports.file_report(actor=world.actor("grid"), place="城关镇敬老院厨房",
                                 description="燃气软管老化开裂", category="gas")
    return {"hazard_found": by_code["C1"], "hazard_listed": major, "inspection_done": done,
            "inspection_open": open_one, "report": report}


def deployment(world) -> dict:
    """A work plan with an item dispatched to county A with county B as co-unit, reported on."""
    from processes.deployment import services as deployment_services
    from processes.deployment.models import ItemCase, UnitDuty
    from workflow.cases import services as platform

    office = world.actor("inspector")
    (matter,) = deployment_services.register(
        actor=office, kind="plan", title="2026年工作要点", source_date=date.today(),
        description="一、兜底保障\n（一）提高低保标准。年底前提高5%。\n（二）开展走访。每季度一次。\n二、养老服务\n（一）建设老年食堂。")
    UnitDuty.objects.create(unit=world.county_a, duty="社会救助", keywords="低保 走访")
    first, second = list(matter.plan_items.filter(level=2).order_by("position"))[:2]
    deployment_services.update_item(matter.pk, first.pk, actor=office, title=first.title, text=first.text,
                                    deadline=date.today() + timedelta(days=60), target="5%", cadence="monthly",
                                    units=[world.county_a], co_units=[world.county_b])
    platform.act(type(matter), actor=office, case_id=matter.pk, action="dispatch")
    item = ItemCase.objects.get(parent=matter)
    platform.act(ItemCase, actor=world.actor("handler_a"), case_id=item.pk, action="sign")
    platform.act(ItemCase, actor=world.actor("handler_a"), case_id=item.pk, action="report_progress",
                 reason="已完成入户核查。", percent=40)
    platform.act(ItemCase, actor=world.actor("handler_b"), case_id=item.pk, action="contribute",
                 reason="已配合完成数据比对。", percent=30)
    return {"matter": matter, "item": item, "plan_item": second}


def task_table() -> bytes:
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["序号", "任务", "牵头单位", "配合单位", "完成时限"])
    sheet.append([1, "提高低保标准", "甲县民政局", "不存在的县民政局", "2026年12月底前"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- the walk -----------------------------------------------------------------------------------

def pages_by_role(world, cases):
    """(user attribute, label, path) for each page type and state, as the person who sees it."""
    def detail(name):
        return f"/rectification/{cases[name].pk}/"
    return [
        ("inspector", "inbox (to do)", "/inbox/?tab=todo"),
        ("inspector", "inbox (done)", "/inbox/?tab=done"),
        ("inspector", "case list", "/rectification/"),
        ("inspector", "case list, refused filter", "/rectification/?status=no-such-state"),
        ("inspector", "new case", "/rectification/new/"),
        ("inspector", "case: draft", detail("draft")),
        ("inspector", "case: submitted, for review", detail("submitted")),
        ("inspector", "case: refused by the unit", detail("refused")),
        ("inspector", "case: overdue, on the ladder", detail("red")),
        ("inspector", "red list (inspector)", "/red-list/"),
        ("inspector", "roll-up of supervised matters", "/matter/rollup/"),
        ("inspector", "matter: dispatched, with its roll-up", f"/matter/{cases['matter'].pk}/"),
        ("inspector", "items tree (office)", f"/matter/{cases['matter'].pk}/items/"),
        ("inspector", "item edit, units suggested", f"/matter/{cases['matter'].pk}/items/{cases['plan_item'].pk}/edit/"),
        ("inspector", "item split", f"/matter/{cases['matter'].pk}/items/{cases['plan_item'].pk}/split/"),
        ("inspector", "item delete", f"/matter/{cases['matter'].pk}/items/{cases['plan_item'].pk}/delete/"),
        ("inspector", "import items", f"/matter/{cases['matter'].pk}/import/"),
        ("leader", "items tree (read-only)", f"/matter/{cases['matter'].pk}/items/"),
        ("handler_a", "item: in progress, with a co-unit", f"/item/{cases['item'].pk}/"),
        ("handler_b", "item: as its co-unit", f"/item/{cases['item'].pk}/"),
        ("inspector", "roll-up of supervised matters, refused filter", "/matter/rollup/?year=1800"),
        ("inspector", "error: refused download filter", "/rectification/export.xlsx?status=no-such-state"),
        ("leader", "red list", "/red-list/"),
        ("leader", "case: accepted, to sign off", detail("accepted")),
        ("leader", "case: closed", detail("closed")),
        ("leader", "notifications", "/notifications/"),
        ("handler_a", "inbox (handler)", "/inbox/"),
        ("handler_a", "case: issued, to sign", detail("issued")),
        ("handler_a", "case: signed, rectifying", detail("signed")),
        ("handler_a", "case: returned", detail("returned")),
        ("handler_a", "case: extension requested", detail("extension")),
        ("handler_a", "notifications (handler)", "/notifications/"),
        ("handler_a", "notification channels", "/notifications/channels/"),
        ("handler_a", "error 403: red list", "/red-list/"),
        ("handler_a", "error 404: another unit's case", detail("county_b")),
        ("head_a", "case: pending the unit head", detail("pending_head")),
        ("head_a", "inbox (unit head)", "/inbox/"),
        ("inspector", "hazard: found, to grade", f"/hazard/{cases['hazard_found'].pk}/"),
        ("handler_a", "hazard: listed, the five-point plan to file", f"/hazard/{cases['hazard_listed'].pk}/"),
        ("inspector", "checklist inspections", "/hazard/inspections/"),
        ("handler_a", "self-inspections", "/hazard/inspections/?tab=self"),
        ("inspector", "start an inspection", "/hazard/inspections/new/"),
        ("handler_a", "start a self-inspection", "/hazard/inspections/new/"),
        ("inspector", "inspection being filled in", f"/hazard/inspections/{cases['inspection_open'].pk}/"),
        ("handler_a", "inspection submitted (read-only)", f"/hazard/inspections/{cases['inspection_done'].pk}/"),
        ("leader", "hazard indicators", "/hazard/indicators/"),
        ("leader", "hazard indicator: hazards found", "/hazard/indicators/cases/?metric=found"),
        ("inspector", "reports from outside", "/hazard/reports/"),
        ("inspector", "a public report, to take up", f"/hazard/reports/{cases['report'].pk}/"),
        ("grid", "grid member: report a hazard", "/hazard/grid/report/"),
        ("grid", "grid member: my reports", "/hazard/grid/reports/"),
    ]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_page_type_passes_axe_and_is_readable(browser, login, live_server, width):
    world, cases = seed()
    viewport = WIDTHS[width]
    results = {}

    # Anonymous: the login page, a wrong password, a form whose CSRF cookie is gone, a lockout, a 404.
    context = browser.new_context(base_url=live_server.url, viewport=viewport)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto("/accounts/login/")
    check(page, "login", results)
    page.fill("input[name=username]", world.handler_a.username)
    page.fill("input[name=password]", "wrong-password")
    page.click("form button[type=submit]")
    check(page, "login, wrong password", results)
    response = page.goto("/no-such-page/")
    assert response.status == 404
    check(page, "error 404 (anonymous)", results)
    page.goto("/accounts/login/")
    context.clear_cookies()
    page.fill("input[name=username]", world.handler_a.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    assert "403" in page.inner_text("h1")
    check(page, "error 403 (form expired)", results)
    for _ in range(6):
        page.goto("/accounts/login/")
        page.fill("input[name=username]", world.head_b.username)
        page.fill("input[name=password]", "wrong-password")
        page.click("form button[type=submit]")
        page.wait_for_load_state()
    assert page.locator("a[href='/accounts/login/']").count() == 1, "the lockout page was not reached"
    check(page, "login locked", results)
    page.goto("/public/hazard/report/")
    check(page, "public report form (anonymous)", results)
    page.goto("/public/hazard/query/")
    check(page, "public query page (anonymous)", results)
    page.fill("input[name=code]", "ABCD-EFGH-JKMN")
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    check(page, "public query page, no such report (anonymous)", results)
    context.close()

    pages = {}
    for who, label, path in pages_by_role(world, cases):
        if who not in pages:
            pages[who] = login(getattr(world, who), viewport=viewport)
        page = pages[who]
        page.goto(path)
        check(page, label, results)
        if label == "new case":  # the unit picker with a unit chosen: its chip and the count
            page.locator("input[name=units]").first.check()
            check(page, "new case, a unit chosen", results)
        if label == "import items":  # a task table's preview, with a unit it could not match
            page.set_input_files("form[action$='/import/table/'] input[type=file]", files=[
                {"name": "任务分解表.xlsx", "buffer": task_table(),
                 "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}])
            page.click("form[action$='/import/table/'] button[type=submit]")
            page.wait_for_load_state()
            assert "/import/table/" in page.url, page.url
            check(page, "task table preview", results)

    print(f"\naxe-core ({width}): " + ", ".join(
        f"{label}={sum(len(v['nodes']) for v in r['axe'])}" for label, r in results.items()))
    failures = report(results)
    assert not failures, f"accessibility problems at {width} width:{failures}"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_api_documentation_page_passes_axe(browser, login, live_server):
    """The API's documentation page is Swagger UI, a tool for developers rather than a page of
    the site: it is held to WCAG 2.0/2.1 A and AA (its colours are darkened in api-docs.css, its
    paths are not links inside buttons), not to the site's structure and text-size rules."""
    world = make_world()
    results = {}
    for width, viewport in WIDTHS.items():
        page = login(world.inspector, viewport=viewport)
        page.goto("/api/v1/docs/")
        page.wait_for_selector(".swagger-ui .opblock")
        check(page, f"API documentation ({width})", results, site_rules=False)
    failures = report(results)
    assert not failures, f"accessibility problems on the API documentation page:{failures}"
