"""Every URL, web and API, as every role, with hostile values (RELIABILITY 26).

Never a 5xx; a 400 says what is wrong in Chinese; a value that must be refused saves nothing.

Nothing here lists the site's pages or fields, so a page or field added later is swept
without editing this file:
* URLs come from walking the URL resolver. Path values come from the links and forms on the
  pages each role sees (reused for every route with the same parameter names), else from the
  seeded rows; and each parameter is also given hostile values.
* Form fields, with their kind, bound and a valid value, come from the forms on those pages;
  API fields from the OpenAPI schema; query names from the pages' links and GET forms and
  from the schema; plus names that no form has.
* The Django admin is swept like the site, as the administrator (as deployed: staff, with the
  workflow models' permissions) and as a superuser: its lists with their filter and search
  links, the change pages of the objects listed, the add and delete pages, autocomplete.
  Nothing is skipped but logging out and a change of the acting account's own password, which
  would each end the session that the next requests use.
* Every request runs in a savepoint that is rolled back, so each one meets the same world.
  "Saved" is a change in the row counts of the business tables or in the audit events other
  than denied-access ones (counted around the requests that must save nothing).
* Where the same code would answer, a value is sent once, not once per copy: a route's URLs
  that differ only in the row they name (int, uuid and the admin's path keys) take every value
  at the first URL and a few in turn at the others (URLs that differ in another parameter, an
  action or a table, are distinct pages and each take every value); a form or an API body is
  posted once per role, not per person of the role; and a value that a field of the same name,
  kind and bounds must refuse in the same view code (the generic pages and API serve every case
  type and action from one view, ActionForm and CaseForm are one class each) is checked once per
  role, not on every type and action (a value the field takes goes on to each action).

On SQLite a fixed sample of the corpus runs (on PostgreSQL the whole corpus replaces it), and the admin (Django's views, the same for every
model) gets one hostile value per URL or field, in turn; the whole corpus runs on PostgreSQL
(marker ``postgres``), where NUL characters and far dates fail for real, with three values in
turn per admin URL or field.
"""
import dataclasses
import io
import json
import logging
import re
import time
import uuid
from collections import defaultdict
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Callable
from urllib.parse import parse_qsl, quote, quote_from_bytes, urlencode, urljoin, urlsplit

import pytest
from axes.models import AccessAttempt
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.test import Client
from django.urls import Resolver404, URLResolver, get_resolver, resolve, reverse
from django.urls.resolvers import RegexPattern
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.views import APIView

from processes.rectification import services
from workflow.cases import escalation
from workflow.models import AuditEvent, Case, CaseRequest, Comment, Evidence, Notification, Role, Unit, User
from tests.factories import PNG_BYTES, drive, make_case, make_user, make_world, to_submitted, upload
from tests.test_admin import ADMIN_MODELS

CJK = re.compile("[\u4e00-\u9fff]")
SKIPPED_NAMES = {"logout"}  # logging out would end the session
UNKNOWN_NAMES = ("zz_unknown", "__proto__")
CSRF_FIELD = "csrfmiddlewaretoken"  # read by the CSRF middleware only, which the test client switches off
BUSINESS_APPS = ("workflow", "rectification", "deployment", "benchmark", "viewflow")
MAX_COMBOS = 8  # real path values per route
TODAY = timezone.localdate()


# The corpus ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Field:
    """An input, as a page's form or the API schema describes it."""

    name: str
    kind: str = "text"  # text, hidden, date, number, choice, multichoice, bool, file, array
    value: object = "整改说明"  # a valid-looking value
    maxlength: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    options: tuple = ()  # a select's choices

    def signature(self) -> tuple:
        """What a field's own checks depend on (not its valid value)."""
        return self.name, self.kind, self.maxlength, self.minimum, self.maximum, self.options


@dataclasses.dataclass(frozen=True)
class Hostile:
    label: str
    raw: bytes | None  # as sent in a query string or form body; None: JSON only
    json: object = None  # as sent in a JSON body; None: not sent as JSON
    refuse: Callable[[Field, str], bool] = lambda field, encoding: False  # must (field, encoding) refuse it?
    sample: bool = False  # part of the quick sample


def _text(value: str, refuse=lambda f, e: False, sample=False) -> Hostile:
    label = value if len(value) <= 12 else f"{value[:3]}…({len(value)} chars)"
    return Hostile(label, value.encode(), value, refuse, sample)


def _texty(f: Field) -> bool:
    return f.kind in ("text", "hidden", "date", "number", "choice", "multichoice")


def _longer_than_allowed(n):
    # A text field must state its bound (asserted in _run). A hidden field carries what the page put
    # there and its reader bounds it: a form token that is not one is ignored (workflow.tokens).
    return lambda f, e: (f.kind == "text" and f.maxlength is not None and f.maxlength < n) or \
        f.kind in ("date", "number", "choice", "multichoice")


def _outside(number):
    return lambda f, e: f.kind in ("choice", "multichoice", "date") or (f.kind == "number" and (
        (f.maximum is not None and number > f.maximum) or (f.minimum is not None and number < f.minimum)))


CORPUS = [
    _text("a\x00b", lambda f, e: _texty(f), sample=True),
    Hostile("lone surrogate", b"\xed\xa0\x80", "x\ud800y", lambda f, e: e != "multipart" and _texty(f), sample=True),
    Hostile("not UTF-8", b"\xff\xfe(\xc3", None, lambda f, e: e == "form" and _texty(f)),
    _text("长" * 300, _longer_than_allowed(300)),
    _text("长" * 200_000, _longer_than_allowed(200_000), sample=True),
    _text("²", lambda f, e: f.kind in ("number", "date"), sample=True),
    _text("٣", lambda f, e: f.kind == "date"),
    _text("9999-12-31", lambda f, e: f.kind in ("date", "number", "choice", "multichoice"), sample=True),
    _text("0001-01-01", lambda f, e: f.kind in ("date", "number")),
    _text("2300-01-01", lambda f, e: f.kind == "date"),
    _text("no-such-choice", lambda f, e: f.kind in ("choice", "multichoice", "date", "number"), sample=True),
    _text("99999999999999999999", _outside(99999999999999999999), sample=True),
    _text("-1", _outside(-1)),
    _text(""),
    Hostile("JSON list", None, ["a", 1], lambda f, e: f.kind not in ("array", "multichoice"), sample=True),
    Hostile("JSON object", None, {"a": 1}, lambda f, e: f.kind not in ("array", "multichoice")),
    Hostile("JSON big number", None, 12345678901234567890, lambda f, e: f.kind in ("date", "choice", "number")),
    Hostile("JSON true", None, True, lambda f, e: f.kind in ("date", "number", "choice")),
]
# Whole bodies: (label, content type, body, where it must be refused: "all" routes, "api" routes, or "")
BODIES = [
    ("GBK form", "application/x-www-form-urlencoded; charset=gbk", "title=整改&body=意见&note=说明".encode("gbk"), ""),
    ("undecodable GBK form", "application/x-www-form-urlencoded; charset=gbk", b"title=%81%20&body=%FF", "all"),
    ("form not in UTF-8", "application/x-www-form-urlencoded", b"body=%C3%28&reason=%FF&note=%FE", "all"),
    ("broken JSON", "application/json", b'{"title": ', "api"),
    ("JSON not in UTF-8", "application/json", b'{"body": "\xff\xfe", "reason": "\xff"}', "api"),
    ("JSON list body", "application/json", b"[1, 2]", "api"),
    ("JSON with NUL", "application/json", b'{"body": "a\\u0000b", "reason": "a\\u0000b"}', "api"),
    # Charsets Python looks up that are no text encoding
    ("base64 form", "application/x-www-form-urlencoded; charset=base64", b"body=5pW05pS5&reason=eA%3D%3D", "all"),
    ("rot13 form", "application/x-www-form-urlencoded; charset=rot13", b"body=nop&reason=nop", "all"),
    ("zlib form", "application/x-www-form-urlencoded; charset=zlib", b"body=x%9C&reason=x", "all"),
    ("base64 multipart", "multipart/form-data; boundary=b; charset=base64",
     b'--b\r\nContent-Disposition: form-data; name="body"\r\n\r\n5pW05pS5\r\n--b--\r\n', "all"),
    ("rot13 multipart", "multipart/form-data; boundary=b; charset=rot13",
     b'--b\r\nContent-Disposition: form-data; name="reason"\r\n\r\nnop\r\n--b--\r\n', "all"),
]


