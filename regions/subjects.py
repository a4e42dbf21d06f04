"""The catalogue of rule subjects: what each kind of EligibilityRule decides, which facts its
conditions may read, and what else a row of it must give. Like the key catalogue
(regions/catalog.py) it names things so that code and data agree; the rules themselves are data
(regions/data/eligibility.toml, edited in the admin after the first load)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from regions import conditions
from regions.catalog import KEYS
from regions.choices import RuleSubject

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def _frequency_key(value) -> None:
    if value not in KEYS:
        raise ValueError(_("未知的政策参数“%(key)s”。") % {"key": value})
    if not KEYS[value].is_frequency:
        raise ValueError(_("参数“%(label)s”不是频次。") % {"label": KEYS[value].label})


@dataclass(frozen=True)
class Subject:
    subject: RuleSubject
    label_en: str
    used_by: str
    # Leaf operators its conditions may use (None: all of them).
    leaves: frozenset[str] | None = None
    # Parameters every row must give, each with a check that raises ValueError in Chinese.
    params: dict[str, Callable[[object], None]] = field(default_factory=dict)
    # Rows carry a rank: the readers take the first rule, in rank order, that holds.
    ranked: bool = False
    # The codes a row may have, when the reader knows them all (None: any code).
    codes: frozenset[str] | None = None

    @property
    def label(self) -> str:
        return str(self.subject.label)


SUBJECTS: dict[str, Subject] = {
    s.subject.value: s
    for s in [
        Subject(
            RuleSubject.VISIT_LIST,
            "Who is visited, and how often",
            "visits: schedules, today's lists, compliance",
            params={"frequency_key": _frequency_key},
        ),
        Subject(
            RuleSubject.WAITING_LIST_PRECEDENCE,
            "Waiting-list precedence of public institutions",
            "facilities: waiting lists",
            ranked=True,
        ),
        Subject(
            RuleSubject.CARE_CLASS,
            "Which assessment level is which staffing class",
            "facilities and dashboards: staffing checks",
            leaves=frozenset({"ability_level"}),
            ranked=True,
            # facilities.choices.CareClass: the classes the rulebook gives ratios for.
            codes=frozenset({"fully_disabled", "partly_disabled", "self_caring"}),
        ),
    ]
}


def validate_rule(*, subject: str, code: str, condition, params, rank) -> None:
    """Every rule of the subject's catalogue entry; ValidationError keyed by the field."""
    spec = SUBJECTS.get(subject)
    if spec is None:
        raise ValidationError(
            {"subject": _("未知的规则类别“%(subject)s”。") % {"subject": subject}}
        )
    if not isinstance(code, str) or not _CODE.match(code):
        raise ValidationError(
            {"code": _("代码应为小写英文字母、数字和下划线，而不是“%(code)s”。") % {"code": code}}
        )
    if spec.codes is not None and code not in spec.codes:
        raise ValidationError(
            {
                "code": _("%(subject)s的代码应为 %(codes)s 之一，而不是“%(code)s”。")
                % {"subject": spec.label, "codes": "、".join(sorted(spec.codes)), "code": code}
            }
        )
    try:
        conditions.validate(condition, leaves=spec.leaves)
    except ValidationError as error:
        raise ValidationError({"condition": error.messages}) from None
    if spec.ranked and rank is None:
        raise ValidationError({"rank": _("%(subject)s须填写顺位。") % {"subject": spec.label}})
    if not isinstance(params, dict):
        raise ValidationError({"params": _("参数应为键值表。")})
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        raise ValidationError(
            {
                "params": _("%(subject)s没有参数 %(names)s。")
                % {"subject": spec.label, "names": "、".join(unknown)}
            }
        )
    for name, check in spec.params.items():
        if name not in params:
            raise ValidationError(
                {
                    "params": _("%(subject)s须给出参数 %(name)s。")
                    % {"subject": spec.label, "name": name}
                }
            )
        try:
            check(params[name])
        except ValueError as error:
            raise ValidationError({"params": f"{name}：{error}"}) from None
