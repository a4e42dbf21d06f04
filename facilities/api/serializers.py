"""Input and output serializers of the facilities API, separate per endpoint."""

from rest_framework import serializers

from facilities.models import Application, Bed, Caregiver, Certificate, Facility, Stay
from facilities.selectors import current_rating


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
    room = serializers.StringRelatedField()
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
        ]


class AdmitSerializer(serializers.Serializer):
    elder = serializers.IntegerField()
    bed = serializers.IntegerField()
    start_date = serializers.DateField()


class DischargeSerializer(serializers.Serializer):
    end_date = serializers.DateField()


class TransferSerializer(serializers.Serializer):
    to_bed = serializers.IntegerField()
    on = serializers.DateField()


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
