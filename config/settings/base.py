"""Settings shared by every environment. Values come from config.env."""
import os

from django.utils.translation import gettext_lazy as _

from config.env import BASE_DIR, VAR_DIR, env

SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me-in-production-0123456789")
# DEBUG only when asked for (DUBAN_DEBUG=1, or `bin/run --debug`): it shows settings and tracebacks.
DEBUG = env.bool("DUBAN_DEBUG", default=env.bool("DJANGO_DEBUG", default=False))
# The address bin/run serves on (DUBAN_HOST) is allowed unless it means "every address".
_served_host = env("DUBAN_HOST", default="127.0.0.1")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"]
                         + ([_served_host] if _served_host not in ("0.0.0.0", "::", "") else []))
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from here (no CDN) for /api/v1/docs/
    "axes",
    "viewflow",
    "viewflow.workflow",
    "workflow",
    "processes.rectification",
    "processes.deployment",
    "processes.hazard",
    "captcha",  # django-simple-captcha: the public forms' picture captcha, drawn here with Pillow
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "workflow.web.middleware.ExplicitLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "workflow.web.middleware.InputBoundsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "workflow.web.context.duban",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'duban.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so two writers never both read stale state.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
# PostgreSQL: the application may connect as an ordinary role (DATABASE_URL) that owns nothing,
# while the tables belong to another role (DATABASE_OWNER_URL, the same database). migrate,
# backup, restore and grant_app_role then connect as the owner (workflow/dbroles.py).
DUBAN_DATABASE_OWNER = env.db("DATABASE_OWNER_URL") if env("DATABASE_OWNER_URL", default="") else None
if DUBAN_DATABASE_OWNER and (DUBAN_DATABASE_OWNER["ENGINE"], DUBAN_DATABASE_OWNER["NAME"]) != (
        "django.db.backends.postgresql", DATABASES["default"]["NAME"]):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("DATABASE_OWNER_URL must name the same PostgreSQL database as DATABASE_URL.")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "workflow.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"  # the inbox, or the admin for the administrator
LOGOUT_REDIRECT_URL = "login"

