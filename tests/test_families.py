"""Template families: every family renders on real schemas, and every pair it renders is valid.

Sandboxes for examples/ecommerce (DuckDB + sidecar), examples/retail (PostgreSQL + sidecar) and
examples/large (59 tables, no sidecar) are built once per session with few rows. For each
family and schema a handful of candidates is generated; each SQL must parse in the schema's
dialect, name only known tables/columns, run in the sandbox with a non-empty, untruncated and
repeatable result, and each question must contain its protected literals.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from schemadistill.sandbox import Executor, build_sandbox
from schemadistill.schema import load_schema
from schemadistill.schema.model import Metric
from schemadistill.sqlcheck import check_names, parse_sql
from teacher.families import FAMILIES, FEATURES, family_shares, generate_candidates
from teacher.families.compose import Query, value_filter
from teacher.families.metrics import fixes_its_test
from teacher.lexicon import Lexicon
from teacher.pair import Candidate
from teacher.render import load
from teacher.slots import SchemaView

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = {"ecommerce": 600, "retail": 500, "large": 250}  # name -> sandbox rows
PER_FAMILY = 4  # candidates per family and schema (2 instances x 2 phrasings)


class Bound:
    def __init__(self, name: str, view: SchemaView, executor: Executor) -> None:
        self.name, self.view, self.executor = name, view, executor
        self.schema = view.schema
        self.by_family: dict[str, list[Candidate]] = {}


@pytest.fixture(scope="session")
def bound(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Bound]:
    out: dict[str, Bound] = {}
    executors = []
    for name, rows in SCHEMAS.items():
        schema = load_schema(ROOT / "examples" / name / "schema.sql")
        db = tmp_path_factory.mktemp(f"sandbox_{name}") / "sandbox.duckdb"
        build_sandbox(schema, db, rows=rows, seed=0, progress=False)
        ex = Executor(db, timeout_s=10, row_cap=1000)
        executors.append(ex)
        b = Bound(name, SchemaView(schema, ex, Lexicon(schema, seed=0)), ex)
        for fam in FAMILIES:
            weights = {f: (1.0 if f == fam else 0.0) for f in FAMILIES}
            b.by_family[fam] = generate_candidates(b.view, PER_FAMILY, random.Random(f"t:{fam}"), weights,
                                                   phrasings=2)
        out[name] = b
    yield out
    for ex in executors:
        ex.close()


def _sorted_rows(rows: list[tuple]) -> list[str]:
    return sorted(repr(r) for r in rows)


def test_registry() -> None:
    assert len(FAMILIES) >= 40
    for name, spec in FAMILIES.items():
        assert spec.phase in (1, 2, 3), name
        assert set(spec.features) <= FEATURES, name
        tmpl = load(spec.template)
        assert len(tmpl.questions) >= 4, f"{name}: needs at least 4 phrasings"
    phases = Counter(spec.phase for spec in FAMILIES.values())
    assert phases[1] >= 8 and phases[2] >= 25 and phases[3] >= 8


# Query's word properties hand each filter out once (compose.Query._take), so a template that
# tests one in `{% if %}` consumes the filters and prints nothing: `{% if q.time_text %}
# {{ q.time_text }}{% endif %}` dropped the period from six families' questions while the SQL
# kept it ("How many site visits have revenue of 0 or less?" for a query of 2023 only).
_CONSUMING = re.compile(r"\.(noun1?|cond_text|time_text|filter_text|mods|preds|lead|rest)\b")


def test_no_template_tests_a_property_that_consumes_filters() -> None:
    bad = []
    for path in sorted((ROOT / "templates" / "families").glob("*.j2")):
        for tag in re.findall(r"{%-?\s*(?:el)?if\b(.*?)-?%}", path.read_text()):
            if _CONSUMING.search(tag):
                bad.append(f"{path.name}: {{% if{tag}%}}")
    assert not bad, bad


def test_every_family_renders_on_two_schemas(bound: dict[str, Bound]) -> None:
    missing = []
    for fam in FAMILIES:
        where = [n for n, b in bound.items() if b.by_family[fam]]
        if len(where) < 2:
            missing.append(f"{fam}: only {where}")
    assert not missing, missing


def test_sidecar_families_are_skipped_and_reported_without_sidecar(bound: dict[str, Bound]) -> None:
    large = bound["large"]
    assert not large.view.metrics
    for fam in ("metric_value", "metric_by_dimension", "metric_filtered"):
        assert not large.by_family[fam]
    weights = {f: (1.0 if f == "metric_value" else 0.0) for f in FAMILIES}
    generate_candidates(large.view, 4, random.Random(0), weights)
    assert "sidecar" in large.view.family_stats["metric_value"].skipped


@pytest.mark.parametrize("schema_name", list(SCHEMAS))
def test_candidates_are_valid(bound: dict[str, Bound], schema_name: str) -> None:
    b = bound[schema_name]
    dialect = b.schema.dialect
    problems: list[str] = []
    seen_sql: dict[str, list[str]] = {}
    for fam, cands in b.by_family.items():
        for c in cands:
            assert c.family == fam and c.source == "template" and c.phase == FAMILIES[fam].phase
            assert c.instance and c.question and not c.question[0].islower()
            for text in c.meta["protect"]:
                assert text in c.question, (fam, text, c.question)
            json.dumps(c.meta)  # reports and pairs.jsonl need plain JSON
            if c.sql in seen_sql:
                continue  # phrasings of one instance share the SQL: check it once
            seen_sql[c.sql] = [c.instance]
            where = f"{schema_name}/{fam}: {c.sql}"
            try:
                parse_sql(c.sql, dialect)
            except ValueError as e:
                problems.append(f"parse {e}: {where}")
                continue
            names = check_names(c.sql, b.schema, dialect)
            if not names.ok:
                problems.append(f"names {names.unknown}: {where}")
            r1 = b.executor.run(c.sql, dialect=dialect)
            if not r1.ok:
                problems.append(f"exec {r1.error}: {where}")
                continue
            if not r1.rows or r1.truncated:
                problems.append(f"rows={len(r1.rows)} truncated={r1.truncated}: {where}")
            r2 = b.executor.run(c.sql, dialect=dialect)
            same = r1.rows == r2.rows if "ORDER BY" in c.sql.upper() else (
                _sorted_rows(r1.rows) == _sorted_rows(r2.rows))
            if not same:
                problems.append(f"not deterministic: {where}")
    assert not problems, "\n".join(problems[:20])


def test_phrasings_share_an_instance(bound: dict[str, Bound]) -> None:
    cands = bound["ecommerce"].by_family["agg_filtered"]
    by_instance: dict[str, list[Candidate]] = {}
    for c in cands:
        by_instance.setdefault(c.instance, []).append(c)
    assert by_instance
    for group in by_instance.values():
        assert len({c.sql for c in group}) == 1
        assert len({c.question for c in group}) == len(group) <= 2


def test_same_seed_same_candidates(bound: dict[str, Bound]) -> None:
    view = bound["ecommerce"].view
    a = generate_candidates(view, 60, random.Random(7))
    b = generate_candidates(view, 60, random.Random(7))
    assert len(a) == 60
    assert [(c.question, c.sql, c.instance) for c in a] == [(c.question, c.sql, c.instance) for c in b]
    c = generate_candidates(view, 60, random.Random(8))
    assert [x.sql for x in a] != [x.sql for x in c]


def test_weights_change_the_mix(bound: dict[str, Bound]) -> None:
    view = bound["ecommerce"].view
    base = family_shares(None)
    boosted = family_shares({"window": 10.0, "agg_filtered": 0.0})
    assert "agg_filtered" not in boosted
    win = [f for f, spec in FAMILIES.items() if "window" in spec.features]
    share_base = sum(base[f] for f in win) / sum(base.values())
    share_boost = sum(boosted[f] for f in win) / sum(boosted.values())
    assert share_boost > 2 * share_base
    assert family_shares({"case": 0.0}).keys().isdisjoint(f for f, s in FAMILIES.items() if "case" in s.features)
    plain = Counter(c.family for c in generate_candidates(view, 150, random.Random(1)))
    cands = generate_candidates(view, 150, random.Random(1), {"window": 10.0, "agg_filtered": 0.0})
    fams = Counter(c.family for c in cands)
    assert fams["agg_filtered"] == 0 < plain["agg_filtered"]
    assert sum(fams[f] for f in win) > 2 * sum(plain[f] for f in win)


def test_retail_writes_postgres(bound: dict[str, Bound]) -> None:
    b = bound["retail"]
    assert b.schema.dialect == "postgres"
    cands = [c for cs in b.by_family.values() for c in cs]
    assert cands
    transpiled = [c for c in cands if "duckdb_sql" in c.meta]
    assert transpiled, "postgres SQL should differ from the DuckDB source somewhere"
    assert any("EXTRACT(" in c.sql or "PERCENTILE_CONT" in c.sql for c in cands)
    assert not any("QUALIFY" in c.sql for c in cands)  # PostgreSQL has no QUALIFY


def test_profiling_outlives_the_pair_timeout_and_reports_failures(tmp_path: Path) -> None:
    """Profiling is our own whole-table SQL: a pair timeout too short for it (a big real table on
    a loaded machine) must not silently starve the families of that table."""
    from schemadistill.sandbox.executor import ExecError, ExecResult
    from teacher import slots

    schema = load_schema(ROOT / "examples" / "ecommerce" / "schema.sql")
    db = tmp_path / "sb.duckdb"
    build_sandbox(schema, db, rows=300, seed=0, progress=False)
    with Executor(db, timeout_s=1e-9, row_cap=1000) as ex:  # every pair query would time out
        view = SchemaView(schema, ex, Lexicon(schema, seed=0))
        assert ex.timeout_s == 1e-9  # restored after profiling
    assert not view.problems
    assert all(ti.columns for ti in view.tables) and any(ti.time is not None for ti in view.tables)

    class Failing(Executor):
        def run(self, sql: str, dialect: str = "duckdb", tree: Any = None) -> ExecResult:
            return ExecResult(False, error=ExecError("timeout", "InterruptException", "query timed out"))

    with Failing(db) as ex:
        view = SchemaView(schema, ex, Lexicon(schema, seed=0))
    assert view.problems and "timed out" in view.problems[0]
    assert slots.PROFILE_TIMEOUT_S >= 60


def test_top_k_rows_on_composite_key_tables_parses(bound: dict[str, Bound]) -> None:
    """examples/large has composite-key tables whose only shown column can be the measure: no key and
    no other column to break ties on once wrote `ORDER BY quantity DESC, LIMIT 3`."""
    b = bound["large"]
    weights = {f: (1.0 if f == "top_k_rows" else 0.0) for f in FAMILIES}
    cands = generate_candidates(b.view, 120, random.Random("top_k_rows:composite"), weights, phrasings=1)
    assert len(cands) >= 60
    bad = []
    for c in cands:
        try:
            parse_sql(c.sql, b.schema.dialect)
        except ValueError as e:
            bad.append(f"{e}: {c.sql}")
    assert not bad, "\n".join(bad[:5])
    assert not any(", LIMIT" in c.sql for c in cands)



@pytest.mark.parametrize("style", ["trunc", "cast", "range", "extract", None])
def test_calendar_filters_take_the_runs_sql_style(bound: dict[str, Bound], style: str | None) -> None:
    """One form per unit under a style (the student sees one answer to "in December 2024"); the
    mix (None, style ``varied``) still has several. Every form runs and returns rows."""
    import re

    b = bound["ecommerce"]
    b.view.time_style = style
    try:
        weights = {f: (1.0 if f == "agg_in_period" else 0.0) for f in FAMILIES}
        cands = generate_candidates(b.view, 60, random.Random(f"style:{style}"), weights, phrasings=1)
    finally:
        b.view.time_style = "trunc"
    assert len(cands) >= 30
    forms = Counter()
    for c in cands:
        res = b.executor.run(c.sql, b.schema.dialect)
        assert res.ok and res.rows, f"{c.sql}: {res.error}"
        sql = c.sql.upper()
        forms["cast" if "CAST(DATE_TRUNC" in sql else "trunc" if "DATE_TRUNC(" in sql
              else "extract" if re.search(r"EXTRACT\(|YEAR\(", sql) else "range" if " < DATE '" in sql
              else "other"] += 1
    months_or_years = {k: v for k, v in forms.items() if k != "other"}  # "other": single days
    if style is None:
        assert len(months_or_years) >= 3, forms
    else:
        expected = {style} | ({"trunc"} if style == "extract" else set())  # quarters have no EXTRACT form
        assert set(months_or_years) <= expected and months_or_years.get(style), forms


def test_sql_style_comes_from_the_examples_or_defaults_to_trunc() -> None:
    from schemadistill.errors import UserError
    from teacher.examples import mine_time_style
    from teacher.generate import resolve_sql_style

    sqls = ["SELECT COUNT(*) FROM t WHERE CAST(DATE_TRUNC('MONTH', d) AS DATE) = '2024-12-01'",
            "SELECT SUM(x) FROM t WHERE CAST(DATE_TRUNC('YEAR', d) AS DATE) = '2023-01-01'",
            "SELECT COUNT(*) FROM t WHERE EXTRACT(YEAR FROM d) = 2024", "SELECT 1"]
    assert mine_time_style(sqls) == "cast"
    assert mine_time_style(["SELECT 1", "SELECT a FROM t WHERE d >= DATE '2024-01-01'"]) is None
    assert resolve_sql_style("auto", "cast") == "cast"
    assert resolve_sql_style("auto", None) == "trunc"
    assert resolve_sql_style("range", "cast") == "range"
    with pytest.raises(UserError, match="sql_style"):
        resolve_sql_style("fancy", None)


def test_named_filters_are_phrased_in_the_sidecars_words(bound: dict[str, Bound]) -> None:
    """examples/ecommerce's sidecar names purchase = revenue > 0 ("made a purchase", "with a
    purchase"): filters on sessions sometimes take it, in those words, with the table's alias
    once the query joins; a schema without named filters never gets one."""
    b = bound["ecommerce"]
    assert [f.name for f in b.view.named_filters["ecommerce.sessions"]] == ["purchase"]
    cands = generate_candidates(b.view, 300, random.Random("named"), {"agg_filtered": 1.0, "group_agg": 1.0},
                                phrasings=2)
    named = [c for c in cands if "revenue > 0" in c.sql and ("made a purchase" in c.question
                                                            or "a purchase" in c.question)]
    assert named, "no candidate used the named filter"
    for c in named:
        assert b.executor.run(c.sql).ok, c.sql
        if " JOIN " in c.sql:
            assert "s.revenue > 0" in c.sql, c.sql
    assert not bound["large"].view.named_filters


def test_most_popular_among_the_owners_counts_their_events(bound: dict[str, Bound]) -> None:
    """"the most popular browser among users" counts the users' sessions (the event rows, the
    seed sidecar's rule), never distinct users; such a phrasing names the owning table's words."""
    b = bound["ecommerce"]
    cands = generate_candidates(b.view, 300, random.Random("popular"), {f: float(f == "top_group") for f in FAMILIES},
                                phrasings=5)
    owners = [c for c in cands if c.family == "top_group" and re.search(
        r"(most (popular|common|used) \w+ among|used the most by|most popular with) (users|customers|accounts|"
        r"members|people|clients|shoppers|visitors)", c.question)]
    assert owners, "no top_group phrasing named the sessions' owners"
    for c in owners:
        assert "COUNT(*)" in c.sql and "COUNT(DISTINCT" not in c.sql and "FROM ecommerce.sessions" in c.sql, c.sql
        assert b.executor.run(c.sql).ok, c.sql


def test_ages_are_stated_as_people_state_them(bound: dict[str, Bound]) -> None:
    """A column named age takes "aged 25-35", "over 30", "30 or older" besides the generic
    comparisons, said of the row's owner; the SQL is the same comparison on the age column."""
    b = bound["ecommerce"]
    cands = generate_candidates(b.view, 400, random.Random("ages"), None, phrasings=2)
    said = [c for c in cands if re.search(r"is (aged \d+|between \d+ and \d+ years old|(over|under) \d+ years old|"
                                          r"(older|younger) than \d+|\d+ or (older|younger))", c.question)]
    assert said, "no candidate stated an age in people's words"
    for c in said:
        assert re.search(r"\bage (BETWEEN|[<>]=?) \d+", c.sql), (c.question, c.sql)
    assert not any("aged" in c.question for c in cands if not re.search(r"\bage\b", c.sql))


