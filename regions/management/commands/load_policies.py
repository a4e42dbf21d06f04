from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from regions.rulebook import RULEBOOK, adopt_from_file, load_rulebook

# Who the audit trail names for the rows this command writes.
COMMAND = "load_policies"


class Command(BaseCommand):
    help = (
        "Insert the rulebook file's policy values that the database lacks (regions/data/"
        "rulebook.toml). Never overwrites: the database is the master after the first load, and "
        "every row where the file differs is listed with who changed it and when. Taking the "
        "file's value is deliberate: --adopt KEY --region CODE."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", default=str(RULEBOOK), help="rulebook TOML file")
        parser.add_argument("--adopt", metavar="KEY", help="take the file's rows for this key")
        parser.add_argument("--region", metavar="CODE", help="with --adopt: the region's code")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.exists():
            raise CommandError(f"--file {path}: no such file")
        if bool(options["adopt"]) != bool(options["region"]):
            raise CommandError("--adopt KEY and --region CODE go together")
        try:
            if options["adopt"]:
                report = adopt_from_file(
                    key=options["adopt"], region_code=options["region"], path=path, command=COMMAND
                )
                self.stdout.write(
                    f"adopted from the file: {report.adopted} row(s) of {options['adopt']} "
                    f"for {options['region']}, unchanged {report.unchanged}"
                )
                return
            report = load_rulebook(path, command=COMMAND)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages))
        for difference in report.differences:
            self.stdout.write(difference.describe())
        self.stdout.write(
            f"policy values: created {report.created}, unchanged {report.unchanged}, "
            f"differing {len(report.differences)} (the database's values kept)"
        )
