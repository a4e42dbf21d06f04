"""Where the facilities app's data lives, for accounts.scoping: a facility belongs to its
region (bureaus and street offices see their area) and to its staff (institution staff, through
RoleAssignment.facility, see their facility).

accounts/rules.py is the project's one table of who reaches what: a rule it gives for one of
these models wins; these fill in the models it does not (yet) name.
"""

from accounts import scoping


def _register(model, **rule) -> None:
    if model in scoping._RULES:  # accounts/rules.py already decided
        return
    scoping.register_scope(model, **rule)


def register_facility_scopes() -> None:
    from facilities import models as m

    _register(m.Facility, regions=("region__path",), facility="pk")
    _register(m.ChainContract, regions=("county__path",))
    for model in (m.Rating, m.Building, m.Bed, m.Application, m.Employment):
        _register(model, regions=("facility__region__path",), facility="facility")
    _register(m.Floor, regions=("building__facility__region__path",), facility="building__facility")
    _register(
        m.Room,
        regions=("floor__building__facility__region__path",),
        facility="floor__building__facility",
    )
    _register(m.Stay, regions=("bed__facility__region__path",), facility="bed__facility")
    # A caregiver is seen by the areas and facilities that employ (or employed) them.
    _register(
        m.Caregiver,
        regions=("employments__facility__region__path",),
        facility="employments__facility",
    )
    _register(
        m.Certificate,
        regions=("caregiver__employments__facility__region__path",),
        facility="caregiver__employments__facility",
    )
