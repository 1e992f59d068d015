"""Offline paraphrases by rule: many wordings of one question, same meaning, no model needed.

:class:`OfflineParaphraser` rewrites an English question with a seeded, deterministic pipeline:

1. **mask** what must not change: the caller's ``protect`` strings, every token holding a digit
   (numbers, dates, ``Q4``) and quoted strings become opaque placeholders, so no later step can
   touch them; the output is rejected unless every placeholder comes back exactly once and the
   digit sequences are the same as the input's;
2. **restyle** the sentence: question <-> imperative <-> terse <-> verbose
   ("How many users are there?" / "Count the users." / "number of users?" /
   "I'd like to know how many users there are.");
3. **reorder** time clauses ("how many ... in 2024" <-> "In 2024, how many ...") and trailing
   "by X" clauses;
4. **swap words**: schema phrases for another word of the same table/column/metric/dimension
   (only words *every* matching schema object shares, so a swap can never move the question to
   another column), and operation phrases ("average" -> "mean", "per" -> "for each") under
   guards that keep the meaning ("by revenue" in a ranking is never turned into "for each");
5. **noise**: politeness and filler, contractions, first-letter case, dropped question mark, and
   typos at ``typo_rate`` per eligible word.

Randomness comes from a ``random.Random`` seeded with a hash of ``(seed, question)``; nothing
uses global random state or Python's salted ``hash``, so results are stable across processes.
"""

from __future__ import annotations

import calendar
import hashlib
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from teacher.lexicon import Lexicon, singularize
from teacher.lexicon_data import AMBIGUOUS_SOURCE_WORDS

__all__ = ["OfflineParaphraser", "STYLES"]

STYLES: tuple[str, ...] = ("question", "imperative", "terse", "verbose")

# Placeholder for a masked span: private-use code points that no regex below treats as a word
# character: OPEN, kind, slot index (as one more private-use character), CLOSE. The kind says
# whether the slot is a plain number ("300": comparison swaps need one), has digits (a date,
# "Q4 2024": makes a clause temporal), or is anything else ("Germany").
_PH_OPEN, _PH_CLOSE, _PH_BASE = "\ue000", "\ue001", 0xE100
_PH_NUM, _PH_DIG, _PH_OTHER = "\ue002", "\ue004", "\ue003"
_PH = f"{_PH_OPEN}[{_PH_NUM}{_PH_DIG}{_PH_OTHER}][\ue100-\uf8ff]{_PH_CLOSE}"
_PH_RE = re.compile(_PH)
_NUMERIC_SLOT = re.compile(r"^[-+]?[\d,]*\.?\d+%?$")

_MONTHS = [m.lower() for m in calendar.month_name if m] + [
    m.lower() for m in calendar.month_abbr if m]
_DAYS = [d.lower() for d in calendar.day_name]
_TIME_WORDS = ("today", "yesterday", "week", "month", "year", "quarter", "weekend")
_TIME_PLURALS = ("days", "weeks", "months", "years", "quarters", "hours")
# Words that may sit inside a time clause without being a time themselves.
_TIME_FILLER = frozenset({"the", "last", "past", "previous", "this", "current", "first", "of",
                          "and", "to", "until", "through", "same", "whole", "entire", "days",
                          "weeks", "months", "years", "quarters", "hours", "next"})
_GRAIN_WORDS = frozenset({"day", "week", "month", "quarter", "year", "hour", "weekday",
                          "date", "days", "weeks", "months", "quarters", "years"})
_NUMBER_WORDS = frozenset({"one", "two", "three", "four", "five", "six", "seven", "eight",
                           "nine", "ten", "eleven", "twelve", "fifteen", "twenty"})

# Imperative openers. "list"/"what are" are left out of the count form ("List the number of").
_SHOW = ["Show", "Give me", "Display", "Find", "Get", "Return", "Show me", "Tell me", "Fetch",
         "Pull up", "Retrieve", "List"]
_SHOW_RE = r"(?:show me|show|list|give me|give|display|find|get me|get|return|retrieve|fetch|pull up|provide|tell me)"
# Sentence openers that are not a noun phrase: taking "Give the p25 of x" or "Considering only
# x, what is y" for one once produced "What is Give the p25 of x?".
_NOT_NP_FIRST = frozenset("""
give show list count compute calculate find tell provide return display get fetch retrieve pull sum
rank compare break split group sort order name identify report determine work figure check look
considering excluding including ignoring counting using taking looking restricting limiting among
only for in on during between from within across per over after before since until by with without
""".split())
# Prefixes that take a wh-clause ("I'd like to know how many ...") / a noun phrase.
_EMBED_PREFIX = ["I'd like to know", "I want to know", "I need to know", "Can you tell me",
                 "Could you tell me", "I was wondering", "Help me figure out", "Please tell me",
                 "I'm curious", "Do you know"]
_NP_PREFIX = ["I'd like to know", "I want to know", "I need to know", "Can you tell me",
              "Could you tell me", "Please tell me", "I need", "I'd like to see",
              "I want to see", "Can you give me", "Could you show me", "Can I get"]
