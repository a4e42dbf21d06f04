from django import template

from accounts.masking import mask_text

register = template.Library()


@register.filter
def mask_personal(value):
    """ID numbers and mobile numbers in a text masked (a record's history, before → after)."""
    return mask_text(str(value))
