from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    BUREAU = "bureau", _("民政局工作人员")
    INSTITUTION_STAFF = "institution_staff", _("养老机构工作人员")
    STREET_WORKER = "street_worker", _("街道社区工作人员")
    FINANCE = "finance", _("财务人员")
    AUDITOR = "auditor", _("审计人员")


class AuditAction(models.TextChoices):
    VIEW_ID_NUMBER = "view_id_number", _("查看完整身份证号")
    VIEW_PHONE = "view_phone", _("查看完整电话")
    EXPORT = "export", _("导出")
    IMPORT = "import", _("导入")
    APPROVE_BATCH = "approve_batch", _("审核支付批次")
    POLICY_CHANGE = "policy_change", _("修改政策规则")
    ROLE_CHANGE = "role_change", _("变更角色分配")
    CORRECT_STAY = "correct_stay", _("更正入住记录")
    VIEW_ACCOUNT_NUMBER = "view_account_number", _("查看完整收款账号")


class UploadPurpose(models.TextChoices):
    """What an uploaded file is held for, between its preview and its confirmation."""

    ELDER_IMPORT = "elder_import", _("老年人名册导入")
    BANK_RETURN = "bank_return", _("银行回盘")