_QUESTION_PREFIX = ("can you", "could you", "do you", "can i", "would you")
# Politeness that is stripped before parsing (longest first) and may be re-added.
_STRIP_PREFIXES = sorted({
    "please", "kindly", "can you please", "could you please", "would you please", "hey", "hi",
    "hello", "ok so", "ok", "so", "quick question", "real quick", "out of curiosity",
    "for the report", "btw", "i'd like to know", "i would like to know", "i want to know",
    "i need to know", "can you tell me", "could you tell me", "please tell me",
    "i was wondering", "help me figure out", "i'm curious", "do you know", "i need",
    "i'd like to see", "i want to see", "can you give me", "could you show me", "can i get",
    "can you", "could you", "would you",
}, key=len, reverse=True)
_VERBOSE_MARKERS = ("know", "tell me", "wondering", "figure out", "curious", "i need",
                    "like to see", "want to see", "give me", "show me", "can i get")
_STRIP_SUFFIXES = ("please", "thanks", "thank you", "thx", "pls", "if you can", "if possible",
                   "when you get a chance", "asap")
_IMPERATIVE_POLITE = ["Please", "Can you", "Could you", "Could you please", "Kindly",
                      "Would you", "Can you please"]
_ANY_PREFIX = ["Quick question:", "Hey,", "Hi,", "So,", "OK so", "Out of curiosity,",
               "For the report,", "Real quick,", "Btw,"]
_SUFFIXES = [", please", " please", ", thanks", " thanks", ", thank you", " pls",
             " if possible", " when you get a chance", " asap", " for the report",
             " for my dashboard"]
_CONTRACTIONS = [("what is", "what's"), ("it is", "it's"), ("there is", "there's"),
                 ("that is", "that's"), ("who is", "who's"), ("where is", "where's"),
                 ("how is", "how's"), ("do not", "don't"), ("does not", "doesn't"),
                 ("did not", "didn't"), ("is not", "isn't"), ("are not", "aren't"),
                 ("was not", "wasn't"), ("were not", "weren't"), ("have not", "haven't"),
                 ("has not", "hasn't"), ("had not", "hadn't"), ("cannot", "can't"),
                 ("I would", "I'd"), ("I am", "I'm"), ("let us", "let's")]
# Heuristic verb list for "How many users signed up ..." -> "users that signed up".
_VERBS = frozenset("""
are were is was have has had made make makes bought buy buys spent spend spends paid pay pays
came come comes live lives lived use uses used visit visits visited place placed places order
ordered orders sign signed log logged churn churned return returned get got belong belongs work
works worked earn earned generate generated generates purchase purchased purchases register
registered joined join complete completed cancel cancelled canceled leave left open opened close
closed contain contains contained include includes included hold holds held receive received
receives sell sells sold ship shipped ships access accessed exceed exceeded exceeds cost costs
""".split())
_NOT_VERB_ED = frozenset({"need", "red", "bed", "shed", "based", "limited", "related", "detailed"})
_LEAD_PREPS = ("in", "during", "for", "over", "within", "throughout", "between", "since",
               "before", "after", "on", "from", "until")
_REL_WORDS = frozenset({"who", "that", "which", "whose", "whom", "where", "with", "without"})
_GROUP_CLAUSE = re.compile(
    r"^(?P<rest>.*\S)\s+(?P<g>(?:by|per|for each|broken down by|split by|grouped by)\s+\S+(?:\s\S+)?)$")
_SORT_WORDS = frozenset({"sorted", "ordered", "order", "sort", "rank", "ranked", "ranking",
                         "grouped", "broken", "split", "down", "divided"})


@dataclass
class _Frame:
    prefix: str  # politeness/verbose opener as written ("Hey, can you tell me")
    lead: str  # leading time clause without its comma ("In 2024")
    core: str  # the rest, without final punctuation and trailing politeness
    punct: str
    parsed: _Parsed


@dataclass
class _Parsed:
    kind: str  # count | np | embedded | other
    x: str = ""  # count: the counted noun phrase; np: the noun phrase; embedded: the clause
    tail: str = ""  # count: text after "are there"
    be: str = "are"  # verb of the original "are there"/"what is"
    style: str = "question"  # the style the input was written in
    vp: str = ""  # count: original "how many" body when it had its own verb


# ----------------------------------------------------------------------------------------------
def _seed_int(*parts: object) -> int:
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big")


def _lower_first(s: str) -> str:
    """Lower-case the first letter unless the first word is an acronym, "I", or masked."""
    if not s or not s[0].isalpha() or not s[0].isupper():
        return s
    first = re.match(r"[^\s,:;]+", s)
    word = first.group(0) if first else s
    if word in ("I", "I'd", "I'm", "I've", "I'll") or (len(word) > 1 and word[1].isupper()):
        return s
    return s[0].lower() + s[1:]


def _upper_first(s: str) -> str:
    return s[0].upper() + s[1:] if s and s[0].isalpha() else s


def _norm_key(s: str) -> str:
    return " ".join(re.sub(r"[^\w\s\ue000-\uf8ff]", " ", s.lower()).split())


