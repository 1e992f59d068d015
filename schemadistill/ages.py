"""Ages as people state them: "aged 25-35", "over 30 years old", "18 and older", "excluding users
under 30", read into the one test they mean on an age column.

    from schemadistill.ages import stated_age
    stated_age("Revenue from users aged 25-35 in Germany?")   # AgeTest(op='between', lo=25, hi=35)
    stated_age("Sessions of customers over 30 years old")    # AgeTest(op='>', lo=30, hi=None)

Why: a small student copies the age numbers of the pairs it resembles (``age BETWEEN 35 AND 82``
for "aged 25-35", ``age >= 33 AND age <= 40 AND age <= 3000``) or drops the test, on a third of
the real questions that state an age. The words fix the test, so grounding
(schemadistill/grounding.py) writes it. The phrasings are the teacher's (teacher/families/
compose.py ``_AGE_WORDS``) and those of real users: "over 30" means ``> 30``, "30 and above" and
"30 or older" ``>= 30``, "25-35" and "between 25 and 35" ``BETWEEN 25 AND 35``. A plain "over 30"
counts as an age only beside a person ("users over 30") or "years old"; a question with two age
statements, or a number that is not an age (over 120), gives None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import exp

_N = r"(?P<{}>\d{{1,3}})"
_OLD = r"(?:\s+years?[\s-]old)"
_PERSON = (r"(?:users?|customers?|people|persons?|buyers?|shoppers?|clients?|members?|visitors?|"
           r"those|ones|accounts?|employees?|patients?|students?|players?)")
# "users over 30", "users who are over 30", "the member is under 71"
_BE = r"\s+(?:(?:who|that)\s+(?:are|is)\s+|(?:is|are)\s+|aged\s+)?"
# what may follow a bare "users over 30": not a unit ("over 30 sessions", "over 30%")
_AFTER = (r"(?=\s*(?:$|[,.;:?!)]|(?:in|on|during|from|who|and|or|with|for|by|at|that|using|between|per|"
          r"across|grouped|broken|split)\b))")
_RANGES = [re.compile(p.format(lo=_N.format("lo"), hi=_N.format("hi")), re.IGNORECASE) for p in (
    r"\baged?\s+(?:between\s+|from\s+)?{lo}\s*(?:-|–|to|and)\s*{hi}\b",
    r"\bages?\s+(?:of\s+)?(?:between\s+|from\s+)?{lo}\s*(?:-|–|to|and)\s*{hi}\b",
    r"\b(?:between\s+|from\s+)?{lo}\s*(?:-|–|to|and)\s*{hi}" + _OLD + r"\b",
    r"\b{lo}\s*(?:-|–|to)\s*{hi}[\s-]year[\s-]olds?\b",
)]
_BOUNDS = [(op, re.compile(p.format(n=_N.format("n")), re.IGNORECASE)) for op, p in (
    (">=", r"\b(?:aged\s+|age\s+(?:of\s+)?){n}" + _OLD + r"?\s+(?:and|or)\s+(?:above|over|older|up)\b(?!\s+\d)"),
    ("<=", r"\b(?:aged\s+|age\s+(?:of\s+)?){n}" + _OLD + r"?\s+(?:and|or)\s+(?:below|under|younger)\b(?!\s+\d)"),
    (">=", r"\b{n}(?:" + _OLD + r"\s+(?:and|or)\s+(?:above|over|up)|" + _OLD + r"?\s+(?:and|or)\s+older)\b(?!\s+\d)"),
    ("<=", r"\b{n}(?:" + _OLD + r"\s+(?:and|or)\s+(?:below|under)|" + _OLD + r"?\s+(?:and|or)\s+younger)\b(?!\s+\d)"),
    (">=", r"\b(?:aged\s+|age\s+(?:of\s+)?)at\s+least\s+{n}\b"),
    (">=", r"\bat\s+least\s+{n}" + _OLD + r"\b"),
    (">", r"\b(?:aged\s+|age\s+(?:is\s+)?)(?:over|above|older\s+than|more\s+than|greater\s+than)\s+{n}\b"),
    ("<", r"\b(?:aged\s+|age\s+(?:is\s+)?)(?:under|below|younger\s+than|less\s+than)\s+{n}\b"),
    (">", r"\b(?:over|above|older\s+than|more\s+than)\s+{n}" + _OLD + r"\b"),
    ("<", r"\b(?:under|below|younger\s+than|less\s+than)\s+{n}" + _OLD + r"\b"),
    (">", r"\b" + _PERSON + _BE + r"(?:over|above|older\s+than)\s+{n}\b" + _AFTER),
    ("<", r"\b" + _PERSON + _BE + r"(?:under|below|younger\s+than)\s+{n}\b" + _AFTER),
)]
# "excluding users under 30", "except those of users over 60"; not "not active and the age is over 35"
_NEGATED = re.compile(r"\b(?:excluding|exclude|except|other\s+than|apart\s+from|without)\s+"
                      r"(?:(?:those|the|all|any|of|who|are|aged|" + _PERSON[3:-1] + r")\s+){0,3}$", re.IGNORECASE)
_ANY_BOUND = re.compile(r"\b(?:over|above|under|below|older\s+than|younger\s+than|more\s+than|less\s+than|"
                        r"at\s+least|at\s+most)\s+\d", re.IGNORECASE)
_FLIP = {">": "<=", "<": ">=", ">=": "<", "<=": ">"}
_MAX_AGE = 120


@dataclass(frozen=True)
class AgeTest:
    """``op`` is one of > >= < <= between; ``hi`` only for between."""

    op: str
    lo: int
    hi: int | None = None
    span: tuple[int, int] = field(default=(0, 0), compare=False)  # where the question says it

    def condition(self, column: exp.Column) -> exp.Expr:
        if self.op == "between":
            return exp.Between(this=column, low=exp.Literal.number(self.lo), high=exp.Literal.number(self.hi))
        node = {">": exp.GT, ">=": exp.GTE, "<": exp.LT, "<=": exp.LTE}[self.op]
        return node(this=column, expression=exp.Literal.number(self.lo))

    def __str__(self) -> str:
        return f"BETWEEN {self.lo} AND {self.hi}" if self.op == "between" else f"{self.op} {self.lo}"


def stated_age(question: str) -> AgeTest | None:
    """The one age test ``question`` states, or None (none, several, or not clearly an age)."""
    found: dict[tuple[int, int], AgeTest] = {}
    for pat in _RANGES:
        for m in pat.finditer(question):
            lo, hi = int(m["lo"]), int(m["hi"])
            if lo < hi <= _MAX_AGE and not _overlaps(m.span(), found):
                found[m.span()] = AgeTest("between", lo, hi, m.span())
    for op, pat in _BOUNDS:
        for m in pat.finditer(question):
            n = int(m["n"])
            if n > _MAX_AGE or _overlaps(m.span(), found):
                continue
            # "excluding users under 30": the ones kept are 30 and over
            found[m.span()] = AgeTest(_FLIP[op] if _NEGATED.search(question[:m.start()]) else op, n, span=m.span())
    tests = set(found.values())
    if len(tests) != 1:
        return None
    test = tests.pop()
    if test.op != "between" and any(not _overlaps(m.span(), found) for m in _ANY_BOUND.finditer(question)):
        return None  # "users over 30 and under 50": the other half is not read as an age
    return test


def _overlaps(span: tuple[int, int], found: dict[tuple[int, int], AgeTest]) -> bool:
    return any(not (span[1] <= a or span[0] >= b) for a, b in found)


def is_age_column(name: str) -> bool:
    """A word of the name is "age" ("age", "customer_age"); the teacher phrases ages by it too."""
    return "age" in name.lower().split("_")
