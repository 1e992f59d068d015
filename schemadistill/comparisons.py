"""How a question compares with a number it states: "at least 35" is ``>= 35``, "under 54" is
``< 54``, "500 or less" is ``<= 500``, "age <= 71" is ``<= 71``.

    from schemadistill.comparisons import stated_comparison
    q = "Users where the age is greater than or equal to 35?"
    stated_comparison(q, q.index("35"), q.index("35") + 2)   # ">="

Why: a small student writes the comparison it saw most often next to a number it copied right
(``age <= 35`` for "greater than or equal to 35"), or writes the stated one and a second test of
the same number beside it (``age >= 35 AND age <= 35``). The words before and after the number
say which comparison the user meant; literal grounding (schemadistill/literals.py) puts it in.
The phrasings are those the teacher writes (teacher/families/compose.py ``cmp_filter``) and the
common ones of people: "more than", "over", "no more than", "up to", "and above", ">=".
"""

from __future__ import annotations

import re

# "not", "isn't", "doesn't", "never": a negated "over 30" is "30 or less"
_NOT = r"(?:no|not|never|[a-z]+n['’]t|isnt|arent|doesnt|dont|wasnt)"
# the words right before the number; tried in this order, so that "greater than or equal to"
# is >= before "equal to" could read it as =, and "not more than" <= before "more than" >
_BEFORE: list[tuple[str, re.Pattern[str]]] = [(op, re.compile(r"(?:^|\s|\b)(?:" + words + r")\s*$", re.IGNORECASE))
                                              for op, words in (
    (">=", r"at\s+least|(?:at|on)\s+or\s+(?:above|over|after)|"
           r"equal\s+to\s+or\s+(?:greater|more|higher|larger)\s+than|" + _NOT + r"\s+(?:below|under|(?:less|fewer|lower|smaller|shorter|younger)\s+than)|"
           r"(?:greater|more|higher|larger)\s+than\s+or\s+equal\s+to|(?:a\s+)?minimum\s+of|>=|=>|≥"),
    ("<=", r"at\s+most|(?:at|on)\s+or\s+(?:below|under|before)|"
           r"equal\s+to\s+or\s+(?:less|fewer|lower|smaller)\s+than|" + _NOT + r"\s+(?:above|over|exceed(?:ing|s)?|(?:more|greater|higher|larger|bigger|longer|older)\s+than)|"
           r"up\s+to|(?:less|lower|smaller)\s+than\s+or\s+equal\s+to|"
           r"(?:a\s+)?maximum\s+of|<=|=<|≤"),
    ("<>", r"not\s+equal\s+to|!=|<>"),
    (">", r"(?:more|greater|higher|larger|bigger|longer|older)\s+than|above|over|exceeding|exceeds?|>"),
    ("<", r"(?:less|fewer|lower|smaller|shorter|younger)\s+than|below|under|<"),
    ("=", r"exactly|equal\s+to|equals|(?<![<>!=])=(?!=)|=="),
)]
# "500 or less", "54 and above", "30 years old or older", "10 sessions or more": after the number
_AFTER = re.compile(r"^(?:\s*(?:%|percent|years?\s+old|[a-z]+))?\s+(?:or|and)\s+(?P<w>more|greater|higher|"
                    r"above|over|older|up|longer|bigger|larger|beyond|less|fewer|lower|below|under|younger|"
                    r"shorter|smaller)\b(?!\s+(?:than\s+)?\d)", re.IGNORECASE)
_AFTER_OP = dict.fromkeys(("more", "greater", "higher", "above", "over", "older", "up", "longer", "bigger",
                           "larger", "beyond"), ">=") | dict.fromkeys(
    ("less", "fewer", "lower", "below", "under", "younger", "shorter", "smaller"), "<=")
# "excluding users under 30": the comparison is what is left out; not worth guessing
_EXCLUDED = re.compile(r"\b(?:excluding|exclude|except|other\s+than|apart\s+from|without|besides)\b"
                       r"(?:\s+\S+){0,4}\s*$", re.IGNORECASE)


def stated_comparison(question: str, start: int, stop: int) -> str | None:
    """The comparison (``>``, ``>=``, ``<``, ``<=``, ``=``, ``<>``) the question puts before the
    number at ``question[start:stop]`` ("over 30") or after it ("30 or older"); None when it
    states none, both, or the number sits in an exclusion ("excluding users under 30")."""
    before = question[max(0, start - 40):start]
    first = next((op for op, pat in _BEFORE if pat.search(before)), None)
    m = _AFTER.match(question[stop:stop + 40])
    after = _AFTER_OP[m["w"].lower()] if m else None
    if first is not None and after is not None and after != first:
        return None  # "over 30 or less": nothing sure
    if _EXCLUDED.search(before):
        return None
    return first or after
