"""Amounts as people read them: yuan with thousands separators and two decimals."""

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


def yuan(value) -> str:
    """1234567.5 → "1,234,567.50"; an empty value stays empty."""
    if value is None or value == "":
        return ""
    try:
        return f"{Decimal(value):,.2f}"
    except (InvalidOperation, TypeError, ValueError):
        return str(value)


register.filter("yuan", yuan)
