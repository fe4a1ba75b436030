"""Production settings serve pages: collectstatic works, and with DEBUG off the login page, a case
page, the admin and a 404 come back with hashed static URLs that are served, under a strict
Content-Security-Policy.

The server is real: `collectstatic`, `migrate` and `seed_demo` run with config.settings.production
into a temporary STATIC_ROOT and database (on PostgreSQL, the test database, emptied afterwards),
then gunicorn serves them on a free port, behind an imagined TLS proxy (X-Forwarded-Proto: https).
"""
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
from html import unescape
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urljoin

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from tests.worker_support import _end, _spawn, database_url, wait_until

BASE_DIR = Path(__file__).resolve().parent.parent
PORTS = range(8120, 8130)
DEMO_PASSWORD = "Duban2026"  # processes/rectification/management/commands/seed_demo.py
HASHED = re.compile(r"/static/[\w/.-]+\.[0-9a-f]{12}\.(?:css|js|svg|png|woff2?)$")
INLINE = [
    (re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on* event handler"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def policy(headers) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    header = headers.get("Content-Security-Policy")
    assert header, "no Content-Security-Policy header"
    parts = [part.split() for part in header.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


def assert_strict_policy(headers):
    directives = policy(headers)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"]
    assert directives["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in " ".join(sum(directives.values(), []))


# The templates themselves -------------------------------------------------------------------

def test_no_project_template_has_inline_script_style_or_handlers():
    # templates/pdf/ is rendered by WeasyPrint, never by a browser.
    templates = [path for path in (BASE_DIR / "templates").rglob("*.html") if "pdf" not in path.parts]
    templates += [path for root in ("workflow", "processes") for path in (BASE_DIR / root).rglob("templates/**/*.html")]
    assert len(templates) > 10
    found = [f"{path.relative_to(BASE_DIR)}: {what}" for path in templates
             for pattern, what in INLINE if pattern.search(path.read_text(encoding="utf-8"))]
    assert found == []


@pytest.mark.django_db
def test_pages_carry_the_policy_and_the_api_answers_json_only(client, world):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert_strict_policy(response.headers)
    client.force_login(world.inspector)
    # What a browser sends: the browsable API is off, so the answer is JSON.
    response = client.get(reverse("api-rectification-cases"),
                          HTTP_ACCEPT="text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


# The real server ----------------------------------------------------------------------------

def free_port_in_range() -> int:
    for port in PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


def production_env(tmp: Path, db_url: str, port: int) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DUBAN_", "CELERY_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "production-static-test-" + "s" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        # The browser test talks plain HTTP to the server, which believes the proxy's header.
        "DJANGO_CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{port}",
        "DATABASE_URL": db_url,
        "CELERY_BROKER_URL": "memory://",  # nothing leaves the process; no worker is needed here
        "DUBAN_STATIC_ROOT": str(tmp / "static"),
        "DUBAN_EVIDENCE_ROOT": str(tmp / "evidence"),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def manage(env, *args, timeout=300):
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory, django_db_setup, django_db_blocker):
    """(port, log path) of gunicorn serving collected static files and the demo data."""
    tmp = tmp_path_factory.mktemp("production")
    postgres = connection.vendor == "postgresql"
    db_url = database_url(connection.settings_dict) if postgres else f"sqlite:///{tmp / 'duban.sqlite3'}"
    port = free_port_in_range()
    env = production_env(tmp, db_url, port)
    assert "post-processed" in manage(env, "collectstatic", "--noinput")
    assert (tmp / "static" / "staticfiles.json").exists()
    assert not (tmp / "static" / "viewflow").exists()
    if not postgres:
        manage(env, "migrate", "--noinput")
    manage(env, "seed_demo")
    log = tmp / "gunicorn.log"
    process = _spawn([sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
                      "--workers", "1", "--threads", "4", "--timeout", "60"], log, env=env)
    try:
        wait_until(lambda: process.poll() is not None or port_open(port), 60, message="gunicorn listens")
        assert process.poll() is None, log.read_text()
        yield port, log
    finally:
        _end(process, signal.SIGTERM, timeout=10)
        if postgres:
            with django_db_blocker.unblock():
                call_command("flush", "--noinput", verbosity=0)


def port_open(port) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class ProxiedClient:
    """HTTP as a TLS-terminating proxy forwards it (X-Forwarded-Proto: https). Keeps its own
    cookies: they are Secure, which a cookie jar would not send over the plain connection."""

    def __init__(self, port):
        self.port = port
        self.origin = f"https://127.0.0.1:{port}"
        self.cookies: dict[str, str] = {}

    def request(self, method, path, form=None) -> Response:
        headers = {"Host": f"127.0.0.1:{self.port}", "X-Forwarded-Proto": "https", "Accept-Language": "zh-hans"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers.update({"Content-Type": "application/x-www-form-urlencoded", "Origin": self.origin,
                            "Referer": self.origin + path})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body, headers)
            raw = conn.getresponse()
            response = Response(raw.status, raw.headers, raw.read())
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response

    def get(self, path) -> Response:
        return self.request("GET", path)

    def login(self, username):
        page = self.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = self.request("POST", "/accounts/login/",
                                {"csrfmiddlewaretoken": token, "username": username, "password": DEMO_PASSWORD})
        assert response.status == 302, response.text[:2000]
        assert response.headers["Location"] == "/"  # home: the inbox, or the admin for the administrator


def static_urls(html: str) -> list[str]:
    return sorted(set(unescape(url) for url in re.findall(r'(?:href|src)="(/static/[^"]+)"', html)))


def assert_served_page(client, response, status=200):
    """The page has the expected status and policy, and every static file it names is hashed and
    served, with whatever its stylesheets name in turn."""
    assert response.status == status, response.text[:3000]
    assert response.headers["Content-Type"].startswith("text/html")
    assert_strict_policy(response.headers)
    urls = static_urls(response.text)
    assert urls, "the page names no static file"
    seen = set()
    while urls:
        url = urls.pop()
        if url in seen:
            continue
        seen.add(url)
        assert HASHED.search(url), f"{url} is not a manifest (hashed) name"
        asset = client.get(url)
        assert asset.status == 200, url
        assert "immutable" in asset.headers.get("Cache-Control", ""), url
        if url.endswith(".css"):
            for ref in re.findall(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", asset.text):
                if not ref.startswith(("data:", "#")):
                    urls.append(urljoin(url, ref).split("#")[0].split("?")[0])
    return seen


def test_production_server_serves_pages_with_hashed_static_files(server):
    port, log = server
    client = ProxiedClient(port)

    # given: the login page, anonymous
    login_page = client.get("/accounts/login/")
    assets = assert_served_page(client, login_page)
    assert any(url.startswith("/static/css/duban.") for url in assets)
    assert any(url.startswith("/static/js/duban.") for url in assets)

    # when: an inspector signs in and opens a real (closed, with photos) case
    client.login("inspector")
    listing = client.get("/rectification/?status=closed")
    assert_served_page(client, listing)
    case_path = re.search(r'href="(/rectification/\d+/)"', listing.text).group(1)
    case_page = client.get(case_path)
    assert_served_page(client, case_page)
    assert 'data-autosubmit' in case_page.text

    # then: its evidence keeps its own sandbox policy
    evidence_path = unescape(re.search(r'src="(/evidence/[^"]+)"', case_page.text).group(1))
    evidence = client.get(evidence_path)
    assert evidence.status == 200 and evidence.headers["Content-Type"].startswith("image/")
    assert policy(evidence.headers) == {"default-src": ["'none'"], "img-src": ["'self'"], "sandbox": []}

    # and: a page that does not exist is the project's 404, with DEBUG off
    missing = client.get("/no-such-page/")
    assert_served_page(client, missing, status=404)
    assert "404" in missing.text and "Traceback" not in missing.text
    assert "Resolver404" not in missing.text and "/inbox/" in missing.text

    # and: the admin, as the system administrator, with its own stylesheets and scripts
    admin = ProxiedClient(port)
    admin_login = admin.get("/admin/login/")
    assert any(url.startswith("/static/admin/css/base.") for url in assert_served_page(admin, admin_login))
    admin.login("sysadmin")
    assert_served_page(admin, admin.get("/admin/"))
    assert_served_page(admin, admin.get("/admin/workflow/user/"))

    assert "Traceback" not in log.read_text()


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.e2e
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium is not installed at /usr/bin/chromium")
def test_chromium_reports_no_policy_violation(server, tmp_path):
    """The pages work in a real browser under the policy: styled, scripts run, nothing refused."""
    from playwright.sync_api import expect, sync_playwright

    port, log = server
    problems = []

    def expected_404(msg):
        # The page asked for on purpose, and the icon browsers ask every site for unprompted.
        return "404" in msg.text and msg.location.get("url", "").endswith(("/no-such-page/", "/favicon.ico"))

    def watch(page):
        page.on("console", lambda msg: msg.type in ("error", "warning") and not expected_404(msg)
                and problems.append(f"{page.url}: {msg.text} ({msg.location.get('url')})"))
        page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
        return page

    def sign_in(page, path, username):
        page.goto(path)
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("form [type=submit]")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                           "--disable-component-update", "--no-first-run"])
        try:
            context = browser.new_context(base_url=f"http://127.0.0.1:{port}", viewport={"width": 1280, "height": 900},
                                          extra_http_headers={"X-Forwarded-Proto": "https"}, locale="zh-CN")
            context.set_default_timeout(15_000)
            page = watch(context.new_page())
            page.goto("/accounts/login/")
            # duban.css applies: the top bar is the bureau's red.
            expect(page.locator("header.topbar")).to_have_css("background-color", "rgb(139, 26, 26)")
            page.screenshot(path=str(tmp_path / "login.png"), full_page=True)
            sign_in(page, "/accounts/login/", "inspector")
            page.wait_for_url("**/inbox/")
            page.goto("/rectification/?status=closed")
            page.locator("table.list a[href^='/rectification/']").first.click()
            page.wait_for_url(re.compile(r"/rectification/\d+/$"))
            photo = page.locator(".evidence img").first
            expect(photo).to_be_visible()
            # The photo loads lazily: bring it into view and give it time before checking it.
            photo.scroll_into_view_if_needed()
            page.wait_for_function("img => img.complete", arg=photo.element_handle())
            assert photo.evaluate("img => img.complete && img.naturalWidth > 0")
            page.screenshot(path=str(tmp_path / "case.png"), full_page=True)
            # duban.js runs: choosing a language switches at once, with no button to press.
            expect(page.locator("noscript")).to_have_count(1)
            page.select_option("select[data-autosubmit]", "en")
            expect(page.locator("html")).to_have_attribute("lang", "en")
            page.goto("/no-such-page/")
            expect(page.locator("h1")).to_contain_text("404")
            page.screenshot(path=str(tmp_path / "404.png"), full_page=True)

            admin = watch(browser.new_context(
                base_url=f"http://127.0.0.1:{port}", viewport={"width": 1280, "height": 900},
                extra_http_headers={"X-Forwarded-Proto": "https"}).new_page())
            sign_in(admin, "/admin/login/", "sysadmin")
            admin.wait_for_url("**/admin/")
            admin.screenshot(path=str(tmp_path / "admin.png"), full_page=True)
            admin.goto("/admin/workflow/user/")
            admin.locator("#result_list tbody a").first.click()
            admin.wait_for_url(re.compile(r"/admin/workflow/user/\d+/change/$"))
            # The admin's own scripts ran (they build the unit field's search box).
            expect(admin.locator(".select2-container").first).to_be_visible()
            admin.screenshot(path=str(tmp_path / "admin-user.png"), full_page=True)
        finally:
            browser.close()

    assert problems == [], "\n".join(problems)
    assert "Traceback" not in log.read_text()
