from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from subsidies.schemes import load_schemes


class Command(BaseCommand):
    help = "Load the allowance schemes (subsidies/data/schemes.toml). Idempotent."

    def handle(self, *args, **options):
        try:
            counts = load_schemes()
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(
            "schemes: " + ", ".join(f"{status} {count}" for status, count in counts.items())
        )
