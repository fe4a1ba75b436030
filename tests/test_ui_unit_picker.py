"""The unit picker of the new-case form and the case list's unit filter (issue 10), for every
case type: the units below the user's own as a tree of checkboxes that works without
JavaScript, searched, folded and chosen with chips when the script runs; the list's filter
offers every unit the user may see.

Server-side tests run on rectification and on the test-only ticket (one unit at a time, radio
buttons); the browser tests (marked e2e) run at desktop and phone width."""
import re
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from processes.rectification.models import RectificationCase
from tests.browser import browser, login, zh  # noqa: F401
from tests.factories import make_case, make_unit, make_world
from workflow.models import Unit, UnitKind
from workflow.web.unit_tree import INDENT, UNITS_MAX

FIELDS = {"title": "消防通道堵塞", "source": "inspection", "description": "二楼东侧堆放杂物",
          "requirement": "立即清理", "deadline_days": 10, "issue_now": "on"}


class TreeParser(HTMLParser):
    """For each input of a picker (by field name and value): the value of the input of the
    ``<li>`` it is nested in, or None at the top; and the units' names."""

    def __init__(self, name):
        super().__init__()
        self.name, self.stack, self.parent_of, self.label_of = name, [], {}, {}
        self._text_for = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "li":
            self.stack.append(None)
        elif tag == "input" and a.get("name") == self.name and self.stack:
            outer = [v for v in self.stack[:-1] if v is not None]
            self.parent_of[a["value"]] = outer[-1] if outer else None
            self.stack[-1] = a["value"]
            self._text_for = a["value"]

    def handle_endtag(self, tag):
        if tag == "li":
            self.stack.pop()
        elif tag == "label":
            self._text_for = None

    def handle_data(self, data):
        if self._text_for is not None and data.strip():
            self.label_of[self._text_for] = data.strip()


def tree_of(html, name="units") -> TreeParser:
    parser = TreeParser(name)
    parser.feed(html)
    return parser


def client_for(user, language="zh-hans") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = language
    return client


@pytest.fixture
def tree(db):
    """make_world's city with its two counties, a grandchild under county A, and a unit in
    another city's tree that no user of this city may see."""
    world = make_world()
    world.home = make_unit("甲县福寿园敬老院", UnitKind.ELDERLY_CARE, parent=world.county_a)
    world.other_city = make_unit("邻市民政局", UnitKind.CITY_BUREAU)
    world.foreign = make_unit("邻市某县民政局", parent=world.other_city)
    return world


# The tree in the page ---------------------------------------------------------------------------
def test_the_new_case_form_nests_the_units_below_the_users_own_by_parent(tree):
    html = client_for(tree.inspector).get("/rectification/new/").content.decode()
    parsed = tree_of(html)
    assert parsed.parent_of == {str(tree.county_a.pk): None, str(tree.home.pk): str(tree.county_a.pk),
                                str(tree.county_b.pk): None}
    assert parsed.label_of[str(tree.home.pk)] == "甲县福寿园敬老院"
    # checkboxes, each inside its label, in a group named by its legend; the script's tools are hidden
    assert html.count('type="checkbox" name="units"') == 3
    assert f'<label><input type="checkbox" name="units" value="{tree.home.pk}"> 甲县福寿园敬老院</label>' in html
    assert re.search(r"<fieldset[^>]*unit-field[^>]*>\s*<legend>承办单位</legend>", html)
    assert '<div class="picker-tools" hidden>' in html
    assert "js/unit-picker" in html and "css/unit-picker" in html


def test_only_the_units_below_the_users_own_are_offered(tree):
    html = client_for(tree.inspector).get("/rectification/new/").content.decode()
    offered = set(tree_of(html).parent_of)
    assert offered == {str(tree.county_a.pk), str(tree.county_b.pk), str(tree.home.pk)}
    assert "邻市" not in html and f'value="{tree.city.pk}"' not in html
    # an inspector of county A sees only the home below it
    inspector_a = tree.inspector.__class__.objects.create_user(
        username="inspector_a", password="x", role="inspector", unit=tree.county_a)
    html = client_for(inspector_a).get("/rectification/new/").content.decode()
    assert set(tree_of(html).parent_of) == {str(tree.home.pk)}


def test_a_type_that_opens_one_case_at_a_time_offers_radio_buttons(tree):
    html = client_for(tree.inspector).get("/plan/new/").content.decode()
    assert html.count('type="radio" name="units"') == 3 and 'type="checkbox" name="units"' not in html
    assert tree_of(html).parent_of[str(tree.home.pk)] == str(tree.county_a.pk)


