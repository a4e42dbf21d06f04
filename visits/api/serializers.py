"""Input and output shapes of the field workers' API. Validation of shapes only: the rules
(who may log what, follow-up tasks) are in visits.services."""

from decimal import ROUND_HALF_UP, Decimal

from rest_framework import serializers

from residents.id_numbers import mask_id_number
from residents.models import Elder
from visits.choices import FollowUpStatus, VisitMode, VisitNeed, VisitOutcome
from visits.models import FollowUpTask, HealthCheck, Visit

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
    elder = serializers.PrimaryKeyRelatedField(queryset=Elder.objects.all())
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
            raise serializers.ValidationError({missing: "经纬度须同时填写或同时留空。"})
        attrs["latitude"] = _coordinate(attrs["latitude"])
        attrs["longitude"] = _coordinate(attrs["longitude"])
        return attrs


class VisitBatchInputSerializer(serializers.Serializer):
    visits = serializers.ListField(
        child=serializers.DictField(), allow_empty=False, max_length=MAX_BATCH
    )


class VisitOutputSerializer(serializers.ModelSerializer):
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