def test_quantile_questions_name_the_quantiles_their_sql_computes(bound: dict[str, Bound]) -> None:
    """Every phrasing of median_percentile, read by the consistency check's quantile rule (the
    third phrasing once said "first quartile, median and third quartile" over the 10th and 90th
    percentiles: session 22)."""
    import sqlglot

    from schemadistill.stated_forms import form_issues

    view = bound["ecommerce"].view
    weights = {f: (1.0 if f == "median_percentile" else 0.0) for f in FAMILIES}
    cands = generate_candidates(view, 80, random.Random("quantiles"), weights, phrasings=4)
    assert len(cands) >= 40 and any("p10" in c.sql or "p90" in c.sql for c in cands)
    for c in cands:
        issues = [i for i in form_issues(sqlglot.parse_one(c.sql, read="duckdb"), c.question) if "quantile" in i]
        assert issues == [], (c.question, c.sql)


@pytest.mark.parametrize("family", ["top_k_ties", "window_rank", "window_group_rank"])
def test_every_phrasing_says_which_ranking_its_sql_uses(bound: dict[str, Bound], family: str) -> None:
    """RANK and DENSE_RANK keep different rows (and ROW_NUMBER numbers ties apart), so no phrasing
    may leave the choice to a coin: "including ties" alone once stood for either (session 25).
    A dense rank is worded as one, ties kept are worded for RANK, and the consistency check's
    reading of those words finds nothing to question in the teacher's own pairs."""
    import sqlglot

    from schemadistill.stated_forms import _DENSE, _TIES_KEPT, form_issues

    view = bound["ecommerce"].view
    weights = {f: (1.0 if f == family else 0.0) for f in FAMILIES}
    cands = generate_candidates(view, 120, random.Random(f"ranks:{family}"), weights, phrasings=5)
    fns = Counter(next(f for f in ("DENSE_RANK", "ROW_NUMBER", "RANK") if f in c.sql) for c in cands)
    assert len(cands) >= 60 and fns["DENSE_RANK"] and fns["RANK"], fns
    for c in cands:
        dense = "DENSE_RANK" in c.sql
        assert (_DENSE.search(c.question) is not None) == dense, (c.question, c.sql)
        if family != "window_group_rank" and "RANK()" in c.sql and not dense:
            assert _TIES_KEPT.search(c.question), (c.question, c.sql)
        issues = [i for i in form_issues(sqlglot.parse_one(c.sql, read="duckdb"), c.question) if "rank" in i.lower()]
        assert issues == [], (c.question, c.sql)


