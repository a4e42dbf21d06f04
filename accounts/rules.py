"""Where each model's data lives, for scoping (accounts.scoping). One table for the project:
reviewers see in one place what every role can reach."""

from accounts.scoping import register_scope


def register_all() -> None:
    from regions.models import PolicyValue, Region

    # Reference data: the tree and the rulebook are public documents; everyone signed in may
    # read them (writes are limited by model permissions).
    register_scope(Region, regions=("path",), public=True)
    register_scope(PolicyValue, regions=("region__path",), public=True)

    from residents.models import Elder, ElderCategory

    # An elder belongs to the area of their household registration (allowances) and to the
    # area where they live (visits): both offices need them.
    register_scope(Elder, regions=("hukou_region__path", "residence_region__path"))
    register_scope(
        ElderCategory, regions=("elder__hukou_region__path", "elder__residence_region__path")
    )
