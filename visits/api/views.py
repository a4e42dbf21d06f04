"""Field workers' API: log visits (one, or a batch recorded offline), today's list, follow-up
tasks, compliance and health checks. Views parse, authorise and call one service/selector."""

from __future__ import annotations

import datetime

from django.shortcuts import get_object_or_404
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import ScopedQuerysetMixin, ScopedWritePermission
from accounts.scoping import scope_of, scoped
from regions.models import Region
from regions.selectors import PolicyValueNotSet
from residents.models import Elder
from visits import selectors, services
from visits.api.serializers import (
    CloseTaskInputSerializer,
    ComplianceSerializer,
    ConfirmDeathInputSerializer,
    FollowUpTaskSerializer,
    HealthCheckInputSerializer,
    HealthCheckOutputSerializer,
    HealthChecksDueSerializer,
    TodaySerializer,
    VisitBatchInputSerializer,
    VisitBatchRequestSerializer,
    VisitBatchResultSerializer,
    VisitInputSerializer,
    VisitOutputSerializer,
    VisitRecordedSerializer,
    visit_input,
    visit_output,
)
from visits.models import FollowUpTask, Visit

# Dates the API accepts. Nobody in the registry was born before 1900, and the reports do
# arithmetic on a date (sixty years back for ages, a day past a period's end) that would
# overflow Python's dates near year 1 or 9999: such a date is refused as bad input.
EARLIEST_DATE = datetime.date(1900, 1, 1)
LATEST_DATE = datetime.date(2999, 12, 31)


def _dated_text(text) -> str:
    return _("%(text)s（%(earliest)s 至 %(latest)s）") % {
        "text": text,
        "earliest": EARLIEST_DATE,
        "latest": LATEST_DATE,
    }


# A date parameter's description followed by the range it accepts, in the schema's language.
dated = lazy(_dated_text, str)


def _in_range(name: str, raw: str, value: datetime.date) -> datetime.date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ApiValidationError(
            {
                name: _("“%(value)s”应在 %(earliest)s 至 %(latest)s 之间。")
                % {"value": raw, "earliest": EARLIEST_DATE, "latest": LATEST_DATE}
            }
        )
    return value


def _date_param(request, name: str, default: datetime.date | None = None) -> datetime.date:
    raw = request.query_params.get(name)
    if not raw:
        if default is None:
            raise ApiValidationError({name: _("必填（YYYY-MM-DD）。")})
        return default
    try:
        value = datetime.date.fromisoformat(raw)
    except ValueError:
        raise ApiValidationError(
            {name: _("“%(value)s”不是日期（YYYY-MM-DD）。") % {"value": raw}}
        ) from None
    return _in_range(name, raw, value)


def _area_param(request, name: str = "area") -> Region:
    """The region named by ``?area=CODE``, which must lie within the user's scope."""
    code = request.query_params.get(name)
    if not code:
        raise ApiValidationError({name: _("必填：区划代码。")})
    if "\x00" in code:
        # PostgreSQL cannot compare text holding a NUL character: bad input, not a failed query.
        raise ApiValidationError({name: _("不能包含空字符（NUL）。")})
    area = Region.objects.filter(code=code).first()
    if area is None:
        raise ApiValidationError({name: _("没有代码为 %(code)s 的区划。") % {"code": code}})
    scope = scope_of(request.user)
    # Only areas of roles that reach visits (a finance officer's district does not count).
    if not scope.covers_region(area, "visits"):
        raise NotFound(_("%(code)s 不在您的工作范围内。") % {"code": code})
    return area


def _not_set(field: str, missing: PolicyValueNotSet) -> ApiValidationError:
    """A rulebook value the period needs is not set (for example a target that starts
    later): the request is answered with the reason, naming the parameter that chose it."""
    return ApiValidationError(
        {field: _("该日期（期间）所需的规则未设定：%(missing)s") % {"missing": missing}}
    )


def _today() -> datetime.date:
    return datetime.datetime.now(selectors.local_tz()).date()


AREA_PARAMETER = OpenApiParameter(
    "area", str, required=True, description=gettext_lazy("区划代码（须在您的工作范围内）")
)
BAD_INPUT = OpenApiResponse(description=gettext_lazy("参数有误：返回体按字段说明原因"))
OUT_OF_AREA = OpenApiResponse(description=gettext_lazy("区划不在您的工作范围内"))
NO_TASK = OpenApiResponse(description=gettext_lazy("没有该任务，或不在您的权限范围内"))


