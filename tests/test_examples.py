"""The user's examples (EXAMPLES=file): loading pairs and query logs, and mining their patterns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemadistill.errors import UserError
from schemadistill.schema.model import Column, ForeignKey, Schema, Table
from teacher.examples import FEATURES, load_examples, mine_patterns, split_statements

REPO = Path(__file__).resolve().parent.parent
SHARED_EXAMPLES = Path("/work/shared/evalsets/seed_ecommerce/examples.jsonl")


def ecommerce_schema() -> Schema:
    """examples/ecommerce/schema.sql through the real loader, or the same tables by hand."""
    try:
        from schemadistill.schema import load_schema
    except ImportError:  # the loader is optional here: the tests only need names and the dialect
        pass
    else:
        return load_schema(REPO / "examples" / "ecommerce" / "schema.sql")
    users = Table("users", "ecommerce", [Column("user_id", "integer"), Column("country", "text"),
                                         Column("is_active", "integer"), Column("age", "integer")])
    sessions = Table("sessions", "ecommerce", [
        Column("user_id", "integer"), Column("session_id", "integer"), Column("action_date", "date"),
        Column("session_duration", "integer"), Column("os", "text"), Column("browser", "text"),
        Column("is_fraud", "integer"), Column("revenue", "float")])
    return Schema(tables=[users, sessions], dialect="duckdb", foreign_keys=[
        ForeignKey("ecommerce.sessions", ["user_id"], "ecommerce.users", ["user_id"], inferred=True)])


@pytest.fixture(scope="module")
def schema() -> Schema:
    return ecommerce_schema()


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# -- loading ------------------------------------------------------------------------------------

@pytest.mark.skipif(not SHARED_EXAMPLES.exists(), reason="shared seed_ecommerce examples not present")
def test_load_shared_examples(schema: Schema) -> None:
    loaded = load_examples(SHARED_EXAMPLES, schema)
    assert len(loaded) == 32 and loaded.skipped == []
    assert len(loaded.pairs) == 32 and loaded.queries == []
    first = loaded[0]
    assert first.question == "How many customers made a purchase in November 2024?"
    assert first.sql.startswith("SELECT COUNT(DISTINCT user_id) AS customers FROM ecommerce.sessions")
    assert (first.source, first.family, first.kind) == ("examples", "examples", "generate")
    assert first.meta == {"file": str(SHARED_EXAMPLES), "line": 1, "log_only": False}

    stats = mine_patterns([c.sql for c in loaded], schema.dialect)
    assert (stats.queries, stats.parsed, stats.unparsed) == (32, 32, 0)
    # The team's convention: "made a purchase" is revenue > 0 (WHERE and CASE WHEN alike).
    assert stats.conventions()[0] == ("revenue", ">", 0, 11)
    assert stats.conventions()[1] == ("is_fraud", "=", 1, 8)
    assert stats.join_pairs == {("ecommerce.sessions", "ecommerce.users"): 15}
    assert stats.date_grains == {"month": 13, "year": 8, "quarter": 1}
    assert stats.counts["join"] == 17 and stats.counts["median"] == 4 and stats.counts["rollup"] == 3
    weights = stats.family_weights()
    assert weights["date_trunc"] > weights["join"] > weights["median"] > weights["window"] == 1.0


def test_load_jsonl_pairs_and_log_entries(tmp_path: Path, schema: Schema) -> None:
    rows = [
        {"question": "How many users are there?", "sql": "SELECT COUNT(*) FROM ecommerce.users;", "id": 7},
        {"sql": "SELECT os, COUNT(*) FROM ecommerce.sessions GROUP BY os"},
        {"query": "SELECT MAX(revenue) FROM ecommerce.sessions", "question": None},
        {"question": "Broken", "sql": "SELECT FROM WHERE"},
        {"question": "Not a query", "sql": "DELETE FROM ecommerce.users"},
    ]
    path = write(tmp_path, "ex.jsonl", "\n".join(json.dumps(r) for r in rows[:2]) + "\n\n"
                 + "\n".join(json.dumps(r) for r in rows[2:]) + "\n")
    loaded = load_examples(path, schema)
    assert [(c.question, c.sql) for c in loaded] == [
        ("How many users are there?", "SELECT COUNT(*) FROM ecommerce.users"),
        ("", "SELECT os, COUNT(*) FROM ecommerce.sessions GROUP BY os"),
        ("", "SELECT MAX(revenue) FROM ecommerce.sessions"),
    ]
    assert [c.meta["line"] for c in loaded] == [1, 2, 4]
    assert len(loaded.pairs) == 1 and len(loaded.queries) == 2 and loaded.queries[0].meta["log_only"]
    assert [(s.line, s.reason) for s in loaded.skipped] == [(5, "parse_error"), (6, "not_a_query")]


def test_load_plain_sql_log(tmp_path: Path, schema: Schema) -> None:
    path = write(tmp_path, "queries.sql", """-- nightly report; counts users
