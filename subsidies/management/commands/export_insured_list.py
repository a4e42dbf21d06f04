"""python manage.py export_insured_list --insurer USCC --period YYYY|YYYY-MM --format csv|xlsx
--output FILE [--region CODE] [--user NAME] [--full-ids --reason TEXT]"""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.scoping import OutOfScope, require_region_in_scope
from facilities.validators import normalize_uscc
from regions.models import Region
from subsidies.choices import ExportFormat
from subsidies.insured_lists import export_insured_list
from subsidies.models import Insurer


class Command(BaseCommand):
    help = (
        "导出保险公司某年或某月的参保名单（每位参保老年人一行，末行为合计，即应付保费）："
        "reference,scheme,period,id_number,name,hukou_region,amount,status。身份证号默认脱敏；"
        "--full-ids 为供保险公司投保的完整名单，须具备权限并写明事由，记入审计日志。"
    )

    def add_arguments(self, parser):
        parser.add_argument("--insurer", required=True, help="the insurer's credit code (USCC)")
        parser.add_argument("--period", required=True, help="YYYY or YYYY-MM")
        parser.add_argument("--format", default="csv", choices=ExportFormat.values)
        parser.add_argument("--output", required=True)
        parser.add_argument("--region", help="only the lines of this region's batches")
        parser.add_argument("--user", help="run as this user: their scope and permissions")
        parser.add_argument(
            "--full-ids", action="store_true", help="whole ID numbers (the insurer's copy)"
        )
        parser.add_argument("--reason", default="", help="why (required with --full-ids)")

    def handle(self, *args, insurer, period, format, output, **options):
        found = Insurer.objects.filter(uscc=normalize_uscc(insurer)).first()
        if found is None:
            raise CommandError(f"--insurer {insurer}: no insurer with this credit code")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"--user: no user {options['user']}")
        region = None
        if options["region"]:
            region = Region.objects.filter(code=options["region"]).first()
            if region is None:
                raise CommandError(f"--region: no region with code {options['region']}")
            try:
                require_region_in_scope(user, region, app="subsidies")
            except OutOfScope as error:
                raise CommandError(str(error)) from None
        path = Path(output)
        if not path.parent.is_dir():
            raise CommandError(f"--output {output}: folder does not exist")
        try:
            written = export_insured_list(
                insurer=found,
                period=period,
                fmt=format,
                output=path,
                by=user,
                region=region,
                full_ids=options["full_ids"],
                reason=options["reason"],
            )
        except (ValidationError, PermissionDenied) as error:
            messages = getattr(error, "messages", None) or [str(error)]
            raise CommandError("; ".join(messages)) from None
        self.stdout.write(
            f"insured list of {found.name} for {period}: {written.count} insured, "
            f"{written.amount} yuan, ID numbers {'whole' if written.full_ids else 'masked'}, "
            f"sha256 {written.sha256}"
        )