# Sessions: idle timeout, renewed on every request.
SESSION_COOKIE_AGE = env.int("DUBAN_SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True

# Failed logins lock the (username, ip) pair for a while; the message is the same either way.
AXES_FAILURE_LIMIT = env.int("DUBAN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("DUBAN_LOGIN_COOLOFF_HOURS", default=0.25)
# Lock the account itself after repeated failures, from whatever address (one office often shares one).
AXES_LOCKOUT_PARAMETERS = ["username"]
# Axes suggests also locking by address; a bureau's office shares one address, so that would
# lock out everyone there. Guessing is stopped by the account lock, whatever the address.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_RESET_ON_SUCCESS = True
# Axes records the user name in a 255-character column: hand it at most that, without NUL.
AXES_USERNAME_CALLABLE = "workflow.web.bounds.axes_username"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Static files come from the project's static/ and only the apps whose pages are served (the
# admin, Swagger UI for the API's docs); viewflow's unused front end names font files it does
# not ship, which breaks collectstatic.
STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder", "config.staticfinders.ServedAppsFinder"]
DUBAN_STATIC_APPS = ["django.contrib.admin", "drf_spectacular_sidecar"]  # the admin; the API's docs page
STATIC_ROOT = env.path("DUBAN_STATIC_ROOT", default=str(VAR_DIR / "static"))
os.makedirs(STATIC_ROOT, exist_ok=True)  # whitenoise serves from here after collectstatic
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Content-Security-Policy on every page: all assets are local, no inline script or style
# (templates/pdf/ is rendered by WeasyPrint, not browsers). Evidence downloads set their own
# sandbox policy, which the middleware leaves alone.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    },
}

# Evidence lives outside the web root and is only served through a permission check.
EVIDENCE_ROOT = env.path("DUBAN_EVIDENCE_ROOT", default=str(VAR_DIR / "evidence"))
EVIDENCE_MAX_BYTES = env.int("DUBAN_EVIDENCE_MAX_BYTES", default=20 * 1024 * 1024)
EVIDENCE_MAX_UNZIPPED_BYTES = env.int("DUBAN_EVIDENCE_MAX_UNZIPPED_BYTES", default=100 * 1024 * 1024)
EVIDENCE_MAX_ZIP_ENTRIES = env.int("DUBAN_EVIDENCE_MAX_ZIP_ENTRIES", default=2000)
# Photo evidence (workflow.cases.photos): two photos on different cases whose 64-bit perceptual
# hashes differ in at most this many bits are flagged as the same picture (0-5; the index
# supports up to 5); a camera time this many minutes outside the case's period is tolerated.
PHOTO_HASH_DISTANCE = env.int("DUBAN_PHOTO_HASH_DISTANCE", default=4)
PHOTO_CLOCK_SKEW_MINUTES = env.int("DUBAN_PHOTO_CLOCK_SKEW_MINUTES", default=15)
# Work plans imported as .txt or .docx (processes/deployment/intake): file size; a .docx's parts, total
# unzipped size and compression ratio are bounded as for evidence and OOXML_MAX_RATIO.
WORKPLAN_MAX_BYTES = env.int("DUBAN_WORKPLAN_MAX_BYTES", default=10 * 1024 * 1024)
# Task tables (任务分解表, .xlsx) read for import: refused over these bounds before or while reading.
TASK_TABLE_MAX_BYTES = env.int("DUBAN_TASK_TABLE_MAX_BYTES", default=10 * 1024 * 1024)
TASK_TABLE_MAX_ROWS = env.int("DUBAN_TASK_TABLE_MAX_ROWS", default=20000)
TASK_TABLE_MAX_COLUMNS = env.int("DUBAN_TASK_TABLE_MAX_COLUMNS", default=60)
# 督办事项's downloads (task table, progress report) of a matter larger than this (its item cases, plus
# twenty per plan item) are built by the worker and kept for the day, not built in the request.
DEPLOYMENT_EXPORT_INLINE_MAX = env.int("DUBAN_DEPLOYMENT_EXPORT_INLINE_MAX", default=2000)
OOXML_MAX_RATIO = env.int("DUBAN_OOXML_MAX_RATIO", default=200)
# Documents archived by the worker (e.g. a closed case's closing record), also outside the web root.
DOCUMENT_ROOT = env.path("DUBAN_DOCUMENT_ROOT", default=str(VAR_DIR / "documents"))
# Both go through Django's storage API (workflow/files.py). By default the file system, in the
# two folders above, written whole; DUBAN_STORAGE=s3 puts them in one S3-compatible bucket, under
# two prefixes, so that several web hosts and workers share them. Never served by a URL of the store.
DUBAN_STORAGE = env("DUBAN_STORAGE", default="files")
if DUBAN_STORAGE not in ("files", "s3"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"DUBAN_STORAGE must be 'files' or 's3', not {DUBAN_STORAGE!r}.")
if DUBAN_STORAGE == "files":
    STORAGES["evidence"] = {"BACKEND": "workflow.storage.files.WholeFileStorage", "OPTIONS": {"root_setting": "EVIDENCE_ROOT"}}
    STORAGES["documents"] = {"BACKEND": "workflow.storage.files.WholeFileStorage", "OPTIONS": {"root_setting": "DOCUMENT_ROOT"}}
else:
    _s3 = {
        "bucket_name": env("DUBAN_S3_BUCKET"),
        "endpoint_url": env("DUBAN_S3_ENDPOINT_URL", default=None),  # unset: AWS itself
        "region_name": env("DUBAN_S3_REGION", default=None),
        # Unset: boto3 finds credentials itself (AWS_* variables, an instance role).
        "access_key": env("DUBAN_S3_ACCESS_KEY_ID", default=None),
        "secret_key": env("DUBAN_S3_SECRET_ACCESS_KEY", default=None),
        "addressing_style": env("DUBAN_S3_ADDRESSING_STYLE", default=None),  # "path" for most self-hosted stores
        "file_overwrite": False,  # a taken name is never written over
        "default_acl": None,  # objects take the bucket's (private) policy
        "max_memory_size": 2 * 1024 * 1024,  # a download larger than this is buffered on disk
    }
    # Two prefixes, neither inside the other: each store lists only its own files.
    _prefixes = {"evidence": env("DUBAN_S3_EVIDENCE_PREFIX", default="evidence").strip("/") + "/",
                 "documents": env("DUBAN_S3_DOCUMENT_PREFIX", default="documents").strip("/") + "/"}
    _evidence, _documents = _prefixes.values()
    if "/" in _prefixes.values() or _evidence.startswith(_documents) or _documents.startswith(_evidence):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("DUBAN_S3_EVIDENCE_PREFIX and DUBAN_S3_DOCUMENT_PREFIX must be two separate prefixes.")
    for _alias, _prefix in _prefixes.items():
        STORAGES[_alias] = {"BACKEND": "storages.backends.s3.S3Storage",
                            "OPTIONS": {**_s3, "location": _prefix.rstrip("/")}}
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://duban")}

# Pages served without a login (workflow/web/public.py: each app's public_patterns under /public/).
# DUBAN_PUBLIC_ONLY=1 makes this server one for the internet that serves only them (with their
# captcha pictures, static files and the language switch): no login, admin, API or case page.
DUBAN_PUBLIC_ONLY = env.bool("DUBAN_PUBLIC_ONLY", default=False)
if DUBAN_PUBLIC_ONLY:
    ROOT_URLCONF = "config.urls_public"
    # A staff session from the main site is never read here, and a failed CSRF check is
    # answered with a page that needs none of the main site's addresses.
    SESSION_COOKIE_NAME = "duban_public_session"
    CSRF_FAILURE_VIEW = "config.urls_public.csrf_failure"
# Requests per client address in a fixed window (requests, seconds), by bucket: the public form's
# page views (each draws a captcha), its posts (wrong captchas included), the reports it files,
# and the lookups of a query code. A refused request is answered 429. Count in a cache all the
# server's processes share (CACHE_URL) for the limit to hold across them.
PUBLIC_RATE_LIMITS = {
    "page": (env.int("DUBAN_PUBLIC_PAGES_PER_HOUR", default=120), 3600),
    "post": (env.int("DUBAN_PUBLIC_POSTS_PER_HOUR", default=20), 3600),
    "report": (env.int("DUBAN_PUBLIC_REPORTS_PER_HOUR", default=5), 3600),
    "query": (env.int("DUBAN_PUBLIC_QUERIES_PER_HOUR", default=20), 3600),
}
# Behind a reverse proxy: the request header that carries the client's address (e.g.
# HTTP_X_REAL_IP, set by the proxy itself); empty reads the connection's address.
PUBLIC_CLIENT_IP_HEADER = env("DUBAN_PUBLIC_CLIENT_IP_HEADER", default="")
# Photos sent with a public report: at most this many, each at most this size (and never more
# than EVIDENCE_MAX_BYTES).
PUBLIC_PHOTOS_MAX = env.int("DUBAN_PUBLIC_PHOTOS_MAX", default=3)
PUBLIC_PHOTO_MAX_BYTES = min(env.int("DUBAN_PUBLIC_PHOTO_MAX_BYTES", default=5 * 1024 * 1024), EVIDENCE_MAX_BYTES)
# The captcha: five letters, good for ten minutes; no audio (it would need a speech program).
CAPTCHA_LENGTH = 5
CAPTCHA_TIMEOUT = 10
CAPTCHA_FONT_SIZE = 30
CAPTCHA_IMAGE_SIZE = (150, 50)

# Celery: a broker that needs no server unless CELERY_BROKER_URL says otherwise (Redis or
# RabbitMQ in production). The embedded default keeps messages in an SQLite file through kombu's
# SQLAlchemy transport: a message is one row written in one transaction, so no reader ever sees
# half of one, and a consumer claims a row under SQLite's write lock (BEGIN IMMEDIATE), so two
# never take the same one. A message taken by a worker that is then killed outright is not
# handed out again; every task here is periodic and idempotent, so the beat's next run covers it.
EMBEDDED_BROKER_FILE = VAR_DIR / "broker.sqlite3"
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=f"sqla+sqlite:///{EMBEDDED_BROKER_FILE}")
if CELERY_BROKER_URL.startswith(("sqla+sqlite:", "sqlalchemy+sqlite:")):
    # Passed to SQLAlchemy's create_engine: wait up to 30 s for another process's write lock.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"connect_args": {"timeout": 30}}
