"""Input and output serializers of the facilities API, separate per endpoint."""

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from facilities.choices import BedType
from facilities.models import Application, Bed, Caregiver, Certificate, Facility, Stay
from facilities.selectors import current_rating
from regions.choices import RegionLevel
from regions.models import Region


class FacilitySerializer(serializers.ModelSerializer):
    region_code = serializers.CharField(source="region.code", read_only=True)
    current_rating = serializers.SerializerMethodField()

    class Meta:
        model = Facility
        fields = [
            "id",
            "code",
            "name",
            "kind",
            "ownership",
            "is_for_profit",
            "is_inclusive",
            "is_destitute_support",
            "is_veterans_home",
            "region_code",
            "uscc",
            "licensed_beds",
            "operator",
            "address",
            "is_active",
            "current_rating",
        ]

    def get_current_rating(self, facility) -> dict | None:
        on = self.context.get("on")
        if on is None:
            return None
        current = current_rating(facility, on)
        if current.rating is None:
            return {"status": current.status}
        return {
            "stars": current.rating.stars,
            "rated_on": current.rating.rated_on,
            "valid_until": current.rating.valid_until,
            "status": current.status,
        }


class BedSerializer(serializers.ModelSerializer):
    facility_code = serializers.CharField(source="facility.code", read_only=True)
    # A home-care bed is at the elder's home: it has an address and no room (null).
    room = serializers.StringRelatedField(allow_null=True)
    occupant_name = serializers.CharField(read_only=True, allow_null=True)
    occupant_code = serializers.CharField(read_only=True, allow_null=True)
    occupied_since = serializers.DateField(read_only=True, allow_null=True)

    class Meta:
        model = Bed
        fields = [
            "id",
            "code",
            "label",
            "bed_type",
            "facility_code",
            "room",
            "home_address",
            "is_active",
            "occupant_name",
            "occupant_code",
            "occupied_since",
        ]


class StaySerializer(serializers.ModelSerializer):
    elder_name = serializers.CharField(source="elder.name", read_only=True)
    elder_code = serializers.CharField(source="elder.elder_code", read_only=True)
    bed_code = serializers.CharField(source="bed.code", read_only=True)
    bed_label = serializers.CharField(source="bed.label", read_only=True)
    facility_code = serializers.CharField(source="bed.facility.code", read_only=True)
    placement_approved_by = serializers.CharField(
        source="placement_approved_by.code",
        read_only=True,
        allow_null=True,
        help_text=gettext_lazy(
            "批准纳入机构养老的县级民政部门所在县（市、区）的区划代码；未批准为空"
        ),
    )

    class Meta:
        model = Stay
        fields = [
            "id",
            "elder",
            "elder_name",
            "elder_code",
            "bed",
            "bed_code",
            "bed_label",
            "facility_code",
            "start_date",
            "end_date",
            "end_reason",
            "placement_approved_on",
            "placement_approval_number",
            "placement_approved_by",
        ]


class AdmitSerializer(serializers.Serializer):
    elder = serializers.IntegerField()
    bed = serializers.IntegerField()
    start_date = serializers.DateField()


class DischargeSerializer(serializers.Serializer):
    end_date = serializers.DateField()


class PlacementStaySerializer(serializers.ModelSerializer):
    """A stay as the county's approval of the placement reads it: whose, where, when, and
    the approval; nothing else of the stay (no bed, no history)."""

    elder_name = serializers.CharField(source="elder.name", read_only=True)
    facility_name = serializers.CharField(source="bed.facility.name", read_only=True)
    placement_approved_by = serializers.CharField(
        source="placement_approved_by.code",
        read_only=True,
        allow_null=True,
        help_text=gettext_lazy(
            "批准纳入机构养老的县级民政部门所在县（市、区）的区划代码；未批准为空"
        ),
    )

    class Meta:
        model = Stay
        fields = [
            "id",
            "elder",
            "elder_name",
            "facility_name",
            "start_date",
            "end_date",
            "placement_approved_on",
            "placement_approval_number",
            "placement_approved_by",
        ]
        read_only_fields = fields


