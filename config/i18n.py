"""Translation helpers the project needs beyond Django's."""

from __future__ import annotations

from django.utils.functional import lazy


def _interpolate(message, values) -> str:
    return str(message) % values


_lazy_interpolate = lazy(_interpolate, str)


def interpolate_lazy(message, values: dict):
    """``message % values``, computed when the text is read, not when it is built.

    Texts made at import time (the API documentation's descriptions) are marked with
    ``gettext_lazy``; formatting one with ``%`` at once would fix it in the language active
    then. This keeps it following the active language, like ``format_lazy`` for ``%(name)s``
    placeholders."""
    return _lazy_interpolate(message, values)
