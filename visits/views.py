"""The phone page street-office workers log visits on: today's list, one tap per outcome,
and a queue in the browser that keeps visits recorded while the network is down and sends
them later with their UUIDs (the API stores each UUID once). Views stay thin: today's list
comes from the same selector and serializer as ``GET /api/visits/today/``."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from facilities.models import Stay
from regions.selectors import PolicyValueNotSet
from residents.models import Elder
from visits import rules, selectors
from visits.api.serializers import TodaySerializer
from visits.choices import VisitFrequency, VisitMode, VisitNeed, VisitOutcome

# Seconds a tapped outcome waits, with an undo button, before it is sent.
UNDO_SECONDS = 5

# Static files of the page, cached by the service worker so the page opens without a network.
PHONE_ASSETS = ["visits/phone.css", "visits/phone.js"]

# What the script shows, translated here so the page follows the user's language.
UI_TEXT = {
    "online": _("在线"),
    "offline": _("离线：记录先保存在手机上，联网后自动发送"),
    "owed": _("今日待访"),
    "visited": _("今日已访"),
    "not_due": _("本日无需探访"),
    "never_visited": _("尚无探访记录"),
    "last_visit": _("上次探访"),
    "saved_list": _("离线显示上次获取的名单"),
    "refresh_failed": _("名单未能更新"),
    "queued": _("待发送"),
    "sending": _("发送中"),
    "accepted": _("已发送"),
    "duplicate": _("已发送（服务器已有此记录）"),
    "rejected": _("被退回"),
    "sign_in_again": _("登录已失效，请重新登录后发送"),
    "send_now": _("立即发送"),
    "logged": _("已记录"),
    "confirm_deceased": _("确认登记该老人已去世？此记录将通知工作人员核实。"),
    "empty": _("今天您的探访区域内没有需要探访的老人。"),
    "nothing_queued": _("没有待发送的记录。"),
    "no_match": _("没有符合条件的老人。"),
    "undo": _("撤销"),
    "undone": _("已撤销此条记录"),
    "call": _("拨打"),
    "address": _("住址"),
    "already_logged": _("今天已记录过探访（%(time)s）。确实要再记一次吗？"),
    "log_again": _("再记一次"),
    "shown": _("显示 %(shown)s / %(total)s 人"),
}


def _labels(choices) -> dict[str, str]:
    return {value: str(label) for value, label in choices.choices}


def _contacts(elder_ids) -> dict[str, dict[str, str]]:
    """How to reach each elder of the list: the phone to call and where they live — the
    address of a home-care bed they hold, else their street and community. The registry keeps
    no street address of its own. Two queries for the whole list."""
    contacts = {
        str(pk): {"phone": phone, "address": " ".join(filter(None, [street, community]))}
        for pk, phone, street, community in Elder.objects.filter(pk__in=elder_ids).values_list(
            "pk", "phone", "residence_region__parent__name", "residence_region__name"
        )
    }
    for elder_id, home in (
        Stay.objects.filter(elder_id__in=elder_ids, end_date__isnull=True)
        .exclude(bed__home_address="")
        .values_list("elder_id", "bed__home_address")
    ):
        contacts[str(elder_id)]["address"] = home
    return contacts


@login_required
@require_GET
@never_cache
def phone_page(request):
    """Today's list for the signed-in worker; only the elders of their own areas."""
    on = datetime.datetime.now(selectors.local_tz()).date()
    problem = ""
    try:
        rows = selectors.todays_list(request.user, on)
    except PolicyValueNotSet as missing:
        rows, problem = [], str(missing)
    today = TodaySerializer({"date": on, "owed": sum(r.due for r in rows), "elders": rows}).data
    config = {
        "user": request.user.get_username(),
        "renderedAt": timezone.now().isoformat(),
        "timeZone": settings.TIME_ZONE,
        "csrfCookieName": settings.CSRF_COOKIE_NAME,
        "todayUrl": reverse("visits-today"),
        "batchUrl": reverse("visits-visit-batch"),
        "loginUrl": f"{reverse('admin:login')}?next={request.path}",
        "serviceWorkerUrl": reverse("visits-phone-sw"),
        "labels": {
            "mode": _labels(VisitMode),
            "outcome": _labels(VisitOutcome),
            "need": _labels(VisitNeed),
            "group": rules.group_labels(),
            "frequency": _labels(VisitFrequency),
        },
        "text": UI_TEXT,
        "undoSeconds": UNDO_SECONDS,
        # Phones and addresses are read here, once per page: the list's refreshes from the
        # API carry neither.
        "contacts": _contacts([row.elder_id for row in rows]),
    }
    return render(
        request,
        "visits/phone.html",
        {
            "today": today,
            "config": config,
            "problem": problem,
            "modes": VisitMode.choices,
            "outcomes": VisitOutcome.choices,
            "needs": VisitNeed.choices,
        },
    )


@login_required
@require_GET
def phone_service_worker(request):
    """The service worker, served from the page's own path so its scope covers the page (for
    signed-in users, like every page of the project)."""
    assets = [static(name) for name in PHONE_ASSETS]
    response = render(
        request,
        "visits/phone_sw.js",
        {"page_url": reverse("visits-phone"), "assets": assets},
        content_type="application/javascript; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache"
    return response