def test_co_units_are_picked_from_the_same_tree_read_once(tree):
    client = client_for(tree.inspector)
    with CaptureQueriesContext(connection) as queries:
        html = client.get("/joint/new/").content.decode()
    assert html.count('type="radio" name="units"') == 3 and html.count('type="checkbox" name="co_units"') == 3
    assert tree_of(html, "co_units").parent_of[str(tree.home.pk)] == str(tree.county_a.pk)
    unit_reads = [q for q in queries if 'FROM "workflow_unit"' in q["sql"] and "LIKE" in q["sql"].upper()]
    assert len(unit_reads) == 1, [q["sql"] for q in unit_reads]


def test_a_unit_the_form_does_not_offer_is_refused_in_chinese_and_nothing_is_opened(tree):
    client = client_for(tree.inspector)
    with translation.override("zh-hans"):
        refused = translation.gettext("Cases can only be sent to units under your own.")
    assert re.search("[\u4e00-\u9fff]", refused)
    for units in ([tree.foreign.pk], [tree.county_a.pk, tree.foreign.pk], [tree.city.pk], ["abc"],
                  [str(2 ** 70)]):
        response = client.post("/rectification/new/", {**FIELDS, "units": units})
        assert response.status_code == 200
        assert response.context["form"].errors["units"] == [refused]
        assert refused in response.content.decode()
    # one unit at a time: the same
    response = client.post("/plan/new/", {"title": "排查计划", "description": "全面排查", "deadline_days": 40,
                                          "units": tree.foreign.pk})
    assert response.context["form"].errors["units"] == [refused]
    assert not RectificationCase.objects.exists()


def test_the_number_of_units_at_once_is_bounded(tree):
    client = client_for(tree.inspector, language="en")
    ids = [tree.county_a.pk] * (UNITS_MAX + 1)
    response = client.post("/rectification/new/", {**FIELDS, "units": ids})
    assert response.status_code == 200
    assert response.context["form"].errors["units"] == [
        f"At most {UNITS_MAX} units at once; send the rest in another batch."]
    assert not RectificationCase.objects.exists()
    # no unit at all: the field is required
    response = client.post("/rectification/new/", {**FIELDS})
    assert response.status_code == 200 and "units" in response.context["form"].errors


def test_units_picked_are_kept_ticked_when_the_form_comes_back_with_an_error(tree):
    response = client_for(tree.inspector).post(
        "/rectification/new/", {**FIELDS, "title": "", "units": [tree.home.pk, tree.county_b.pk]})
    html = response.content.decode()
    assert response.status_code == 200 and "title" in response.context["form"].errors
    for unit in (tree.home, tree.county_b):
        assert f'value="{unit.pk}" checked>' in html
    assert f'value="{tree.county_a.pk}" checked>' not in html


def test_dispatch_to_two_units_from_the_form_opens_two_cases(tree):
    response = client_for(tree.inspector).post(
        "/rectification/new/", {**FIELDS, "units": [tree.home.pk, tree.county_b.pk]})
    assert response.status_code == 302
    assert sorted(RectificationCase.objects.values_list("unit_id", flat=True)) == sorted(
        [tree.home.pk, tree.county_b.pk])


def add_units(parent, branches, leaves, first_pk=100_000) -> int:
    """``branches`` units under ``parent`` and ``leaves`` under each: one INSERT per level."""
    pk = first_pk
    middle = []
    for i in range(branches):
        middle.append(Unit(pk=pk, code=f"B{pk}", name=f"第{i}乡民政办", kind=UnitKind.TOWNSHIP_OFFICE,
                           parent=parent, path=f"{parent.path}{pk:06d}."))
        pk += 1
    Unit.objects.bulk_create(middle)
    rows = []
    for branch in middle:
        for j in range(leaves):
            rows.append(Unit(pk=pk, code=f"L{pk}", name=f"{branch.name}第{j}养老院", kind=UnitKind.ELDERLY_CARE,
                             parent=branch, path=f"{branch.path}{pk:06d}."))
            pk += 1
    Unit.objects.bulk_create(rows, batch_size=500)
    return len(middle) + len(rows)


