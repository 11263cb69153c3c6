"""Typed violations: what rules an option or a plan out, with the resource, the value and the
limit, so explanations format them and parse nothing."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from planner.model.ids import ResourceId

#: What can rule an option out, root causes first: an overloaded device also misses its SLO,
#: but capacity is why. Explanations name the first kind that applies.
Kind = Literal["privacy", "accuracy", "estimate", "memory", "availability", "deadline", "unstable", "engine", "capacity", "bandwidth", "slo", "budget"]
ROOT_CAUSE_ORDER: tuple[str, ...] = ("privacy", "accuracy", "estimate", "memory", "availability", "deadline", "unstable", "engine", "capacity",
                                     "bandwidth", "slo", "budget")
#: How each kind is named when it binds.
LABEL = {"privacy": "privacy", "accuracy": "accuracy", "estimate": "no estimate", "memory": "memory", "availability": "availability",
         "deadline": "deadline",
         "unstable": "capacity", "engine": "device sharing", "capacity": "capacity", "bandwidth": "bandwidth",
         "slo": "latency SLO", "budget": "budget"}


@dataclass(frozen=True)
class Violation:
    """One broken rule: its `kind`, the `resource` it concerns (if any), the `value` found and
    the `limit`, and the sentence a user reads (`text`)."""

    kind: Kind
    text: str
    resource: ResourceId | None = None
    value: float | None = None
    limit: float | None = None

    @property
    def label(self) -> str:
        return LABEL[self.kind]

    def __str__(self) -> str:
        return self.text


def root_cause(violations: list[Violation]) -> Violation | None:
    """The violation that explains the others (see ROOT_CAUSE_ORDER)."""
    return min(violations, key=lambda v: ROOT_CAUSE_ORDER.index(v.kind), default=None)


def join(violations: list[Violation]) -> str:
    """One sentence of each kind, root causes first."""
    by_kind: dict[str, Violation] = {}
    for v in sorted(violations, key=lambda v: ROOT_CAUSE_ORDER.index(v.kind)):
        by_kind.setdefault(v.kind, v)
    return "; ".join(v.text for v in by_kind.values())