# The world -----------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def quiet_refusals():
    """Thousands of refusals are expected: log only server errors (not the refusals of requests
    Django finds suspicious, such as a redirect too long to follow, which answer 400)."""
    loggers = {name: logging.getLogger(name) for name in ("django.request", "django.security")}
    levels = {name: logger.level for name, logger in loggers.items()}
    loggers["django.request"].setLevel(logging.ERROR)
    loggers["django.security"].setLevel(logging.CRITICAL)
    yield
    for name, logger in loggers.items():
        logger.setLevel(levels[name])


@pytest.fixture
def clients(db):
    """A client per person of the world (the administrator as deployed: staff, with the workflow
    models' permissions), a superuser and an anonymous one, over cases in the states that offer
    the most forms, evidence, a pending extension, a case on the red list and a notification."""
    world = make_world()
    world.admin.is_staff = True
    world.admin.save()
    world.admin.user_permissions.set(Permission.objects.filter(content_type__app_label="workflow",
                                                               content_type__model__in=ADMIN_MODELS))
    superuser = make_user(Role.ADMIN, world.city)
    User.objects.filter(pk=superuser.pk).update(is_staff=True, is_superuser=True)
    superuser.refresh_from_db()
    make_case(world, issue=False)
    make_case(world)
    rectifying = drive(world, make_case(world), ("handler_a", "sign"))
    services.case_add_evidence(actor=world.actor("handler_a"), case_id=rectifying.pk, upload=upload())
    to_submitted(world, make_case(world))
    extended = drive(world, make_case(world), ("handler_a", "sign"))
    drive(world, extended, ("handler_a", "request_extension",
                            {"new_deadline": extended.deadline + timedelta(days=10), "reason": "设备未到货"}))
    red = make_case(world, unit=world.county_b)
    Case.objects.filter(pk=red.pk).update(deadline=TODAY - timedelta(days=40), next_rung_on=TODAY - timedelta(days=40))
    escalation.sweep(TODAY)
    Notification.objects.create(key="sweep", user=world.handler_a, case=rectifying, message="请签收")
    supervised_matters(world)
    out = {"anonymous": Client(raise_request_exception=False)}
    people = {f.name: getattr(world, f.name) for f in dataclasses.fields(world)}
    kinds = set()
    for name, user in {**people, "superuser": superuser}.items():
        if isinstance(user, User) and (user.role, user.unit_id, user.is_superuser) not in kinds:
            # A second person of the same role in the same unit sees the same pages: swept once.
            kinds.add((user.role, user.unit_id, user.is_superuser))
            token = Token.objects.create(user=user)
            out[name] = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token.key}")
            out[name].force_login(user)
    return out


def supervised_matters(world):
    """A work plan with one item dispatched (with a co-unit, signed and reported on) and one
    left to edit: the tree editor's, the import's and the items' pages and forms are then on
    the pages the sweep reads. One of each: the same pages serve every matter and item."""
    from processes.deployment import services as deployment
    from processes.deployment.models import ItemCase
    from workflow.cases import services as platform

    office = world.actor("inspector")
    (plan,) = deployment.register(actor=office, kind="plan", title="2026年工作要点", source_date=TODAY,
                                  description="一、提高低保标准。年底前提高5%。\n二、开展走访。每季度一次。")
    first, _second = plan.plan_items.order_by("position")
    deployment.update_item(plan.pk, first.pk, actor=office, title=first.title, text=first.text,
                           deadline=TODAY + timedelta(days=60), target="5%", cadence="monthly",
                           units=[world.county_a], co_units=[world.county_b])
    platform.act(type(plan), actor=office, case_id=plan.pk, action="dispatch")
    item = ItemCase.objects.get(parent=plan)
    platform.act(ItemCase, actor=world.actor("handler_a"), case_id=item.pk, action="sign")
    platform.act(ItemCase, actor=world.actor("handler_a"), case_id=item.pk, action="report_progress",
                 reason="推进中", percent=30)


# Routes --------------------------------------------------------------------------------------
CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def _kind(converter) -> str:
    return type(converter).__name__.removesuffix("Converter").lower()  # int, uuid, string, slug, path


@dataclasses.dataclass
class Route:
    template: str  # "rectification/<int:pk>/"
    params: dict  # name -> converter
    api: bool
    admin: bool = False  # the Django admin's
    regex: bool = False  # a regular expression: only the paths pages link to are known

    def fill(self, values: dict) -> str:
        return "/" + CONVERTER.sub(lambda m: str(values[m.group(1)]), self.template)

    def accepts(self, values: dict) -> bool:
        return all(name in values and re.fullmatch(conv.regex, str(values[name])) for name, conv in self.params.items())


def walk(resolver, prefix="", namespace=""):
    # Joined as the resolver joins them (ResolverMatch.route), a regular expression's ^ dropped
    join = (lambda pattern: prefix + str(pattern).removeprefix("^") if prefix else str(pattern))
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry, join(entry.pattern), entry.namespace or namespace)
        else:
            yield join(entry.pattern), entry, namespace


def served_by_the_same_code(full: bool) -> tuple[str, ...]:
    """URL prefixes of the case types that exist only in the tests or the bench, since the
    platform serves every type with the same pages and API: the product's own types are all
    swept, and in the sample the ticket stands for the others."""
    from workflow.kernel import registry

    keys = [spec.key for spec in registry.case_types() if (full or spec.key != "ticket")
            and registry.model_for(spec.key)._meta.app_label in ("engine_tests", "benchmark")]
    return tuple(prefix for key in keys for prefix in (f"{key}/", f"api/v1/{key}/"))


