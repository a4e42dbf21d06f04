"""Input and output serializers of the residents API. Writes go through residents.services."""

import datetime

from django.utils.translation import gettext_lazy
from rest_framework import serializers

from accounts.masking import mask_phone
from regions.api.fields import RegionCodeField
from residents.assessment_rules import ITEMS
from residents.choices import AbilityLevel, DisabilityCategory, DisabilityGrade, PensionType
from residents.id_numbers import mask_id_number
from residents.models import AbilityAssessment, Elder
from residents.selectors import age_on


class ElderListSerializer(serializers.ModelSerializer):
    """Lists show the masked ID number (330106********123X) and the age, never the birth date:
    the masked digits are the birth date, so showing it would undo the mask. The detail shows
    the number and the birth date in full to the roles that may see them."""

    id_number = serializers.SerializerMethodField()
    hukou_region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    residence_region = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    age = serializers.SerializerMethodField()

    class Meta:
        model = Elder
        fields = [
            "id",
            "elder_code",
            "name",
            "id_number",
            "sex",
            "age",
            "hukou_region",
            "residence_region",
            "pension_type",
            "disability_category",
            "disability_grade",
            "death_date",
        ]

    def get_id_number(self, elder) -> str:
        return mask_id_number(elder.id_number)

    def get_age(self, elder) -> int:
        """Completed years, today or at death."""
        return age_on(elder.birth_date, elder.death_date or datetime.date.today())


class ElderCategoryOutSerializer(serializers.Serializer):
    category = serializers.CharField()
    category_label = serializers.CharField(source="get_category_display")
    start_date = serializers.DateField()
    end_date = serializers.DateField(allow_null=True)


class ElderDetailSerializer(ElderListSerializer):
    """The full ID number, birth date and phone only with ``context["full_personal_data"]`` (the
    view decides by role and records the look); otherwise masked as in lists, and no birth date
    (null), which would give the masked digits."""

    id_number = serializers.SerializerMethodField()
    birth_date = serializers.SerializerMethodField()
    phone = serializers.SerializerMethodField()
    categories = ElderCategoryOutSerializer(many=True)

    class Meta(ElderListSerializer.Meta):
        fields = [*ElderListSerializer.Meta.fields, "birth_date", "phone", "categories"]

    def _full(self) -> bool:
        return bool(self.context.get("full_personal_data"))

    def get_id_number(self, elder) -> str:
        return elder.id_number if self._full() else mask_id_number(elder.id_number)

    def get_birth_date(self, elder) -> datetime.date | None:
        return elder.birth_date if self._full() else None

    def get_phone(self, elder) -> str:
        return elder.phone if self._full() else mask_phone(elder.phone) if elder.phone else ""


class ElderCreateSerializer(serializers.Serializer):
    id_number = serializers.CharField(max_length=30)
    name = serializers.CharField(max_length=50)
    hukou_region = RegionCodeField()
    residence_region = RegionCodeField(required=False, allow_null=True)
    phone = serializers.CharField(required=False, allow_blank=True, default="")
    pension_type = serializers.ChoiceField(choices=PensionType.choices, default=PensionType.NONE)
    # The disability certificate (残疾人证): both or neither.
    disability_category = serializers.ChoiceField(
        choices=DisabilityCategory.choices, required=False, allow_blank=True, default=""
    )
    disability_grade = serializers.ChoiceField(
        choices=DisabilityGrade.choices, required=False, allow_null=True, default=None
    )


class ElderLookupInputSerializer(serializers.Serializer):
    """A whole ID number, sent in the body so that it stays out of URLs and access logs."""

    id_number = serializers.CharField(
        max_length=30, help_text=gettext_lazy("完整身份证号（18 位）")
    )
    reason = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text=gettext_lazy("查询事由（记入审计日志）"),
    )


class ElderLookupResultSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    results = ElderListSerializer(many=True)


class RecordDeathSerializer(serializers.Serializer):
    death_date = serializers.DateField()


class AssessmentOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = AbilityAssessment
        fields = [
            "id",
            "elder",
            "standard",
            "assessed_on",
            "assessor",
            "assessment_agency",
            *[item.field for item in ITEMS],
            "self_care_score",
            "mobility_score",
            "mental_state_score",
            "perception_social_score",
            "total_score",
            "in_coma",
            "has_dementia_or_psychiatric_diagnosis",
            "care_risk_events_30_days",
            "computed_level",
            "final_level",
            "change_reason",
            "legacy_scores",
            "created_at",
        ]


class AssessmentCreateSerializer(serializers.Serializer):
    """A GB/T 42195-2022 assessment: the 26 item scores; levels are computed by the service."""

    elder = serializers.PrimaryKeyRelatedField(queryset=Elder.objects.all())
    assessed_on = serializers.DateField()
    assessor = serializers.CharField(max_length=100)
    assessment_agency = serializers.CharField(max_length=200, required=False, default="")
    in_coma = serializers.BooleanField(default=False)
    has_dementia_or_psychiatric_diagnosis = serializers.BooleanField(default=False)
    care_risk_events_30_days = serializers.IntegerField(min_value=0, default=0)
    final_level = serializers.ChoiceField(
        choices=AbilityLevel.choices, required=False, allow_null=True, default=None
    )
    change_reason = serializers.CharField(
        max_length=400, required=False, allow_blank=True, default=""
    )

    def get_fields(self):
        fields = super().get_fields()
        for item in ITEMS:
            fields[item.field] = serializers.IntegerField(
                min_value=0, max_value=item.max_score, label=item.label
            )
        return fields


class AssessmentDueSerializer(serializers.Serializer):
    elder_id = serializers.IntegerField()
    due_on = serializers.DateField(
        source="shown_due_on",
        allow_null=True,
        help_text=gettext_lazy(
            "应评估日期；到期日是生日（从未评估者满 60 周岁、满门槛年龄）时为空，以免透露出生日期"
        ),
    )
    last_assessed_on = serializers.DateField(allow_null=True)
