"""Misspelt words of a question read as the schema's words they were meant to be, for grounding.

    from schemadistill.spelling import Speller
    sp = Speller({"browser", "fraud", "other", "distinct"})
    sp.correct("count distincct browser otehr than Chrome for frauud visits")
    # 'count distinct browser other than Chrome for fraud visits'

Why: grounding reads the question's words ("browser type", "other than", "fraud", "how many
different"), and one typo hides a word from every rule: in the held-out misses of five data runs
"otehr than Firefox" kept ``= 'Firefox'``, "brwoser type" kept the wrong breakdown, "distincct
territory" counted rows, "frauud sessions" left a rate's condition in the wrong place. People
misspell (the teacher puts typos into its questions because they do), and the student reads
the typo fine; only the rules need the word back. The corrected text is used by grounding alone:
the student always sees what the user wrote.

Rule: a word of at least 4 letters that is neither a word grounding knows (the value index's
phrases, the rules' own words) nor a common English word (wordfreq), and is one edit (a letter
dropped, added, changed, or two neighbours swapped) from exactly one known word of at least 5
letters, and not one edit from another common English word as well unless it is far commoner
than each (``DOMINANT_ZIPF``), is that word ("vales" may be "values" as well as "sales": left
alone; "belw" is "below" rather than the rarer "blew"). A word with a digit or next to an apostrophe
is left alone (ids, "user's"); an English word is never changed ("browsed", "clint"), and
without wordfreq nothing is. A name written with underscores ("session_duation") is read as
the one known name one edit away, if any (``identifiers``: the index's phrases of several
words, joined as a column is named), so that a misspelt column name still names its measure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

# the words grounding's rules look for beyond the index's phrases (share words, negations,
# breakdown and count words); only words of >= 5 letters matter (see MIN_KNOWN)
RULE_WORDS = frozenset("""
    other except excluding besides apart outside without never
    distinct different unique count number total average overall combined median percentile
    share percent percentage proportion fraction ratio divided
    greater higher lower larger smaller fewer above below under
    between least minimum maximum highest lowest largest smallest fewest leading trails
    sorted order ordered breakdown broken split every combination
    before after since until through during starting onwards
    first latest earliest month monthly quarter yearly weekly daily
    users sessions visits customers people accounts
    which where whose younger older sample population
""".split())

MIN_WORD = 4   # shorter words are too often another word with one letter off ("rate", "date")
MIN_KNOWN = 5  # the teacher's typos touch words of >= 5 letters; a 4-letter target is a guess
MIN_IDENTIFIER = 8  # a shorter name with underscores ("is_fraud") is one edit from too many
COMMON_ZIPF = 2.5  # at or above: an English word someone meant ("clint", "browsed")
# A known word this much commoner (zipf: log10 of uses per billion words) than every other English
# word one edit away is the one meant: "belw" is "below" (5.05) rather than "blew" (4.12),
# "startng" "starting" rather than "staring"; "larest" stays (largest 4.90, latest 4.92).
DOMINANT_ZIPF = 0.9
ENGLISH_WORDS = 20_000  # the commonest English words a misspelling might also have meant

_WORD = re.compile(r"(?<![\w'’])[A-Za-z]+(?![\w'’])")
_IDENTIFIER = re.compile(r"(?<![\w'’])[A-Za-z]+(?:_[A-Za-z]+)+(?![\w'’])")


class Speller:
    """Corrects the words of a question towards ``known`` (lower-case words)."""

    def __init__(self, known: Iterable[str], identifiers: Iterable[str] = ()) -> None:
        self.known = {w.lower() for w in known if w.isalpha()} | set(RULE_WORDS)
        self._targets = frozenset(w for w in self.known if len(w) >= MIN_KNOWN)
        self.identifiers = frozenset(i.lower() for i in identifiers if _IDENTIFIER.fullmatch(i))
        self._cache: dict[str, str | None] = {}

    def meant(self, word: str) -> str | None:
        """The one known word ``word`` is a misspelling of, or None."""
        low = word.lower()
        if low in self._cache:
            return self._cache[low]
        found: str | None = None
        if len(low) >= MIN_WORD and low not in self.known and not is_english(low):
            # a plural or singular of a known word is that word, spelt right ("percentiles")
            hits = {h for h in one_edit_away(low) & self._targets if low not in (h + "s", h[:-1])}
            if len(hits) == 1:
                hit = next(iter(hits))
                others = _english_near(low) - {hit, hit + "s", hit[:-1]}
                found = None if others and not _dominates(hit, others) else hit
        self._cache[low] = found
        return found

    def meant_identifier(self, name: str) -> str | None:
        """The one known name with underscores ``name`` is a misspelling of, or None."""
        low = name.lower()
        if len(low) < MIN_IDENTIFIER or low in self.identifiers:
            return None
        if low not in self._cache:  # the runtime checks every beam against the same question
            hits = one_edit_away(low) & self.identifiers
            self._cache[low] = next(iter(hits)) if len(hits) == 1 else None
        return self._cache[low]

    def correct(self, text: str) -> str:
        """``text`` with each misspelt word replaced (its first letter's case kept)."""
        def fix(m: re.Match[str]) -> str:
            word = m.group(0)
            meant = self.meant(word)
            if meant is None:
                return word
            return meant[0].upper() + meant[1:] if word[0].isupper() else meant

        def fix_name(m: re.Match[str]) -> str:
            return self.meant_identifier(m.group(0)) or m.group(0)
        if self.identifiers:
            text = _IDENTIFIER.sub(fix_name, text)
        return _WORD.sub(fix, text)


_ENGLISH: frozenset[str] | None = None
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@lru_cache(maxsize=4096)
def one_edit_away(word: str) -> frozenset[str]:
    """Every string one edit from ``word``: a letter dropped, swapped with its neighbour, changed
    or added (optimal-string-alignment distance 1)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    edits = {a + b[1:] for a, b in splits if b}
    edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    edits |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    edits |= {a + c + b for a, b in splits for c in _LETTERS}
    edits.discard(word)
    return frozenset(edits)


def _english_near(word: str) -> frozenset[str]:
    """The commonest English words (wordfreq's top :data:`ENGLISH_WORDS`) one edit from ``word``."""
    global _ENGLISH
    if _ENGLISH is None:
        try:
            import wordfreq
            _ENGLISH = frozenset(w for w in wordfreq.top_n_list("en", ENGLISH_WORDS)
                                 if w.isalpha() and len(w) >= MIN_WORD)
        except Exception:
            _ENGLISH = frozenset()
    return one_edit_away(word) & _ENGLISH


_ZIPF: dict[str, float] = {}


def _zipf(word: str) -> float:
    if word not in _ZIPF:
        try:
            import wordfreq
            _ZIPF[word] = float(wordfreq.zipf_frequency(word, "en"))
        except Exception:
            _ZIPF[word] = float("inf")
    return _ZIPF[word]


def _dominates(word: str, others: Iterable[str]) -> bool:
    """``word`` is far commoner in English than each of ``others`` (see :data:`DOMINANT_ZIPF`)."""
    return _zipf(word) - max(_zipf(o) for o in others) >= DOMINANT_ZIPF


def is_english(word: str) -> bool:
    """Common enough in English that someone meant it; True when wordfreq is missing, so that
    nothing is corrected without it."""
    return _zipf(word) >= COMMON_ZIPF
