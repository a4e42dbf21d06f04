"""The dashboard page: parse the filter, authorise the area, call the selectors, render.

Who may open what (accounts.scoping): a user opens the dashboard of any region their
assignments cover — a bureau or auditor their region and everything below it, a street office
its street, a finance officer their region (the allowance section only) — and sees the sections
whose app their role reaches. A region outside the user's areas is not found (404), as in the
API. Institution staff cover a facility, not an area: they have no dashboard (403) and read
their facility's beds, waiting list and staffing in the admin.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from accounts.selectors import audit_reason
from dashboards import selectors
from dashboards.coverage import coverage_section, may_download_statistics
from dashboards.forms import DashboardFilterForm, StatisticsFilterForm
from dashboards.selectors import Period, Section, add_months
from facilities.selectors import staffing_reports
from regions.models import Region
from servicelist.statistics import export_statistics


def _context(request, **extra) -> dict:
    # The admin's frame (header, user links, navigation back to the admin).
    return {**admin.site.each_context(request), "title": _("数据看板"), **extra}


def _period(data: dict, today) -> Period:
    start, end = data.get("start"), data.get("end")
    if not start and not end:
        return Period.default(today)
    start = start or add_months(end, -(selectors.DEFAULT_MONTHS - 1))
    end = end or add_months(start, selectors.DEFAULT_MONTHS - 1)
    return Period.of_months(start, end, today)


@login_required  # first, so that anyone signed out is sent to the login page whatever the method
@require_safe
def dashboard(request):
    user = request.user
    choices = selectors.area_choices(user)
    if not choices:
        return render(request, "dashboards/no_area.html", _context(request), status=403)
    form = DashboardFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        context = _context(request, form=form, choices=choices, area=None)
        return render(request, "dashboards/dashboard.html", context, status=400)
    data = form.cleaned_data if form.is_bound else {}
    code = data.get("region") or choices[0].code
    area = Region.objects.filter(code=code).first()
    if area is None or not selectors.may_open(user, area):
        # Not found, as the API answers a region outside the user's areas; a page of the
        # dashboard's own (in the user's language, with the areas they may open), never the
        # framework's debug page.
        context = _context(request, code=code, choices=choices)
        return render(request, "dashboards/not_found.html", context, status=404)
    period = _period(data, selectors.today())
    sections = selectors.sections_for(user, area)
    on = period.on
    context = _context(
        request,
        form=form,
        choices=choices,
        area=area,
        period=period,
        on=on,
        sections=sections,
        start_value=f"{period.start:%Y-%m}",
        end_value=f"{period.end:%Y-%m}",
    )
    with selectors.reading():
        if Section.COMPLIANCE in sections:
            context["compliance"] = selectors.compliance_by_month(area, period)
        if Section.ALLOWANCES in sections:
            context["allowances"] = selectors.allowance_totals(user, area, period)
        if Section.STAFFING in sections or Section.BEDS in sections:
            facilities = list(selectors.area_facilities(user, area))
            context["staffing"] = staffing_reports(facilities, on)
            context["beds"] = selectors.beds_and_waiting(facilities, on)
            context["beds_chart"] = selectors.beds_chart(context["beds"])
        if Section.WORKFORCE in sections:
            context["workforce"], context["targets"] = selectors.workforce(area, on)
        if Section.ASSESSMENTS in sections:
            context["assessments"] = selectors.assessments_due(user, area, on)
        if Section.COVERAGE in sections:
            context["coverage"] = coverage_section(user, area, period)
        if Section.POLICY_GAPS in sections:
            context["gaps"] = selectors.gaps_for(area, on)
    return render(request, "dashboards/dashboard.html", context)


CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


@login_required
@require_safe
def service_statistics(request):
    """The upward statistics of the area and months the dashboard shows (per item: entitled,
    reached, rate, money paid, satisfaction; servicelist.statistics) as a file: XLSX, or CSV
    for Excel. Only an area the user reaches for both the lists and the payments (a bureau,
    an auditor); audited."""
    user = request.user
    choices = selectors.area_choices(user)
    if not choices:
        return render(request, "dashboards/no_area.html", _context(request), status=403)
    form = StatisticsFilterForm(request.GET)
    if not form.is_valid():
        context = _context(request, form=form, choices=choices, area=None)
        return render(request, "dashboards/dashboard.html", context, status=400)
    data = form.cleaned_data
    code = data.get("region") or choices[0].code
    area = Region.objects.filter(code=code).first()
    if area is None or not selectors.may_open(user, area):
        context = _context(request, code=code, choices=choices)
        return render(request, "dashboards/not_found.html", context, status=404)
    if not may_download_statistics(user, area):
        context = _context(request, area=area)
        return render(request, "dashboards/no_statistics.html", context, status=403)
    period = _period(data, selectors.today())
    file_format = data.get("format") or "xlsx"
    statistics, content = export_statistics(
        area,
        period.start,
        period.end,
        file_format=file_format,
        user=user,
        reason=audit_reason(request),
    )
    response = HttpResponse(content, content_type=CONTENT_TYPES[file_format])
    name = f"service-statistics-{area.code}-{period.start:%Y%m}-{period.end:%Y%m}.{file_format}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