@extend_schema_serializer(
    description=gettext_lazy(
        "经县级民政部门批准纳入机构养老：批准后，低保老年人的护理补贴按特困人员护理费标准"
        "计发。approved_on 为空即撤销误录的批准；变更或撤销批准须填写 reason。"
    )
)
class PlacementApprovalSerializer(serializers.Serializer):
    """The county civil-affairs bureau's approval of placing the elder in institutional care
    (经县级民政部门批准纳入机构养老): a 低保 elder's nursing subsidy is then the destitute
    nursing-fee rate. ``approved_on`` null withdraws an approval recorded wrongly; changing or
    withdrawing one needs ``reason``."""

    approved_on = serializers.DateField(allow_null=True)
    approval_number = serializers.CharField(max_length=64, required=False, allow_blank=True)
    approved_by = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Region.objects.filter(level=RegionLevel.COUNTY),
        required=False,
        allow_null=True,
        help_text=gettext_lazy("批准的县级民政部门所在县（市、区）的区划代码"),
    )
    reason = serializers.CharField(max_length=90, required=False, allow_blank=True)


class TransferSerializer(serializers.Serializer):
    to_bed = serializers.IntegerField()
    on = serializers.DateField()


class CorrectStaySerializer(serializers.Serializer):
    """A stay recorded wrongly put right: the values that were wrong (those left out are kept)
    and why. The discharge date only of a stay already closed."""

    reason = serializers.CharField(max_length=90)
    start_date = serializers.DateField(required=False)
    end_date = serializers.DateField(required=False)
    bed = serializers.IntegerField(required=False)


class ApplicationSerializer(serializers.ModelSerializer):
    elder_name = serializers.CharField(source="elder.name", read_only=True)
    facility_code = serializers.CharField(source="facility.code", read_only=True)

    class Meta:
        model = Application
        fields = [
            "id",
            "facility",
            "facility_code",
            "elder",
            "elder_name",
            "applied_on",
            "status",
            "offered_bed",
            "offered_on",
            "stay",
            "closed_on",
            "note",
        ]
        read_only_fields = ["status", "offered_bed", "offered_on", "stay", "closed_on"]


class ApplyInputSerializer(serializers.Serializer):
    facility = serializers.IntegerField()
    elder = serializers.IntegerField()
    applied_on = serializers.DateField()
    note = serializers.CharField(required=False, allow_blank=True, default="")


class OfferSerializer(serializers.Serializer):
    bed = serializers.IntegerField()
    on = serializers.DateField()


class AdmitApplicationSerializer(serializers.Serializer):
    on = serializers.DateField()
    bed = serializers.IntegerField(required=False)


class CertificateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Certificate
        fields = ["id", "kind", "grade", "number", "issued_on", "valid_until"]


class CaregiverSerializer(serializers.ModelSerializer):
    certificates = CertificateSerializer(many=True, read_only=True)
    facilities = serializers.SerializerMethodField()

    class Meta:
        model = Caregiver
        fields = ["id", "name", "certificates", "facilities"]

    def get_facilities(self, caregiver) -> list[dict]:
        return [
            {
                "code": e.facility.code,
                "name": e.facility.name,
                "start_date": e.start_date,
                "end_date": e.end_date,
            }
            for e in caregiver.employments.all()
        ]


# --- output shapes of the reports (the selectors build plain dicts; these describe them) -------


class RegionRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class FacilityRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class CareClassCountsSerializer(serializers.Serializer):
    """Residents per staffing class (docs/policy.md §3)."""

    fully_disabled = serializers.IntegerField(min_value=0)
    partly_disabled = serializers.IntegerField(min_value=0)
    self_caring = serializers.IntegerField(min_value=0)


class StaffingRatioSerializer(serializers.Serializer):
    key = serializers.CharField(help_text=gettext_lazy("规则库键"))
    residents_per_caregiver = serializers.CharField(
        help_text=gettext_lazy("每名护理员照护的老人数，精确分数（如 3 或 5/2）")
    )
    source_region = serializers.CharField(help_text=gettext_lazy("配比所在区划（名称 代码）"))
    citation = serializers.CharField()


