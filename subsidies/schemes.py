"""The schemes the system pays: loaded from subsidies/data/schemes.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from regions.models import Region
from subsidies.models import Scheme

SCHEMES_FILE = Path(__file__).resolve().parent / "data" / "schemes.toml"
SCHEME_FIELDS = (
    "label",
    "policy_key",
    "period_kind",
    "payee",
    "condition",
    "until_set_paid_as",
    "amount_share_key",
    "citation",
    "channel",
)


@transaction.atomic
def load_schemes(path: Path = SCHEMES_FILE) -> dict[str, int]:
    """Upsert the scheme definitions of the data file (idempotent)."""
    with open(path, "rb") as handle:
        entries = tomllib.load(handle).get("scheme", [])
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for index, entry in enumerate(entries, start=1):
        try:
            jurisdiction = Region.objects.get(code=entry["jurisdiction"])
        except Region.DoesNotExist:
            raise ValidationError(
                f"scheme entry {index} (jurisdiction): no region {entry['jurisdiction']}"
            )
        values = {field: entry.get(field) for field in SCHEME_FIELDS}
        values["condition"] = values["condition"] or {}
        values["until_set_paid_as"] = values["until_set_paid_as"] or []
        values["amount_share_key"] = values["amount_share_key"] or ""
        values["channel"] = values["channel"] or ""
        values["jurisdiction"] = jurisdiction
        scheme = Scheme.objects.filter(code=entry["code"]).first()
        if scheme is None:
            scheme = Scheme(code=entry["code"], **values)
            status = "created"
        elif any(getattr(scheme, f) != v for f, v in values.items()):
            for field, value in values.items():
                setattr(scheme, field, value)
            status = "updated"
        else:
            counts["unchanged"] += 1
            continue
        scheme.full_clean()
        scheme.save()
        counts[status] += 1
    return counts


def active_schemes() -> list[Scheme]:
    """The schemes in use, loaded from the data file the first time (a fresh database)."""
    if not Scheme.objects.exists():
        load_schemes()
    return list(Scheme.objects.filter(is_active=True).select_related("jurisdiction"))


def scheme_by_code(code: str) -> Scheme:
    scheme = Scheme.objects.filter(code=code).first()
    if scheme is None:
        load_schemes()
        scheme = Scheme.objects.get(code=code)
    return scheme
