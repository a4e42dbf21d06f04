"""python manage.py purge_uploads"""

from django.conf import settings
from django.utils.translation import gettext_lazy

from accounts.tasks import purge_uploads
from config import commands


class Command(commands.Command):
    help = gettext_lazy(
        "删除超过保留时间（UPLOAD_RETENTION_HOURS）仍未确认的上传文件（名册导入、银行回盘），"
        "并将对应的名册导入标记为已过期。beat 每小时运行一次同样的清理。"
    )

    def handle(self, *args, **options):
        counts = purge_uploads()
        # The summary line scripts read: not translated.
        self.stdout.write(
            f"deleted {counts['uploads_deleted']} upload(s) older than "
            f"{settings.UPLOAD_RETENTION_HOURS} h; {counts['imports_expired']} import(s) expired"
        )
