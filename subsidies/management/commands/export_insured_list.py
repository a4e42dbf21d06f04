"""python manage.py export_insured_list --insurer USCC --period YYYY|YYYY-MM --format csv|xlsx
--output FILE [--region CODE] [--user NAME] [--full-ids --reason TEXT]"""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config import commands
from facilities.validators import normalize_uscc
from regions.models import Region
from subsidies.choices import ExportFormat
from subsidies.insured_lists import export_insured_list
from subsidies.models import Insurer


class Command(commands.Command):
    help = gettext_lazy(
        "导出保险公司某年或某月的参保名单（每位参保老年人一行，末行为合计，即应付保费）："
        "reference,scheme,period,id_number,name,hukou_region,amount,status。身份证号默认脱敏；"
        "--full-ids 为供保险公司投保的完整名单，须具备权限并写明事由，记入审计日志。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--insurer", required=True, help=gettext_lazy("保险公司的统一社会信用代码")
        )
        parser.add_argument(
            "--period", required=True, help=gettext_lazy("YYYY（年）或 YYYY-MM（月）")
        )
        parser.add_argument(
            "--format", default="csv", choices=ExportFormat.values, help=gettext_lazy("文件格式")
        )
        parser.add_argument("--output", required=True, help=gettext_lazy("写入的文件"))
        parser.add_argument("--region", help=gettext_lazy("只含该区划批次的明细"))
        parser.add_argument("--user", help=gettext_lazy("以该用户身份运行：按其权限范围和权限导出"))
        parser.add_argument(
            "--full-ids",
            action="store_true",
            help=gettext_lazy("完整身份证号（供保险公司投保的名单）"),
        )
        parser.add_argument(
            "--reason", default="", help=gettext_lazy("事由（使用 --full-ids 时必填）")
        )

    def handle(self, *args, insurer, period, format, output, **options):
        found = Insurer.objects.filter(uscc=normalize_uscc(insurer)).first()
        if found is None:
            raise CommandError(
                _("--insurer %(insurer)s：没有该统一社会信用代码的保险公司") % {"insurer": insurer}
            )
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(
                    _("--user：没有用户 %(username)s") % {"username": options["user"]}
                )
        region = None
        if options["region"]:
            region = Region.objects.filter(code=options["region"]).first()
            if region is None:
                raise CommandError(
                    _("--region：没有代码为 %(code)s 的区划") % {"code": options["region"]}
                )
        path = Path(output)
        if not path.parent.is_dir():
            raise CommandError(_("--output %(output)s：文件夹不存在") % {"output": output})
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
        # The summary line scripts read: not translated.
        self.stdout.write(
            f"insured list of {found.name} for {period}: {written.count} insured, "
            f"{written.amount} yuan, ID numbers {'whole' if written.full_ids else 'masked'}, "
            f"sha256 {written.sha256}"
        )
