from django.db import models
from django.utils.translation import gettext_lazy as _


class PeriodKind(models.TextChoices):
    MONTHLY = "monthly", _("按月发放")
    YEARLY = "yearly", _("按年发放")
    ONE_OFF = "one_off", _("一次性发放")


class Payee(models.TextChoices):
    ELDER = "elder", _("老年人")
    CAREGIVER = "caregiver", _("养老护理员")
    FACILITY = "facility", _("养老机构/服务设施")


class RunStatus(models.TextChoices):
    PENDING = "pending", _("排队中")
    RUNNING = "running", _("运行中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class ChunkStatus(models.TextChoices):
    PENDING = "pending", _("待处理")
    RUNNING = "running", _("处理中")  # claimed by a worker, which beats its heartbeat
    DONE = "done", _("已完成")


class RunHealth(models.TextChoices):
    """What the admin shows of a run: its status read together with its chunks' heartbeats, so
    that a run whose worker died is not shown as running (subsidies.selectors.run_health)."""

    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("运行中")
    STALLED = "stalled", _("停滞——处理进程中断，将自动续跑")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class BatchKind(models.TextChoices):
    REGULAR = "regular", _("常规批次")
    ADJUSTMENT = "adjustment", _("调整批次（补发、追回、重发）")


class BatchState(models.TextChoices):
    DRAFT = "draft", _("草稿")
    APPROVED = "approved", _("已审核")
    EXPORTED = "exported", _("已导出")
    RECONCILED = "reconciled", _("已对账")


class LineKind(models.TextChoices):
    NORMAL = "normal", _("正常发放")
    ARREARS = "arrears", _("补发")
    RECOVERY = "recovery", _("追回")
    REISSUE = "reissue", _("重发（银行退回）")
    # A rate revised backwards for a month already approved: what is owed now less what was
    # paid, plus or minus (subsidies.run.corrections).
    CORRECTION = "correction", _("差额更正（政策参数追溯调整）")


class LineStatus(models.TextChoices):
    PENDING = "pending", _("待发放")
    PAID = "paid", _("已到账")
    FAILED = "failed", _("发放失败")
    CANCELLED = "cancelled", _("已取消（未审核前失去资格）")
    # The payee has no usable account: kept, never exported, paid once the account is added
    # (subsidies.payees).
    HELD = "held", _("暂缓发放（无可用账户）")


class ExportFormat(models.TextChoices):
    CSV = "csv", _("CSV")
    XLSX = "xlsx", _("Excel (XLSX)")


class FacilitySubsidyKind(models.TextChoices):
    """Subsidies paid to facilities (docs/policy.md §2), each computed by its own rule."""

    OPERATING = "operating", _("运行（运营）补助")
    SMART_CARE_HOME = "smart_care_home", _("智慧养老院一次性补助")
    SMART_TERMINAL = "smart_terminal", _("无感智能终端一次性补助")
    LIABILITY_INSURANCE = "liability_insurance", _("综合责任险保费补助")


YEARLY_FACILITY_SUBSIDIES = [FacilitySubsidyKind.OPERATING, FacilitySubsidyKind.LIABILITY_INSURANCE]
ONE_OFF_FACILITY_SUBSIDIES = [
    FacilitySubsidyKind.SMART_CARE_HOME,
    FacilitySubsidyKind.SMART_TERMINAL,
]


class PaymentChannel(models.TextChoices):
    """Where a line's money goes. A payee's account is a bank card or the financial account
    of their social-security card; Xihu's e-allowances are credited to the elder's 爱心卡 on
    the e-allowance platform, which knows the elder by ID number (docs/policy.md §1)."""

    BANK_CARD = "bank_card", _("银行卡")
    SOCIAL_SECURITY_CARD = "social_security_card", _("社会保障卡金融账户")
    CARE_CARD = "care_card", _("爱心卡（养老服务电子津贴）")
    # An organisation's account (对公账户): where an insurer is paid the premiums.
    CORPORATE_ACCOUNT = "corporate_account", _("单位银行结算账户（对公账户）")


# The channels a payee's own account can be (the care card needs none).
ACCOUNT_CHANNELS = [
    PaymentChannel.BANK_CARD,
    PaymentChannel.SOCIAL_SECURITY_CARD,
    PaymentChannel.CORPORATE_ACCOUNT,
]


class PaidTo(models.TextChoices):
    """Whom a scheme's lines pay: the payee the scheme is for, or, for a premium the
    government buys for an elder (docs/policy.md §1), the insurer that covers the elder
    there (subsidies.insurers): one line per insured elder, paid to the insurer."""

    PAYEE = "", _("发放对象本人")
    INSURER = "insurer", _("承保保险公司（按参保老年人）")