# An action's own API path (.../transitions/sign/) is the view of .../transitions/<slug:action>/
# with the same input checks; the whole corpus sweeps that one with every value, the sample
# each action's own path.
ACTION_PATH = re.compile(r"^api/v1/[\w-]+/cases/<int:pk>/transitions/[a-z_]+/$")


def all_routes(full: bool = False) -> list[Route]:
    found = []
    elsewhere = served_by_the_same_code(full)
    for template, pattern, namespace in walk(get_resolver()):
        if pattern.name in SKIPPED_NAMES or template.startswith(elsewhere) or (full and ACTION_PATH.match(template)):
            continue
        view = getattr(pattern.callback, "cls", None)
        found.append(Route(template, dict(pattern.pattern.converters),
                           isinstance(view, type) and issubclass(view, APIView), admin=namespace == "admin",
                           regex=isinstance(pattern.pattern, RegexPattern)))
    return found


KEY_KINDS = ("int", "uuid", "path")  # converters of parameters that name a row
HOSTILE_PATH = {"int": ["0", "99999999999999999999"], "uuid": [str(uuid.UUID(int=7))],
                "string": ["%00", "%C2%B2", "x" * 300], "slug": ["x" * 300, "no-such-action"], "path": ["%00"]}


def seeded_keys() -> dict[str, list[str]]:
    """Fallback path values by converter kind: keys of the seeded rows."""
    keys = defaultdict(list)
    for model in apps.get_models():
        kind = {"BigAutoField": "int", "AutoField": "int", "UUIDField": "uuid"}.get(model._meta.pk.get_internal_type())
        if kind and model._meta.app_label in BUSINESS_APPS:
            keys[kind] += [str(pk) for pk in model.objects.order_by("pk").values_list("pk", flat=True)[:2]]
    return keys


# Pages: links, forms and their fields ---------------------------------------------------------
INPUT_KINDS = {"date": "date", "number": "number", "checkbox": "bool", "radio": "choice", "file": "file",
               "hidden": "hidden", "submit": "hidden"}


class PageParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.forms, self._form, self._select = [], [], None, None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "select" and a.get("data-ajax--url"):
            # The admin's autocomplete box: its script asks its URL with these, and select2's term and page
            self.links.append(a["data-ajax--url"] + "?" + urlencode({
                "app_label": a.get("data-app-label", ""), "model_name": a.get("data-model-name", ""),
                "field_name": a.get("data-field-name", ""), "term": "", "page": "1"}))
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get").lower(),
                          "multipart": "multipart" in a.get("enctype", ""), "fields": []}
            self.forms.append(self._form)
        elif tag in ("input", "textarea", "select") and self._form is not None and a.get("name"):
            kind = {"textarea": "text", "select": "multichoice" if "multiple" in a else "choice"}.get(
                tag, INPUT_KINDS.get(a.get("type", ""), "text"))
            field = {"name": a["name"], "kind": kind, "value": a.get("value"), "options": [], "checked": "checked" in a,
                     "maxlength": a.get("maxlength"), "min": a.get("min"), "max": a.get("max")}
            self._form["fields"].append(field)
            self._select = field if tag == "select" else None
        elif tag == "option" and self._select is not None and a.get("value"):
            self._select["options"].insert(0 if "selected" in a else len(self._select["options"]), a["value"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def _field_of(f) -> Field:
    number = (lambda v: float(v) if v else None)
    kind, value = f["kind"], f["value"]
    if kind == "choice":
        value = (f["options"] or [""])[0]
    elif kind == "multichoice":
        value = f["options"][:1]
    elif kind == "bool":
        value = (value or "on") if f["checked"] else None
    elif kind == "date":
        value = value or (TODAY + timedelta(days=30)).isoformat()
    elif kind == "number":
        value = value or f["min"] or "1"
    elif kind == "text":
        value = value or "整改说明"
    return Field(f["name"], kind, value, int(f["maxlength"]) if f["maxlength"] else None,
                 number(f["min"]), number(f["max"]), tuple(sorted(f["options"])))


def _resolved(schema, node) -> dict:
    """A schema node with its $ref and allOf followed."""
    while "$ref" in node or "allOf" in node:
        extra = {k: v for k, v in node.items() if k not in ("$ref", "allOf")}
        target = node["allOf"][0] if "allOf" in node else node
        node = {**schema["components"]["schemas"][target["$ref"].rsplit("/", 1)[1]], **extra} \
            if "$ref" in target else {**target, **extra}
    return node


def schema_fields(schema, ref) -> list[Field]:
    fields = []
    for name, prop in _resolved(schema, ref).get("properties", {}).items():
        prop = _resolved(schema, prop)
        if prop.get("readOnly"):
            continue
        kind = {"integer": "number", "boolean": "bool", "array": "array"}.get(prop.get("type"), "text")
        kind = {"date": "date", "binary": "file", "decimal": "number"}.get(prop.get("format"), kind)  # money: digits bounded by its pattern
        kind = "choice" if "enum" in prop else kind
        value = {"number": prop.get("minimum", 1), "bool": True, "date": (TODAY + timedelta(days=30)).isoformat(),
                 "choice": (prop.get("enum") or [""])[0], "array": [], "text": "整改说明"}.get(kind)
        fields.append(Field(name, kind, value, prop.get("maxLength"), prop.get("minimum"), prop.get("maximum"),
                            tuple(sorted(map(str, prop.get("enum") or ())))))
    return fields


# The sweep -----------------------------------------------------------------------------------
class Sweep:
    def __init__(self, clients, full: bool):
        self.clients, self.full = clients, full
        self.routes = {r.template: r for r in all_routes(full)}
        self.count_sql = self._count_sql()
        self.requests, self.failures = 0, []
        self.seconds = defaultdict(float)  # by route: where the time goes
        self.seen = defaultdict(dict)  # route template -> {path kwargs: roles whose pages showed them}
        self.paths = {}  # (route template, path kwargs) -> the path shown, for routes that are regexes
        self.linked = defaultdict(dict)  # route template -> {(path, query pairs): roles whose pages showed them}
        self.turn = 0  # the sample's hostile value, in turn
        self.own = {role: c.session.get("_auth_user_id") for role, c in clients.items()}  # acting account
        # Whom each client is as far as the pages go: its role (a superuser apart); two people of one
        # role in two units see different rows, so both harvest, but a form is posted once per role.
        users = {str(u.pk): (u.role, u.is_superuser) for u in User.objects.filter(pk__in=filter(None, self.own.values()))}
        self.kinds = {role: users.get(str(pk), "anonymous") for role, pk in self.own.items()}
        self.checked = set()  # (role, code, field, encoding, value) refusals already seen, see refused_before
        self.forms = []  # (role, url, multipart, [Field]) of every POST form on a page
        self.documents = set()  # routes answering with a document (PDF, spreadsheet), not a page
        self.index = 0  # whose turn it is to send
        self.query_fields = {name: Field(name) for name in UNKNOWN_NAMES}
        self.form_names = set(UNKNOWN_NAMES)
        signed_in = next(name for name in clients if name != "anonymous")
        self.schema = json.loads(clients[signed_in].get(reverse("api-schema"), {"format": "json"}).content)
        self.keys = seeded_keys()

    @staticmethod
    def _count_sql():
        models = [m for m in apps.get_models() if m._meta.app_label in BUSINESS_APPS and not m._meta.proxy
                  and m is not AuditEvent and m._meta.model_name != "auditchain"]
        counts = [f"(SELECT COUNT(*) FROM {connection.ops.quote_name(t)})"
                  for t in sorted({m._meta.db_table for m in models})]
        audit = connection.ops.quote_name(AuditEvent._meta.db_table)
        counts.append(f"(SELECT COUNT(*) FROM {audit} WHERE action <> 'access_denied')")
        return "SELECT " + ", ".join(counts)

    def _counts(self):
        with connection.cursor() as cursor:
            cursor.execute(self.count_sql)
            return cursor.fetchone()

    def ends_session(self, role, method, url) -> bool:
        """A POST changing the acting account's own password (the admin's pages for it)."""
        try:
            match = resolve(urlsplit(url).path)
        except Resolver404:
            return False
        return method == "POST" and match.namespace == "admin" and (match.url_name or "").endswith(
            "password_change") and str(match.kwargs.get("id", self.own[role])) == str(self.own[role])

    def send(self, role, method, url, *, body=b"", content_type=None, refuse=False, what=""):
        """One request in a savepoint rolled back afterwards; records what went wrong."""
        if self.ends_session(role, method, url):
            return None, ""
        self.requests += 1
        started = time.monotonic()
        with transaction.atomic():
            before = self._counts() if refuse else None  # counted only where a save would be wrong
            if method == "GET":
                response = self.clients[role].get(url)
            else:
                response = self.clients[role].generic(method, url, body, content_type=content_type)
            saved = refuse and self._counts() != before
            transaction.set_rollback(True)
        try:
            self.seconds[resolve(urlsplit(url).path).route] += time.monotonic() - started
        except Resolver404:
            pass
        where = f"{role} {method} {url[:150]} {what}"
        text = "" if getattr(response, "streaming", False) else response.content.decode(errors="replace")
        if response.status_code >= 500:
            self.failures.append(f"{response.status_code}: {where}")
        elif response.status_code == 400 and not CJK.search(text):
            self.failures.append(f"400 without a Chinese message: {where}: {text[:200]}")
        elif refuse and saved:
            self.failures.append(f"saved although it must be refused: {where}")
        return response, text

    # Discovery -----------------------------------------------------------------------------
    def harvest(self):
        """As each role, visit every web route, then the links its pages show, two levels deep."""
        for role in self.clients:
            # The admin's pages of one object are reached from its lists, its lists from its index
            queue = [url for route in self.routes.values() if not route.api and not route.regex
                     and not (route.admin and route.params) for url, _ in self.concrete(route)[:1]]
            visited, documents_seen, admin_pages = set(), set(), defaultdict(int)
            for _level in range(3):
                found = []
                for url in (u for u in queue if u not in visited):
                    visited.add(url)
                    route = resolve(urlsplit(url).path).route
                    if route in documents_seen:
                        continue  # one of each document a role: rendering them is slow
                    if self.routes[route].admin:
                        if admin_pages[route] >= (MAX_COMBOS if self.full else 1):
                            continue  # a few of each of the admin's pages a role
                        admin_pages[route] += 1
                    response, text = self.send(role, "GET", url)
                    content_type = response.get("Content-Type", "")
                    if "text/html" in content_type:
                        found += self.read_page(role, url, text)
                    elif response.status_code == 200 and "json" not in content_type:
                        self.documents.add(route)
                        documents_seen.add(route)
                queue = found
        shown = [item for seen in self.seen.values() for item in seen.items()]
        for route in self.routes.values():  # routes no page linked to (the API's) take values shown, by name
            for kwargs, roles in shown if route.params and not self.seen.get(route.template) else ():
                if route.accepts(dict(kwargs)):
                    mine = tuple((k, v) for k, v in kwargs if k in route.params)
                    self.seen[route.template].setdefault(mine, set()).update(roles)
        for operation in self.operations():
            for p in operation.get("parameters", []):
                if p["in"] == "query":
                    [field] = schema_fields(self.schema, {"properties": {p["name"]: p["schema"]}})
                    self.query_fields[p["name"]] = field

    def read_page(self, role, url, html):
        parser = PageParser()
        parser.feed(html)
        found = []
        for href in parser.links + [form["action"] or url for form in parser.forms]:
            href = urljoin(url, href)  # the admin's filters link to "?role__exact=..."
            parts = urlsplit(href)
            if parts.netloc or not parts.path.startswith("/"):
                continue
            for name, _value in parse_qsl(parts.query):
                self.query_fields.setdefault(name, Field(name))
            try:
                match = resolve(parts.path)
            except Resolver404:
                continue
            if match.route in self.routes:
                kwargs = tuple(sorted((k, str(v)) for k, v in match.kwargs.items()))
                self.seen[match.route].setdefault(kwargs, set()).add(role)
                self.paths[match.route, kwargs] = parts.path
                if parts.query:
                    self.link(match.route, parts.path, parse_qsl(parts.query, keep_blank_values=True), role)
                found.append(href)
        for form in parser.forms:
            fields = [_field_of(f) for f in form["fields"]]
            try:
                action = urlsplit(form["action"] or url).path
                if resolve(action).route not in self.routes:
                    continue  # the log-out button
            except Resolver404:
                continue
            if form["method"] == "get":
                self.query_fields.update((f.name, f) for f in fields)
                self.link(resolve(action).route, action, [(f.name, str(f.value or "")) for f in fields
                                                          if f.kind not in ("bool", "multichoice", "file")], role)
            else:
                self.form_names.update(f.name for f in fields)
                self.forms.append((role, form["action"] or url, form["multipart"], fields))
        return found

    def link(self, route, path, pairs, role):
        """A query a page asks `route` with (a link, a GET form): each that brings a name, and
        on PostgreSQL a few more of each route's."""
        known = {name for (_path, query) in self.linked[route] for name, _value in query}
        if {name for name, _value in pairs} - known or (self.full and len(self.linked[route]) < 4 * MAX_COMBOS):
            self.linked[route].setdefault((path, tuple(pairs)), set()).add(role)

    def operations(self):
        for operations in self.schema["paths"].values():
            yield from operations.values()

    def concrete(self, route):
        """[(url, roles that saw it)]: real path values, then each parameter made hostile in turn."""
        seen = sorted(self.seen.get(route.template, {}).items())[:MAX_COMBOS if self.full else 2]
        if route.regex:
            return [(self.paths[route.template, kwargs], roles) for kwargs, roles in seen]
        if not route.params:
            return [(route.fill({}), set())]
        if not seen:
            seen = [(tuple((n, (self.keys.get(_kind(c)) or ["1"])[0]) for n, c in route.params.items()), set())]
        out = [(route.fill(dict(kwargs)), roles) for kwargs, roles in seen]
        for name, converter in route.params.items():
            for value in HOSTILE_PATH.get(_kind(converter), ["x"])[:None if self.full else 1]:
                out.append((route.fill({**dict(seen[0][0]), name: value}), None))
        return out

    def runs(self, route) -> list[tuple[str, set | None, tuple | None, bool]]:
        """concrete(route) as [(url, roles, page, first)]. A route's real URLs that differ only in
        keys (a case, an item, a file: int, uuid and the admin's path parameters) are one page:
        the same code on other rows; those that differ in another parameter (an action, a table)
        are distinct pages. `first` marks the first URL of each page, which takes every value;
        the page's other URLs and the hostile paths (page None) take a few, in turn."""
        out, pages = [], set()
        for url, roles in self.concrete(route):
            page = None
            if roles is not None:  # a real URL
                kwargs = resolve(urlsplit(url).path).kwargs
                page = tuple(sorted((k, str(v)) for k, v in kwargs.items()
                                    if k not in route.params or _kind(route.params[k]) not in KEY_KINDS))
            out.append((url, roles, page, page is not None and page not in pages))
            pages.add(page)
        return out

    def few(self, items, n=2, keep=()):
        """`n` of `items` in turn, and those of `keep` among them."""
        if not items:
            return []
        self.turn += 1
        picked = [items[(self.turn + i) % len(items)] for i in range(min(len(items), n))]
        return picked + [item for item in items if item in keep and item not in picked]

    @staticmethod
    def code_of(url, method="POST"):
        """The code that answers `method` on `url`: the view function (one for every case type,
        which it takes as an argument), or the class that defines the handler (the API's views are
        made per case type from one class each)."""
        try:
            match = resolve(urlsplit(url).path)
        except Resolver404:
            return url
        view = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
        if view is None:
            return match.func
        return next((k for k in view.__mro__ if method.lower() in vars(k)), view)

    def refused_before(self, role, url, field, encoding, hostile) -> bool:
        """Whether the same role already had this value refused by the same field (name, kind,
        bounds, choices) in the same code: a form's field checks the value before anything that
        differs between case types or actions runs (ActionForm and CaseForm are one class each, a
        serializer's field refuses before its validate() and before the view acts), so the check
        need not be repeated on every type and action. A value a field takes goes on to the action
        and is sent to each."""
        if not hostile.refuse(field, encoding):
            return False
        check = (self.kinds[role], self.code_of(url), field.signature(), encoding, hostile.label)
        if check in self.checked:
            return True
        self.checked.add(check)
        return False

    # Requests ------------------------------------------------------------------------------
    def corpus(self, raw=None, as_json=None):
        return [h for h in CORPUS if (self.full or h.sample) and (raw is None or (h.raw is not None) == raw)
                and (as_json is None or (h.json is not None) == as_json)]

    def some(self, route, items) -> list:
        """All of `items`; on the admin's routes (Django's views, the same for every model) a few
        of them, in turn: one in the sample, three in the whole corpus."""
        if route is None or not route.admin or not items:
            return items
        self.turn += 1
        return [items[(self.turn + i) % len(items)] for i in range(min(len(items), 3 if self.full else 1))]

    def route_of(self, url):
        try:
            return self.routes.get(resolve(urlsplit(url).path).route)
        except Resolver404:
            return None

    def sender(self, roles=None):
        """One role per request, in turn: alternately among those whose pages showed the URL and
        among everyone (the anonymous visitor and the administrator included), so that over a
        route's run of URLs and values every role sends some of them."""
        self.index += 1
        among = sorted(roles) if roles and self.index % 2 else list(self.clients)
        return among[self.index % len(among)]

    def get_with_hostile_queries(self):
        """Every known and some unknown query names at once, each hostile value, on every route.
        A document (PDF, spreadsheet) is rendered anew each time: in the sample, at its first URL only."""
        # A query string longer than a few kilobytes is turned away by the web server in front (414);
        # the 300-character value tries the bounds of query fields.
        corpus = [h for h in self.corpus(raw=True) if len(h.raw) < 4096]
        queries = {h: "&".join(f"{n}={quote_from_bytes(h.raw)}" for n in sorted(self.query_fields)) for h in corpus}
        plain = [h for h in corpus if h.raw == b""]
        for route in self.routes.values():
            document = route.template in self.documents
            for url, roles, _page, first in self.runs(route)[:1 if document and not self.full else None]:
                for hostile in self.some(route, corpus) if first else self.few(corpus, keep=plain):
                    refuse = any(hostile.refuse(f, "query") for f in self.query_fields.values())
                    self.send(self.sender(roles), "GET", f"{url}?{queries[hostile]}", refuse=refuse, what=hostile.label)

    def get_with_linked_queries(self):
        """Each query name a page asked a route with, made hostile one at a time in a query the
        page asked (the admin refuses names a list does not filter on before it reads any value),
        and a hostile name. In the sample, one hostile value each, in turn; in the whole corpus
        every value, but three in turn on the admin's routes (Django's lists, the same for every model)."""
        corpus = [h for h in self.corpus(raw=True) if len(h.raw) < 4096]
        for template, links in self.linked.items():
            first = {}  # name -> the first query that has it
            for (path, pairs), roles in sorted(links.items()):
                for name, _value in pairs:
                    first.setdefault(name, (path, pairs, roles))
            targets = sorted(first.items())
            if targets:
                targets.append((None, targets[0][1]))  # the hostile value as a name, in the first query
            for name, (path, pairs, roles) in targets:
                for hostile in self.some(self.routes[template], corpus) if self.full else [corpus[self.turn % len(corpus)]]:
                    self.turn += 1
                    query = [(n, quote_from_bytes(hostile.raw) if n == name else quote(v, safe="")) for n, v in pairs]
                    if name is None:  # the hostile value as a name
                        query.append((quote_from_bytes(hostile.raw), "1"))
                    field = self.query_fields.get(name) or Field(str(name))
                    self.send(self.sender(roles), "GET", path + "?" + "&".join(f"{n}={v}" for n, v in query),
                              refuse=hostile.refuse(field, "query"), what=f"{name}={hostile.label}")

    def post_everything(self):
        """Every field name at once, each hostile value, on every route; then whole hostile bodies."""
        names = sorted(self.form_names | {f.name for f in self.api_fields()})
        # The longest value goes into one field at a time (below): in every field at once it only
        # meets the upload size limit.
        corpus = [h for h in self.corpus() if len(h.raw or b"") < 100_000 and len(str(h.json)) < 100_000]
        forms = {h: "&".join(f"{n}={quote_from_bytes(h.raw)}" for n in names).encode()
                 for h in corpus if h.raw is not None}
        plain = [h for h in corpus if h.raw == b""]
        for route in self.routes.values():
            runs = self.runs(route)
            for url, roles, _page, first in runs:
                for hostile in self.some(route, corpus) if first else self.few(corpus, keep=plain):
                    if hostile.raw is not None:
                        self.send(self.sender(roles), "POST", url, body=forms[hostile],
                                  content_type="application/x-www-form-urlencoded", what=hostile.label)
                    if route.api and hostile.json is not None:
                        body = json.dumps({n: hostile.json for n in names}).encode()
                        self.send(self.sender(roles), "POST", url, body=body, content_type="application/json",
                                  what=hostile.label)
            for url, roles, _page, first in runs[:None if self.full else 1]:
                for label, content_type, body, refused_on in self.some(route, BODIES) if first else self.few(BODIES, 1):
                    refuse = refused_on == "all" or (refused_on == "api" and route.api)
                    self.send(self.sender(roles), "POST", url, body=body, content_type=content_type, refuse=refuse,
                              what=label)

    def api_fields(self):
        return [f for operation in self.operations()
                for content in operation.get("requestBody", {}).get("content", {}).values()
                for f in schema_fields(self.schema, content["schema"])]

    def post_forms_one_field_at_a_time(self):
        """Each form a role was shown, filled validly, with one field made hostile at a time."""
        done = set()
        for role, url, multipart, fields in self.forms:
            # A form's shape once per role that was shown it (in the sample, once), not once per case
            # nor per person of the role.
            shape = (resolve(urlsplit(url).path).route, frozenset(f.name for f in fields))
            if (self.kinds[role] if self.full else None, shape) in done:
                continue
            done.add((self.kinds[role] if self.full else None, shape))
            encoding = "multipart" if multipart else "form"
            # A name once (a list's row boxes share one): encode() gives each of its inputs the value
            named = {f.name: f for f in fields if f.kind != "file" and f.name != CSRF_FIELD}
            for field in named.values():
                for hostile in self.some(self.route_of(url), self.corpus(raw=True)):
                    if self.refused_before(role, url, field, encoding, hostile):
                        continue
                    body, content_type = encode(fields, field.name, hostile.raw, multipart)
                    self.send(role, "POST", url, body=body, content_type=content_type,
                              refuse=hostile.refuse(field, encoding), what=f"{field.name}={hostile.label}")

    def post_api_one_field_at_a_time(self):
        """Each JSON body of the schema, filled validly, with one property made hostile at a time,
        as the roles whose pages offered the same action (or a form with the same fields)."""
        bodies = {}
        for path, operations in self.schema["paths"].items():
            for operation in operations.values():
                content = operation.get("requestBody", {}).get("content", {})
                if "application/json" in content:
                    fields = schema_fields(self.schema, content["application/json"]["schema"])
                    bodies[re.sub(r"\{\w+\}", "{}", path)] = fields
        shown = {f.name: f.value for _r, _u, _m, fields in self.forms for f in fields if f.kind != "hidden"}
        for route in (r for r in self.routes.values() if r.api):
            fields = bodies.get("/" + CONVERTER.sub("{}", route.template))
            if not fields:
                continue
            fields = [dataclasses.replace(f, value=shown.get(f.name, f.value)) for f in fields]
            names = {f.name for f in fields}
            offered = {role for role, _u, _m, form in self.forms if names & {f.name for f in form} - {"form_token"}}
            pairs = [(field, hostile) for field in fields if field.kind != "file" for hostile in self.corpus(as_json=True)]
            covered = set()  # (page, role) that sent every field and value
            for url, roles, page, first in self.runs(route):
                # Each role whose pages showed the page (or offered the same fields), one person of
                # it, sends every field and value once, at the first of its URLs that role saw; in
                # the sample, one role in turn. Other URLs (other rows, hostile paths) take a few.
                people = {}
                for role in sorted(roles or offered):
                    people.setdefault(self.kinds[role], role)
                if self.full:
                    senders = [role for kind, role in people.items() if page is not None and (page, kind) not in covered]
                    covered.update((page, kind) for kind, role in people.items() if role in senders)
                else:
                    senders = [self.sender(roles or offered)] if first else []
                for role, (field, hostile) in ([(role, pair) for role in senders for pair in pairs] or
                                               [(self.sender(roles or offered), pair) for pair in self.few(pairs)]):
                    if senders and self.refused_before(role, url, field, "json", hostile):
                        continue
                    body = {f.name: f.value for f in fields if f.value is not None}
                    body[field.name] = hostile.json
                    self.send(role, "POST", url, body=json.dumps(body).encode(),
                              content_type="application/json", refuse=hostile.refuse(field, "json"),
                              what=f"{field.name}={hostile.label}")


def encode(fields, hostile_name, hostile_raw, multipart):
    """A form body: every field with its valid value, `hostile_name` with `hostile_raw`."""
    pairs = []
    for f in fields:
        if f.name == hostile_name:
            pairs.append((f.name, hostile_raw))
        elif f.kind == "multichoice":
            pairs += [(f.name, v.encode()) for v in f.value]
        elif f.kind != "file" and f.value is not None:
            pairs.append((f.name, str(f.value).encode()))
    if not multipart:
        body = "&".join(f"{quote_from_bytes(n.encode())}={quote_from_bytes(v)}" for n, v in pairs)
        return body.encode(), "application/x-www-form-urlencoded"
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in pairs:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n")
    for f in (f for f in fields if f.kind == "file"):
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{f.name}"; filename="p.png"\r\n'
                  f'Content-Type: image/png\r\n\r\n'.encode() + PNG_BYTES + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def _run(clients, full):
    sweep = Sweep(clients, full)
    started = time.monotonic()
    sweep.harvest()
    # Discovery found what it should: an empty harvest would pass without testing anything.
    assert len(sweep.forms) > 20 and len(sweep.seen) > 10, (len(sweep.forms), len(sweep.seen))
    assert {"unit", "q", "page", "date_from", "created_from"} <= set(sweep.query_fields)
    # The Django admin's own log-in form is Django's; what it lets through is cut for axes (workflow.forms).
    unbounded = sorted({(url, f.name) for _r, url, _m, fields in sweep.forms for f in fields
                        if f.kind == "text" and f.maxlength is None and resolve(url).namespace != "admin"})
    assert unbounded == [], f"text inputs without a length bound: {unbounded}"
    assert [f.name for f in sweep.api_fields() if f.kind == "text" and f.maxlength is None] == []
    phases = [f"harvest {sweep.requests} in {time.monotonic() - started:.0f} s"]
    # The admin was walked: its lists' filters, the change pages of objects, autocomplete
    admin_forms = {resolve(urlsplit(url).path).url_name for _r, url, _m, _f in sweep.forms}
    assert {"workflow_user_change", "workflow_unit_change", "workflow_unit_add"} <= admin_forms, admin_forms
    assert {"admin/workflow/user/", "admin/autocomplete/"} <= set(sweep.linked), sorted(sweep.linked)
    for phase in (sweep.get_with_hostile_queries, sweep.get_with_linked_queries, sweep.post_everything,
                  sweep.post_forms_one_field_at_a_time, sweep.post_api_one_field_at_a_time):
        count, begun = sweep.requests, time.monotonic()
        phase()
        phases.append(f"{phase.__name__} {sweep.requests - count} in {time.monotonic() - begun:.0f} s")
    elapsed = time.monotonic() - started
    slowest = sorted(sweep.seconds.items(), key=lambda item: -item[1])[:3]
    print(f"\nhostile sweep ({'whole corpus' if full else 'sample'}) on {connection.vendor}: "
          f"{sweep.requests} requests in {elapsed:.0f} s ({'; '.join(phases)}); slowest routes: "
          + ", ".join(f"{route} {seconds:.0f} s" for route, seconds in slowest))
    assert sweep.failures == [], f"{len(sweep.failures)} failures, the first:\n" + "\n".join(sweep.failures[:40])


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the whole corpus runs on PostgreSQL")
def test_hostile_sweep__sample(clients):
    _run(clients, full=False)


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="NUL and far dates fail for real on PostgreSQL")
def test_hostile_sweep__whole_corpus(clients):
    _run(clients, full=True)


# The cases that reached a 500 (issue 8), one by one -------------------------------------------
def _messages(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


@pytest.mark.parametrize("path", ["/rectification/", "/rectification/export.xlsx", "/rectification/bulletin.pdf"])
def test_unit_filter__a_unicode_digit_is_refused_with_a_message(world, client, path):
    # given: "²" passes str.isdigit() but is no number
    client.force_login(world.inspector)
    # when
    response = client.get(path, {"unit": "²"})
    # then: the list says so on the next page; the downloads answer 400 with the reason
    text = _messages(response) if response.status_code == 302 else response.content.decode()
    assert response.status_code in (302, 400) and "筛选条件无法识别" in text
    assert not AuditEvent.objects.filter(action__in=["export_ledger", "bulletin"]).exists()


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
@pytest.mark.parametrize("length", [256, 10_000])
def test_login__an_over_long_user_name_is_a_wrong_log_in(db, client, path, length):
    # when
    response = client.post(path, {"username": "x" * length, "password": "x"})
    # then: the log-in page again; django-axes never holds more than its column takes
    assert response.status_code == 200 and CJK.search(response.content.decode())
    assert all(len(name) <= 255 for name in AccessAttempt.objects.values_list("username", flat=True))


def test_login__our_form_refuses_the_name_before_anything_reads_it(db, client):
    # when
    client.post("/accounts/login/", {"username": "x" * 151, "password": "x"})
    # then: no authentication was attempted, so nothing was counted against any name
    assert not AccessAttempt.objects.exists()


def test_nul__in_a_comment_or_an_evidence_note_is_refused(world, client):
    # given
    case = drive(world, make_case(world), ("handler_a", "sign"))
    client.force_login(world.handler_a)
    # when
    comment = client.post(f"/rectification/{case.pk}/comment/", {"body": "已\x00整改"})
    note = client.post(f"/rectification/{case.pk}/evidence/", {"file": upload(), "note": "现场\x00照片"})
    # then: both are refused before the view, with the reason
    for response in (comment, note):
        assert response.status_code == 400 and "不能包含空字符（NUL）" in response.content.decode()
    assert not Comment.objects.exists() and not Evidence.objects.exists()


def test_gbk_form__is_read_in_the_charset_it_declares(world, client):
    # given: a legacy client posting GBK and saying so
    case = make_case(world)
    client.force_login(world.inspector)
    body = "body=" + quote("请尽快整改".encode("gbk"))
    # when
    response = client.generic("POST", f"/rectification/{case.pk}/comment/", body,
                              content_type="application/x-www-form-urlencoded; charset=gbk")
    # then
    assert response.status_code == 302
    assert Comment.objects.get().body == "请尽快整改"


@pytest.mark.parametrize("path", ["/accounts/login/", "/rectification/new/", "/api/v1/rectification/cases/"])
def test_gbk_form__that_is_not_gbk_is_a_400_with_a_message(world, client, path):
    # given: bytes that decode in no charset declared
    client.force_login(world.inspector)
    # when
    response = client.generic("POST", path, b"title=%81%20&username=%FF",
                              content_type="application/x-www-form-urlencoded; charset=gbk")
    # then
    assert response.status_code == 400 and "表单无法读取" in response.content.decode()
    assert not Case.objects.exists()


@pytest.mark.parametrize("far", ["9999-12-31", "2300-01-01"])
def test_extension__a_far_deadline_is_refused_on_the_web_and_in_the_api(world, client, far):
    # given
    case = drive(world, make_case(world), ("handler_a", "sign"))
    client.force_login(world.handler_a)
    # when
    web = client.post(f"/rectification/{case.pk}/act/request_extension/", {"new_deadline": far, "reason": "设备未到货"})
    api = client.post(f"/api/v1/rectification/cases/{case.pk}/transitions/request_extension/",
                      {"new_deadline": far, "reason": "设备未到货"}, content_type="application/json")
    # then
    assert "日期须在" in _messages(web)
    assert api.status_code == 400 and "日期须在" in api.json()["new_deadline"][0]
    assert not CaseRequest.objects.exists()


def test_extension__a_far_deadline_already_stored_is_granted_without_overflow(world):
    # given: a pending extension to 9999-12-31, stored before requests were bounded
    case = drive(world, make_case(world), ("handler_a", "sign"))
    drive(world, case, ("handler_a", "request_extension", {"new_deadline": case.deadline + timedelta(days=5),
                                                            "reason": "设备未到货"}))
    CaseRequest.objects.update(new_deadline=date.max)
    # when: the three approvals, the leader's last (it moves the deadline and the escalation ladder)
    case = drive(world, case, ("head_a", "approve_extension"), ("inspector", "approve_extension"),
                 ("leader", "approve_extension"))
    # then
    assert case.deadline == date.max and CaseRequest.objects.get().status == CaseRequest.Status.GRANTED


def test_case_form__the_description_is_bounded_as_in_the_api(world, client):
    # given
    client.force_login(world.inspector)
    form = {"units": [world.county_a.pk], "title": "消防通道堵塞", "source": "inspection", "deadline_days": 10,
            "requirement": "立即清理", "issue_now": "on"}
    # when
    too_long = client.post("/rectification/new/", {**form, "description": "长" * 200_009})
    at_the_bound = client.post("/rectification/new/", {**form, "description": "长" * 10_000})
    # then
    assert too_long.status_code == 200 and "10000" in too_long.content.decode()
    assert at_the_bound.status_code == 302 and Case.objects.count() == 1


def test_api__a_body_that_is_not_json_is_a_400_in_chinese(world, client):
    # given
    client.force_login(world.inspector)
    # when
    response = client.post("/api/v1/rectification/cases/", b'{"title": ', content_type="application/json")
    # then
    assert response.status_code == 400 and response.json() == {"detail": "请求内容无法读取：请以 UTF-8 编码的 JSON 或表单提交。"}


@pytest.mark.django_db
def test_admin_login__an_over_long_name_or_password_is_refused_in_chinese(client):
    # when: the admin's log-in form is given a 10,000-character name and password
    response = client.post("/admin/login/", {"username": "a" * 10_000, "password": "p" * 10_000})
    # then: the form answers with a message, nobody is locked or recorded with that name
    assert response.status_code == 200
    assert re.search(r"[\u4e00-\u9fff]", response.content.decode())
    from axes.models import AccessAttempt
    assert not AccessAttempt.objects.filter(username__startswith="a" * 200).exists()


# Declared charsets that are no text encoding, and NUL in the admin (issue 8, second review) ------
NOT_TEXT = ["base64", "rot13", "zlib", "hex", "bz2", "uu", "quopri", "undefined", "no-such-charset"]


def _multipart(fields: dict, charset: str) -> tuple[bytes, str]:
    body = b"".join(f'--b\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
                    for name, value in fields.items()) + b"--b--\r\n"
    return body, f"multipart/form-data; boundary=b; charset={charset}"


@pytest.mark.parametrize("charset", NOT_TEXT)
def test_charset__that_reads_no_text_is_a_400_in_chinese_on_every_kind_of_request(world, client, charset):
    # given: the log-in page anonymously, and as the inspector a new case as a form, in parts, and in the API
    form = {"units": world.county_a.pk, "title": "消防通道堵塞", "source": "inspection", "deadline_days": "10",
            "requirement": "立即清理", "issue_now": "on"}
    anonymous = client.generic("POST", "/accounts/login/", b"username=YWRtaW4%3D&password=eA%3D%3D",
                               content_type=f"application/x-www-form-urlencoded; charset={charset}")
    client.force_login(world.inspector)
    # when
    responses = [anonymous,
                 client.generic("POST", "/rectification/new/", "&".join(f"{k}={v}" for k, v in form.items()),
                                content_type=f"application/x-www-form-urlencoded; charset={charset}"),
                 client.generic("POST", "/rectification/new/", *_multipart(form, charset)),
                 client.generic("POST", "/api/v1/rectification/cases/", *_multipart(form, charset)),
                 client.get("/rectification/", {"q": "消防"}, CONTENT_TYPE=f"text/plain; charset={charset}")]
    # then: each is refused with the reason, in Chinese (JSON in the API); nothing was saved
    for response in responses:
        assert response.status_code == 400, (response.status_code, response.wsgi_request.path)
        assert "请求无法读取" in response.content.decode() or "表单无法读取" in response.content.decode()
    assert responses[3].json()["detail"].startswith(("请求无法读取", "表单无法读取"))
    assert not Case.objects.exists()


def test_charset__a_text_one_in_parts_is_read_as_declared(world, client):
    # given: a multipart form in GBK, saying so
    case = make_case(world)
    client.force_login(world.inspector)
    body = b'--b\r\nContent-Disposition: form-data; name="body"\r\n\r\n' + "请尽快整改".encode("gbk") + b"\r\n--b--\r\n"
    # when
    response = client.generic("POST", f"/rectification/{case.pk}/comment/", body,
                              content_type="multipart/form-data; boundary=b; charset=gbk")
    # then
    assert response.status_code == 302 and Comment.objects.get().body == "请尽快整改"


@pytest.mark.parametrize("url", [
    "/admin/workflow/user/?role=%00", "/admin/workflow/unit/?kind=%00", "/admin/workflow/proposal/?kind=%00",
    "/admin/workflow/user/?q=%00", "/admin/workflow/user/?%00=1",
    "/admin/autocomplete/?app_label=workflow&model_name=user&field_name=unit&term=%00",
    "/api/v1/rectification/cases/?q=%00"])
def test_nul__in_a_query_is_a_400_in_chinese_before_any_view(world, client, url):
    # given
    superuser = make_user(Role.ADMIN, world.city)
    User.objects.filter(pk=superuser.pk).update(is_staff=True, is_superuser=True)
    client.force_login(superuser if url.startswith("/admin/") else world.inspector)
    # when
    response = client.get(url)
    # then: JSON in the API, the error page elsewhere
    text = response.json()["detail"] if url.startswith("/api/") else response.content.decode()
    assert response.status_code == 400 and "不能包含空字符（NUL）" in text


@pytest.mark.parametrize("url", [
    "/admin/workflow/calendarday/?date__year=99999999999999999999", "/admin/workflow/calendarday/?date__year=9999",
    "/admin/workflow/calendarday/?date__year=9999&date__month=12", "/admin/workflow/unit/{unit}/change/?_to_field=",
    "/admin/workflow/unit/{unit}/delete/?_to_field="])
def test_admin__addresses_django_failed_on_are_answered(world, client, url):
    # given: a superuser
    superuser = make_user(Role.ADMIN, world.city)
    User.objects.filter(pk=superuser.pk).update(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    # when
    response = client.get(url.format(unit=world.county_a.pk))
    # then: the list drops the filter it cannot hold (Django's "?e=1"); the object page shows the object
    assert response.status_code in (200, 302), response.status_code


@pytest.mark.parametrize("selected", ["no-such-choice", "²", "99999999999999999999"])
def test_admin__an_action_on_keys_that_are_none_is_refused_with_a_message(world, client, selected):
    # given: a superuser, and the list's delete action posted with a value that is no key beside a real one
    superuser = make_user(Role.ADMIN, world.city)
    User.objects.filter(pk=superuser.pk).update(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    units = Unit.objects.count()
    # when
    response = client.post("/admin/workflow/unit/", {"action": "delete_selected", "index": "0",
                                                     "_selected_action": [world.county_b.pk, selected]}, follow=True)
    # then
    assert response.status_code == 200 and "所选条目中有不存在的条目" in response.content.decode()
    assert Unit.objects.count() == units


def test_admin__a_pick_of_keys_that_are_none_is_refused_by_the_field(world, client):
    # given: a superuser editing a group, picking a permission by a number no key can hold
    superuser = make_user(Role.ADMIN, world.city)
    User.objects.filter(pk=superuser.pk).update(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    group = Group.objects.create(name="值班")
    # when
    response = client.post(f"/admin/auth/group/{group.pk}/change/",
                           {"name": "值班", "permissions": ["99999999999999999999"]})
    # then: the form again, with the field's message; nothing granted
    assert response.status_code == 200 and CJK.search(response.content.decode())
    assert not group.permissions.exists()


@pytest.mark.parametrize("parent", ["no-such-choice", "²", "99999999999999999999"])
def test_admin__an_autocomplete_pick_that_is_no_key_shows_the_form_again(world, client, parent):
    # given: a superuser
    superuser = make_user(Role.ADMIN, world.city)
    User.objects.filter(pk=superuser.pk).update(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    units = Unit.objects.count()
    # when: a new unit is posted below a parent that is no key
    response = client.post("/admin/workflow/unit/add/", {"name": "新区民政局", "code": "NEW", "kind": "county",
                                                         "parent": parent})
    # then: the form again, with the field's message in Chinese; nothing saved
    assert response.status_code == 200 and CJK.search(response.content.decode())
    assert Unit.objects.count() == units


@pytest.mark.parametrize("charset", ["utf-8", "gbk"])
def test_charset__declared_with_too_many_query_fields_is_a_400_in_chinese(db, client, charset):
    # given: more query fields than Django reads, and a charset declared (which makes Django read them early)
    query = "&".join(f"f{i}=1" for i in range(1200))
    # when
    response = client.get(f"/accounts/login/?{query}", CONTENT_TYPE=f"text/plain; charset={charset}")
    # then
    assert response.status_code == 400 and CJK.search(response.content.decode())
