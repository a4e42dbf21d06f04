from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from regions.divisions import DATA_DIR, file_divisions, zhejiang_divisions
from regions.services import upsert_divisions


class Command(BaseCommand):
    help = (
        "Load Zhejiang's administrative tree (GB/T 2260, with abolished codes kept inactive) and "
        "the demonstration district's streets and communities. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--file",
            action="append",
            default=[],
            help="extra CSV (code,name,level,parent_code) of streets, communities or grids",
        )

    def handle(self, *args, **options):
        batches = [
            zhejiang_divisions(),
            file_divisions(DATA_DIR / "xihu_divisions.csv", "demonstration district list"),
        ]
        for extra in options["file"]:
            path = Path(extra)
            if not path.exists():
                raise CommandError(f"--file {extra}: no such file")
            batches.append(file_divisions(path, path.name))
        created = updated = 0
        try:
            for batch in batches:
                c, u = upsert_divisions(batch)
                created, updated = created + c, updated + u
        except ValidationError as error:
            raise CommandError("; ".join(error.messages))
        self.stdout.write(f"regions: created {created}, updated {updated}")
