"""What a run pays, as values: the plan of a month and of the arrears months.

A plan is resolved once per run (subsidies.run.planning) and stored on the run
(``AllowanceRun.plan``); ``RunPlan.to_json`` and ``RunPlan.from_json`` are the one place it is
turned into JSON and back. The JSON keeps the keys runs have always stored, so the plan of any
run, old or new, is read alike.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from regions import conditions


@dataclass(frozen=True)
class PlannedScheme:
    """A scheme a rate region pays this month: the amount and the rulebook row that gives it."""

    scheme_id: int
    scheme: str  # its code
    amount: Decimal
    policy_value_id: int
    key: str  # the rulebook key of the amount
    citation: str
    source_region: str  # code of the region whose row gives the amount
    condition: dict  # who is paid, in the condition language (regions/conditions.py)
    # Schemes with no amount here whose elders this one pays meanwhile (their conditions are
    # part of ``condition``).
    stands_in_for: tuple[str, ...] = ()
    # When the amount is a share of the key's amount: the share and its rulebook row.
    share: str = ""
    share_policy_value_id: int | None = None
    # A premium paid to an insurer (Scheme.paid_to): the insurer and the cover that names it.
    insurer_id: int | None = None
    insurer: str = ""
    insurance_cover_id: int | None = None

    def line_inputs(self, rate_region: str) -> dict:
        """The scheme's share of each line's inputs ("why this amount?")."""
        return (
            {
                "scheme": self.scheme,
                # Caregiver schemes have no condition on an elder: their register decides.
                "rule": conditions.describe(self.condition, region_names={})
                if self.condition
                else "",
                "rulebook_key": self.key,
                "policy_value_id": self.policy_value_id,
                "amount": str(self.amount),
                "citation": self.citation,
                "source_region": self.source_region,
                "rate_region": rate_region,
            }
            | ({"stands_in_for": list(self.stands_in_for)} if self.stands_in_for else {})
            | (
                {"share": self.share, "share_policy_value_id": self.share_policy_value_id}
                if self.share
                else {}
            )
            | (
                {
                    "insurer_id": self.insurer_id,
                    "insurer": self.insurer,
                    "insurance_cover_id": self.insurance_cover_id,
                }
                if self.insurer_id is not None
                else {}
            )
        )

    def to_json(self) -> dict:
        return {
            "scheme_id": self.scheme_id,
            "scheme": self.scheme,
            "amount": str(self.amount),
            "policy_value_id": self.policy_value_id,
            "key": self.key,
            "citation": self.citation,
            "source_region": self.source_region,
            "condition": self.condition,
            "stands_in_for": list(self.stands_in_for),
            "share": self.share,
            "share_policy_value_id": self.share_policy_value_id,
            "insurer_id": self.insurer_id,
            "insurer": self.insurer,
            "insurance_cover_id": self.insurance_cover_id,
        }

    @classmethod
    def from_json(cls, data: dict) -> PlannedScheme:
        return cls(
            scheme_id=data["scheme_id"],
            scheme=data["scheme"],
            amount=Decimal(data["amount"]),
            policy_value_id=data["policy_value_id"],
            key=data["key"],
            citation=data["citation"],
            source_region=data["source_region"],
            condition=data["condition"]
            if "condition" in data
            else _stored_conditions(data["conditions"]),
            stands_in_for=tuple(data.get("stands_in_for", ())),
            share=data.get("share", ""),
            share_policy_value_id=data.get("share_policy_value_id"),
            insurer_id=data.get("insurer_id"),
            insurer=data.get("insurer", ""),
            insurance_cover_id=data.get("insurance_cover_id"),
        )


def _stored_conditions(c: dict) -> dict:
    """A plan stored before schemes had conditions (fields per kind of rule), as a condition;
    read only to finish a run planned then."""
    band = [{"age_at_least": c["min_age"]}] if c["min_age"] is not None else []
    band += [{"age_at_most": c["max_age"]}] if c["max_age"] is not None else []
    held = [{"category": c["categories"]}] if c["categories"] else []
    if c["eligibility"] == "age_and_resident_pension":
        return {"all": [*band, {"pension_type": ["resident"]}]}
    if c["eligibility"] == "category":
        return {"all": [*band, *held]}
    if c["eligibility"] == "age_and_category_or_age":
        either = [{"all": [*band, *held]}]
        if c["all_from_age"] is not None:
            either.append({"age_at_least": c["all_from_age"]})
        return {"any": either}
    if c["eligibility"] == "nursing_tier":
        return {"all": [*band, *held, {"ability_level": c["ability_levels"]}]}
    return {"all": band}


@dataclass(frozen=True)
class RateNode:
    """A region with its own rates (or a scheme's jurisdiction) and what it pays. Elders are
    paid by the nearest one above their region of registration."""

    region: str  # code
    path: str
    schemes: tuple[PlannedScheme, ...] = ()
    caregiver_schemes: tuple[PlannedScheme, ...] = ()

    def to_json(self) -> dict:
        return {
            "region": self.region,
            "path": self.path,
            "schemes": [s.to_json() for s in self.schemes],
            "caregiver_schemes": [s.to_json() for s in self.caregiver_schemes],
        }

    @classmethod
    def from_json(cls, data: dict) -> RateNode:
        return cls(
            region=data["region"],
            path=data["path"],
            schemes=tuple(PlannedScheme.from_json(s) for s in data["schemes"]),
            caregiver_schemes=tuple(
                PlannedScheme.from_json(s) for s in data.get("caregiver_schemes", [])
            ),
        )


@dataclass(frozen=True)
class SchemeNotPaid:
    """A scheme a rate region does not pay this month: ``reason`` when the rulebook sets no
    amount (nobody is paid a guessed amount), ``payment_month`` when it is yearly and not due."""

    scheme: str
    region: str
    key: str
    reason: str = ""
    payment_month: int | None = None
    paid_as: str = ""  # the scheme that pays its elders meanwhile (Scheme.until_set_paid_as)

    def to_json(self) -> dict:
        data = {"scheme": self.scheme, "region": self.region, "key": self.key}
        if self.payment_month is not None:
            return {**data, "payment_month": self.payment_month}
        if self.paid_as:
            data["paid_as"] = self.paid_as
        return {**data, "reason": self.reason}

    @classmethod
    def from_json(cls, data: dict) -> SchemeNotPaid:
        return cls(
            scheme=data["scheme"],
            region=data["region"],
            key=data["key"],
            reason=data.get("reason", ""),
            payment_month=data.get("payment_month"),
            paid_as=data.get("paid_as", ""),
        )


@dataclass(frozen=True)
class PeriodPlan:
    """What a run pays for one month, per rate region (deepest first, so that the first node
    whose path prefixes an elder's region is the nearest). An arrears month also says after
    when an elder must have been registered to have been missed by that month's run."""

    period: datetime.date
    nodes: tuple[RateNode, ...] = ()
    skipped: tuple[SchemeNotPaid, ...] = ()
    not_due: tuple[SchemeNotPaid, ...] = ()
    registered_after: datetime.datetime | None = None

    @property
    def payable(self) -> bool:
        return any(node.schemes for node in self.nodes)

    @property
    def caregiver_payable(self) -> bool:
        return any(node.caregiver_schemes for node in self.nodes)

    def reads(self, operator: str) -> bool:
        """Whether a scheme's condition reads this leaf of the condition language."""
        return any(
            operator in conditions.operators_of(s.condition)
            for node in self.nodes
            for s in node.schemes
        )

    @property
    def needs_levels(self) -> bool:
        """Whether a scheme reads the latest assessment (one query more per chunk)."""
        return self.reads("ability_level")

    @property
    def needs_placements(self) -> bool:
        """Whether a scheme reads the county's placement approval (the line then states it)."""
        return self.reads("placed_by_county")

    def node_for(self, path: str) -> RateNode | None:
        return next((node for node in self.nodes if path.startswith(node.path)), None)

    def to_json(self) -> dict:
        data = {
            "period": self.period.isoformat(),
            "nodes": [node.to_json() for node in self.nodes],
            "skipped": [s.to_json() for s in self.skipped],
            "not_due": [s.to_json() for s in self.not_due],
            "payable": self.payable,
            "caregiver_payable": self.caregiver_payable,
        }
        if self.registered_after is not None:
            data["registered_after"] = self.registered_after.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict) -> PeriodPlan:
        after = data.get("registered_after")
        return cls(
            period=datetime.date.fromisoformat(data["period"]),
            nodes=tuple(RateNode.from_json(n) for n in data["nodes"]),
            skipped=tuple(SchemeNotPaid.from_json(s) for s in data.get("skipped", [])),
            not_due=tuple(SchemeNotPaid.from_json(s) for s in data.get("not_due", [])),
            registered_after=None if after is None else datetime.datetime.fromisoformat(after),
        )


@dataclass(frozen=True)
class RunPlan:
    """The plan of a run: its month, and the earlier months it pays as arrears."""

    main: PeriodPlan
    arrears: tuple[PeriodPlan, ...] = field(default=())

    def to_json(self) -> dict:
        return {"main": self.main.to_json(), "arrears": [p.to_json() for p in self.arrears]}

    @classmethod
    def from_json(cls, data: dict) -> RunPlan:
        return cls(
            main=PeriodPlan.from_json(data["main"]),
            arrears=tuple(PeriodPlan.from_json(p) for p in data.get("arrears") or []),
        )


def plan_of(run) -> RunPlan:
    """The plan stored on a planned run."""
    return RunPlan.from_json(run.plan)
