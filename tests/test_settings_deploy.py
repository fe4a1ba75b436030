"""Production settings pass Django's deployment checks once their variables are set."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_check_deploy_is_clean_with_production_settings():
    env = dict(os.environ,
               DJANGO_SECRET_KEY="x" * 20 + "-production-secret-key-for-the-check-0123456789",
               DJANGO_ALLOWED_HOSTS="duban.example.gov.cn",
               DATABASE_URL=os.environ.get("DATABASE_URL", "sqlite:////tmp/duban-deploy-check.sqlite3"),
               CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING",
                             "--settings=config.settings.production"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
