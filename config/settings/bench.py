"""Benchmark settings (bin/bench, `manage.py bench`): the base settings plus the benchmark app.

The benchmark is a tool, not part of Duban: the base and production settings never install it.
"""
from .base import *  # noqa: F401,F403
from .base import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tools.bench"]
