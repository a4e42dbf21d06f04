"""Reading the audit trail: each entry's object named as a person reads it (its kind and its
name, with a link to its page), the acting user by name, times in local time, and the rows of
the trail's export. Entries hold the object as ``app_label.model`` and a primary key; the
objects of a page of entries are read in one query per kind."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.apps import apps
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.masking import mask_text
from accounts.models import AuditEntry

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def kind_label(object_type: str) -> str:
    """``residents.elder`` → 老年人 (the model's name); a type that is no model stays as it is."""
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return object_type
    return str(model._meta.verbose_name)


def user_label(user) -> str:
    if user is None:
        return _("系统")
    full = user.get_full_name()
    return f"{full}（{user.get_username()}）" if full else user.get_username()


def command_label(command: str) -> str:
    return _("系统（命令 %(command)s）") % {"command": command}


def actor_label(entry: AuditEntry) -> str:
    """Who made the act: the user, or the system and the command it ran (``load_policies``)."""
    if entry.user_id is None and entry.command:
        return command_label(entry.command)
    return user_label(entry.user)


def local_time(moment) -> str:
    return timezone.localtime(moment).strftime(TIME_FORMAT) if moment else ""


def attach_objects(entries: Iterable[AuditEntry]) -> None:
    """Give each entry ``described`` (what the entry is about, as a person reads it) and
    ``admin_url`` (its page, if it has one): one query per kind of object on the page."""
    entries = list(entries)
    wanted: dict[str, set[str]] = defaultdict(set)
    for entry in entries:
        if entry.object_id:
            wanted[entry.object_type].add(entry.object_id)
    found: dict[tuple[str, str], object] = {}
    for object_type, ids in wanted.items():
        try:
            model = apps.get_model(object_type)
        except (LookupError, ValueError):
            continue
        field = model._meta.pk
        keys = []
        for raw in ids:
            try:
                keys.append(field.to_python(raw))
            except Exception:  # an id that is no key of the model: shown as recorded
                continue
        for pk, obj in model._default_manager.in_bulk(keys).items():
            found[(object_type, str(pk))] = obj
    for entry in entries:
        obj = found.get((entry.object_type, entry.object_id))
        kind = kind_label(entry.object_type)
        if obj is None:
            entry.described = f"{kind} #{entry.object_id}" if entry.object_id else kind
            entry.admin_url = ""
            continue
        # Names only: a record's text never brings a whole ID number or phone into the trail.
        entry.described = f"{kind}：{mask_text(str(obj))}"
        try:
            entry.admin_url = reverse(
                f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk]
            )
        except NoReverseMatch:
            entry.admin_url = ""


def details_text(entry: AuditEntry) -> str:
    """The entry's details as one line (``key: value; …``), personal data masked."""
    details = entry.details or {}
    return mask_text("；".join(f"{key}: {value}" for key, value in details.items()))


EXPORT_HEADER = [
    gettext_lazy("时间（北京时间）"),
    gettext_lazy("用户"),
    gettext_lazy("操作"),
    gettext_lazy("对象"),
    gettext_lazy("对象类型"),
    gettext_lazy("对象编号"),
    gettext_lazy("事由"),
    gettext_lazy("详情"),
]


def export_rows(entries: Iterable[AuditEntry]):
    """The header, then one row per entry (cells go through ``safe_cell`` when written)."""
    yield [str(h) for h in EXPORT_HEADER]
    batch: list[AuditEntry] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) == 500:
            yield from _rows(batch)
            batch = []
    yield from _rows(batch)


def _rows(batch: list[AuditEntry]):
    attach_objects(batch)
    for entry in batch:
        yield [
            local_time(entry.at),
            actor_label(entry),
            entry.get_action_display(),
            entry.described,
            entry.object_type,
            entry.object_id,
            entry.reason,
            details_text(entry),
        ]
