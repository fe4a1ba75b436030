from django.apps import AppConfig


class EngineTestsConfig(AppConfig):
    name = "tests.engine"
    label = "engine_tests"
    verbose_name = "Engine test case types"
    default_auto_field = "django.db.models.BigAutoField"
