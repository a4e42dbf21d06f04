"""Where the facilities app's data lives, for accounts.scoping: a facility belongs to its
region (bureaus see their area) and to its staff (institution staff see their facility)."""

from accounts.scoping import register_facility_getter, register_scope


def facility_ids_of(user):
    from facilities.models import StaffMember

    return StaffMember.objects.filter(user=user).values_list("facility_id", flat=True)


def register_facility_scopes() -> None:
    from facilities import models as m

    register_facility_getter(facility_ids_of)
    register_scope(m.Facility, regions=("region__path",), facility="pk")
    register_scope(m.ChainContract, regions=("county__path",))
    for model in (m.Rating, m.Building, m.Bed, m.Application, m.Employment, m.StaffMember):
        register_scope(model, regions=("facility__region__path",), facility="facility")
    register_scope(
        m.Floor, regions=("building__facility__region__path",), facility="building__facility"
    )
    register_scope(
        m.Room,
        regions=("floor__building__facility__region__path",),
        facility="floor__building__facility",
    )
    register_scope(m.Stay, regions=("bed__facility__region__path",), facility="bed__facility")
    # A caregiver is seen by the areas and facilities that employ (or employed) them.
    register_scope(
        m.Caregiver,
        regions=("employments__facility__region__path",),
        facility="employments__facility",
    )
    register_scope(
        m.Certificate,
        regions=("caregiver__employments__facility__region__path",),
        facility="caregiver__employments__facility",
    )
