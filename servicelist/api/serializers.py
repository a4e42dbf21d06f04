"""Shapes of the service list's API; the rules are in servicelist.services and .coverage."""

from django.utils.translation import gettext_lazy
from rest_framework import serializers

from residents.id_numbers import mask_id_number
from servicelist.choices import SatisfactionScore
from servicelist.models import SatisfactionSurvey, ServiceDelivery, ServiceItem


class ServiceItemSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    standard = serializers.SerializerMethodField()

    class Meta:
        model = ServiceItem
        fields = [
            "id",
            "code",
            "region",
            "number",
            "name",
            "name_en",
            "target_group",
            "content",
            "kind",
            "reached_through",
            "condition",
            "standard_key",
            "standard",
            "schemes",
            "department",
            "legal_basis",
            "citation",
            "is_addition",
            "corresponds_to",
            "effective_from",
            "effective_to",
            "note",
        ]

    def get_standard(self, item) -> str:
        return item.standard_key or "not set"


class ListedItemSerializer(serializers.Serializer):
    item = ServiceItemSerializer()
    inherited = serializers.BooleanField()
    raises = serializers.CharField(source="raises.code", allow_null=True, default=None)


class RegionListQuerySerializer(serializers.Serializer):
    region = serializers.CharField(help_text=gettext_lazy("区划代码"))
    date = serializers.DateField(required=False, help_text=gettext_lazy("日期（默认今天）"))


class DeliveryInputSerializer(serializers.Serializer):
    item = serializers.CharField(help_text=gettext_lazy("服务项目代码，如 330106:10"))
    id_number = serializers.CharField(
        help_text=gettext_lazy("老年人身份证号（仅在请求体中，不入地址）")
    )
    date = serializers.DateField()
    provider = serializers.CharField(help_text=gettext_lazy("机构代码或服务提供方名称"))
    quantity = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    evidence = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    end_date = serializers.DateField(
        required=False,
        allow_null=True,
        help_text=gettext_lazy("喘息服务的结束日期（开始日期为 date）"),
    )


class ElderRecordSerializer(serializers.ModelSerializer):
    """What a delivery and a survey answer show alike: the item by its code, the elder by name
    with the ID number masked (personal data: never whole in a list), the provider's code."""

    item = serializers.CharField(source="item.code", read_only=True, allow_null=True, default=None)
    elder_name = serializers.CharField(source="elder.name", read_only=True)
    id_number = serializers.SerializerMethodField()
    provider_facility = serializers.SlugRelatedField(slug_field="code", read_only=True)

    FIELDS = ["id", "item", "elder", "elder_name", "id_number"]

    def get_id_number(self, record) -> str:
        return mask_id_number(record.elder.id_number)


class DeliverySerializer(ElderRecordSerializer):
    class Meta:
        model = ServiceDelivery
        fields = [
            *ElderRecordSerializer.FIELDS,
            "delivered_on",
            "provider_facility",
            "provider_name",
            "quantity",
            "amount",
            "evidence",
            "source",
            "created_at",
        ]


class DeliveryRecordedSerializer(serializers.Serializer):
    delivery = DeliverySerializer()
    created = serializers.BooleanField()
    updated = serializers.BooleanField()


class CoverageQuerySerializer(serializers.Serializer):
    region = serializers.CharField(help_text=gettext_lazy("区划代码"))
    period = serializers.CharField(help_text=gettext_lazy("YYYY-MM 或 YYYY"))
    not_reached = serializers.BooleanField(required=False, default=False)


class NotReachedSerializer(serializers.Serializer):
    id_number = serializers.CharField()
    name = serializers.CharField()
    residence_region = serializers.CharField()
    reason = serializers.CharField()


class CoverageRowSerializer(serializers.Serializer):
    item = serializers.CharField(source="item.code")
    name = serializers.CharField(source="item.name")
    kind = serializers.CharField(source="item.kind")
    entitled = serializers.IntegerField(allow_null=True)
    reached = serializers.IntegerField(allow_null=True)
    rate = serializers.CharField(source="rate_text")
    note = serializers.CharField()
    not_reached = NotReachedSerializer(many=True)


class ElderItemsQuerySerializer(serializers.Serializer):
    elder = serializers.IntegerField(help_text=gettext_lazy("老年人编号"))
    period = serializers.CharField(help_text=gettext_lazy("YYYY-MM 或 YYYY"))


class ElderItemSerializer(serializers.Serializer):
    item = serializers.CharField(source="item.code")
    name = serializers.CharField(source="item.name")
    kind = serializers.CharField(source="item.kind")
    entitled = serializers.BooleanField(allow_null=True)
    received = serializers.BooleanField(allow_null=True)
    missing = serializers.BooleanField()


class SurveyInputSerializer(serializers.Serializer):
    item = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=gettext_lazy("服务项目代码，如 330106:10"),
    )
    provider = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=gettext_lazy("机构代码或服务提供方名称"),
    )
    id_number = serializers.CharField(
        help_text=gettext_lazy("受访老年人身份证号（仅在请求体中，不入地址）")
    )
    date = serializers.DateField(help_text=gettext_lazy("测评日期"))
    score = serializers.ChoiceField(
        choices=SatisfactionScore.choices, help_text=gettext_lazy("1 很不满意 … 5 很满意")
    )
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class SurveySerializer(ElderRecordSerializer):
    class Meta:
        model = SatisfactionSurvey
        fields = [
            *ElderRecordSerializer.FIELDS,
            "surveyed_on",
            "provider_facility",
            "provider_name",
            "score",
            "comment",
            "source",
            "created_at",
        ]


class SurveyRecordedSerializer(serializers.Serializer):
    survey = SurveySerializer()
    created = serializers.BooleanField()
    updated = serializers.BooleanField()