elif CELERY_BROKER_URL.startswith(("sqla+", "sqlalchemy+")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
else:
    # Redis hands a message its worker never acknowledged (the worker died mid-task) to another
    # worker once the visibility timeout has passed; every task is idempotent, so that is safe.
    _visibility = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": _visibility}
    if _visibility < 600:
        # kombu looks for such messages only every ~100 s by default: look every second, and do
        # not let a worker that died while looking block the others for 5 minutes.
        CELERY_BROKER_TRANSPORT_OPTIONS.update(
            unacked_restore_interval=1, unacked_restore_throttle=1, unacked_mutex_expire=max(5, _visibility))
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # Catches up on outbox rows whose after-commit relay could not reach the broker,
    # and retries failed deliveries whose backoff has passed.
    "relay-outbox": {"task": "workflow.tasks.relay_outbox", "schedule": env.float("DUBAN_RELAY_SECONDS", default=30.0)},
    # Reads only the cases whose next escalation rung is due (indexed on next_rung_on).
    "escalation-sweep": {"task": "workflow.tasks.escalation_sweep",
                         "schedule": env.float("DUBAN_SWEEP_SECONDS", default=60.0)},
    # Renders archived documents still pending (the after-commit run failed or never ran).
    "archive-documents": {"task": "workflow.tasks.archive_documents", "schedule": 60.0},
    # Judges the open supervised items' lights again (a deadline passing turns one red).
    "deployment-lights": {"task": "processes.deployment.tasks.refresh_lights", "schedule": 3600.0},
    # Forgets one-time form tokens older than two days.
    "prune-form-tokens": {"task": "workflow.tasks.prune_form_tokens", "schedule": 3600.0},
}
if CELERY_BROKER_URL.startswith(("sqla+", "sqlalchemy+")):
    # The SQLAlchemy transport hides a message once taken and never deletes it: delete those hourly.
    CELERY_BEAT_SCHEDULE["prune-broker"] = {"task": "config.celery.prune_broker", "schedule": 3600.0}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON only: the browsable API's inline script would need a CSP exception, and staff use the pages.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "workflow.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Duban API",
    "DESCRIPTION": "督办 supervision and accountability engine",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Inputs get components of their own, where a text that may not be blank says minLength: 1.
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No deep links: Swagger UI would put each path's link inside its operation's button, a
    # control within a control that screen readers cannot reach (WCAG 4.1.2).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
    # The deploy check would generate the schema without the served view's settings (each case
    # type's enum names, workflow.api.urls), and so warn of name collisions the served schema does
    # not have; tests/test_api_generic.py generates it as served and fails on any warning.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
}

EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="duban@localhost")

DUBAN_BUREAU_NAME = env("DUBAN_BUREAU_NAME", default="")
# SMS: any class with send(phone, text), e.g. a government messaging gateway adapter.
DUBAN_SMS_BACKEND = env("DUBAN_SMS_BACKEND", default="workflow.trail.sms.ConsoleSmsBackend")
# Failed deliveries are retried after 1, 2, 4, 8 × this many seconds, then marked failed.
DUBAN_RETRY_BASE_SECONDS = env.int("DUBAN_RETRY_BASE_SECONDS", default=60)
# An email or SMS being sent (or a document being rendered) is another worker's to retry only
# after this many seconds: longer than any one send takes.
DUBAN_OUTBOX_LEASE_SECONDS = env.int("DUBAN_OUTBOX_LEASE_SECONDS", default=300)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="WARNING")},
}
WHITENOISE_USE_FINDERS = DEBUG
