from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from regions.rulebook import RULEBOOK, load_rulebook


class Command(BaseCommand):
    help = "Load the five seed documents' policy values (regions/data/rulebook.toml). Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--file", default=str(RULEBOOK), help="rulebook TOML file")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.exists():
            raise CommandError(f"--file {path}: no such file")
        try:
            report = load_rulebook(path)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages))
        self.stdout.write(
            f"policy values: created {report.created}, updated {report.updated}, "
            f"unchanged {report.unchanged}"
        )
