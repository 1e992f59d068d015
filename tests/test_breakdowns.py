"""Breakdowns a question names (schemadistill/breakdowns.py): reading them, and the GROUP BY
they make; through value grounding on the ecommerce example in tests/fixtures/grounding/.

    .venv/bin/pytest -q tests/test_breakdowns.py
"""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from schemadistill.breakdowns import ground_breakdown, stated_breakdown

S, U = "ecommerce.sessions", "ecommerce.users"
PHRASES = {"browser": (S, "browser"), "web client": (S, "browser"), "browser type": (S, "browser"),
           "os": (S, "os"), "os family": (S, "os"), "operating system": (S, "os"), "platform": (S, "os"),
           "country": (U, "country"), "market": (U, "country"), "country of residence": (U, "country")}


@pytest.mark.parametrize("question,want", [
    ("For each browser type and OS family, the median revenue", [(S, "browser"), (S, "os")]),
    ("For every combination of browser and platform, the total", [(S, "browser"), (S, "os")]),
    ("Revenue per web client for users in France", [(S, "browser")]),
    ("Sessions broken down by the user's country of residence", [(U, "country")]),
    ("Percentage of fraud sessions for Germany by operating system", [(S, "os")]),
    ("Revenue per browser, sorted by platform", [(S, "browser")]),  # a sort, not a breakdown
    ("Top OS family by number of sessions", []),  # "by number": a ranking measure
    ("Which browser do users in France use the most?", []),
])
def test_stated_breakdown(question: str, want: list[tuple[str, str]]) -> None:
    assert stated_breakdown(question, PHRASES) == want


def _ground(sql: str, question: str) -> tuple[str, list[str]]:
    tree = sqlglot.parse_one(sql, read="duckdb")
    dims = set(PHRASES.values())
    aliases = {t.alias_or_name: t.name for t in tree.find_all(exp.Table)}

    def key_of(col: exp.Column) -> tuple[str, str] | None:
        hits = {d for d in dims if d[1] == col.name and (not col.table or d[0].endswith("." + aliases[col.table]))}
        return next(iter(hits)) if len(hits) == 1 else None

    def alias_of(table: str) -> str | None:
        return next((t.alias_or_name for t in tree.find_all(exp.Table) if table.endswith("." + t.name)), None)

    changes = ground_breakdown(tree, stated_breakdown(question, PHRASES), key_of, alias_of)
    return tree.sql(dialect="duckdb"), changes


@pytest.mark.parametrize("question,sql,want", [
    # a dimension missing beside the named one
    ("For each browser type and OS family, the median revenue",
     f"SELECT os, MEDIAN(revenue) AS m FROM {S} GROUP BY os",
     f"SELECT os, browser, MEDIAN(revenue) AS m FROM {S} GROUP BY os, browser"),
    # the wrong dimension
    ("Fraud share by operating system", f"SELECT s.browser, AVG(s.f) AS r FROM {S} AS s GROUP BY s.browser",
     f"SELECT s.os, AVG(s.f) AS r FROM {S} AS s GROUP BY s.os"),
    # an extra one goes, with its sort key
    ("Revenue per web client for users in France",
     f"SELECT s.browser, u.country, SUM(s.revenue) AS t FROM {S} AS s JOIN {U} AS u ON s.user_id = u.user_id "
     "GROUP BY u.country, s.browser ORDER BY u.country, s.browser",
     f"SELECT s.browser, SUM(s.revenue) AS t FROM {S} AS s JOIN {U} AS u ON s.user_id = u.user_id "
     "GROUP BY s.browser ORDER BY s.browser"),
])
def test_the_group_by_follows_the_named_breakdown(question: str, sql: str, want: str) -> None:
    out, changes = _ground(sql, question)
    assert out == want and len(changes) == 1


@pytest.mark.parametrize("question,sql", [
    ("Revenue per browser", f"SELECT browser, SUM(revenue) AS t FROM {S} GROUP BY browser"),  # already
    ("Revenue per user, by browser", f"SELECT user_id, SUM(revenue) AS t FROM {S} GROUP BY user_id"),  # not a dimension
    ("Revenue by browser and country", f"SELECT browser, SUM(revenue) AS t FROM {S} GROUP BY browser"),  # unread table
    ("Revenue by month and browser",
     f"SELECT DATE_TRUNC('month', d) AS m, SUM(revenue) AS t FROM {S} GROUP BY DATE_TRUNC('month', d)"),
    ("Revenue by browser, with totals", f"SELECT browser, os, SUM(revenue) AS t FROM {S} GROUP BY ROLLUP (browser, os)"),
])
def test_breakdowns_left_alone(question: str, sql: str) -> None:
    assert _ground(sql, question) == (sqlglot.parse_one(sql, read="duckdb").sql(dialect="duckdb"), [])
