from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import uscc


def normalize_uscc(value: str) -> str:
    return uscc.compact(value or "")


def validate_uscc(value: str) -> None:
    """Unified social credit code 统一社会信用代码 (GB 32100-2015), check character included."""
    if not value:
        return
    try:
        uscc.validate(value)
    except stdnum_exceptions.ValidationError as error:
        raise ValidationError(
            _("统一社会信用代码 %(value)s 无效（GB 32100-2015）：%(why)s")
            % {"value": value, "why": error.message}
        ) from None