class OfflineParaphraser:
    """Rule-based paraphrases of English questions over one schema's :class:`Lexicon`.

    ``typo_rate`` is the probability that an eligible word (>= 5 letters, lower-case, not
    protected, not a month/day name, not touching a protected span) gets one typo.
    """

    def __init__(self, lexicon: Lexicon, seed: int = 0, typo_rate: float = 0.05) -> None:
        self.lexicon = lexicon
        self.seed = seed
        self.typo_rate = float(typo_rate)
        self._groups: dict[str, list[str]] = {}
        self._dimensional: set[str] = set()
        self._index: dict[str, list[str]] = {}
        self._build_index()
        phrases = sorted(self._index, key=lambda p: (-len(p), p))
        self._schema_re = re.compile(
            r"(?<![\w\-])(?:" + "|".join(re.escape(p) for p in phrases) + r")(?![\w\-])",
            re.IGNORECASE) if phrases else None
        self._ops = self._build_ops()
        self._filler_cache: list[str] | None = None

    # ------------------------------------------------------------------ setup
    def _build_index(self) -> None:
        schema = self.lexicon.schema
        for t in schema.tables:
            for form, words in (("pl", self.lexicon.table_words(t)),
                                ("sg", self.lexicon.table_singular(t))):
                self._groups[f"table:{t.qualified_name}:{form}"] = words
            for c in t.columns:
                if self.lexicon.is_flag(c):
                    continue  # flag words are adjectives whose use varies: not swapped
                gid = f"col:{t.qualified_name}.{c.name}"
                self._groups[gid] = self.lexicon.column_words(t, c)
                idlike = c.role == "id" or c.name.lower().endswith("id")
                if not idlike and (c.role in ("dimension", "text") or (
                        c.role is None and c.type in ("text", "boolean"))):
                    self._dimensional.add(gid)
        for m in schema.metrics:
            self._groups[f"metric:{m.name}"] = self.lexicon.metric_words(m)
        for d in schema.dimensions:
            gid = f"dim:{d.name}"
            self._groups[gid] = self.lexicon.dimension_words(d)
            self._dimensional.add(gid)
        for gid, words in self._groups.items():
            for w in words:
                if "_" in w or re.search(r"\d", w):
                    continue
                self._index.setdefault(w.lower(), [])
                if gid not in self._index[w.lower()]:
                    self._index[w.lower()].append(gid)

    def _build_ops(self) -> list[tuple[str, re.Pattern[str], list[str], str]]:
        """(key, source regex, targets, guard) for operation-phrase swaps, from ``Lexicon.words``.

        Sources are the phrases safe to *recognise*; targets are the lexicon's phrases for the
        key minus those that do not fit in place (``exclude``: "or more" is postfix, "up to"
        also bounds dates, "most" is not an adjective for every noun). Guards: ``num`` the next
        token is a numeric placeholder or number word; ``word`` a word follows; ``group`` the
        next phrase is a grouping dimension or a time grain.
        """
        words = self.lexicon.words

        def src(*phrases: str) -> re.Pattern[str]:
            alts = sorted(phrases, key=len, reverse=True)
            return re.compile(r"(?<![\w'\-])(?:" + "|".join(re.escape(a) for a in alts)
                              + r")(?![\w'\-])", re.IGNORECASE)

        def tg(key: str, exclude: Sequence[str] = ()) -> list[str]:
            return [w for w in words(key) if w not in exclude and "{" not in w
                    and not re.search(r"[\d.%]", w)]

        count_np = [w for w in words("how_many") if w.startswith(("the ", "number", "count",
                                                                   "total"))]
        last_days = [w.replace(" {n} days", "") for w in words("last_n_days")]
        share = [f"{w} of" for w in tg("share", ("ratio", "rate", "what percent", "pct"))]
        return [
            ("np_count_the", src(*[w for w in count_np if w.startswith("the ")]),
             [w for w in count_np if w.startswith("the ")], "word"),
            ("np_count", src(*[w for w in count_np if not w.startswith("the ")]),
             [w for w in count_np if not w.startswith("the ")], "word"),
            ("average", src("average", "mean", "avg"), tg("average", ("on average",)), "word"),
            ("total", src("total", "overall", "combined"), tg("total", ("sum of",)), "word"),
            ("sum_of", src("sum of", "the sum of"), ["total", "sum of"], "word"),
            ("max", src("highest", "maximum", "largest", "biggest", "greatest"),
             tg("max", ("top", "most", "peak")), "word"),
            ("min", src("lowest", "minimum", "smallest"),
             tg("min", ("least", "bottom", "fewest")), "word"),
            ("top", src("top"), tg("top", ("highest-ranked", "highest", "biggest", "number one")),
             "num"),
            ("distinct", src("distinct", "unique"), tg("distinct", ("separate", "individual")),
             "word"),
            ("more_than", src("more than", "greater than", "higher than", "larger than", "above",
                              "exceeding", "in excess of"),
             tg("more_than", ("exceeding", "higher than", "larger than", "in excess of")), "num"),
            ("less_than", src("less than", "lower than", "smaller than", "below", "under"),
             tg("less_than", ("fewer than", "lower than", "smaller than", "beneath")), "num"),
            ("fewer_than", src("fewer than"), ["fewer than", "less than", "under", "below"],
             "num"),
            ("at_least", src("at least", "no less than", "not less than", "a minimum of"),
             tg("at_least", ("or more",)), "num"),
            ("at_most", src("at most", "no more than", "not more than", "a maximum of"),
             tg("at_most", ("up to", "or less", "or fewer")), "num"),
            ("share", src(*share), share, "word"),
            ("per", src("per", "by", "for each", "for every", "broken down by", "split by",
                        "grouped by", "in each"),
             tg("per", ("across", "by each", "breakdown by")), "group"),
            ("last_days", src(*last_days), last_days, "num"),
        ]

    # ------------------------------------------------------------------ public API
    def paraphrase(self, question: str, n: int, protect: Sequence[str] = ()) -> list[str]:
        """Up to ``n`` distinct rewrites of ``question`` (fewer if it cannot find more).

        Deterministic for ``(seed, question)`` (and the same ``protect``); the first k results
        do not depend on ``n`` as long as enough distinct candidates exist. Every output keeps
        each ``protect`` string that occurs in the question, unchanged, and the same digit
        sequences as the input.
        """
        question = " ".join(question.split())
        if n <= 0 or not question:
            return []
        rng = random.Random(_seed_int("paraphrase", self.seed, question))
        masked, slots = self._mask(question, protect)
        frame = self._parse_full(masked)
        orig_key = _norm_key(question)
        strict: list[str] = []
        loose: list[str] = []
        seen_strict = {orig_key}
        seen_exact = {question}
        tries = 10 * n + 30
        for i in range(tries):
            if len(strict) >= n:
                break
            cand = self._one(frame, rng, attempt=i)
            if cand is None:
                continue
            out = self._unmask(cand, slots)
            if not self._safe(question, out, slots):
                continue
            key = _norm_key(out)
            if key not in seen_strict:
                seen_strict.add(key)
                seen_exact.add(out)
                strict.append(out)
            elif out not in seen_exact:
                seen_exact.add(out)
                loose.append(out)
        return (strict + loose)[:n]

    def restyle(self, question: str, style: str, protect: Sequence[str] = ()) -> str | None:
        """``question`` rewritten in ``style`` (one of :data:`STYLES`), with the plainest
        wording; None if the sentence shape is not one the rules understand."""
        if style not in STYLES:
            raise ValueError(f"unknown style {style!r}; use one of {', '.join(STYLES)}")
        masked, slots = self._mask(" ".join(question.split()), protect)
        fr = self._parse_full(masked)
        body = self._build(fr.parsed, style, pick=lambda xs: xs[0])
        if body is None:
            return None
        if fr.lead:
            body = f"{fr.lead}, {_lower_first(body)}"
        end = "?" if style == "question" or body.lower().startswith(_QUESTION_PREFIX) else "."
        return self._unmask(_upper_first(body) + end, slots)

    def style_of(self, question: str) -> str:
        """The style a question is written in (question|imperative|terse|verbose|other)."""
        masked, _ = self._mask(" ".join(question.split()), ())
        fr = self._parse_full(masked)
        return fr.parsed.style if fr.parsed.kind != "other" else "other"

    def add_typos(self, text: str, protect: Sequence[str] = (), salt: str = "") -> str:
        """``text`` with typos at ``typo_rate`` per eligible word; protected spans untouched."""
        masked, slots = self._mask(text, protect)
        rng = random.Random(_seed_int("typo", self.seed, salt, text))
        return self._unmask(self._typos(masked, rng, self.typo_rate), slots)

    # ------------------------------------------------------------------ masking
    def _mask(self, text: str, protect: Sequence[str]) -> tuple[str, list[str]]:
        """Replace protected spans by placeholders; overlapping spans are merged into one, so
        two protect strings that share characters both survive."""
        spans: list[tuple[int, int]] = []
        for p in sorted({p for p in protect if p}, key=len, reverse=True):
            hits = list(re.finditer(
                (r"(?<!\w)" if p[0].isalnum() else "") + re.escape(p)
                + (r"(?!\w)" if p[-1].isalnum() else ""), text))
            if not hits:  # a protect string glued to other text: protect the raw substring
                hits = list(re.finditer(re.escape(p), text))
            spans += [(m.start(), m.end()) for m in hits]
        # quoted values; an apostrophe inside a word ("user's", "Levi's") opens no quote
        for m in re.finditer(r"(?<![\w'])'[^']+'(?!\w)|\"[^\"]+\"|`[^`]+`", text):
            spans.append((m.start(), m.end()))
        # anything with a digit: numbers, dates, "Q4", "v2"; sentence punctuation stays outside
        for m in re.finditer(r"\S*\d\S*", text):
            a, b = m.start(), m.end()
            while b > a and text[b - 1] in ".,;:?!)'\"":
                b -= 1
            while a < b and text[a] in "('\"":
                a += 1
            if re.search(r"\d", text[a:b]):
                spans.append((a, b))
        merged: list[list[int]] = []
        for a, b in sorted(spans):
            if merged and a < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        out: list[str] = []
        slots: list[str] = []
        pos = 0
        for a, b in merged:
            out.append(text[pos:a])
            kind = (_PH_NUM if _NUMERIC_SLOT.match(text[a:b])
                    else _PH_DIG if re.search(r"\d", text[a:b]) else _PH_OTHER)
            out.append(_PH_OPEN + kind + chr(_PH_BASE + len(slots)) + _PH_CLOSE)
            slots.append(text[a:b])
            pos = b
        out.append(text[pos:])
        return "".join(out), slots

    @staticmethod
    def _unmask(text: str, slots: list[str]) -> str:
        return _PH_RE.sub(lambda m: slots[ord(m.group(0)[2]) - _PH_BASE], text)

    @staticmethod
    def _safe(original: str, out: str, slots: list[str]) -> bool:
        """Final guard: same digit sequences, and no placeholder character left behind."""
        if re.search("[\ue000-\uf8ff]", out):
            return False
        if sorted(re.findall(r"\d+", out)) != sorted(re.findall(r"\d+", original)):
            return False
        return all(out.count(s) >= original.count(s) for s in set(slots))

    # ------------------------------------------------------------------ parsing
    def _parse_full(self, masked: str) -> _Frame:
        """Split a masked question into opener, leading time clause, core and punctuation."""
        m = re.match(r"^(.*?)\s*([?.!]*)\s*$", masked, re.S)
        core, punct = (m.group(1), m.group(2)) if m else (masked, "")
        start = 0
        changed = True
        while changed:  # "Hey, quick question: can you tell me ..." strips in several steps
            changed = False
            low = core[start:].lower()
            for p in _STRIP_PREFIXES:
                if low.startswith(p):
                    sep = re.match(r"^[\s,:;\-]+(?=\S)", core[start + len(p):])
                    if sep:
                        start += len(p) + sep.end()
                        changed = True
                        break
        prefix, core = core[:start].strip(), core[start:]
        for suf in _STRIP_SUFFIXES:
            mm = re.match(rf"^(.*[^\s,])[\s,]+{re.escape(suf)}$", core, re.IGNORECASE)
            if mm:
                core = mm.group(1)
                break
        lead = ""
        mm = re.match(r"^((?:" + "|".join(_LEAD_PREPS) + r")\b[^,]{1,50}),\s*(\S.*)$", core,
                      re.IGNORECASE)
        if mm and self._temporal(mm.group(1)):
            lead, core = mm.group(1), mm.group(2)
        parsed = self._parse_core(core)
        if prefix and any(k in prefix.lower() for k in _VERBOSE_MARKERS):
            parsed.style = "verbose"
        return _Frame(prefix, lead, core, punct, parsed)

    @staticmethod
    def _temporal(clause: str) -> bool:
        """True for a clause that only names a time: "in 2024", "during the last 30 days",
        "between <date> and <date>", "in December", "this month". A protected value without
        digits ("in Germany") is not a time, and neither is "from France made a purchase"."""
        toks = clause.split()
        if len(toks) < 2 or toks[0].lower() not in _LEAD_PREPS:
            return False
        dated = False
        for t in toks[1:]:
            low = t.lower().strip(",")
            if _PH_RE.fullmatch(t):
                if t[1] == _PH_OTHER:
                    return False
                dated = True
            elif low in _MONTHS or low in _DAYS or low in _TIME_WORDS or low in _TIME_PLURALS:
                dated = dated or low not in _TIME_FILLER
            elif low not in _TIME_FILLER:
                return False
        return dated

    def _parse_core(self, core: str) -> _Parsed:
        c = core.strip()
        low = c.lower()
        pats: list[tuple[str, str, str]] = [
            (r"^how many (?P<x>.+?) (?P<be>are|were) there\b(?P<tail>.*)$", "count", "question"),
            (r"^how many (?P<x>.+?) there (?P<be>are|were)\b(?P<tail>.*)$", "count", "verbose"),
            (r"^how many (?P<x>.+)$", "count_vp", "question"),
            (r"^what(?:'s| is| was) the (?:total )?(?:number|count) of (?P<x>.+)$", "count",
             "question"),
            (r"^(?:count|tally) (?:up )?(?:the |all )?(?P<x>.+)$", "count", "imperative"),
            (r"^" + _SHOW_RE + r" (?:the |a )?(?:total )?(?:number|count) of (?P<x>.+)$",
             "count", "imperative"),
            (r"^(?:the )?(?:total )?(?:number|count) of (?P<x>.+)$", "count", "terse"),
            (r"^what(?P<be>'s| is| are| was| were) (?P<np>.+)$", "np", "question"),
            (r"^" + _SHOW_RE + r" (?P<np>.+)$", "np", "imperative"),
            (r"^(?P<q>(?:which|who|whose|what|how much|where|when) .+)$", "embedded",
             "question"),
        ]
        for pat, kind, style in pats:
            m = re.match(pat, c, re.IGNORECASE)
            if not m:
                continue
            g = m.groupdict()
            if kind == "count":
                return _Parsed("count", x=g["x"].strip(), tail=g.get("tail") or "",
                               be=(g.get("be") or "are").lower(), style=style)
            if kind == "count_vp":
                return self._parse_count_vp(g["x"].strip())
            if kind == "np":
                np_ = g["np"].strip()
                if re.match(r"^(?:which|who|whose|what|how|when|where|whether|if)\b", np_,
                            re.IGNORECASE):
                    if self._inverted(np_):
                        return _Parsed("other", style=style)
                    return _Parsed("embedded", x=np_, style=style)
                be = (g.get("be") or "").strip().lower().replace("'s", "is") or ""
                return _Parsed("np", x=np_, be=be, style=style)
            if kind == "embedded":
                q = g["q"]
                if self._inverted(q):
                    return _Parsed("other", style="question")
                return _Parsed("embedded", x=_lower_first(q), style="question")
        first = low.split()[0].strip(",:") if low.split() else ""
        if first in _NOT_NP_FIRST or first.endswith("ing") or re.search(r",\s*(?:what|how|which|who)\b", low):
            return _Parsed("other", style="question")
        if first and first not in ("is", "are", "do", "does", "did", "can", "could", "would",
                                   "will", "has", "have", "was", "were", "should", "why",
                                   "how", "when", "where", "i", "we", "you", "if"):
            return _Parsed("np", x=c, be="", style="terse")
        return _Parsed("other", style="question")

    @staticmethod
    def _inverted(clause: str) -> bool:
        """A wh-question with do-support ("which country did ...") cannot be embedded as-is."""
        toks = clause.lower().split()[:6]
        return any(t in ("do", "does", "did") for t in toks[1:])

    def _parse_count_vp(self, x: str) -> _Parsed:
        toks = x.split(" ")
        if any(t.lower() in ("do", "does", "did") for t in toks):
            return _Parsed("other", style="question")
        j = next((i for i, t in enumerate(toks) if self._verbish(t)), None)
        if j is None:
            return _Parsed("count", x=x, style="question", be="are", vp=f"How many {x}")
        if j == 0:
            return _Parsed("other", style="question")
        noun, rest = " ".join(toks[:j]), " ".join(toks[j:])
        rel = "" if toks[j - 1].lower() in _REL_WORDS else "that "
        return _Parsed("count", x=f"{noun} {rel}{rest}", style="question", vp=f"How many {x}")

    @staticmethod
    def _verbish(tok: str) -> bool:
        t = tok.lower().strip(",")
        if t in _VERBS:
            return True
        return t.endswith("ed") and len(t) > 4 and t not in _NOT_VERB_ED and t.isalpha()

    # ------------------------------------------------------------------ building
    def _build(self, p: _Parsed, style: str, pick: Callable[[list[str]], str]) -> str | None:
        """The core sentence (no final punctuation) of ``p`` in ``style``; None if impossible."""
        if p.kind == "count":
            x, t = p.x, p.tail
            be = p.be if p.be in ("are", "were") else "are"
            if style == "question":
                return p.vp or pick([f"How many {x} {be} there{t}",
                                     f"What is the number of {x}{t}",
                                     f"What's the count of {x}{t}",
                                     f"What's the total number of {x}{t}"])
            if style == "imperative":
                show = pick([s for s in _SHOW if s != "List"])
                return pick([f"Count the {x}{t}", f"{show} the number of {x}{t}",
                             f"Count all {x}{t}", f"{show} the count of {x}{t}",
                             f"{show} the total number of {x}{t}"])
            if style == "terse":
                return pick([f"number of {x}{t}", f"count of {x}{t}",
                             f"total number of {x}{t}"])
            if style == "verbose":
                if p.vp:
                    vp_body = _lower_first(p.vp)
                    return pick([f"{pre} {vp_body}" for pre in _EMBED_PREFIX])
                pre = pick(_EMBED_PREFIX)
                return pick([f"{pre} how many {x} there {be}{t}",
                             f"{pick(_NP_PREFIX)} the number of {x}{t}"])
        if p.kind == "np":
            np_ = p.x
            if style == "question":
                be = p.be or ("are" if self._plural_np(np_) else "is")
                forms = [f"What {be} {np_}"]
                if be == "is":
                    forms.append(f"What's {np_}")
                return pick(forms)
            if style == "imperative":
                return f"{pick(_SHOW)} {np_}"
            if style == "terse":
                return re.sub(r"^the\s+", "", np_, flags=re.IGNORECASE)
            if style == "verbose":
                return f"{pick(_NP_PREFIX)} {np_}"
        if p.kind == "embedded":
            q = _lower_first(p.x)
            if style == "question":
                return _upper_first(q)
            if style == "imperative":
                return pick([f"Tell me {q}", f"Show {q}", f"Find out {q}", f"Show me {q}",
                             f"Work out {q}"])
            if style == "verbose":
                return f"{pick(_EMBED_PREFIX)} {q}"
        return None

    @staticmethod
    def _plural_np(np_: str) -> bool:
        for tok in np_.split()[:5]:
            t = tok.lower()
            if t in ("of", "by", "per", "with", "for", "in", "from", "who", "that"):
                return False
            if t.isalpha() and len(t) > 3 and singularize(t) != t:
                return True
        return False

    # ------------------------------------------------------------------ one variant
    def _one(self, fr: _Frame, rng: random.Random, attempt: int) -> str | None:
        parsed, lead = fr.parsed, fr.lead
        pick: Callable[[list[str]], str] = rng.choice
        avail = [s for s in STYLES if parsed.kind != "other"
                 and self._build(parsed, s, pick=lambda xs: xs[0]) is not None]
        style = parsed.style
        if avail and (attempt == 0 or rng.random() < 0.7):
            others = [s for s in avail if s != parsed.style] or avail
            style = others[attempt % len(others)] if attempt < len(others) else rng.choice(avail)
        core = None
        if style != parsed.style or rng.random() < 0.5:
            core = self._build(parsed, style, pick)
        keep_prefix = False
        if core is None:
            # the sentence as written: its own opener stays (it may be what makes it grammatical:
            # "I'd like to know | how many users there are")
            core, style, keep_prefix = fr.core, parsed.style, bool(fr.prefix)
        # reorder time / group clauses
        core, lead = self._reorder(core, lead, rng)
        # word swaps
        core = self._swap_schema(core, rng)
        core = self._swap_ops(core, rng)
        if rng.random() < 0.35:
            core = self._contract(core, rng)
        # politeness / filler
        is_imp = style == "imperative"
        sentence = core
        if lead:
            sentence = f"{_upper_first(lead)}, {_lower_first(sentence)}"
        if keep_prefix:
            sentence = f"{fr.prefix} {_lower_first(sentence)}"
        r = rng.random()
        if r < 0.22 and is_imp and not lead and not keep_prefix:
            sentence = f"{rng.choice(_IMPERATIVE_POLITE)} {_lower_first(sentence)}"
        elif r < 0.36:
            sentence = f"{rng.choice(_ANY_PREFIX)} {_lower_first(sentence)}"
        elif r < 0.42:
            noise = self._noise_word(rng)
            if noise:
                sentence = rng.choice([f"For the {noise} report, {_lower_first(sentence)}",
                                       f"For the {noise} team: {_lower_first(sentence)}",
                                       f"Re {noise}: {_lower_first(sentence)}"])
        suffix = rng.choice(_SUFFIXES) if rng.random() < 0.15 else ""
        # final punctuation
        asks = style in ("question",) or sentence.lower().startswith(_QUESTION_PREFIX) or (
            style == "verbose" and sentence.lower().startswith(("can ", "could ", "do you")))
        if style == "terse":
            end = rng.choice(["?", "", "?"])
        elif asks:
            end = "?" if rng.random() > 0.2 else ""
        else:
            end = rng.choice([".", ".", ""])
        out = sentence + suffix + end
        # case
        rc = rng.random()
        if rc < 0.2:
            out = _lower_first(out)
        elif rc < 0.27:
            out = self._lower_all(out)
        else:
            out = _upper_first(out)
        if self.typo_rate > 0:
            out = self._typos(out, rng, self.typo_rate)
        return " ".join(out.split())

    # ------------------------------------------------------------------ reorder
    def _reorder(self, core: str, lead: str, rng: random.Random) -> tuple[str, str]:
        if lead:
            if rng.random() < 0.5:  # "In 2024, how many ..." -> "how many ... in 2024"
                core, lead = f"{core} {_lower_first(lead)}", ""
            return core, lead
        toks = core.split(" ")
        for i in range(max(1, len(toks) - 8), len(toks)):
            if toks[i].lower() not in _LEAD_PREPS:
                continue
            tail, rest = " ".join(toks[i:]), " ".join(toks[:i])
            if not self._temporal(tail) or len(toks[:i]) < 2:
                continue
            r = rng.random()
            if r < 0.3 and not (set(w.lower() for w in toks[:i]) & _REL_WORDS):
                return _lower_first(rest), tail  # front the time clause
            g = _GROUP_CLAUSE.match(rest)
            if r < 0.55 and g and not set(g.group("rest").lower().split()[-1:]) & _SORT_WORDS:
                return f"{g.group('rest')} {tail} {g.group('g')}", ""
            break
        return core, lead

    # ------------------------------------------------------------------ swaps
    def _schema_matches(self, text: str) -> list[tuple[int, int, list[str]]]:
        if self._schema_re is None:
            return []
        return [(m.start(), m.end(), self._index[m.group(0).lower()])
                for m in self._schema_re.finditer(text)]

    def _swap_targets(self, phrase: str, gids: list[str]) -> list[str]:
        common: list[str] | None = None
        for gid in gids:
            words = [w for w in self._groups[gid] if "_" not in w and not re.search(r"\d", w)]
            if gid.endswith(":pl"):  # "how many traffic" is not English
                words = [w for w in words if singularize(w) != w or w.lower() == phrase]
            if common is None:
                common = words
            else:
                keep = {w.lower() for w in words}
                common = [w for w in common if w.lower() in keep]
        return [w for w in (common or []) if w.lower() != phrase]

    def _swap_schema(self, core: str, rng: random.Random) -> str:
        out, pos = [], 0
        for a, b, gids in self._schema_matches(core):
            src = core[a:b]
            low = src.lower()
            if low in AMBIGUOUS_SOURCE_WORDS or (len(low) < 3 and not src.isupper()):
                continue
            if rng.random() > 0.55:
                continue
            targets = self._swap_targets(low, gids)
            if not targets:
                continue
            tgt = rng.choice(targets)
            if src[0].isupper() and not src.isupper() and tgt[0].islower():
                tgt = tgt[0].upper() + tgt[1:]
            before = core[pos:a]
            # fix the article: "a user" -> "an account"
            am = re.search(r"\b([Aa]n?)\s+$", before)
            if am:
                art = "an" if tgt[0].lower() in "aeiou" and not tgt.isupper() else "a"
                art = art.capitalize() if am.group(1)[0].isupper() else art
                before = before[:am.start(1)] + art + before[am.end(1):]
            out.append(before)
            out.append(tgt)
            pos = b
        out.append(core[pos:])
        return "".join(out)

    def _swap_ops(self, core: str, rng: random.Random) -> str:
        schema_spans = [(a, b) for a, b, _ in self._schema_matches(core)]
        found: list[tuple[int, int, int]] = []  # (start, end, op index)
        for oi, (_key, rx, _targets, _guard) in enumerate(self._ops):
            for m in rx.finditer(core):
                a, b = m.start(), m.end()
                if any(a < e and b > s for s, e in schema_spans):
                    continue  # inside a schema phrase ("total amount", "unique users")
                if any(a < e and b > s for s, e, _ in found):
                    continue  # a longer operation phrase already claimed it
                found.append((a, b, oi))
        found.sort()
        out, pos = [], 0
        for a, b, oi in found:
            key, _rx, targets, guard = self._ops[oi]
            if rng.random() > 0.5 or not self._guard_ok(core, a, b, guard, key):
                continue
            src = core[a:b]
            options = [t for t in targets if t.lower() != src.lower()]
            if not options:
                continue
            tgt = rng.choice(options)
            if src[0].isupper():
                tgt = _upper_first(tgt)
            out.append(core[pos:a])
            out.append(tgt)
            pos = b
        out.append(core[pos:])
        return "".join(out)

    def _guard_ok(self, core: str, a: int, b: int, guard: str, key: str) -> bool:
        after = core[b:].lstrip()
        before_words = core[:a].lower().split()
        if guard == "num":
            m = re.match(_PH, after)
            if m:
                return m.group(0)[1] == _PH_NUM
            w = re.match(r"[a-z]+", after.lower())
            return bool(w and w.group(0) in _NUMBER_WORDS)
        if guard == "word":
            if key == "total" and re.match(r"(?:number|count)\b", after, re.IGNORECASE):
                return False  # "total number of" stays: "combined number of" reads oddly
            return bool(re.match(r"[A-Za-z\ue000]", after))
        if guard == "group":
            if before_words and before_words[-1] in _SORT_WORDS:
                return False
            w = re.match(r"(?:the\s+)?([a-z]+)", after.lower())
            if w and w.group(1) in _GRAIN_WORDS:
                return True
            offset = b + (len(core[b:]) - len(after))
            for s, _e, gids in self._schema_matches(core):
                if s == offset or s == offset + 4 and core[offset:offset + 4].lower() == "the ":
                    return all(g in self._dimensional for g in gids)
            return False
        return True

    @staticmethod
    def _contract(core: str, rng: random.Random) -> str:
        for full, short in _CONTRACTIONS:
            if rng.random() < 0.5:
                continue
            for a, b in ((full, short), (short, full)):
                rx = re.compile(r"(?<![\w'])" + re.escape(a) + r"(?![\w'])", re.IGNORECASE)
                m = rx.search(core)
                if m:
                    rep = b if not m.group(0)[0].isupper() else _upper_first(b)
                    core = core[:m.start()] + rep + core[m.end():]
                    break
        return core

    # ------------------------------------------------------------------ noise
    def _noise_word(self, rng: random.Random) -> str | None:
        if self._filler_cache is None:
            # the 2,000 most common are plain enough to read as a topic ("the team report")
            # and inflected verbs/adverbs ("the showed report") are dropped
            self._filler_cache = [w for w in self.lexicon.filler_words()[:2000]
                                  if len(w) > 3 and not w.endswith(("ed", "ing", "ly", "est"))]
        return rng.choice(self._filler_cache) if self._filler_cache else None

    @staticmethod
    def _lower_all(text: str) -> str:
        """Lower-case capitalised words (not acronyms, not "I", not masked spans)."""
        return re.sub(r"\b([A-Z])([a-z]+)\b", lambda m: m.group(0).lower(), text)

    @staticmethod
    def _typos(text: str, rng: random.Random, rate: float) -> str:
        if rate <= 0:
            return text
        out, pos = [], 0
        for m in re.finditer(r"[A-Za-z]+", text):
            word = m.group(0)
            a, b = m.start(), m.end()
            prev = text[a - 1] if a else " "
            nxt = text[b] if b < len(text) else " "
            eligible = (
                len(word) >= 5 and word.islower()
                and prev not in "'\ue001-" and nxt not in "'\ue000-"
                and word not in _MONTHS and word not in _DAYS
            )
            if not eligible or rng.random() >= rate:
                continue
            out.append(text[pos:a])
            out.append(_typo_word(word, rng))
            pos = b
        out.append(text[pos:])
        return "".join(out)


def _typo_word(word: str, rng: random.Random) -> str:
    """One realistic typo; the first letter is kept (people rarely mistype it)."""
    for _ in range(6):
        kind = rng.randrange(3)
        i = rng.randrange(1, len(word) - 1)
        if kind == 0 and word[i] != word[i + 1]:
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]  # swap adjacent
        if kind == 1:
            return word[:i] + word[i + 1:]  # drop
        if kind == 2:
            return word[:i] + word[i] + word[i:]  # double
    return word[:-1]
