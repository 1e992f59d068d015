"""Literal grounding (schemadistill/literals.py): reading the question's dates and numbers, and
the rules that decide when a SQL literal is replaced.

    .venv/bin/pytest -q tests/test_literals.py

End-to-end cases (question, model SQL, grounded SQL run in DuckDB) are golden fixtures in
tests/fixtures/grounding/ecommerce.sql, run by tests/test_grounding.py.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from schemadistill.literals import Atom, ground_literals, question_atoms

D = dt.date


def _read(question: str) -> list[tuple[str, object]]:
    return [(a.kind, a.number if a.kind == "number" else a.start) for a in question_atoms(question)]


@pytest.mark.parametrize("text,start", [
    ("2023-12-13", D(2023, 12, 13)), ("12/13/2023", D(2023, 12, 13)), ("2023/12/13", D(2023, 12, 13)),
    ("December 13, 2023", D(2023, 12, 13)), ("Dec 13, 2023", D(2023, 12, 13)), ("Dec. 13 2023", D(2023, 12, 13)),
    ("13 December 2023", D(2023, 12, 13)), ("13th of December 2023", D(2023, 12, 13)),
    ("Wednesday, December 13, 2023", D(2023, 12, 13)), ("December 13th, 2023", D(2023, 12, 13)),
])
def test_days_in_the_formats_people_write(text: str, start: dt.date) -> None:
    assert _read(f"Revenue on {text}?") == [("day", start)]


@pytest.mark.parametrize("text,kind,start,end", [
    ("December 2023", "month", D(2023, 12, 1), D(2023, 12, 31)), ("Feb 2024", "month", D(2024, 2, 1), D(2024, 2, 29)),
    ("2023-12", "month", D(2023, 12, 1), D(2023, 12, 31)), ("12/2023", "month", D(2023, 12, 1), D(2023, 12, 31)),
    ("October of 2024", "month", D(2024, 10, 1), D(2024, 10, 31)),
    ("Q2 2024", "quarter", D(2024, 4, 1), D(2024, 6, 30)), ("2024 Q4", "quarter", D(2024, 10, 1), D(2024, 12, 31)),
    ("the 2nd quarter of 2024", "quarter", D(2024, 4, 1), D(2024, 6, 30)),
    ("the fourth quarter of 2023", "quarter", D(2023, 10, 1), D(2023, 12, 31)),
    ("2022", "year", D(2022, 1, 1), D(2022, 12, 31)),
])
def test_periods_and_their_bounds(text: str, kind: str, start: dt.date, end: dt.date) -> None:
    atoms = question_atoms(f"Sessions in {text}")
    assert [(a.kind, a.start, a.end) for a in atoms] == [(kind, start, end)]


def test_numbers_words_scales_and_percentages() -> None:
    assert _read("between zero and 1.7k, over 1,250 or 2.5 and 3M") == [
        ("number", 0.0), ("number", 1700.0), ("number", 1250.0), ("number", 2.5), ("number", 3_000_000.0)]
    # scale words: the SQL compares with 370000000, and that is what the question states
    assert _read("under 370 million, over 1.2 billion, 3bn or 2 thousand") == [
        ("number", 370_000_000.0), ("number", 1_200_000_000.0), ("number", 3e9), ("number", 2000.0)]
    pct = question_atoms("share above 10% or 15 percent")
    assert [(a.number, a.percent) for a in pct] == [(10.0, True), (15.0, True)]
    # "one" names no value ("had one with"); the numbers of a date are not numbers of their own
    assert _read("users who had one with Safari on 2024-01-05") == [("day", D(2024, 1, 5))]
    # an impossible date leaves its numbers as numbers
    assert [a.kind for a in question_atoms("ids 13/45/2024")] == ["number", "number", "year"]


def test_rank_numbers_may_stand_in_a_limit() -> None:
    ranks = {a.number: a.rank for a in question_atoms("top 5 browsers, the 3 oldest users, aged 30 or more")}
    assert ranks == {5.0: True, 3.0: True, 30.0: False}
    sql = "SELECT user_id FROM users ORDER BY age DESC LIMIT 10"
    assert ground_literals(sql, "The 3 oldest users")[1] == ["limit 10 -> 3 (the question asks for 3 rows)"]
    assert ground_literals(sql, "Users aged 30 and above, oldest first")[1] == []


def test_a_stated_count_of_rows_replaces_limit_one() -> None:
    sql = "SELECT user_id, age FROM users WHERE country = 'France' ORDER BY age DESC, user_id LIMIT 1"
    out, changes = ground_literals(sql, "Top 10 shoppers by age in France")
    assert changes == ["limit 1 -> 10 (the question asks for 10 rows)"] and out.endswith("LIMIT 10")
    # "the one with the most": no count stated, LIMIT 1 stays; a flag's 1 is never a count
    assert ground_literals(sql, "Which shopper in France is the oldest?")[1] == []
    flag = "SELECT COUNT(*) FROM s WHERE is_fraud = 1"
    assert ground_literals(flag, "How many of the top 5 sessions are fraud?")[1] == []


@pytest.mark.parametrize("question,sql,want", [
    ("The leading 3 buyers by age", "SELECT user_id, age FROM u ORDER BY age ASC, user_id LIMIT 3",
     "SELECT user_id, age FROM u ORDER BY age DESC, user_id LIMIT 3"),
    ("Bottom ten people by age", "SELECT user_id, age FROM u ORDER BY age DESC, user_id LIMIT 10",
     "SELECT user_id, age FROM u ORDER BY age ASC, user_id LIMIT 10"),
    ("Which browser has the fewest sessions?", "SELECT b FROM s GROUP BY b ORDER BY COUNT(*) DESC LIMIT 1",
     "SELECT b FROM s GROUP BY b ORDER BY COUNT(*) ASC LIMIT 1"),
])
def test_the_sort_follows_the_ranking_words(question: str, sql: str, want: str) -> None:
    out, changes = ground_literals(sql, question)
    assert out == want and len(changes) == 1 and changes[0].startswith("order by ")


@pytest.mark.parametrize("question,sql", [
    ("Users with at least 3 sessions, 5 of them by age", "SELECT u FROM t ORDER BY age DESC LIMIT 5"),  # at least
    ("Among the top 10 spenders, the lowest age",  # both ways; the 10 is the inner LIMIT's
     "SELECT u FROM (SELECT * FROM t ORDER BY r DESC LIMIT 10) AS x ORDER BY age DESC LIMIT 1"),
    ("The 5 most recent sessions", "SELECT s FROM t ORDER BY d ASC LIMIT 5"),  # a date's own words
    ("Highest revenue per country", "SELECT c, MAX(r) FROM t GROUP BY c ORDER BY 2"),  # no LIMIT: no ranking
    ("Bottom 3 ages", "SELECT a FROM t ORDER BY a DESC NULLS FIRST LIMIT 3"),  # NULLS written out
])
def test_the_sort_is_left_alone(question: str, sql: str) -> None:
    assert ground_literals(sql, question) == (sql, [])


def test_the_sort_keeps_the_dialects_null_order() -> None:
    out, _ = ground_literals("SELECT a FROM t ORDER BY a LIMIT 3", "top 3 a", "postgres")
    assert out == "SELECT a FROM t ORDER BY a DESC LIMIT 3"  # no NULLS LAST written in


def test_a_stated_day_range_goes_onto_the_between() -> None:
    sql = "SELECT AVG(d) FROM s WHERE action_date BETWEEN '2023-12-28' AND '2023-12-28'"
    out, changes = ground_literals(sql, "Average duration from 2023-12-18 through 2023-12-28?")
    assert changes == ["date 2023-12-28 -> 2023-12-18"]
    assert out.endswith("BETWEEN '2023-12-18' AND '2023-12-28'")
    q = "Sessions between 21 December 2023 and 12/27/2023, both days included"
    out, _ = ground_literals("SELECT COUNT(*) FROM s WHERE d BETWEEN '2023-12-12' AND '2023-12-27'", q)
    assert out.endswith("BETWEEN '2023-12-21' AND '2023-12-27'")
    # two days that are not a range ("X or Y") leave the BETWEEN alone
    sql = "SELECT AVG(d) FROM s WHERE action_date BETWEEN '2023-12-28' AND '2023-12-28'"
    assert ground_literals(sql, "Average duration on 2023-12-28 or 2023-12-18?")[1] == []


def test_zero_one_and_arithmetic_are_never_replaced() -> None:
    q = "Percentage of sessions by users older than 40"
    sql = "SELECT 100.0 * COUNT(CASE WHEN revenue > 0 THEN 1 END) / COUNT(*) FROM s WHERE is_fraud = 1 AND age > 35"
    out, changes = ground_literals(sql, q)
    assert changes == ["number 35 -> 40"] and "100.0 *" in out and "revenue > 0" in out and "is_fraud = 1" in out


def test_a_number_stated_once_explains_one_use() -> None:
    q = "Sessions between 100 and 900 seconds with revenue between 0 and 1700"
    out, changes = ground_literals("SELECT COUNT(*) FROM s WHERE d BETWEEN 100 AND 900 AND r BETWEEN 0 AND 900", q)
    assert changes == ["number 900 -> 1700"] and out.endswith("r BETWEEN 0 AND 1700")


def test_unclear_pairings_change_nothing() -> None:
    # two wrong numbers, one stated number: which one it replaces is not clear
    assert ground_literals("SELECT * FROM u WHERE age > 25 AND score < 80", "Users older than 30")[1] == []
    # a date the question does not state at all (a reference date) stays
    sql = "SELECT COUNT(*) FROM s WHERE d >= DATE '2024-12-31' - INTERVAL 30 DAY"
    assert ground_literals(sql, "Sessions in the last 30 days") == (sql, [])
    # a period the SQL already states through its parts (YEAR(d) = 2024)
    sql = "SELECT COUNT(*) FROM s WHERE YEAR(d) = 2024 AND MONTH(d) = 12"
    assert ground_literals(sql, "Sessions in December 2024") == (sql, [])


def test_one_sided_bounds_follow_the_words() -> None:
    sql = "SELECT COUNT(*) FROM s WHERE d < DATE '2023-01-01'"
    assert ground_literals(sql, "Sessions before 2023-12-13")[0].endswith("d < CAST('2023-12-13' AS DATE)")
    assert ground_literals(sql, "Sessions until 2023-12-13")[0].endswith("d < CAST('2023-12-14' AS DATE)")
    assert ground_literals(sql, "Sessions no later than 2023-12-13")[0].endswith("d < CAST('2023-12-14' AS DATE)")
    sql = "SELECT COUNT(*) FROM s WHERE d >= DATE '2023-01-01'"
    assert ground_literals(sql, "Sessions after 2023-12-13")[0].endswith("d >= CAST('2023-12-14' AS DATE)")
    assert ground_literals(sql, "Sessions since 2023-12-13")[0].endswith("d >= CAST('2023-12-13' AS DATE)")
    assert ground_literals(sql, "Sessions on or after 2023-12-13")[0].endswith("d >= CAST('2023-12-13' AS DATE)")
    # a month's exclusive end written as the next month's first day is already right
    ok = "SELECT COUNT(*) FROM s WHERE d >= DATE '2023-12-01' AND d < DATE '2024-01-01'"
    assert ground_literals(ok, "Sessions in December 2023") == (ok, [])


def test_quoted_text_the_sql_does_not_use() -> None:
    sql = "SELECT COUNT(*) FROM s WHERE browser LIKE '%ome'"
    assert ground_literals(sql, 'Count the sessions with browser ending with "ari".') == (
        "SELECT COUNT(*) FROM s WHERE browser LIKE '%ari'", ["text '%ome' -> '%ari'"])
    assert [a.text for a in question_atoms("the user's os is 'iOS' or “Android”")] == ["iOS", "Android"]
    # said, if not quoted: explained; a CASE label is no comparison; two strings, one quote: unclear
    assert ground_literals("SELECT * FROM s WHERE os = 'Android' AND b LIKE 'Saf%'", "Android 'Safari'")[1] == []
    assert ground_literals("SELECT CASE WHEN x > 1 THEN 'big' END FROM s", "labels 'large'")[1] == []
    assert ground_literals("SELECT * FROM s WHERE a LIKE 'x%' AND b LIKE 'y%'", "where b is 'z'")[1] == []
    # an equality is value grounding's, which knows how the data spells it ("france" vs 'France')
    assert ground_literals("SELECT * FROM u WHERE country = 'Germany'", 'country "france" in any case')[1] == []


@pytest.mark.parametrize("sql", ["", "   ", "SELEC nonsense (((", "not sql at all"])
def test_bad_sql_comes_back_as_it_came(sql: str) -> None:
    assert ground_literals(sql, "Revenue on 2023-12-13 over 100?") == (sql, [])


def test_atoms_keep_question_order() -> None:
    atoms = question_atoms("over 50 from 2023-01-02 to 2023-02-03, top 3")
    assert [a.kind for a in atoms] == ["number", "day", "day", "number"]
    assert all(isinstance(a, Atom) for a in atoms) and [a.pos for a in atoms] == sorted(a.pos for a in atoms)


def test_conditions_the_question_never_states_are_dropped() -> None:
    """A copied filter no word of the question supports goes: a period when no time is stated, a
    number comparison when no number is; 0/1 (named conditions, flags) and stated ones stay."""
    sql = ("SELECT os, QUANTILE_CONT(session_duration, 0.5) AS m FROM sessions AS s JOIN users AS u "
           "ON u.user_id = s.user_id WHERE (CAST(DATE_TRUNC('YEAR', action_date) AS DATE) = '#1-01-01') "
           "AND s.is_fraud = 0 AND u.age >= 25 AND revenue > 0 GROUP BY os")
    out, changes = ground_literals(sql, "Median session duration per OS, excluding fraudulent sessions")
    assert "'#1-01-01'" not in out and "u.age >= 25" not in out and len(changes) == 2
    assert "s.is_fraud = 0" in out and "revenue > 0" in out
    # the question states a time / a number: nothing is dropped on that side
    kept, changes = ground_literals(sql.replace("'#1-01-01'", "'2024-01-01'"),
                                    "Median session duration per OS in 2024 for users aged 25 and over")
    assert "'2024-01-01'" in kept and "u.age >= 25" in kept and changes == []
    timed, _ = ground_literals("SELECT COUNT(*) FROM sessions WHERE action_date >= '2024-12-01'",
                               "How many sessions last month?")
    assert "'2024-12-01'" in timed  # "last month": the date may be the user's, grounding cannot tell
    # the only condition goes with its WHERE; a HAVING or a CASE is never touched
    alone, _ = ground_literals("SELECT COUNT(*) FROM users WHERE age > 40", "How many users?")
    assert alone == "SELECT COUNT(*) FROM users"
    having = "SELECT os FROM sessions GROUP BY os HAVING COUNT(*) > 40"
    assert ground_literals(having, "Which OS have many sessions?") == (having, [])


def test_the_stated_percentile_goes_into_the_one_quantile() -> None:
    out, changes = ground_literals("SELECT MEDIAN(d) AS m FROM s", "What is the 90th percentile of session length?")
    assert out == "SELECT QUANTILE_CONT(d, 0.9) AS m FROM s" and len(changes) == 1
    assert ground_literals("SELECT QUANTILE_CONT(d, 0.9) FROM s", "the median d")[0] == "SELECT QUANTILE_CONT(d, 0.5) FROM s"
    assert ground_literals("SELECT QUANTILE_DISC(d, 0.5) FROM s", "p75 of d")[0] == "SELECT QUANTILE_DISC(d, 0.75) FROM s"
    assert "0.25" in ground_literals("SELECT MEDIAN(d) FROM s", "the lower quartile of d")[0]
    # already right, several stated (an IQR), or several quantiles written: the model's
    for sql, q in [("SELECT MEDIAN(d) FROM s", "median d"),
                   ("SELECT QUANTILE_CONT(d, 0.25) FROM s", "the median and the 75th percentile of d"),
                   ("SELECT MEDIAN(d), MEDIAN(r) FROM s", "the 90th percentile of d")]:
        assert ground_literals(sql, q) == (sql, [])


def test_a_shift_of_a_stated_day_nobody_asked_for_goes() -> None:
    sql = "SELECT COUNT(*) FROM s WHERE d >= CAST('2024-12-24' AS DATE) - INTERVAL '2' WEEK AND os <> 'iOS'"
    out, changes = ground_literals(sql, "From 24th of December 2024 onwards, how many sessions were not on iOS?")
    assert out == "SELECT COUNT(*) FROM s WHERE d >= CAST('2024-12-24' AS DATE) AND os <> 'iOS'" and len(changes) == 1
    # a period relative to the day, said in words, or a stated number: the shift is the user's
    relative = "SELECT COUNT(*) FROM s WHERE d >= CAST('2024-12-31' AS DATE) - INTERVAL '1' MONTH"
    assert ground_literals(relative, "Sessions in the last month (as of December 31, 2024)") == (relative, [])
    stated = "SELECT COUNT(*) FROM s WHERE d >= CAST('2024-12-31' AS DATE) - INTERVAL '30' DAY"
    assert ground_literals(stated, "Sessions in the 30 days up to 2024-12-31") == (stated, [])
    # the shift by the day's own year: a date's part is no count of days
    year = "SELECT COUNT(*) FROM s WHERE d >= DATE '2024-12-24' - INTERVAL 2024 DAY"
    assert ground_literals(year, "From 24th of December 2024 onwards, how many sessions?")[0] == \
        "SELECT COUNT(*) FROM s WHERE d >= CAST('2024-12-24' AS DATE)"


@pytest.mark.parametrize("question,sql,want", [
    # a threshold copied over the year of a month's first day
    ("Which countries have under 10197 sessions in May of 2024?",
     "SELECT c FROM t WHERE CAST(DATE_TRUNC('MONTH', d) AS DATE) = '10197-05-01' GROUP BY c HAVING COUNT(*) < 10197",
     "SELECT c FROM t WHERE CAST(DATE_TRUNC('MONTH', d) AS DATE) = '2024-05-01' GROUP BY c HAVING COUNT(*) < 10197"),
    # ... and over a day's
    ("browsers with a total duration of at least 540000 on 2023-12-27",
     "SELECT b FROM t WHERE d = CAST('540000-12-27' AS DATE) GROUP BY b HAVING SUM(x) >= 540000",
     "SELECT b FROM t WHERE d = CAST('2023-12-27' AS DATE) GROUP BY b HAVING SUM(x) >= 540000"),
])
def test_a_date_with_a_number_for_its_year_gets_the_stated_year(question: str, sql: str, want: str) -> None:
    out, changes = ground_literals(sql, question)
    assert out == want and len(changes) == 1


@pytest.mark.parametrize("question,sql,want", [
    # a stated day's 25 is not the threshold's: "greater than one" is
    ("Share of users whose number of sessions on December 25, 2023 is greater than one",
     "SELECT COUNT(CASE WHEN n > 25 THEN 1 END) FROM t WHERE d = DATE '2023-12-25'",
     "SELECT COUNT(CASE WHEN n > 1 THEN 1 END) FROM t WHERE d = CAST('2023-12-25' AS DATE)"),
    # Q4's 4 is not a count of sessions
    ("Users in Q4 2023 with two or more sessions",
     "SELECT COUNT(*) FROM t WHERE n >= 4 AND DATE_TRUNC('QUARTER', d) = '2023-10-01'",
     "SELECT COUNT(*) FROM t WHERE n >= 2 AND DATE_TRUNC('QUARTER', d) = '2023-10-01'"),
    # 12/31's 12 is not an interval
    ("during the two weeks ending 12/31/2024", "SELECT COUNT(*) FROM t WHERE d >= DATE '2024-12-31' - INTERVAL 12 WEEK",
     "SELECT COUNT(*) FROM t WHERE d >= CAST('2024-12-31' AS DATE) - INTERVAL '2' WEEK"),
])
def test_a_dates_parts_explain_only_date_parts(question: str, sql: str, want: str) -> None:
    assert ground_literals(sql, question)[0] == want


def test_a_dates_parts_still_explain_a_date_part() -> None:
    sql = "SELECT COUNT(*) FROM t WHERE EXTRACT(YEAR FROM d) = 2024 AND EXTRACT(QUARTER FROM d) = 4 AND n > 3"
    assert ground_literals(sql, "sessions in Q4 2024 with more than 3 visits") == (sql, [])


def test_percentiles_nobody_asked_for_go() -> None:
    sql = "SELECT QUANTILE_CONT(revenue, 0.9) AS p90, QUANTILE_CONT(revenue, 0.95) AS p95 FROM s"
    assert ground_literals(sql, "What is the 90th percentile of revenue?")[0] == \
        "SELECT QUANTILE_CONT(revenue, 0.9) AS p90 FROM s"
    both = "SELECT QUANTILE_CONT(revenue, 0.25) AS a, QUANTILE_CONT(revenue, 0.75) AS b FROM s"
    for question in ("the 25th and 75th percentiles of revenue", "the 25th and the 75th percentile", "the IQR"):
        assert ground_literals(both, question) == (both, []), question


@pytest.mark.parametrize("question,sql,want", [
    # one of two listed written as the median: the columns take the stated fractions in order
    ("the 25th and 75th percentiles of revenue",
     "SELECT QUANTILE_CONT(r, 0.25) AS p25, QUANTILE_CONT(r, 0.5) AS p75 FROM s",
     "SELECT QUANTILE_CONT(r, 0.25) AS p25, QUANTILE_CONT(r, 0.75) AS p75 FROM s"),
    # three listed, two written: the missing one goes between them
    ("What is the 25th, 50th and 75th percentile of revenue per OS?",
     "SELECT os, QUANTILE_CONT(r, 0.25) AS p25_r, QUANTILE_CONT(r, 0.75) AS p75_r FROM s GROUP BY os",
     "SELECT os, QUANTILE_CONT(r, 0.25) AS p25_r, QUANTILE_CONT(r, 0.5) AS median_r, QUANTILE_CONT(r, 0.75) AS p75_r "
     "FROM s GROUP BY os"),
])
def test_listed_percentiles_go_onto_the_percentile_columns(question: str, sql: str, want: str) -> None:
    out, changes = ground_literals(sql, question)
    assert out == want and changes
    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT * FROM (VALUES ('a', 1.0), ('a', 3.0), ('b', 2.0)) AS t(os, r)")
    assert con.execute(out).fetchall()


@pytest.mark.parametrize("question,sql", [
    ("the 25th and 75th percentiles of revenue", "SELECT MEDIAN(r) FROM s"),  # one written: the model's shape
    ("the 25th and 75th percentiles", "SELECT QUANTILE_CONT(r, 0.25), QUANTILE_CONT(d, 0.5) FROM s"),  # two measures
    ("the 25th and 75th percentiles of revenue", "SELECT QUANTILE_CONT(r, 0.25), QUANTILE_CONT(r, 0.75) FROM s"),
])
def test_listed_percentiles_leave_other_shapes_alone(question: str, sql: str) -> None:
    assert ground_literals(sql, question) == (sql, [])


@pytest.mark.parametrize("question,sql,want", [
    ("For 2024-10, what was the count of web sessions?", "SELECT COUNT(*) FROM s WHERE d = CAST('2024-10-01' AS DATE)",
     "SELECT COUNT(*) FROM s WHERE CAST(DATE_TRUNC('MONTH', d) AS DATE) = CAST('2024-10-01' AS DATE)"),
    ("How many sessions in 2023?", "SELECT COUNT(*) FROM s WHERE d = DATE '2023-01-01'",
     "SELECT COUNT(*) FROM s WHERE CAST(DATE_TRUNC('YEAR', d) AS DATE) = CAST('2023-01-01' AS DATE)"),
])
def test_a_stated_period_is_not_its_first_day(question: str, sql: str, want: str) -> None:
    out, changes = ground_literals(sql, question)
    assert out == want and len(changes) == 1
    con = duckdb.connect()
    con.execute("CREATE TABLE s AS SELECT DATE '2023-10-05' + INTERVAL (i) DAY AS d FROM range(500) AS t(i)")
    assert con.execute(out).fetchone()[0] > con.execute(sql).fetchone()[0]


def test_a_stated_day_stays_a_day() -> None:
    sql = "SELECT COUNT(*) FROM s WHERE d = DATE '2024-10-01'"
    assert ground_literals(sql, "How many sessions on October 1, 2024?") == (sql, [])
