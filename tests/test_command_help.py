"""Every management command of the project explains itself in both languages: its help and
the help of each of its options render in Chinese (the default) and, under English, carry no
Chinese left untranslated."""

from __future__ import annotations

import re

import pytest
from django.core.management import get_commands, load_command_class
from django.utils import translation

PROJECT_APPS = {
    "accounts",
    "dashboards",
    "facilities",
    "regions",
    "residents",
    "servicelist",
    "subsidies",
    "visits",
}
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
COMMANDS = sorted(name for name, app in get_commands().items() if app in PROJECT_APPS)


def help_text(name: str) -> str:
    command = load_command_class(get_commands()[name], name)
    return command.create_parser("manage.py", name).format_help()


def test_the_project_has_commands():
    assert {"import_elders", "export_batch", "service_coverage"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_a_command_s_help_is_chinese_by_default_and_english_when_asked(name):
    with translation.override("zh-hans"):
        chinese = help_text(name)
    assert CJK.search(chinese), f"{name}: no Chinese in its help"
    with translation.override("en"):
        english = help_text(name)
    left = sorted({line.strip() for line in english.splitlines() if CJK.search(line)})
    assert not left, f"{name}: untranslated help:\n" + "\n".join(left)


def test_manage_py_speaks_english_when_command_language_is_en():
    """What an operator types: ``COMMAND_LANGUAGE=en python manage.py … --help``."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k != "COMMAND_LANGUAGE"}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"

    def help_of(**extra) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", "staffing_check", "--help"],
            cwd=root,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert CJK.search(help_of())
    english = help_of(COMMAND_LANGUAGE="en")
    assert "--facility" in english and not CJK.search(english)
