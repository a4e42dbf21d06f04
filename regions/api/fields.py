"""Region codes as API input."""

from django.core.validators import ProhibitNullCharactersValidator
from rest_framework import serializers

from regions.models import Region


class RegionCodeField(serializers.SlugRelatedField):
    """A region named by its code. A code holding a NUL character is refused on the field
    before the lookup: PostgreSQL cannot compare such a string, and the lookup would fail as a
    server error instead of a 400 naming the field (DRF's CharField guards this; a slug field
    does not)."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="code", queryset=Region.objects.all(), **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str):
            ProhibitNullCharactersValidator()(data)
        return super().to_internal_value(data)
