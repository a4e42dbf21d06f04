"""Staffing check (docs/policy.md §3): for one facility from its residents, or the planning form for
a region from given counts. Thin: parse, call a selector, print."""

import datetime
import json

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config import commands
from facilities.choices import CareClass
from facilities.models import Facility
from facilities.selectors import required_for_counts, short_staffed_facilities, staffing_report
from regions.models import Region
from regions.selectors import PolicyValueNotSet


class Command(commands.Command):
    help = gettext_lazy("护理员配备核查：按机构在住老人，或按区划与各类人数（规划测算）。")

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--facility", metavar="CODE", help=gettext_lazy("机构编码"))
        target.add_argument("--region", metavar="CODE", help=gettext_lazy("区划代码"))
        parser.add_argument(
            "--fully-disabled",
            type=int,
            metavar="N",
            help=gettext_lazy("按区划测算：完全失能老人人数"),
        )
        parser.add_argument(
            "--partially-disabled",
            type=int,
            metavar="N",
            help=gettext_lazy("按区划测算：部分失能老人人数"),
        )
        parser.add_argument(
            "--self-caring", type=int, metavar="N", help=gettext_lazy("按区划测算：自理老人人数")
        )
        parser.add_argument(
            "--short-staffed", action="store_true", help=gettext_lazy("列出区划内护理员不足的机构")
        )
        parser.add_argument(
            "--on",
            type=datetime.date.fromisoformat,
            metavar="YYYY-MM-DD",
            help=gettext_lazy("核查日期（默认今天）"),
        )
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help=gettext_lazy("输出格式：text（文字）或 json"),
        )

    def handle(self, *args, **options):
        on = options["on"] or datetime.date.today()
        try:
            if options["facility"]:
                result = self._facility(options["facility"], on)
            elif options["short_staffed"]:
                result = self._short_staffed(options["region"], on)
            else:
                result = self._planning(options, on)
        except PolicyValueNotSet as missing:
            raise CommandError(_("护理员配比未设定：%(missing)s") % {"missing": missing}) from None
        if options["format"] == "json":
            self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))
        else:
            self._print_text(result)

    def _facility(self, code: str, on: datetime.date) -> dict:
        facility = Facility.objects.select_related("region").filter(code=code.upper()).first()
        if facility is None:
            raise CommandError("--facility: " + _("没有编码为 %(code)s 的机构。") % {"code": code})
        return staffing_report(facility, on).as_dict()

    def _region(self, code: str) -> Region:
        region = Region.objects.filter(code=code).first()
        if region is None:
            raise CommandError("--region: " + _("没有代码为 %(code)s 的区划。") % {"code": code})
        return region

    def _short_staffed(self, code: str, on: datetime.date) -> dict:
        reports = short_staffed_facilities(self._region(code), on)
        return {
            "region": code,
            "on": on.isoformat(),
            "short_staffed": [r.as_dict() for r in reports],
        }

    def _planning(self, options, on: datetime.date) -> dict:
        counts = {
            CareClass.FULLY_DISABLED: options["fully_disabled"],
            CareClass.PARTLY_DISABLED: options["partially_disabled"],
            CareClass.SELF_CARING: options["self_caring"],
        }
        for care_class, value in counts.items():
            flag = (
                "--"
                + {
                    CareClass.FULLY_DISABLED: "fully-disabled",
                    CareClass.PARTLY_DISABLED: "partially-disabled",
                    CareClass.SELF_CARING: "self-caring",
                }[care_class]
            )
            if value is None:
                raise CommandError(f"{flag}: " + _("按区划测算时必须给出人数。"))
            if value < 0:
                raise CommandError(
                    f"{flag}: " + _("人数不能为负数（%(value)s）。") % {"value": value}
                )
        return required_for_counts(self._region(options["region"]), counts, on)

    def _print_text(self, result: dict) -> None:
        for report in result.get("short_staffed", [result]):
            counts = report["counts"]
            who = report.get("facility") or report.get("region")
            self.stdout.write(
                _("%(name)s（%(code)s）%(on)s")
                % {"name": who["name"], "code": who["code"], "on": report["on"]}
            )
            self.stdout.write(
                "  "
                + _(
                    "在住：完全失能 %(fully_disabled)s，部分失能 %(partly_disabled)s，"
                    "自理 %(self_caring)s"
                )
                % counts
            )
            for care_class, ratio in report["ratios"].items():
                self.stdout.write(
                    "  "
                    + _("配比 %(class)s 1:%(n)s（%(source)s，%(citation)s）")
                    % {
                        "class": CareClass(care_class).label,
                        "n": ratio["residents_per_caregiver"],
                        "source": ratio["source_region"],
                        "citation": ratio["citation"],
                    }
                )
            line = "  " + _("所需护理员 %(n)s") % {"n": report["required"]}
            if "actual" in report:
                line += _("，实有 %(actual)s，缺口 %(shortfall)s") % report
            self.stdout.write(line)
            for elder in report.get("unassessed", []):
                self.stdout.write("  " + _("未评估：%(name)s（%(elder_code)s）") % elder)
            if report.get("error"):
                self.stdout.write("  " + _("注意：%(error)s") % report)
