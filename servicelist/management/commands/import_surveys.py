"""python manage.py import_surveys FILE [--errors E.csv] [--dry-run]"""

from django.utils.functional import lazy
from django.utils.translation import gettext as _

from servicelist.importing import SURVEY_COLUMNS, import_surveys
from servicelist.management.importer import ImportCommand


def _help() -> str:
    return _(
        "导入满意度测评（CSV 或 XLSX；列：%(columns)s；item 为项目代码，"
        "provider 为机构代码或名称，二者至少填一项；score 为 1（很不满意）至 5（很满意）；"
        "comment 可空）。同一行再次导入不作改动；末行为 created N, updated U, rejected R。"
    ) % {"columns": ",".join(SURVEY_COLUMNS)}


class Command(ImportCommand):
    help = lazy(_help, str)()
    object_type = "satisfaction_surveys"

    def run_import(self, content, filename, *, dry_run):
        return import_surveys(content, filename, dry_run=dry_run)