SELECT COUNT(*) FROM ecommerce.users;

/* browsers; by share */
SELECT browser, COUNT(*) AS n
FROM ecommerce.sessions
WHERE os = 'iOS; iPadOS'
GROUP BY browser;
INSERT INTO ecommerce.users VALUES (1, 'X', 1, 30);
SELECT ( FROM;
-- trailing comment only
""")
    loaded = load_examples(path, schema)
    assert [c.sql.splitlines()[0] for c in loaded] == ["SELECT COUNT(*) FROM ecommerce.users",
                                                       "SELECT browser, COUNT(*) AS n"]
    assert all(c.question == "" and c.source == "examples" for c in loaded)
    assert [c.meta["line"] for c in loaded] == [2, 5]
    assert "WHERE os = 'iOS; iPadOS'" in loaded[1].sql
    assert [(s.line, s.reason) for s in loaded.skipped] == [(9, "not_a_query"), (10, "parse_error")]


def test_split_statements() -> None:
    text = "SELECT 'a;b' AS \"x;y\";\n-- c;\nSELECT $$;$$; /* ; */ SELECT 3"
    assert split_statements(text) == [(1, "SELECT 'a;b' AS \"x;y\""), (3, "SELECT $$;$$"), (3, "SELECT 3")]
    assert split_statements("-- only a comment;\n/* and another */") == []


@pytest.mark.parametrize("name, text, line, message", [
    ("bad.jsonl", '{"sql": "SELECT 1"}\n{"sql": "SELECT 2"}\n{"sql": SELECT 3}\n', 3, "line 3 is not valid JSON"),
    ("nosql.jsonl", '{"question": "q", "sql": "SELECT 1"}\n{"question": "only a question"}\n', 2, "line 2 has no SQL"),
    ("emptysql.jsonl", '{"question": "q", "sql": "  "}\n', 1, "line 1 has no SQL"),
    ("list.jsonl", '["SELECT 1"]\n', None, "item 1 is not a JSON object"),
    ("scalar.jsonl", '{"sql": "SELECT 1"}\n"SELECT 2"\n', 2, "line 2 is not a JSON object"),
    ("numq.jsonl", '{"question": 5, "sql": "SELECT 1"}\n', 1, "must be a string"),
    ("empty.jsonl", "\n\n", None, "no entries"),
    ("empty.sql", "-- nothing here\n", None, "no entries"),
])
def test_bad_input_is_a_user_error(tmp_path: Path, schema: Schema, name: str, text: str,
                                   line: int | None, message: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(UserError) as info:
        load_examples(path, schema)
    err = info.value
    assert message in err.message
    assert Path(str(err.file)) == path and err.line == line


def test_missing_file_and_directory(tmp_path: Path, schema: Schema) -> None:
    with pytest.raises(UserError, match="not found") as info:
        load_examples(tmp_path / "nope.jsonl", schema)
    assert info.value.file == tmp_path / "nope.jsonl" and info.value.hint
    with pytest.raises(UserError, match="not a file"):
        load_examples(tmp_path, schema)


def test_json_array_file(tmp_path: Path, schema: Schema) -> None:
    path = write(tmp_path, "rag_set.json", json.dumps([{"question": "q?", "sql": "SELECT 1"}, {"sql": "SELECT 2"}]))
    loaded = load_examples(path, schema)
    assert [(c.question, c.sql) for c in loaded] == [("q?", "SELECT 1"), ("", "SELECT 2")]


# -- mining -------------------------------------------------------------------------------------

MINED = [
    "SELECT COUNT(*) FROM shop.orders WHERE status = 'paid' AND amount > 100",
    "SELECT c.country, SUM(o.amount) AS revenue FROM shop.orders AS o "
    "JOIN shop.customers AS c ON o.customer_id = c.customer_id "
    "WHERE o.status IN ('paid', 'shipped') AND c.name LIKE 'A%' "
    "GROUP BY c.country HAVING SUM(o.amount) > 1000 ORDER BY revenue DESC LIMIT 5",
    "WITH m AS (SELECT DATE_TRUNC('month', ordered_at) AS month, COUNT(DISTINCT customer_id) AS buyers "
    "FROM shop.orders WHERE amount > 100 GROUP BY 1) "
    "SELECT month, buyers, SUM(buyers) OVER (ORDER BY month) AS running FROM m",
    "SELECT DISTINCT country FROM shop.customers "
    "WHERE signup_date BETWEEN '2024-01-01' AND '2024-03-31' AND email IS NULL",
    "SELECT EXTRACT(YEAR FROM ordered_at) AS y, status, MEDIAN(amount) AS med, AVG(amount), MIN(amount), "
    "MAX(amount), COUNT(CASE WHEN status = 'paid' THEN 1 END) FROM shop.orders "
    "WHERE customer_id IN (SELECT customer_id FROM shop.customers WHERE country = 'Germany') "
    "GROUP BY ROLLUP (y, status)",
    "SELECT customer_id FROM shop.orders WHERE 100 < amount "
    "UNION SELECT customer_id FROM shop.customers WHERE country <> 'France'",
    "SELECT FROM WHERE",
]


def test_mine_patterns_exact_counts() -> None:
    stats = mine_patterns(MINED, "duckdb")
    assert (stats.queries, stats.parsed, stats.unparsed) == (7, 6, 1)
    assert dict(stats.counts) == {
        "join": 1, "filter_eq": 3, "filter_range": 4, "filter_in": 2, "filter_like": 1, "between": 1,
        "is_null": 1, "count": 2, "count_distinct": 1, "sum": 2, "avg": 1, "min_max": 1, "median": 1,
        "group_by": 3, "group_by_2": 1, "having": 1, "top_k": 1, "order_by": 1, "limit": 1,
        "subquery": 1, "cte": 1, "window": 1, "case": 1, "date_trunc": 1, "date_part": 1, "set_op": 1,
        "rollup": 1, "distinct": 1,
    }
    assert stats.occurrences["sum"] == 3 and stats.occurrences["min_max"] == 2
    assert dict(stats.filters) == {"=": 2, "<>": 1, "range": 4, "IN": 2, "LIKE": 1, "BETWEEN": 1, "IS NULL": 1}
    assert dict(stats.aggregates) == {"COUNT": 2, "COUNT DISTINCT": 1, "SUM": 3, "AVG": 1, "MIN": 1,
                                      "MAX": 1, "MEDIAN": 1}
    assert stats.join_pairs == {("shop.customers", "shop.orders"): 1}
    assert stats.date_grains == {"month": 1} and stats.date_parts == {"year": 1}
    assert stats.tables == {"shop.orders": 5, "shop.customers": 4}
    assert stats.literals[("country", "<>", "France")] == 1
    assert stats.literals[("signup_date", "BETWEEN", ("2024-01-01", "2024-03-31"))] == 1
    assert stats.literals[("email", "IS NULL", None)] == 1
    assert stats.literals[("status", "IN", "shipped")] == 1 and stats.literals[("name", "LIKE", "A%")] == 1
    # "100 < amount" is the same convention as "amount > 100".
    assert stats.conventions() == [("amount", ">", 100, 3), ("status", "=", "paid", 2)]
    assert stats.conventions(min_count=3) == [("amount", ">", 100, 3)]


def test_family_weights() -> None:
    weights = mine_patterns(MINED, "duckdb").family_weights()
    assert set(weights) == set(FEATURES)
    # 6 parsed queries + 4 pseudo-queries: a feature in k queries weighs 1 + 3 * k / 10.
    assert weights["filter_range"] == 2.2 and weights["group_by"] == 1.9 and weights["window"] == 1.3
    assert all(1.0 <= w < 4.0 for w in weights.values())
    assert mine_patterns([], "duckdb").family_weights() == dict.fromkeys(FEATURES, 1.0)
    many = mine_patterns(["SELECT a FROM t JOIN u ON t.id = u.id"] * 200, "duckdb").family_weights()
    assert 3.9 < many["join"] < 4.0 and many["cte"] == 1.0


def test_mine_patterns_other_dialects() -> None:
    stats = mine_patterns([
        "SELECT toStartOfMonth(d) AS m, toYear(d) FROM t GROUP BY m",
        "SELECT DATE_PART('dow', d), COUNT(*) FROM t WHERE x ILIKE '%a%' GROUP BY 1",
    ], "clickhouse")
    assert stats.date_grains == {"month": 1}
    assert stats.date_parts == {"year": 1, "dow": 1}
    assert stats.filters == {"LIKE": 1} and stats.literals[("x", "ILIKE", "%a%")] == 1


# -- metric definitions -------------------------------------------------------------------------

USERS_FRAUD = "100 * COUNT(DISTINCT CASE WHEN is_fraud = 1 THEN user_id END) / COUNT(DISTINCT user_id)"
SESSIONS_FRAUD = "100 * COUNT(CASE WHEN is_fraud = 1 THEN session_id END) / COUNT(session_id)"


def test_mine_metrics_takes_standalone_definitions(schema: Schema) -> None:
    import dataclasses

    from teacher.mined_metrics import mine_metrics

    bare = dataclasses.replace(schema, metrics=[], dimensions=[])
    month = "CAST(DATE_TRUNC('MONTH', action_date) AS DATE) = '2024-12-01'"
    got = mine_metrics([
        ("fraud by os", f"SELECT os, {SESSIONS_FRAUD} AS fraud_rate FROM ecommerce.sessions GROUP BY os"),
        ("fraud 2023", f"SELECT {USERS_FRAUD} AS fraud_rate FROM ecommerce.sessions WHERE {month}"),
        ("monthly fraud", f"SELECT DATE_TRUNC('MONTH', action_date) AS m, {USERS_FRAUD} AS fraud_rate "
                          "FROM ecommerce.sessions GROUP BY m"),
        # the filter carries the meaning ("customers who bought"): not a definition of "customers"
        ("buyers", f"SELECT COUNT(DISTINCT user_id) AS customers FROM ecommerce.sessions WHERE {month} AND revenue > 0"),
        ("customers", f"SELECT COUNT(DISTINCT s.user_id) AS customers FROM ecommerce.sessions AS s WHERE {month}"),
        ("rows", "SELECT COUNT(*) AS sessions FROM ecommerce.sessions"),  # a bare row count names nothing
        ("generic", "SELECT SUM(revenue) AS total FROM ecommerce.sessions"),  # neither does "total"
        ("two tables", "SELECT AVG(u.age + s.session_duration) AS mix FROM ecommerce.sessions AS s "
                       "JOIN ecommerce.users AS u ON s.user_id = u.user_id"),
        ("broken", "SELEC nothing"),
    ], bare)
    by_name = {m.name: m for m in got}
    assert set(by_name) == {"fraud_rate", "customers"}
    # two examples define fraud_rate over users, one over sessions: the majority is the definition
    assert by_name["fraud_rate"].sql == USERS_FRAUD and by_name["fraud_rate"].unit == "percent"
    assert by_name["fraud_rate"].table == "ecommerce.sessions"
    assert by_name["customers"].sql == "COUNT(DISTINCT user_id)"  # the s. qualifier dropped
    assert "number of customers" in by_name["customers"].synonyms


def test_mine_metrics_adds_words_to_a_sidecar_metric(schema: Schema) -> None:
    import dataclasses

    from schemadistill.schema.model import Metric
    from teacher.mined_metrics import mine_metrics

    side = Metric("unique_users", "COUNT(DISTINCT user_id)", "ecommerce.sessions", synonyms=["visitors"])
    other = Metric("user_count", "COUNT(DISTINCT user_id)", "ecommerce.users")  # same SQL, other table
    with_sidecar = dataclasses.replace(schema, metrics=[other, side])
    got = mine_metrics([("q", "SELECT COUNT(DISTINCT user_id) AS shoppers FROM ecommerce.sessions")], with_sidecar)
    assert [m.name for m in got] == ["unique_users"]
    assert got[0].synonyms[:2] == ["visitors", "shoppers"] and side.synonyms == ["visitors"]  # a copy
