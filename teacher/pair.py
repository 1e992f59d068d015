"""The pair format every teacher produces and every later stage reads (``pairs.jsonl``).

A :class:`Candidate` is what a generator proposes; validation turns it into a :class:`Pair`
(kept) or a :class:`Reject` (dropped, with the reason). ``instance`` ties together every
phrasing of one template instance (same family, same slots, same literal values) so held-out
splits can keep all paraphrases of an instance on one side.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal["generate", "repair"]


@dataclass
class Candidate:
    question: str
    sql: str  # written in the target dialect
    family: str
    source: str  # "template" | "paraphrase" | "examples" | "openai:<model>" | ...
    instance: str = ""  # template instance id; paraphrases of one instance share it
    kind: Kind = "generate"
    broken_sql: str | None = None  # repair pairs: the failing SQL the student sees
    error: str | None = None  # repair pairs: the real sandbox error text for broken_sql
    phase: int | None = None  # the family's phase hint (1 navigation, 2 patterns, 3 edge/repair)
    meta: dict[str, Any] = field(default_factory=dict)  # slots, tables used: for reports only

    def __post_init__(self) -> None:
        if not self.instance:
            self.instance = stable_id(self.family, self.sql)


@dataclass
class Pair:
    """One validated pair, in the shared JSONL format of docs/DESIGN.md."""

    id: str
    question: str
    sql: str
    dialect: str
    family: str
    phase: int
    difficulty: int
    kind: Kind
    source: str
    instance: str
    broken_sql: str | None = None
    error: str | None = None
    tables: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        if self.kind != "repair":
            d.pop("broken_sql")
            d.pop("error")
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Pair:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in fields})


@dataclass
class Reject:
    question: str
    sql: str
    family: str
    source: str
    reason: str  # a short stable code: parse_error, unknown_name, exec_error, empty_result, ...
    detail: str = ""  # the message behind the reason (sqlglot/DuckDB text)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def stable_id(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:12]
