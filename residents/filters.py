"""Filters of the elder and assessment lists (API, via django-filter)."""

import datetime

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from regions.models import Region
from residents.choices import AbilityLevel, AgeBand, AssessmentStandard, Category, PensionType
from residents.models import AbilityAssessment, Elder
from residents.selectors import birth_date_range_for_age_band, elders_in_category


class ElderFilter(django_filters.FilterSet):
    hukou_region = django_filters.CharFilter(
        label=_("户籍地区划代码（含下级）"), method="filter_within"
    )
    residence_region = django_filters.CharFilter(
        label=_("常住地区划代码（含下级）"), method="filter_within"
    )
    category = django_filters.ChoiceFilter(
        label=_("当前类别"), choices=Category.choices, method="filter_category"
    )
    age_band = django_filters.ChoiceFilter(
        label=_("年龄段"), choices=AgeBand.choices, method="filter_age_band"
    )
    pension_type = django_filters.ChoiceFilter(choices=PensionType.choices)
    alive = django_filters.BooleanFilter(label=_("在世"), method="filter_alive")
    name = django_filters.CharFilter(lookup_expr="icontains")
    # No ID number filter: a number in a query string is written to access logs and browser
    # histories. Lookups by ID number go through POST /api/residents/elders/lookup/.

    class Meta:
        model = Elder
        fields = ["sex", "pension_type"]

    def filter_within(self, queryset, name, value):
        """``name`` is the region field; the code's region and everything below it."""
        region = Region.objects.filter(code=value.strip()).first()
        if region is None:
            return queryset.none()
        return queryset.filter(**{f"{name}__path__startswith": region.path})

    def filter_category(self, queryset, name, value):
        return queryset.filter(pk__in=elders_in_category(value, datetime.date.today()).values("pk"))

    def filter_age_band(self, queryset, name, value):
        return queryset.filter(birth_date_range_for_age_band(value, datetime.date.today()))

    def filter_alive(self, queryset, name, value):
        return queryset.filter(death_date__isnull=value)


class KeyFilter(django_filters.NumberFilter):
    """A primary key: a whole number the key column can hold (a decimal or one past a bigint is
    a 400 naming the parameter, not a database error)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class AssessmentFilter(django_filters.FilterSet):
    elder = KeyFilter(field_name="elder_id")
    final_level = django_filters.ChoiceFilter(choices=AbilityLevel.choices)
    standard = django_filters.ChoiceFilter(choices=AssessmentStandard.choices)
    assessed_from = django_filters.DateFilter(field_name="assessed_on", lookup_expr="gte")
    assessed_to = django_filters.DateFilter(field_name="assessed_on", lookup_expr="lte")

    class Meta:
        model = AbilityAssessment
        fields = ["elder", "final_level", "standard"]
