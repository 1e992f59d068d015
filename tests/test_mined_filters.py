"""Named conditions read off EXAMPLES (teacher/mined_filters.py), and how grounding uses them.

    .venv/bin/pytest -q tests/test_mined_filters.py
"""

from __future__ import annotations

from pathlib import Path

from schemadistill.grounding import ValueIndex, ground_sql
from schemadistill.pipeline import load_run_filters
from schemadistill.schema import load_schema
from teacher.mined_filters import mine_filters, save_filters

DDL = """
CREATE SCHEMA shop;
CREATE TABLE shop.users (user_id BIGINT PRIMARY KEY, country VARCHAR, age BIGINT);
CREATE TABLE shop.sessions (session_id BIGINT, user_id BIGINT REFERENCES shop.users (user_id),
                            action_date DATE, os VARCHAR, revenue DOUBLE);
"""

EXAMPLES = [
    ("How many customers made a purchase in November 2024?",
     "SELECT COUNT(DISTINCT user_id) FROM shop.sessions WHERE action_date >= '2024-11-01' AND revenue > 0"),
    ("How many customers in France made a purchase?",
     "SELECT COUNT(DISTINCT s.user_id) FROM shop.sessions AS s JOIN shop.users AS u ON s.user_id = u.user_id "
     "WHERE (u.country = 'France') AND (s.revenue > 0)"),
    ("What is the median purchase revenue per os?",
     "SELECT os, MEDIAN(revenue) FROM shop.sessions WHERE revenue > 0 GROUP BY os"),
    ("Days between the first session and the first purchase?",
     "SELECT AVG(fp - fs) FROM (SELECT user_id, MIN(action_date) AS fs, "
     "MIN(CASE WHEN revenue > 0 THEN action_date END) AS fp FROM shop.sessions GROUP BY user_id)"),
    ("How many users are older than 30?", "SELECT COUNT(*) FROM shop.users WHERE age > 30"),
    ("How many users older than 40 are from France?",
     "SELECT COUNT(*) FROM shop.users WHERE age > 40 AND country = 'France'"),
    ("Total revenue per os?", "SELECT os, SUM(revenue) FROM shop.sessions GROUP BY os"),
    ("How many sessions had no revenue?", "SELECT COUNT(*) FROM shop.sessions WHERE revenue = 0"),
]


def _schema(tmp_path: Path):
    (tmp_path / "schema.sql").write_text(DDL)
    return load_schema(tmp_path / "schema.sql")


def test_a_condition_on_zero_with_the_words_only_its_questions_say(tmp_path: Path) -> None:
    mined = mine_filters(EXAMPLES, _schema(tmp_path))
    # revenue > 0 in three WHEREs and a CASE; every one of those questions says "purchase", no
    # other question does ("made a purchase": half of them). age > 30 / 40 are thresholds and
    # revenue = 0 is used once: not mined.
    assert [(f.name, f.sql, f.table, f.synonyms) for f in mined] == [
        ("revenue_gt_0", "revenue > 0", "shop.sessions", ["purchase", "made a purchase", "purchases"])]


def test_no_words_no_filter(tmp_path: Path) -> None:
    vague = [(f"Question number {i} about sales", sql) for i, (_, sql) in enumerate(EXAMPLES)]
    assert mine_filters(vague, _schema(tmp_path)) == []
    assert mine_filters([], _schema(tmp_path)) == []


def test_grounding_uses_what_the_teacher_stage_wrote(tmp_path: Path) -> None:
    schema = _schema(tmp_path)
    save_filters(mine_filters(EXAMPLES, schema), tmp_path / "teacher")
    assert load_run_filters(tmp_path)[0].sql == "revenue > 0"
    assert load_run_filters(tmp_path / "elsewhere") == []
    index = ValueIndex()
    index.add_filters(load_run_filters(tmp_path), schema.dialect)
    g = ground_sql("SELECT COUNT(DISTINCT user_id) FROM shop.sessions WHERE os = 'iOS'",
                   "How many iOS users made purchases?", index, "duckdb", schema)
    assert g.sql == "SELECT COUNT(DISTINCT user_id) FROM shop.sessions WHERE os = 'iOS' AND sessions.revenue > 0"
    assert ground_sql("SELECT SUM(revenue) FROM shop.sessions", "Revenue of users who never made a purchase?",
                      index, "duckdb", schema).changes == []
