"""The base of the project's management commands.

Commands speak the interface's language: their help, their errors and their reports are
marked for translation like every other message (Chinese in the code, English in the
catalogues), and ``manage.py`` activates ``COMMAND_LANGUAGE`` (en) when it is set. Lines that
scripts read (a command's last line of counts, a file's columns) are not translated.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    """A command whose ``help`` may be a lazy translation: argparse wants text, so it is
    rendered in the active language when the parser is made."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        if self.help:
            self.help = str(self.help)
        return super().create_parser(prog_name, subcommand, **kwargs)
