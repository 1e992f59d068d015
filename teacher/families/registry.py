"""The family registry: a :class:`FamilySpec` per family, filled by the ``@family`` decorator.

A family is a template file (``templates/families/<name>.sql.j2``) plus a bind function
``bind(view, rng) -> dict | None`` that picks tables, columns and literals for one instance;
``None`` means "nothing usable here this time" (after enough of those the family is skipped
and reported). ``features`` are the SQL constructs the family exercises (the keys
``generate_candidates`` weights accept besides family names).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from teacher.slots import SchemaView

Bind = Callable[[SchemaView, random.Random], "dict[str, Any] | None"]

FEATURES = frozenset({
    "join", "filter_eq", "filter_range", "filter_in", "filter_like", "between", "is_null", "count",
    "count_distinct", "sum", "avg", "min_max", "median", "group_by", "group_by_2", "having", "top_k",
    "subquery", "cte", "window", "case", "date_trunc", "date_part", "set_op", "rollup", "distinct",
})


@dataclass(frozen=True)
class FamilySpec:
    name: str
    phase: int  # 1 schema navigation, 2 query patterns, 3 edge cases
    group: str  # navigation | aggregate | join | subquery | time | window | metric | edge
    template: str  # file name under templates/families/
    features: tuple[str, ...] = ()
    bind: Bind | None = None
    needs: str = ""  # what a schema must offer, in words (shown when the family is skipped)
    weight: float = 1.0  # default share relative to other families
    allow_zero: bool = False  # a single 0/false answer is a valid result (existence checks)


FAMILIES: dict[str, FamilySpec] = {}


def family(name: str, phase: int, group: str, features: tuple[str, ...], needs: str = "",
           weight: float = 1.0, allow_zero: bool = False) -> Callable[[Bind], Bind]:
    if name in FEATURES:  # weights keys are family names or features: they must not collide
        raise ValueError(f"family name {name} is also a feature key")
    unknown = set(features) - FEATURES
    if unknown:
        raise ValueError(f"family {name}: unknown features {sorted(unknown)}")

    def deco(fn: Bind) -> Bind:
        if name in FAMILIES:
            raise ValueError(f"family {name} registered twice")
        FAMILIES[name] = FamilySpec(name, phase, group, f"{name}.sql.j2", features, fn, needs, weight,
                                    allow_zero)
        return fn
    return deco
