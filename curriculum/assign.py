"""Phase assignment: which of the three curriculum phases a pair is trained in.

* phase 1, schema navigation: single-table selects and filters, lookups, simple counts
  (``COUNT(*)``, ``COUNT(DISTINCT ...)``), distinct lists, one-hop relationship lookups;
* phase 2, query patterns: aggregates, grouping, multi-hop joins, top-k, subqueries, windows,
  sidecar metrics;
* phase 3, edge cases and every error-repair pair.

The family's phase hint (``pair["phase"]``, set by the teacher) is the starting point, but a
template can render something heavier than its family promises (an optional GROUP BY, a
metric that expands into a subquery), so the hint is checked against the AST. Moves only go
*up*: a "phase 1" pair that groups, windows, nests, unions, aggregates beyond a count,
branches with CASE or joins more than one hop is trained in phase 2. A phase-2 or phase-3
hint is never lowered, because a family's later phase also says *when* its shape should be
taught (edge cases after the patterns they bend), which the AST alone cannot know.
``kind == "repair"`` is always phase 3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from schemadistill.sqlcheck import SQLParseError, difficulty, parse_sql

PHASES = (1, 2, 3)


@dataclass
class PhaseDecision:
    phase: int  # the phase the pair is trained in
    hint: int | None  # the phase the teacher proposed (None when missing or out of range)
    reasons: list[str] = field(default_factory=list)  # AST features behind a move; empty if none
    difficulty: int = 1
    parse_error: str | None = None

    @property
    def moved(self) -> bool:
        return self.hint is not None and self.phase != self.hint


def phase2_features(tree: exp.Expr) -> list[str]:
    """The constructs in ``tree`` that go beyond schema navigation (empty: phase-1 material)."""
    found: list[str] = []
    if tree.find(exp.Group):
        found.append("group_by")
    if tree.find(exp.Having):
        found.append("having")
    if tree.find(exp.Window):
        found.append("window")
    # CTE bodies and nested queries are extra SELECT nodes; set operations are their own nodes
    if len(list(tree.find_all(exp.Select))) > 1 or tree.find(exp.CTE):
        found.append("subquery")
    if tree.find(exp.Union, exp.Intersect, exp.Except):
        found.append("set_op")
    # COUNT / COUNT(DISTINCT) are phase-1 "simple counts"; SUM, AVG, MIN, MAX, MEDIAN... are not
    if any(not isinstance(a, exp.Count) for a in tree.find_all(exp.AggFunc)):
        found.append("aggregate")
    if tree.find(exp.Case):
        found.append("case")
    if len(list(tree.find_all(exp.Join))) > 1:  # one hop is a lookup, two hops are a pattern
        found.append("multi_join")
    return found


def _hint(value: Any) -> int | None:
    try:
        h = int(value)
    except (TypeError, ValueError):
        return None
    return h if h in PHASES else None


def assign_phase(pair: dict[str, Any]) -> PhaseDecision:
    """Decide the phase and difficulty of one pair (a ``pairs.jsonl`` row)."""
    hint = _hint(pair.get("phase"))
    dialect = pair.get("dialect") or "duckdb"
    tree: exp.Expr | None = None
    parse_error = None
    try:
        tree = parse_sql(str(pair.get("sql", "")), dialect)
    except SQLParseError as e:  # validated pairs parse; files from elsewhere may not
        parse_error = str(e)
    diff = pair.get("difficulty")
    if not isinstance(diff, int) or isinstance(diff, bool):
        diff = difficulty(tree) if tree is not None else 1
    if pair.get("kind") == "repair":
        reasons = [] if hint in (None, 3) else ["repair"]
        return PhaseDecision(3, hint, reasons, diff, parse_error)
    features = phase2_features(tree) if tree is not None else []
    if hint is None:  # no hint: the AST alone decides between navigation and patterns
        return PhaseDecision(2 if features else 1, None, features, diff, parse_error)
    if hint == 1 and features:
        return PhaseDecision(2, hint, features, diff, parse_error)
    return PhaseDecision(hint, hint, [], diff, parse_error)
