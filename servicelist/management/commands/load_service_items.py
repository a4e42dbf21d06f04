from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from servicelist.catalogue import ITEMS_FILE, adopt_items, load_items

# Who the audit trail names for the rows this command writes.
COMMAND = "load_service_items"


class Command(BaseCommand):
    help = (
        "Insert the items of the basic elderly-care service lists that the database lacks "
        "(servicelist/data/service_items.toml). Never overwrites: the database is the master "
        "after the first load, and every item where the file differs is listed with who "
        "changed it and when. Taking the file's version of an item is deliberate: "
        "--adopt CODE (e.g. 330200:21)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", default=str(ITEMS_FILE), help="service list TOML file")
        parser.add_argument(
            "--adopt", metavar="CODE", help="take the file's versions of this item (330200:21)"
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.exists():
            raise CommandError(f"--file {path}: no such file")
        try:
            if options["adopt"]:
                report = adopt_items(options["adopt"], path, command=COMMAND)
                self.stdout.write(
                    f"adopted from the file: {report.adopted} version(s) of {options['adopt']}, "
                    f"unchanged {report.unchanged}"
                )
                return
            report = load_items(path, command=COMMAND)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        for difference in report.differences:
            self.stdout.write(difference.describe())
        self.stdout.write(
            f"service items: created {report.created}, unchanged {report.unchanged}, "
            f"differing {len(report.differences)} (the database's items kept)"
        )
