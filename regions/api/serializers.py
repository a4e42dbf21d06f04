from rest_framework import serializers

from regions.api.fields import RegionCodeField
from regions.models import PolicyValue, Region


class RegionSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = Region
        fields = [
            "code",
            "name",
            "level",
            "parent",
            "is_active",
            "valid_from_year",
            "valid_to_year",
        ]


class PolicyValueSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    is_set = serializers.BooleanField(read_only=True)

    class Meta:
        model = PolicyValue
        fields = [
            "id",
            "region",
            "key",
            "value",
            "frequency",
            "unit",
            "is_minimum",
            "is_set",
            "effective_from",
            "effective_to",
            "citation",
            "note",
        ]


class ResolveQuerySerializer(serializers.Serializer):
    key = serializers.CharField()
    region = RegionCodeField()
    date = serializers.DateField()

    def validate_key(self, value):
        from regions.catalog import KEYS

        if value not in KEYS:
            raise serializers.ValidationError(f"unknown policy key {value!r}")
        return value


class ResolvedPolicySerializer(serializers.Serializer):
    key = serializers.CharField()
    region = serializers.CharField()
    date = serializers.DateField()
    is_set = serializers.BooleanField()
    value = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    frequency = serializers.CharField(allow_blank=True)
    source_region = serializers.CharField(allow_null=True)
    citation = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)


class PolicyRevisionSerializer(serializers.Serializer):
    """A change to a rulebook row: what changes, from when, and why (regions.services)."""

    value = serializers.DecimalField(
        max_digits=14, decimal_places=4, required=False, allow_null=True
    )
    frequency = serializers.CharField(required=False, allow_blank=True)
    is_minimum = serializers.BooleanField(required=False)
    effective_to = serializers.DateField(required=False, allow_null=True)
    citation = serializers.CharField(required=False, max_length=200)
    note = serializers.CharField(required=False, allow_blank=True)
    applies_from = serializers.DateField(required=False, allow_null=True)
    reason = serializers.CharField(max_length=200)
    preview = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true: save nothing; answer who the change affects in the next run and the "
        "money difference (keys the allowance run reads)",
    )


class PolicyChangePreviewSerializer(serializers.Serializer):
    period = serializers.DateField()
    region = serializers.CharField(source="region.code")
    payee = serializers.CharField(help_text="Whose lines are compared: elder or caregiver.")
    affected = serializers.IntegerField(help_text="Payees whose lines or amounts differ.")
    elders_affected = serializers.IntegerField()
    caregivers_affected = serializers.IntegerField()
    lines_before = serializers.IntegerField()
    lines_after = serializers.IntegerField()
    amount_before = serializers.DecimalField(max_digits=14, decimal_places=2)
    amount_after = serializers.DecimalField(max_digits=14, decimal_places=2)
    difference = serializers.DecimalField(max_digits=14, decimal_places=2)
    text = serializers.CharField(source="describe")


class PolicyRevisionResultSerializer(serializers.Serializer):
    starts_new_version = serializers.BooleanField(required=False)
    ended = PolicyValueSerializer(allow_null=True, required=False)
    new = PolicyValueSerializer(required=False)
    preview = PolicyChangePreviewSerializer(required=False, allow_null=True)
    # What the saved change set going (the follow-up of the app that reads the key): the job
    # that recomputes the months already paid from the value, when there are any.
    correction_job = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="The correction job recomputing the months already paid (null: none needed).",
    )
    correction_job_url = serializers.URLField(
        required=False,
        allow_null=True,
        help_text="The job's progress and health: /api/subsidies/corrections/{id}/ (null: none).",
    )