class StaffingRatiosSerializer(serializers.Serializer):
    """The jurisdiction's ratio per class; empty while a ratio is not set."""

    fully_disabled = StaffingRatioSerializer(required=False)
    partly_disabled = StaffingRatioSerializer(required=False)
    self_caring = StaffingRatioSerializer(required=False)


class UnassessedResidentSerializer(serializers.Serializer):
    elder_code = serializers.CharField()
    name = serializers.CharField()


class StaffingReportSerializer(serializers.Serializer):
    """A facility's staffing check: required caregivers from the residents' assessments
    against those employed. ``required`` is null while a ratio is not set (``error`` says why)."""

    facility = FacilityRefSerializer()
    on = serializers.DateField()
    counts = CareClassCountsSerializer()
    unassessed = UnassessedResidentSerializer(many=True)
    ratios = StaffingRatiosSerializer()
    required = serializers.IntegerField(allow_null=True)
    actual = serializers.IntegerField()
    shortfall = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_blank=True)


class StaffingPlanSerializer(serializers.Serializer):
    """The planning form: caregivers required for the given residents per class."""

    region = RegionRefSerializer()
    on = serializers.DateField()
    counts = CareClassCountsSerializer()
    ratios = StaffingRatiosSerializer()
    required = serializers.IntegerField()


class ShortStaffedSerializer(serializers.Serializer):
    region = serializers.CharField(help_text=gettext_lazy("区划代码"))
    short_staffed = StaffingReportSerializer(many=True)


class WorkforceFigureSerializer(serializers.Serializer):
    label = serializers.CharField()
    actual = serializers.CharField(
        allow_null=True, help_text=gettext_lazy("四位小数；无分母时为空")
    )
    target = serializers.CharField(
        allow_null=True, help_text=gettext_lazy("目标值；规则库未设定时为空")
    )
    target_source = serializers.CharField(allow_null=True)
    target_note = serializers.CharField(
        allow_blank=True, help_text=gettext_lazy("目标未设定的原因")
    )
    met = serializers.BooleanField(allow_null=True)


class WorkforceFiguresSerializer(serializers.Serializer):
    target_caregivers_per_10k = WorkforceFigureSerializer()
    target_senior_caregiver_share = WorkforceFigureSerializer()
    target_first_aid_share = WorkforceFigureSerializer()
    target_nursing_bed_share = WorkforceFigureSerializer()
    target_cognitive_beds_per_10k = WorkforceFigureSerializer()


class WorkforceSerializer(serializers.Serializer):
    region = RegionRefSerializer()
    on = serializers.DateField()
    elders_60_plus = serializers.IntegerField()
    certified_caregivers = serializers.IntegerField()
    senior_or_above = serializers.IntegerField()
    with_first_aid = serializers.IntegerField()
    beds = serializers.IntegerField()
    beds_by_type = serializers.DictField(
        child=serializers.IntegerField(), help_text=gettext_lazy("按床位类型（不含家庭养老床位）")
    )
    figures = WorkforceFiguresSerializer()


class WaitingListEntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    precedence = serializers.IntegerField()
    rule = serializers.CharField()
    explanation = serializers.CharField()
    application = ApplicationSerializer()


class LookupElderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    elder_code = serializers.CharField()


class LookupFacilitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


class LookupBedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    bed_type = serializers.ChoiceField(choices=BedType.choices)


class LookupStayBedSerializer(LookupBedSerializer):
    code = serializers.CharField()
    room = serializers.CharField(allow_null=True)
    home_address = serializers.CharField(allow_null=True)


class LookupStaySerializer(serializers.Serializer):
    stay_id = serializers.IntegerField()
    start_date = serializers.DateField()
    elder = LookupElderSerializer()
    bed = LookupStayBedSerializer()
    facility = LookupFacilitySerializer()


class ElderLookupSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="elder")
    code = serializers.CharField()
    elder = LookupElderSerializer()
    stay = LookupStaySerializer(allow_null=True, help_text=gettext_lazy("当前入住；未入住为空"))


class BedLookupSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="bed")
    code = serializers.CharField()
    bed = LookupBedSerializer()
    facility = LookupFacilitySerializer()
    stay = LookupStaySerializer(allow_null=True, help_text=gettext_lazy("当前入住；空床为空"))
