from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from subsidies.schemes import adopt_scheme, load_schemes


class Command(BaseCommand):
    help = (
        "Insert the allowance schemes the database lacks (subsidies/data/schemes.toml). Never "
        "overwrites: the database is the master after the first load, and every scheme whose "
        "definition differs from the file's is listed with who changed it and when. Taking "
        "the file's definition is deliberate: --adopt CODE."
    )

    def add_arguments(self, parser):
        parser.add_argument("--adopt", metavar="CODE", help="take the file's definition of it")

    def handle(self, *args, adopt=None, **options):
        try:
            if adopt:
                report = adopt_scheme(code=adopt)
                self.stdout.write(
                    f"adopted from the file: {report.adopted} scheme(s) ({adopt}), "
                    f"unchanged {report.unchanged}"
                )
                return
            report = load_schemes()
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        for difference in report.differences:
            self.stdout.write(difference.describe())
        self.stdout.write(
            f"schemes: created {report.created}, unchanged {report.unchanged}, "
            f"differing {len(report.differences)} (the database's schemes kept)"
        )
