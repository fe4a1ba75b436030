#!/usr/bin/env python
"""Django's command-line utility for Duban."""
import os
import sys


def main():
    # The benchmark (tools/bench) is installed only by its own settings, never by base or production.
    default = "config.settings.bench" if sys.argv[1:2] == ["bench"] else "config.settings.base"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", default)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