@extend_schema_view(
    get=extend_schema(
        description=gettext_lazy(
            "您工作范围内老年人的探访记录，最新的在前；可按老年人、探访人员、探访结果和方式筛选。"
        )
    )
)
class VisitListCreateView(ScopedQuerysetMixin, generics.ListAPIView):
    """GET: visits in your area (newest first). POST: log one visit; sending the same UUID
    again returns the stored visit with status "duplicate" and stores nothing."""

    queryset = Visit.objects.select_related("elder", "worker")
    serializer_class = VisitOutputSerializer
    filterset_fields = ["elder", "worker", "outcome", "mode"]

    @extend_schema(
        description=gettext_lazy(
            "登记一次探访。客户端为每次探访生成 UUID：同一 UUID 再次提交（如网络重试）时返回已保存"
            "的记录（status 为 duplicate，HTTP 200），不重复登记；新记录返回 201（accepted）。"
            "探访人员须在探访当日负责该老年人所在区域，否则与老年人不存在一样返回 400；结果为"
            "“已去世”或“需要跟进”时自动生成跟进任务。"
        ),
        request=VisitInputSerializer,
        responses={201: VisitRecordedSerializer, 200: VisitRecordedSerializer, 400: BAD_INPUT},
    )
    def post(self, request):
        data, errors = visit_input(request.data)
        if errors:
            raise ApiValidationError(errors)
        result = services.record_visit(worker=request.user, **data)
        body = {
            "status": "accepted" if result.created else "duplicate",
            "visit": visit_output(result.visit),
        }
        return Response(body, status=status.HTTP_201_CREATED if result.created else 200)


class VisitBatchView(APIView):
    """POST {"visits": [...]}: each visit accepted, duplicate (already stored: nothing changes)
    or rejected with its errors by field, on its own. The response lists them in order."""

    permission_classes = [ScopedWritePermission]

    @extend_schema(
        description=gettext_lazy(
            "批量上传离线记录的探访（请求体的 visits 列表）：每条单独处理，结果为 accepted（已登记）、"
            "duplicate（该 UUID 已保存，不作改动）或 rejected（附按字段的错误），一条出错不影响"
            "其他各条。响应按提交顺序列出各条结果及各类计数；请求体格式错误时返回 400。"
        ),
        request=VisitBatchRequestSerializer,
        responses={200: VisitBatchResultSerializer, 400: BAD_INPUT},
    )
    def post(self, request):
        batch = VisitBatchInputSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        results: list[dict | None] = []
        parsed: list[tuple[int, dict]] = []
        for index, raw in enumerate(batch.validated_data["visits"]):
            data, errors = visit_input(raw)
            if errors is None:
                parsed.append((index, data))
                results.append(None)
            else:
                results.append(
                    {
                        "index": index,
                        "uuid": str(raw.get("uuid", "")),
                        "status": services.BatchStatus.REJECTED,
                        "errors": errors,
                    }
                )
        stored = services.upload_visits(worker=request.user, items=[data for __, data in parsed])
        for (index, __), outcome in zip(parsed, stored, strict=True):
            results[index] = {
                "index": index,
                "uuid": outcome.uuid,
                "status": outcome.status,
                **({"visit": outcome.visit.pk} if outcome.visit else {}),
                **({"errors": outcome.errors} if outcome.errors else {}),
            }
        counts = dict.fromkeys(("accepted", "duplicate", "rejected"), 0)
        for row in results:
            counts[row["status"]] += 1
        return Response({**counts, "results": results})


class TodayView(APIView):
    """GET: your list for today (or ?date=): the elders of your areas who must be visited,
    those still owed a visit first."""

    # Scoped by the worker's own assignments (today) or by the area check (compliance).
    permission_classes = [ScopedWritePermission]

    @extend_schema(
        description=gettext_lazy(
            "您当日（或 date 所指日期）的探访名单：按您当日的探访分工，列出所负责区域内须探访的"
            "老年人，尚欠探访的排在前面；当日没有分工时名单为空。"
        ),
        parameters=[
            OpenApiParameter(
                "date", datetime.date, description=dated(gettext_lazy("日期（默认今天）"))
            )
        ],
        responses={200: TodaySerializer, 400: BAD_INPUT},
    )
    def get(self, request):
        on = _date_param(request, "date", default=_today())
        try:
            rows = selectors.todays_list(request.user, on)
        except PolicyValueNotSet as missing:
            raise _not_set("date", missing) from None
        return Response(
            TodaySerializer({"date": on, "owed": sum(r.due for r in rows), "elders": rows}).data
        )


