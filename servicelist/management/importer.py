"""What the service list's import commands share: read the file, report every rejected row
(line, field, message) on stderr and, with ``--errors``, as a CSV, record the import in the
audit trail, and print the summary ``created N, updated U, rejected R`` last."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.choices import AuditAction
from accounts.services import record_audit
from residents.importing import ImportFileError
from servicelist.importing import errors_csv


class ImportCommand(BaseCommand):
    # Set by each command: the import function and what the audit entry names.
    object_type = ""

    def run_import(self, content: bytes, filename: str, *, dry_run: bool):
        raise NotImplementedError

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV or XLSX file")
        parser.add_argument(
            "--errors", help="write the rejected rows to this CSV (row,field,message)"
        )
        parser.add_argument("--dry-run", action="store_true", help="check only, write nothing")

    def handle(self, *args, file, errors=None, dry_run=False, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            result = self.run_import(path.read_bytes(), path.name, dry_run=dry_run)
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        for error in result.errors:
            self.stderr.write(f"line {error.row}, {error.field}: {error.message}")
        if errors:
            Path(errors).write_text(errors_csv(result.errors), encoding="utf-8")
        if not dry_run:
            record_audit(
                user=None,
                action=AuditAction.IMPORT,
                object_type=self.object_type,
                reason=f"{type(self).__module__.rsplit('.', 1)[-1]} command",
                details={"file": path.name, "summary": result.summary},
            )
        else:
            self.stdout.write("dry run: nothing was written")
        self.stdout.write(f"unchanged {result.unchanged}")
        self.stdout.write(result.summary)
