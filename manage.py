#!/usr/bin/env python
"""Django's command-line entry point for the Faune platform."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "faune_platform.settings.base")
    if sys.argv[1:2] == ["bootstrap"]:
        # The key must exist before settings load: a job queued by bootstrap is signed with it, and
        # the worker started later must read the same key.
        from faune_platform.settings.secret import data_dir, secret_key_ensure

        secret_key_ensure(data_dir())
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