def count_queries(client, url) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_pages_read_the_units_in_a_constant_number_of_queries(tree):
    client = client_for(tree.inspector)
    make_case(tree, unit=tree.home)
    for url in ("/rectification/new/", "/rectification/"):
        client.get(url)  # warm: session, settings and calendar caches
    small = {url: count_queries(client, url)[0] for url in ("/rectification/new/", "/rectification/")}
    added = add_units(tree.county_b, 30, 99)
    assert added == 3000
    new_count, form = count_queries(client, "/rectification/new/")
    list_count, listing = count_queries(client, "/rectification/")
    assert (new_count, list_count) == (small["/rectification/new/"], small["/rectification/"])
    # and every unit is in the page, nested below its township
    parsed = tree_of(form)
    assert len(parsed.parent_of) == 3 + 3000
    assert parsed.parent_of["100030"] == "100000" and parsed.parent_of["100000"] == str(tree.county_b.pk)
    assert len(re.findall(r"<option value=\"10\d{4}\">", listing)) == 3000


# The list's unit filter -------------------------------------------------------------------------
def options_of(html) -> dict[str, str]:
    select = re.search(r'<select name="unit"[^>]*>(.*?)</select>', html, re.S).group(1)
    return dict(re.findall(r'<option value="(\d*)"[^>]*>([^<]*)</option>', select))


def test_the_list_filter_offers_every_visible_unit_indented_and_filters_by_its_subtree(tree):
    in_home = make_case(tree, unit=tree.home, title="敬老院消防通道堵塞")
    in_county = make_case(tree, unit=tree.county_a, title="县局档案不全")
    in_b = make_case(tree, unit=tree.county_b, title="乙县灭火器过期")
    client = client_for(tree.inspector)
    options = options_of(client.get("/rectification/").content.decode())
    assert options == {"": "全部单位", str(tree.city.pk): "市民政局", str(tree.county_a.pk): INDENT + "甲县民政局",
                       str(tree.home.pk): INDENT * 2 + "甲县福寿园敬老院", str(tree.county_b.pk): INDENT + "乙县民政局"}
    # the grandchild alone
    page = client.get(f"/rectification/?unit={tree.home.pk}")
    assert [c.pk for c in page.context["page"].object_list] == [in_home.pk]
    assert f'<option value="{tree.home.pk}" selected>' in page.content.decode()
    # county A with the units below it
    page = client.get(f"/rectification/?unit={tree.county_a.pk}")
    assert {c.pk for c in page.context["page"].object_list} == {in_home.pk, in_county.pk}
    assert in_b.pk not in {c.pk for c in page.context["page"].object_list}
    # a unit of another tree is not offered, and filtering by it is a 404
    assert client.get(f"/rectification/?unit={tree.foreign.pk}").status_code == 404


def test_the_list_filter_of_a_unit_member_offers_only_their_own_unit(tree):
    options = options_of(client_for(tree.handler_a).get("/rectification/").content.decode())
    assert options == {"": "全部单位", str(tree.county_a.pk): "甲县民政局"}


def test_an_actions_unit_choice_offers_the_units_below_indented(tree):
    from tests.factories import drive

    case = drive(tree, make_case(tree), ("handler_a", "refuse", {"reason": "不属于我单位职责"}))
    client = client_for(tree.inspector)
    html = client.get(f"/rectification/{case.pk}/").content.decode()
    select = re.search(r'<select name="unit"[^>]*>(.*?)</select>', html, re.S).group(1)
    options = dict(re.findall(r'<option value="(\d*)"[^>]*>([^<]*)</option>', select))
    assert options == {"": "---------", str(tree.county_a.pk): "甲县民政局",
                       str(tree.home.pk): INDENT + "甲县福寿园敬老院", str(tree.county_b.pk): "乙县民政局"}
    response = client.post(f"/rectification/{case.pk}/act/reassign/", {"unit": tree.home.pk})
    assert response.status_code == 302
    assert RectificationCase.objects.get(pk=case.pk).unit_id == tree.home.pk


# In the browser ---------------------------------------------------------------------------------
SCREENSHOT = "/tmp/unit-picker-{}.png"


@pytest.fixture
def browser_world(transactional_db):
    world = make_world()
    world.home = make_unit("甲县福寿园敬老院", UnitKind.ELDERLY_CARE, parent=world.county_a)
    world.station = make_unit("甲县救助管理站", UnitKind.RELIEF_STATION, parent=world.county_a)
    world.town = make_unit("乙县城关镇民政办", UnitKind.TOWNSHIP_OFFICE, parent=world.county_b)
    return world


def unit_row(page, unit):
    """The tree's line of one unit (its ``<li>``, without the units below it)."""
    return page.locator(f"ul.unit-tree li:has(> label > input[value='{unit.pk}'])")


