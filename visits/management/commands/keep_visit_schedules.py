from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config import commands
from regions.choices import RegionLevel
from regions.models import Region
from visits import schedule_store


class Command(commands.Command):
    help = gettext_lazy(
        "存储看板所读的探访计划：应用已记录的变更，并计算各县（市、区）窗口内缺少或已过时的月份"
        "（Celery beat 每五分钟运行一次；此命令立即运行，不限时）。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--region",
            action="append",
            default=[],
            help=gettext_lazy("只计算该县级区划（区划代码，可重复）"),
        )

    def handle(self, *args, **options):
        regions = []
        for code in options["region"]:
            region = Region.objects.filter(code=code, level=RegionLevel.COUNTY).first()
            if region is None:
                raise CommandError(_("区划 %(code)s 不存在或不是县级区划。") % {"code": code})
            regions.append(region)
        summary = schedule_store.keep_schedules(regions=regions or None)
        if summary["skipped"]:
            self.stdout.write(_("另一个任务正在运行，本次跳过。"))
            return
        self.stdout.write(
            _("已应用 %(changes)s 项变更，计算了 %(stored)s 个县月。")
            % {"changes": summary["changes"], "stored": summary["stored"]}
        )
