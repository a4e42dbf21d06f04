"""Input and output shapes of the field workers' API. Validation of shapes only: the rules
(who may log what, follow-up tasks) are in visits.services."""

import copy
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext, gettext_lazy
from rest_framework import serializers
from rest_framework.settings import api_settings

from residents.id_numbers import mask_id_number
from residents.models import Elder
from visits.choices import FollowUpStatus, VisitMode, VisitNeed, VisitOutcome
from visits.models import FollowUpTask, HealthCheck, Visit
from visits.selectors import GroupBy
from visits.services import BatchStatus

# Phones report coordinates with many decimals; six (about 0.1 m) is what is stored.
COORDINATE_PLACES = Decimal("0.000001")

# A day's work recorded offline fits easily; a bound keeps one request from running long.
MAX_BATCH = 500


def _coordinate(value):
    if value is None:
        return None
    return Decimal(str(value)).quantize(COORDINATE_PLACES, ROUND_HALF_UP)


class VisitInputSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    # The elder's key only: the service reads the elder once, with what its rules need, and
    # refuses a key that names nobody (on the "elder" field, as a related field would).
    elder = serializers.IntegerField(help_text=gettext_lazy("老年人编号"))
    visited_at = serializers.DateTimeField()
    mode = serializers.ChoiceField(choices=VisitMode.choices)
    outcome = serializers.ChoiceField(choices=VisitOutcome.choices)
    needs = serializers.ListField(
        child=serializers.ChoiceField(choices=VisitNeed.choices), required=False, default=list
    )
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    latitude = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=-90, max_value=90
    )
    longitude = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=-180, max_value=180
    )

    def validate(self, attrs):
        if (attrs["latitude"] is None) != (attrs["longitude"] is None):
            missing = "longitude" if attrs["longitude"] is None else "latitude"
            raise serializers.ValidationError({missing: gettext("经纬度须同时填写或同时留空。")})
        attrs["latitude"] = _coordinate(attrs["latitude"])
        attrs["longitude"] = _coordinate(attrs["longitude"])
        return attrs


class VisitBatchInputSerializer(serializers.Serializer):
    visits = serializers.ListField(
        child=serializers.DictField(), allow_empty=False, max_length=MAX_BATCH
    )


class FieldsBuiltOnce:
    """For a ModelSerializer on a busy path: DRF builds its fields from the model for every
    instance; here they are built once per process and copied for each instance (a field is
    bound to one serializer, so each needs its own copy). The fields depend only on the class."""

    def get_fields(self):
        cls = type(self)
        if "_built_fields" not in cls.__dict__:
            cls._built_fields = super().get_fields()
        return copy.deepcopy(cls._built_fields)


class VisitOutputSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    elder_name = serializers.CharField(source="elder.name", read_only=True)
    worker = serializers.CharField(source="worker.username", read_only=True)

    class Meta:
        model = Visit
        fields = [
            "id",
            "uuid",
            "elder",
            "elder_name",
            "worker",
            "visited_at",
            "mode",
            "outcome",
            "needs",
            "notes",
            "latitude",
            "longitude",
            "received_at",
        ]


# Logging a visit is the field app's busiest request. A serializer instance builds its fields
# (a deep copy of the declared ones) when first used, which costs more than the validation
# itself; these two are built once per process and only read afterwards: validating data and
# representing an instance change nothing in a serializer that has no ``data``/``instance``.
_VISIT_INPUT = VisitInputSerializer()
_VISIT_OUTPUT = VisitOutputSerializer()


def visit_input(data) -> tuple[dict | None, dict | None]:
    """One visit's input checked: ``(validated data, None)`` or ``(None, errors by field)``,
    the same errors as ``VisitInputSerializer(data=data).is_valid()`` gives."""
    try:
        return _VISIT_INPUT.run_validation(data), None
    except serializers.ValidationError as error:
        detail = error.detail
    if isinstance(detail, dict):
        return None, detail
    if len(detail) == 1 and getattr(detail[0], "code", None) == "null":
        detail = [serializers.ErrorDetail("No data provided", code="null")]
    return None, {api_settings.NON_FIELD_ERRORS_KEY: detail}


def visit_output(visit: Visit) -> dict:
    """What ``VisitOutputSerializer(visit).data`` gives."""
    return _VISIT_OUTPUT.to_representation(visit)


class DueElderSerializer(serializers.Serializer):
    elder = serializers.IntegerField(source="elder_id")
    name = serializers.CharField()
    id_number = serializers.SerializerMethodField()
    residence_region = serializers.CharField(source="residence_region.code")
    residence_region_name = serializers.CharField(source="residence_region.name")
    frequency = serializers.CharField()
    groups = serializers.ListField(child=serializers.CharField())
    last_visit = serializers.DateTimeField(allow_null=True)
    due = serializers.BooleanField()
    residence_unknown = serializers.BooleanField(
        help_text=gettext_lazy("未登记常住地：按户籍地列入，请补录常住地")
    )

    def get_id_number(self, row) -> str:
        return mask_id_number(row.id_number)