def box(page, unit):
    return page.locator(f"ul.unit-tree input[name=units][value='{unit.pk}']")


def chip(page, unit):
    return page.locator(f".picker-chips li.chip[data-pk='{unit.pk}']")


@pytest.mark.e2e
@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_search_ticks_chips_and_a_dispatch_to_two_units_in_the_browser(browser_world, login, width):
    from playwright.sync_api import expect

    from tests.browser import DESKTOP, PHONE, assert_no_error

    world = browser_world
    page = login(world.inspector, viewport=DESKTOP if width == "desktop" else PHONE)
    page.goto("/rectification/new/")
    search = page.locator("[data-picker-search]").first
    expect(search).to_be_visible()
    # the label names the search box
    expect(page.get_by_label(zh("Find a unit")).first).to_be_visible()
    for unit in (world.county_a, world.home, world.station, world.county_b, world.town):
        expect(box(page, unit)).to_be_visible()

    # searching narrows the tree and keeps the matching unit's ancestors visible
    search.fill("敬老")
    expect(box(page, world.home)).to_be_visible()
    expect(box(page, world.county_a)).to_be_visible()
    for unit in (world.station, world.county_b, world.town):
        expect(box(page, unit)).to_be_hidden()
    search.fill("没有这个单位")
    expect(page.locator("[data-picker-nomatch]").first).to_be_visible()
    search.fill("敬老")

    # ticking shows a chip and the count
    box(page, world.home).check()
    expect(chip(page, world.home)).to_have_text(re.compile("甲县福寿园敬老院"))
    expect(page.locator("[data-picker-count]").first).to_contain_text("1")
    # Enter in the search box does not send the form
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"/rectification/new/$"))

    # a cleared search shows the whole tree again; a branch folds and unfolds
    search.fill("")
    expect(box(page, world.town)).to_be_visible()
    toggle = unit_row(page, world.county_b).locator("> .tree-toggle")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    toggle.click()
    expect(box(page, world.town)).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.press("Enter")
    expect(box(page, world.town)).to_be_visible()

    # "select all under" county A ticks the units below it, and a chip for each
    unit_row(page, world.county_a).locator("> .tree-all").click()
    expect(box(page, world.station)).to_be_checked()
    expect(chip(page, world.station)).to_be_visible()
    expect(box(page, world.county_a)).not_to_be_checked()
    page.screenshot(path=SCREENSHOT.format(width), full_page=True)

    # removing a chip unticks its unit
    chip(page, world.station).locator("button").click()
    expect(box(page, world.station)).not_to_be_checked()
    expect(chip(page, world.station)).to_have_count(0)
    expect(chip(page, world.home)).to_have_count(1)

    # tick county B with the keyboard; the chips wrap inside the page at any width
    box(page, world.county_b).focus()
    page.keyboard.press("Space")
    expect(box(page, world.county_b)).to_be_checked()
    chips = page.locator(".picker-chips").first
    assert chips.bounding_box()["width"] <= page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]

    # dispatch to the two units ticked: two cases, one each
    page.fill("input[name=title]", "消防通道堵塞")
    page.fill("textarea[name=description]", "二楼东侧消防通道堆放杂物。")
    page.fill("textarea[name=requirement]", "立即清理。")
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r"/rectification/$"))
    assert_no_error(page)
    assert sorted(RectificationCase.objects.filter(title="消防通道堵塞").values_list("unit_id", flat=True)) == \
        sorted([world.home.pk, world.county_b.pk])


@pytest.mark.e2e
def test_without_javascript_the_picker_is_a_list_of_checkboxes(browser_world, browser, live_server):
    from playwright.sync_api import expect

    from tests.browser import PHONE
    from tests.factories import PASSWORD

    world = browser_world
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/accounts/login/")
        page.fill("input[name=username]", world.inspector.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("form button[type=submit]")
        page.goto("/rectification/new/")
        expect(page.locator("[data-picker-search]")).to_be_hidden()
        for unit in (world.county_a, world.home, world.town):
            expect(box(page, unit)).to_be_visible()
        page.get_by_label("甲县救助管理站").check()
        page.fill("input[name=title]", "应急照明损坏")
        page.fill("textarea[name=description]", "三楼应急照明不亮。")
        page.fill("textarea[name=requirement]", "更换灯具。")
        page.click("form.form button[type=submit]")
        page.wait_for_url(re.compile(r"/rectification/\d+/$"))
        assert RectificationCase.objects.get(title="应急照明损坏").unit_id == world.station.pk
    finally:
        context.close()