@extend_schema_view(
    get=extend_schema(
        description=gettext_lazy(
            "您工作区域内的跟进任务（探访结果为“已去世”或“需要跟进”时生成），"
            "可按状态、类型和老年人筛选。"
        )
    )
)
class FollowUpTaskListView(ScopedQuerysetMixin, generics.ListAPIView):
    queryset = FollowUpTask.objects.select_related("elder", "area", "visit")
    serializer_class = FollowUpTaskSerializer
    filterset_fields = ["status", "kind", "elder"]


def _scoped_task(request, pk) -> FollowUpTask:
    return get_object_or_404(scoped(FollowUpTask.objects.all(), request.user), pk=pk)


class FollowUpTaskCloseView(APIView):
    """POST {"resolution": …, "status": "done"|"cancelled"}: close an open task."""

    permission_classes = [ScopedWritePermission]

    @extend_schema(
        description=gettext_lazy(
            "办结或撤销一项待处理的跟进任务，须填写处理结果；任务已关闭时返回 400。"
        ),
        request=CloseTaskInputSerializer,
        responses={200: FollowUpTaskSerializer, 400: BAD_INPUT, 404: NO_TASK},
    )
    def post(self, request, pk):
        task = _scoped_task(request, pk)
        serializer = CloseTaskInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = services.close_follow_up(task=task, by=request.user, **serializer.validated_data)
        return Response(FollowUpTaskSerializer(task).data)


class FollowUpTaskConfirmDeathView(APIView):
    """POST {"death_date": …}: the death is recorded in the registry (allowances stop)."""

    permission_classes = [ScopedWritePermission]

    @extend_schema(
        description=gettext_lazy(
            "核实探访报告的死亡：在老年人名册中登记死亡日期（其类别终止，床位、探访和津贴随之停止），"
            "并办结该任务。仅限待处理的死亡报告任务，否则返回 400。"
        ),
        request=ConfirmDeathInputSerializer,
        responses={200: FollowUpTaskSerializer, 400: BAD_INPUT, 404: NO_TASK},
    )
    def post(self, request, pk):
        task = _scoped_task(request, pk)
        serializer = ConfirmDeathInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = services.confirm_death(task=task, by=request.user, **serializer.validated_data)
        return Response(FollowUpTaskSerializer(task).data)


def _rate(value):
    return None if value is None else str(value)


def _line(report, line) -> dict:
    return {
        "key": line.key,
        "label": line.label,
        "daily_owed": line.daily_owed,
        "daily_done": line.daily_done,
        "monthly_owed": line.monthly_owed,
        "monthly_done": line.monthly_done,
        "owed": line.owed,
        "done": line.done,
        "rate": _rate(line.rate),
        "meets_target": report.meets_target(line),
    }


