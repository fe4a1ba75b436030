from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BenchmarkConfig(AppConfig):
    """The benchmark harness (`manage.py bench`) and its baseline viewflow process."""

    name = "processes.benchmark"
    label = "benchmark"
    verbose_name = _("Benchmark")
