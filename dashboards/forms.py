import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from dashboards.selectors import MAX_MONTHS, months_between

EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


class MonthField(forms.CharField):
    """A month as YYYY-MM (what ``<input type="month">`` sends), cleaned to its first day."""

    widget = forms.TextInput(attrs={"type": "month", "pattern": r"\d{4}-\d{2}"})

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        try:
            month = datetime.date.fromisoformat(f"{value}-01")
        except ValueError:
            raise ValidationError(_("“%(value)s”不是月份（YYYY-MM）。"), params={"value": value})
        if not EARLIEST_YEAR <= month.year <= LATEST_YEAR:
            raise ValidationError(
                _("月份应在 %(first)s 年至 %(last)s 年之间。"),
                params={"first": EARLIEST_YEAR, "last": LATEST_YEAR},
            )
        return month


class DashboardFilterForm(forms.Form):
    """The area (a region code; the view checks it is within the user's scope) and the months."""

    region = forms.CharField(label=_("区域"), required=False, max_length=15)
    start = MonthField(label=_("起始月份"), required=False)
    end = MonthField(label=_("截止月份"), required=False)

    def clean_region(self):
        code = self.cleaned_data["region"].strip()
        if code and not code.isdigit():
            raise ValidationError(_("区划代码只含数字。"))
        return code

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                raise ValidationError({"end": _("截止月份早于起始月份。")})
            if months_between(start, end) > MAX_MONTHS:
                raise ValidationError({"end": _("一次最多查看 %(n)s 个月。") % {"n": MAX_MONTHS}})
        return cleaned


class StatisticsFilterForm(DashboardFilterForm):
    """The dashboard's area and months, and the file wanted for the upward statistics."""

    format = forms.ChoiceField(
        label=_("文件格式"),
        required=False,
        choices=[("xlsx", "Excel (XLSX)"), ("csv", "CSV")],
    )
