#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from django.core.management import execute_from_command_line

    # Commands speak the interface's default language (zh-hans): their help, their errors and
    # their reports. COMMAND_LANGUAGE=en gives them in English. Lines that scripts read (a
    # command's last line of counts, the files' columns) are the same in both.
    language = os.environ.get("COMMAND_LANGUAGE", "").strip()
    if language:
        import django
        from django.utils import translation

        django.setup()
        translation.activate(language)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
