"""What the service list's import commands share: read the file, report every rejected row
(line, field, message) on stderr and, with ``--errors``, as a CSV, record the import in the
audit trail, and print the summary ``created N, updated U, rejected R`` last (with the count
``unchanged N`` before it, both untranslated: scripts read them)."""

from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.choices import AuditAction
from accounts.services import record_audit
from config import commands
from residents.importing import ImportFileError
from servicelist.importing import errors_csv


class ImportCommand(commands.Command):
    # Set by each command: the import function and what the audit entry names.
    object_type = ""

    def run_import(self, content: bytes, filename: str, *, dry_run: bool):
        raise NotImplementedError

    def add_arguments(self, parser):
        parser.add_argument("file", help=gettext_lazy("CSV 或 XLSX 文件"))
        parser.add_argument(
            "--errors",
            help=gettext_lazy("将被拒绝的行写入此 CSV 文件（列：row,field,message）"),
        )
        parser.add_argument(
            "--dry-run", action="store_true", help=gettext_lazy("只检查，不写入任何数据")
        )

    def handle(self, *args, file, errors=None, dry_run=False, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(_("%(path)s：没有这个文件") % {"path": file})
        try:
            result = self.run_import(path.read_bytes(), path.name, dry_run=dry_run)
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        for error in result.errors:
            self.stderr.write(
                _("第 %(row)s 行，%(field)s：%(message)s")
                % {"row": error.row, "field": error.field, "message": error.message}
            )
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
            self.stdout.write(_("试运行：未写入任何数据"))
        # The counts are the lines scripts read: not translated.
        self.stdout.write(f"unchanged {result.unchanged}")
        self.stdout.write(result.summary)
