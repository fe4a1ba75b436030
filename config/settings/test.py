"""Test settings: fast hashing, eager Celery, a private evidence folder, the benchmark app and the
test-only case types."""
import tempfile

from .base import *  # noqa: F401,F403
from .base import DATABASES, INSTALLED_APPS, STORAGES, env

# The bench's smoke run (tests/test_bench_smoke.py), and case types that exist only in the tests.
INSTALLED_APPS = [*INSTALLED_APPS, "tools.bench", "tests.engine"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
EVIDENCE_ROOT = tempfile.mkdtemp(prefix="duban-evidence-")
DOCUMENT_ROOT = env("DUBAN_DOCUMENT_ROOT", default="") or tempfile.mkdtemp(prefix="duban-documents-")
# The file system whatever DUBAN_STORAGE says: tests read the stored files in the two folders
# above, and those on another store set STORAGES themselves (tests/test_storage.py).
STORAGES = {**STORAGES, **{alias: {"BACKEND": "workflow.storage.files.WholeFileStorage", "OPTIONS": {"root_setting": root}}
                           for alias, root in (("evidence", "EVIDENCE_ROOT"), ("documents", "DOCUMENT_ROOT"))}}
AXES_FAILURE_LIMIT = 5
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": env("DUBAN_TEST_SQLITE", default="")} if env("DUBAN_TEST_SQLITE", default="") else {}
DUBAN_SMS_BACKEND = "workflow.trail.sms.LocmemSmsBackend"
# A worker process started by the tests may be given another backend (tests/slow_email.py).
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")
