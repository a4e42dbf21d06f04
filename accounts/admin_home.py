"""The admin's home page: the day's tasks of the signed-in user's roles first, each a link
with the count that makes it a task (free beds, applicants waiting, batches to approve …),
then the apps. Counts are read through ``scoped``, so they are the user's own."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.choices import Role
from accounts.scoping import scope_of, scoped


@dataclass(frozen=True)
class Task:
    title: str
    url: str
    note: str = ""
    urgent: bool = False


@dataclass(frozen=True)
class TaskGroup:
    title: str
    tasks: list[Task]


def dashboard_url() -> str | None:
    """The bureau dashboard, where the project serves one."""
    try:
        return reverse("dashboard")
    except NoReverseMatch:
        return None


def _admin_url(name: str, query: str = "", args=()) -> str:
    url = reverse(f"admin:{name}", args=args)
    return f"{url}?{query}" if query else url


def _today_query(field: str) -> str:
    """The changelist's date-hierarchy parameters for today (Asia/Shanghai)."""
    today = timezone.localdate()
    return f"{field}__year={today.year}&{field}__month={today.month}&{field}__day={today.day}"


def _institution(user) -> TaskGroup | None:
    from facilities.choices import OPEN_APPLICATION_STATUSES
    from facilities.models import Application, Facility, Stay
    from facilities.selectors import free_beds

    if not user.has_perm("facilities.view_bed"):
        return None
    scope = scope_of(user)
    facilities = scoped(Facility.objects.all(), user).filter(pk__in=scope.facility_ids)
    tasks = []
    for facility in facilities.order_by("name"):
        free = free_beds(facility).count()
        residents = Stay.objects.filter(bed__facility=facility, end_date__isnull=True).count()
        waiting = Application.objects.filter(
            facility=facility, status__in=OPEN_APPLICATION_STATUSES
        ).count()
        tasks.append(
            Task(
                _("床位一览：%(name)s") % {"name": facility.name},
                _admin_url("facilities_facility_beds", args=[facility.pk]),
                _("在住 %(residents)d 人，空床 %(free)d 张")
                % {"residents": residents, "free": free},
            )
        )
        tasks.append(
            Task(
                _("轮候名单"),
                _admin_url(
                    "facilities_application_changelist", f"facility__id__exact={facility.pk}"
                ),
                _("%(n)d 人轮候中") % {"n": waiting},
                urgent=bool(waiting and free),
            )
        )
    if user.has_perm("facilities.add_stay"):
        tasks.append(Task(_("扫码办理入住"), _admin_url("facilities_stay_admit")))
    tasks.append(
        Task(
            _("在住老人（退住、转床、打印长者码）"),
            _admin_url("facilities_stay_changelist", "end_date__isempty=1"),
        )
    )
    tasks.append(Task(_("护理员与证书"), _admin_url("facilities_caregiver_changelist")))
    tasks.append(Task(_("护理员配备核查"), _admin_url("facilities_facility_staffing")))
    return TaskGroup(_("机构日常"), tasks)


def _finance(user) -> TaskGroup | None:
    from subsidies.choices import BatchState, RunHealth, RunStatus
    from subsidies.models import AllowanceRun, PaymentBatch
    from subsidies.selectors import run_health, runs_with_health

    if not user.has_perm("subsidies.view_paymentbatch"):
        return None
    batches = scoped(PaymentBatch.objects.all(), user)
    counts = {state: batches.filter(state=state).count() for state in BatchState.values}
    # Runs not over, as they really are: one whose worker died is stalled, not running.
    unfinished = scoped(AllowanceRun.objects.all(), user).filter(
        status__in=[RunStatus.PENDING, RunStatus.RUNNING]
    )
    states = [run_health(run)[0] for run in runs_with_health(unfinished)]
    running, stalled = len(states), states.count(RunHealth.STALLED)
    run_note = _("%(n)d 个运行中") % {"n": running} if running else ""
    if stalled:
        run_note += _("（%(n)d 个停滞）") % {"n": stalled}
    changelist = "subsidies_paymentbatch_changelist"
    return TaskGroup(
        _("财务"),
        [
            Task(
                _("待审核批次"),
                _admin_url(changelist, f"state__exact={BatchState.DRAFT}"),
                _("%(n)d 个") % {"n": counts[BatchState.DRAFT]},
                urgent=bool(counts[BatchState.DRAFT]),
            ),
            Task(
                _("已审核、待导出"),
                _admin_url(changelist, f"state__exact={BatchState.APPROVED}"),
                _("%(n)d 个") % {"n": counts[BatchState.APPROVED]},
                urgent=bool(counts[BatchState.APPROVED]),
            ),
            Task(
                _("已导出、待上传银行回盘"),
                _admin_url(changelist, f"state__exact={BatchState.EXPORTED}"),
                _("%(n)d 个") % {"n": counts[BatchState.EXPORTED]},
            ),
            Task(
                _("津贴发放运行"),
                _admin_url("subsidies_allowancerun_changelist"),
                run_note,
                urgent=bool(stalled),
            ),
        ],
    )


