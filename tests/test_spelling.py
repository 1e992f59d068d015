"""Misspelt words read as the words grounding knows (schemadistill/spelling.py).

    .venv/bin/pytest -q tests/test_spelling.py
"""

from __future__ import annotations

import pytest

from schemadistill.spelling import Speller

KNOWN = {"browser", "fraud", "fraudulent", "session", "sessions", "duration", "safari", "sales", "revenue",
         "percentile", "region"}


@pytest.fixture(scope="module")
def speller() -> Speller:
    return Speller(KNOWN)


@pytest.mark.parametrize("typo,meant", [
    ("brwoser", "browser"),        # neighbours swapped
    ("frauud", "fraud"),           # a letter doubled
    ("duratin", "duration"),       # a letter dropped
    ("sessiom", "session"),        # a letter changed
    ("otehr", "other"),            # the rules' own words are known too
    ("distincct", "distinct"),
    ("Safrai", "Safari"),          # the first letter's case is kept
    ("whcih", "which"),            # question words the rules read
    ("younegr", "younger"),
    ("startng", "starting"),       # also "staring", an English word far rarer than "starting"
    ("reion", "region"),           # also "reign", far rarer
])
def test_a_misspelt_known_word_is_read_as_that_word(speller: Speller, typo: str, meant: str) -> None:
    assert speller.correct(typo) == meant


@pytest.mark.parametrize("word", [
    "browsed",      # an English word is what someone meant
    "vales",        # "values" or "sales": two words it may be, so neither
    "larest",       # "largest" or "latest": about as common as each other
    "percentiles",  # a plural of a known word is spelt right
    "rte",          # too short to tell
    "xyzzyq",       # near nothing known
])
def test_words_it_cannot_be_sure_of_stay(speller: Speller, word: str) -> None:
    assert speller.correct(word) == word


def test_only_words_change_in_a_question(speller: Speller) -> None:
    q = "What share of frauud sessions on 2024-12-31 had user_id 4012371 and brwoser otehr than 'Chrme'?"
    assert speller.correct(q) == ("What share of fraud sessions on 2024-12-31 had user_id 4012371 and browser "
                                  "other than 'Chrme'?")


def test_a_misspelt_column_name_is_read_as_the_name() -> None:
    sp = Speller(KNOWN, identifiers=["session_duration", "is_fraud", "user_id"])
    assert sp.correct("total session_duation over 500") == "total session_duration over 500"
    assert sp.correct("sesion_duration and is_frad") == "session_duration and is_frad"  # too short to tell
    assert sp.correct("session_duration") == "session_duration"
    assert Speller(KNOWN).correct("session_duation") == "session_duation"  # no names known: left alone