class ComplianceView(APIView):
    """GET ?area=CODE&month=YYYY-MM (or &start=&end=) &group_by=street|community|worker.
    A month still running is counted up to today."""

    # Scoped by the worker's own assignments (today) or by the area check (compliance).
    permission_classes = [ScopedWritePermission]

    @extend_schema(
        description=gettext_lazy(
            "某区划某月（未结束的月份统计到今天）或 start 至 end 期间的探访达标情况，按街道、社区或"
            "探访员分组：应访、已访、完成率、是否达到目标，以及逾期未访的老年人。区划须在您的"
            "工作范围内，否则返回 404；所需规则未设定时返回 400 并说明。"
        ),
        parameters=[
            AREA_PARAMETER,
            OpenApiParameter(
                "month",
                str,
                pattern=r"^\d{4}-\d{2}$",
                description=gettext_lazy("月份 YYYY-MM（或给出 start 与 end）"),
            ),
            OpenApiParameter(
                "start",
                datetime.date,
                description=dated(gettext_lazy("开始日期（未给 month 时必填）")),
            ),
            OpenApiParameter(
                "end",
                datetime.date,
                description=dated(gettext_lazy("结束日期（未给 month 时必填）")),
            ),
            OpenApiParameter(
                "group_by",
                str,
                enum=selectors.GroupBy.CHOICES,
                default=selectors.GroupBy.COMMUNITY,
                description=gettext_lazy("分组：街道、社区或探访员"),
            ),
        ],
        responses={200: ComplianceSerializer, 400: BAD_INPUT, 404: OUT_OF_AREA},
    )
    def get(self, request):
        area = _area_param(request)
        group_by = request.query_params.get("group_by", selectors.GroupBy.COMMUNITY)
        if group_by not in selectors.GroupBy.CHOICES:
            raise ApiValidationError(
                {
                    "group_by": _("可选 %(known)s。")
                    % {"known": ", ".join(selectors.GroupBy.CHOICES)}
                }
            )
        month = request.query_params.get("month")
        if month:
            try:
                first = datetime.date.fromisoformat(f"{month}-01")
            except ValueError:
                raise ApiValidationError(
                    {"month": _("“%(value)s”不是月份（YYYY-MM）。") % {"value": month}}
                ) from None
            _in_range("month", month, first)
            start, end = selectors.month_bounds(first)
            end = min(end, _today())
        else:
            start, end = _date_param(request, "start"), _date_param(request, "end")
        if end < start:
            raise ApiValidationError({"end": _("结束日期早于开始日期（或所选月份尚未开始）。")})
        try:
            report = selectors.compliance(area=area, start=start, end=end, group_by=group_by)
        except PolicyValueNotSet as missing:
            raise _not_set("month" if month else "start", missing) from None
        return Response(
            {
                "area": area.code,
                "start": start,
                "end": end,
                "group_by": group_by,
                "target": str(report.target),
                "target_citation": report.target_citation,
                "total": _line(report, report.total),
                "lines": [_line(report, line) for line in report.lines],
                "overdue": [
                    {
                        "elder": o.elder_id,
                        "name": o.name,
                        "residence_region": o.residence_region.code,
                        "frequency": o.frequency,
                        "missed": o.missed,
                        "last_visit": o.last_visit,
                        "residence_unknown": o.residence_unknown,
                    }
                    for o in report.overdue
                ],
            }
        )


class HealthCheckView(APIView):
    """GET ?area=CODE&date=: elders owed this year's free health check, and whether done.
    POST: record one."""

    permission_classes = [ScopedWritePermission]

    @extend_schema(
        description=gettext_lazy(
            "某区划内按规则每年应享免费体检的特殊困难老年人，以及本年度（由 date 决定）是否已体检。"
            "区划须在您的工作范围内，否则返回 404。"
        ),
        parameters=[
            AREA_PARAMETER,
            OpenApiParameter(
                "date", datetime.date, description=dated(gettext_lazy("日期，决定年度（默认今天）"))
            ),
        ],
        responses={200: HealthChecksDueSerializer, 400: BAD_INPUT, 404: OUT_OF_AREA},
    )
    def get(self, request):
        area = _area_param(request)
        on = _date_param(request, "date", default=_today())
        try:
            rows = selectors.health_checks_due(area=area, on=on)
        except PolicyValueNotSet as missing:
            raise _not_set("date", missing) from None
        return Response(
            {
                "area": area.code,
                "year": on.year,
                "due": len(rows),
                "done": sum(r.done for r in rows),
                "elders": [
                    {
                        "elder": r.elder_id,
                        "name": r.name,
                        "residence_region": r.residence_region.code,
                        "last_check": r.last_check,
                        "done": r.done,
                        "residence_unknown": r.residence_unknown,
                    }
                    for r in rows
                ],
            }
        )

    @extend_schema(
        description=gettext_lazy(
            "登记一位老年人的一次体检：老年人须在您的工作范围内，否则与不存在一样返回 400；"
            "体检日期不得晚于今天，同一老年人同一天只能有一条体检记录。"
        ),
        request=HealthCheckInputSerializer,
        responses={201: HealthCheckOutputSerializer, 400: BAD_INPUT},
    )
    def post(self, request):
        serializer = HealthCheckInputSerializer(data=request.data)
        # Only elders the user can see are found: one outside the scope is answered as one
        # that does not exist (the service checks the scope of the record it writes).
        serializer.fields["elder"].queryset = scoped(Elder.objects.all(), request.user)
        serializer.is_valid(raise_exception=True)
        check = services.record_health_check(by=request.user, **serializer.validated_data)
        return Response(HealthCheckOutputSerializer(check).data, status=status.HTTP_201_CREATED)
