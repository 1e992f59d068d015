"""What a question says of the SQL's form (schemadistill/stated_forms.py); the golden cases of
these checks live with the rest of the consistency check in tests/fixtures/consistency/.

    .venv/bin/pytest -q tests/test_stated_forms.py
"""

from __future__ import annotations

import pytest
import sqlglot

from schemadistill.stated_forms import asked_quantiles, form_issues


@pytest.mark.parametrize("question,levels", [
    ("Median revenue per OS", {0.5}),
    ("Give the middle value of session length", {0.5}),
    ("What is the 90th percentile of revenue?", {0.9}),
    ("25th, 50th and 75th percentile of revenue", {0.25, 0.5, 0.75}),
    ("p95 of session duration by browser", {0.95}),
    ("Lower and upper quartiles of revenue", {0.25, 0.75}),
    ("Quartiles (25%, median, 75%) of duration", {0.25, 0.5, 0.75}),
    ("first quartile, median and third quartile of revenue", {0.25, 0.5, 0.75}),
    ("the upper quartile of revenue", {0.75}),
    ("Average revenue in the 4th quarter of 2024", set()),  # an ordinal, but no percentile
    ("the 50th percentile of revenue in the 3rd quarter", {0.5}),
])
def test_asked_quantiles(question: str, levels: set[float]) -> None:
    assert asked_quantiles(question) == levels


def _issues(sql: str, question: str) -> list[str]:
    return form_issues(sqlglot.parse_one(sql, read="duckdb"), question, {"session_duration", "revenue"})


def test_quantile_levels_are_read_from_every_form_duckdb_writes() -> None:
    asked = "What are the 10th and 90th percentiles of revenue?"
    assert _issues("SELECT QUANTILE_DISC(revenue, [0.1, 0.9]) FROM s", asked) == []
    assert _issues("SELECT PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY revenue) FROM s", asked) == [
        "the question asks for the 0.1 quantile; the SQL has none"]
    assert _issues("SELECT QUANTILE_CONT(revenue, 0.5) FROM s", "median revenue") == []


def test_no_form_words_no_issues() -> None:
    # a set operation, a ROW_NUMBER and a LIMIT the question says nothing about are other checks' business
    sql = ("SELECT user_id FROM s WHERE os = 'iOS' UNION SELECT user_id FROM s WHERE os = 'Android' "
           "ORDER BY 1 LIMIT 5")
    assert _issues(sql, "Five users with sessions on iOS and Android") == []
    assert _issues("SELECT ROW_NUMBER() OVER (ORDER BY revenue DESC) AS r FROM s", "Rank sessions by revenue") == []
    # a stated test the SQL never reads is not contradicted (other checks find what is missing)
    assert _issues("SELECT COUNT(*) FROM s", "How many sessions with session_duration > 250?") == []
