"""Before a rate change is saved, the bureau sees who it affects and the money difference for
the next run, computed by the run's own code: the preview equals what the run then pays."""

import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Sum

from accounts.choices import Role
from accounts.services import assign_role
from regions.models import PolicyValue
from regions.services import revise_policy_value
from subsidies.models import PaymentLine
from subsidies.run.planning import request_allowance_run
from subsidies.run.preview import preview_policy_revision

D = datetime.date
TODAY = D(2026, 11, 30)


def test_the_preview_of_a_raise_is_what_the_next_run_pays(make_elder, xihu):
    bureau = get_user_model().objects.create_user("xihu-bureau", password="x")
    assign_role(user=bureau, role=Role.BUREAU, region=xihu)
    nonagenarians = [make_elder(D(1930, 6, 1)), make_elder(D(1935, 3, 15))]
    make_elder(D(1940, 6, 1))  # 86: the 80–89 band, not affected
    make_elder(D(1930, 6, 1), "330205")  # 96 in Ningbo: another region, not affected
    row = PolicyValue.objects.get(region=xihu, key="high_age_allowance_90_99")
    change = {"value": Decimal("120")}

    preview = preview_policy_revision(
        row=row, applies_from=D(2027, 1, 1), changes=change, reason="提标", by=bureau, today=TODAY
    )

    assert preview.period == D(2027, 1, 1)
    assert preview.elders_affected == len(nonagenarians)
    assert preview.difference == Decimal("20") * len(nonagenarians)
    row.refresh_from_db()
    assert row.value == Decimal("100") and row.effective_to is None  # nothing was saved

    revise_policy_value(
        row=row, applies_from=D(2027, 1, 1), reason="提标", by=bureau, today=TODAY, **change
    )
    request_allowance_run(region=xihu, period=D(2027, 1, 1), sync=True)
    paid = PaymentLine.objects.filter(
        period=D(2027, 1, 1), elder__hukou_region__path__startswith=xihu.path
    )
    assert paid.count() == preview.lines_after
    assert paid.aggregate(total=Sum("amount"))["total"] == preview.amount_after


def test_a_change_from_mid_month_first_shows_in_the_next_month(make_elder, xihu):
    make_elder(D(1930, 6, 1))
    row = PolicyValue.objects.get(region=xihu, key="high_age_allowance_90_99")
    preview = preview_policy_revision(
        row=row,
        applies_from=D(2027, 1, 15),
        changes={"value": Decimal("120")},
        reason="提标",
        today=TODAY,
    )
    assert preview.period == D(2027, 2, 1)
    assert preview.elders_affected == 1 and preview.difference == Decimal("20")
    assert "受影响 1 人" in preview.describe() and "+20.00" in preview.describe()
