from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BenchmarkConfig(AppConfig):
    """The benchmark harness (`manage.py bench`) and its baseline viewflow process.

    Installed only by config.settings.bench (bin/bench) and config.settings.test, never by the
    base or production settings. The label stays "benchmark": viewflow stores the baseline flow
    as "benchmark/flows.BaselineFlow"."""

    name = "tools.bench"
    label = "benchmark"
    verbose_name = _("Benchmark")