class FollowUpTaskSerializer(serializers.ModelSerializer):
    elder_name = serializers.CharField(source="elder.name", read_only=True)
    area_name = serializers.CharField(source="area.name", read_only=True)
    visit_uuid = serializers.UUIDField(source="visit.uuid", read_only=True)

    class Meta:
        model = FollowUpTask
        fields = [
            "id",
            "kind",
            "status",
            "elder",
            "elder_name",
            "area",
            "area_name",
            "visit_uuid",
            "opened_at",
            "closed_at",
            "resolution",
        ]


class CloseTaskInputSerializer(serializers.Serializer):
    resolution = serializers.CharField(max_length=500)
    status = serializers.ChoiceField(
        choices=[FollowUpStatus.DONE, FollowUpStatus.CANCELLED], default=FollowUpStatus.DONE
    )


class ConfirmDeathInputSerializer(serializers.Serializer):
    death_date = serializers.DateField()


class HealthCheckInputSerializer(serializers.Serializer):
    elder = serializers.PrimaryKeyRelatedField(queryset=Elder.objects.all())
    checked_on = serializers.DateField()
    provider = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class HealthCheckOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = HealthCheck
        fields = ["id", "elder", "checked_on", "provider", "notes", "created_at"]


# --- shapes the views build by hand (described here for the OpenAPI schema) -------------------


class VisitRecordedSerializer(serializers.Serializer):
    """One visit logged: ``duplicate`` when its UUID was already stored (nothing changed)."""

    status = serializers.ChoiceField(choices=[BatchStatus.ACCEPTED, BatchStatus.DUPLICATE])
    visit = VisitOutputSerializer()


class VisitBatchRequestSerializer(serializers.Serializer):
    """What a client sends. Each item is checked on its own (VisitInputSerializer), so one
    bad item is rejected in the response instead of failing the whole batch."""

    visits = VisitInputSerializer(many=True, allow_empty=False, max_length=MAX_BATCH)


class VisitBatchItemSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=gettext_lazy("在请求 visits 中的位置（从 0 起）"))
    uuid = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(
        choices=[BatchStatus.ACCEPTED, BatchStatus.DUPLICATE, BatchStatus.REJECTED]
    )
    visit = serializers.IntegerField(required=False, help_text=gettext_lazy("已存的探访记录编号"))
    errors = serializers.DictField(required=False, help_text=gettext_lazy("被拒原因，按字段"))


class VisitBatchResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = VisitBatchItemSerializer(many=True)


class TodaySerializer(serializers.Serializer):
    date = serializers.DateField()
    owed = serializers.IntegerField(help_text=gettext_lazy("仍待探访的人数"))
    residence_unknown = serializers.SerializerMethodField(
        help_text=gettext_lazy("未登记常住地、待补录的人数")
    )
    elders = DueElderSerializer(many=True)

    def get_residence_unknown(self, today) -> int:
        return sum(row.residence_unknown for row in today["elders"])


class ComplianceLineSerializer(serializers.Serializer):
    key = serializers.CharField(
        allow_blank=True, help_text=gettext_lazy("区划代码或用户名；空为未归属")
    )
    label = serializers.CharField(allow_blank=True)
    daily_owed = serializers.IntegerField(help_text=gettext_lazy("应访人天"))
    daily_done = serializers.IntegerField()
    monthly_owed = serializers.IntegerField(help_text=gettext_lazy("应访人月"))
    monthly_done = serializers.IntegerField()
    owed = serializers.IntegerField()
    done = serializers.IntegerField()
    rate = serializers.CharField(
        allow_null=True, help_text=gettext_lazy("探访率（小数）；无应访时为空")
    )
    meets_target = serializers.BooleanField(allow_null=True)


class OverdueElderSerializer(serializers.Serializer):
    elder = serializers.IntegerField()
    name = serializers.CharField()
    residence_region = serializers.CharField()
    frequency = serializers.CharField()
    missed = serializers.IntegerField(help_text=gettext_lazy("未探访的天数（每天）或月数（每月）"))
    last_visit = serializers.DateTimeField(allow_null=True)
    residence_unknown = serializers.BooleanField(
        help_text=gettext_lazy("未登记常住地：按户籍地列入，请补录常住地")
    )


class ComplianceSerializer(serializers.Serializer):
    area = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    group_by = serializers.ChoiceField(choices=GroupBy.CHOICES)
    target = serializers.CharField(help_text=gettext_lazy("探访率目标（小数）"))
    target_citation = serializers.CharField(allow_blank=True)
    total = ComplianceLineSerializer()
    lines = ComplianceLineSerializer(many=True)
    overdue = OverdueElderSerializer(many=True)


class HealthCheckDueSerializer(serializers.Serializer):
    elder = serializers.IntegerField()
    name = serializers.CharField()
    residence_region = serializers.CharField()
    last_check = serializers.DateField(allow_null=True)
    done = serializers.BooleanField()
    residence_unknown = serializers.BooleanField(
        help_text=gettext_lazy("未登记常住地：按户籍地列入，请补录常住地")
    )


class HealthChecksDueSerializer(serializers.Serializer):
    area = serializers.CharField()
    year = serializers.IntegerField()
    due = serializers.IntegerField()
    done = serializers.IntegerField()
    elders = HealthCheckDueSerializer(many=True)