def _bureau(user) -> TaskGroup | None:
    tasks = []
    if user.has_perm("regions.view_policyvalue"):
        tasks.append(
            Task(
                _("尚未设定的政策参数"),
                _admin_url("regions_policyvalue_changelist", "value__isempty=1"),
            )
        )
    if user.has_perm("facilities.view_facility"):
        tasks.append(Task(_("护理员配备核查"), _admin_url("facilities_facility_staffing")))
        tasks.append(Task(_("养老机构与床位"), _admin_url("facilities_facility_changelist")))
    if user.has_perm("residents.view_elder"):
        tasks.append(Task(_("老年人名册"), _admin_url("residents_elder_changelist")))
    if user.has_perm("subsidies.view_allowancerun"):
        tasks.append(Task(_("津贴发放运行"), _admin_url("subsidies_allowancerun_changelist")))
    return TaskGroup(_("民政局"), tasks) if tasks else None


def _street(user) -> TaskGroup | None:
    from visits.choices import FollowUpStatus
    from visits.models import FollowUpTask

    tasks = [Task(_("今日探访（手机页面）"), reverse("visits-phone"))]
    if user.has_perm("visits.view_followuptask"):
        open_tasks = (
            scoped(FollowUpTask.objects.all(), user).filter(status=FollowUpStatus.OPEN).count()
        )
        tasks.append(
            Task(
                _("待处理的探访后续事项"),
                _admin_url(
                    "visits_followuptask_changelist", f"status__exact={FollowUpStatus.OPEN}"
                ),
                _("%(n)d 件") % {"n": open_tasks},
                urgent=bool(open_tasks),
            )
        )
    if user.has_perm("visits.view_visit"):
        tasks.append(
            Task(
                _("今日探访记录"),
                _admin_url("visits_visit_changelist", _today_query("visited_at")),
            )
        )
    if user.has_perm("residents.view_elder"):
        tasks.append(Task(_("辖区老年人"), _admin_url("residents_elder_changelist")))
    return TaskGroup(_("街道社区"), tasks) if tasks else None


def _auditor(user) -> TaskGroup | None:
    tasks = [Task(_("审计记录（查看与导出）"), _admin_url("accounts_auditentry_changelist"))]
    if user.has_perm("subsidies.view_paymentbatch"):
        tasks.append(Task(_("支付批次"), _admin_url("subsidies_paymentbatch_changelist")))
    return TaskGroup(_("审计"), tasks)


BUILDERS = {
    Role.INSTITUTION_STAFF: _institution,
    Role.FINANCE: _finance,
    Role.BUREAU: _bureau,
    Role.STREET_WORKER: _street,
    Role.AUDITOR: _auditor,
}
# A superuser sees every group that applies to the whole province.
SUPERUSER_GROUPS = [Role.BUREAU, Role.FINANCE]


def task_groups(user) -> list[TaskGroup]:
    scope = scope_of(user)
    roles = SUPERUSER_GROUPS if scope.everything else [r for r in BUILDERS if r in scope.roles]
    groups = []
    for role in roles:
        group = BUILDERS[role](user)
        if group is not None and group.tasks:
            groups.append(group)
    return groups


def shows_dashboard(user) -> bool:
    """Whoever covers an area has its dashboard; institution staff cover a facility."""
    scope = scope_of(user)
    return scope.everything or bool(scope.region_grants)


def home_url(user) -> str:
    """Where a signed-in user starts the day: street workers, whose work is the phone page,
    there; everyone else (and a street worker who also holds another role) the admin's home."""
    scope = scope_of(user)
    if not scope.everything and scope.roles == {Role.STREET_WORKER}:
        return reverse("visits-phone")
    return reverse("admin:index")