def test_calendar_month_means_one_thing(bound: dict[str, Bound]) -> None:
    """"calendar month" is date_part_group's month of the year (EXTRACT); the lexicon once gave it
    as a synonym of "month" too, so DATE_TRUNC families said it of months of each year (session
    25: 103 EXTRACT and 82 DATE_TRUNC pairs of one run had the words)."""
    view = bound["ecommerce"].view
    families = ["date_part_group", "metric_by_dimension", "dimension_breakdown", "period_change", "running_total",
                "time_bucket", "metric_by_time", "metric_top_dimension"]
    weights = {f: (1.0 if f in families else 0.0) for f in FAMILIES}
    cands = generate_candidates(view, 400, random.Random("calendar"), weights, phrasings=4)
    said = [c for c in cands if "calendar month" in c.question.lower()]
    assert said and any(c.family == "date_part_group" for c in said)
    for c in said:
        assert "EXTRACT(MONTH" in c.sql.upper(), (c.family, c.question, c.sql)


def test_metric_questions_never_fix_what_the_metric_tests(bound: dict[str, Bound]) -> None:
    """A metric family never filters or groups by a column the metric's own condition tests: "the
    fraud rate of non-fraudulent visits" is 0 and "the Safari share per browser" 0 or 100 in every
    group (session 27 found the teacher writing both)."""
    b = bound["ecommerce"]
    fams = ("metric_value", "metric_by_dimension", "metric_by_time", "metric_filtered", "metric_top_dimension")
    cands = generate_candidates(b.view, 400, random.Random("fixed"), {f: float(f in fams) for f in FAMILIES},
                                phrasings=1)
    with_test = 0
    for c in cands:
        tree = sqlglot.parse_one(c.sql, read="duckdb")
        tested = {col.name for agg in tree.find_all(exp.AggFunc) for p in agg.find_all(exp.Predicate)
                  for col in p.find_all(exp.Column)}
        if not tested:
            continue
        with_test += 1
        fixed = {col.name for part in (tree.args.get("where"), tree.args.get("group")) if part
                 for col in part.find_all(exp.Column)}
        assert not tested & fixed, c.sql
    assert with_test >= 20, with_test  # the sidecar's fraud rate and buyers were drawn

    # a user's own share metric (mined from examples) grouped by the column it tests, or filtered on it
    share = Metric("safari_share", "100 * COUNT(DISTINCT CASE WHEN browser = 'Safari' THEN user_id END) / "
                                   "COUNT(DISTINCT user_id)", "ecommerce.sessions")
    sessions = b.view.table("ecommerce.sessions")
    q = Query(b.view, sessions)
    by = {d.name: d for d in b.view.schema.dimensions}
    assert fixes_its_test(share, b.view, q, by["browser"])
    assert not fixes_its_test(share, b.view, q, by["os"])
    assert not fixes_its_test(share, b.view, q, by["country"])  # another table's column
    filters = [value_filter(b.view, random.Random(i), Query(b.view, sessions), q.base, "eq") for i in range(40)]
    on = {f.col.info.name: f for f in filters if f is not None and f.col is not None}
    assert {"browser", "os"} <= set(on)
    q.add(on["os"])
    assert not fixes_its_test(share, b.view, q)
    q.add(on["browser"])
    assert fixes_its_test(share, b.view, q)
