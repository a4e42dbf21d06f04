import sys

from django.core.management.base import BaseCommand

from accounts.spreadsheets import csv_text
from regions.catalog import get_key
from regions.selectors import policy_gaps


class Command(BaseCommand):
    help = 'List every policy value that is "not set" and who needs it.'

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["table", "csv"], default="table")

    def handle(self, *args, **options):
        rows = [
            {
                "region": gap.region.code,
                "region_name": gap.region.name,
                "key": gap.key,
                "label": get_key(gap.key).label,
                "effective_from": gap.effective_from.isoformat(),
                "citation": gap.citation,
                "needed_by": get_key(gap.key).used_by,
            }
            for gap in policy_gaps()
        ]
        if options["format"] == "csv":
            columns = list(rows[0]) if rows else ["key"]
            self.stdout.write(
                csv_text([columns, *([row[c] for c in columns] for row in rows)]), ending=""
            )
            return
        for row in rows:
            self.stdout.write(
                f"{row['region']} {row['region_name']}  {row['key']}  ({row['label']})  "
                f"from {row['effective_from']}  [{row['citation']}]  needed by: {row['needed_by']}"
            )
        self.stdout.write(f"{len(rows)} value(s) not set")
        sys.stdout.flush()
