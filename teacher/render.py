"""Render family templates: jinja2 blocks for the SQL and each phrasing, then the target dialect.

A family template (``templates/families/<name>.sql.j2``) holds a ``sql`` block written in DuckDB
SQL and question blocks ``q1``, ``q2``, ... Each block is rendered on its own with the family's
slots, plus ``pick(...)`` for small wording choices (drawn from the phrasing's rng).
Whitespace is collapsed: the SQL is one line, as the student will write it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import jinja2
import sqlglot

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "families"
_Q_BLOCK = re.compile(r"^q(\d+)$")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), undefined=jinja2.StrictUndefined,
        autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
    )


class FamilyTemplate:
    """One family's template file: its SQL block and its question blocks."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.tmpl = environment().get_template(filename)
        qs = [(int(m.group(1)), k) for k in self.tmpl.blocks if (m := _Q_BLOCK.match(k))]
        self.questions = [k for _, k in sorted(qs)]
        if "sql" not in self.tmpl.blocks or not self.questions:
            raise ValueError(f"{filename}: needs a 'sql' block and question blocks q1, q2, ...")

    def _block(self, name: str, slots: dict[str, Any], rng: random.Random) -> str:
        ctx = self.tmpl.new_context({**slots, "pick": _picker(rng), "and_list": and_list,
                                     "or_list": or_list})
        return "".join(self.tmpl.blocks[name](ctx))

    def sql(self, slots: dict[str, Any]) -> str:
        return tidy_sql(self._block("sql", slots, random.Random(0)))

    def question(self, block: str, slots: dict[str, Any], rng: random.Random) -> str:
        return tidy_question(self._block(block, slots, rng))


@cache
def load(filename: str) -> FamilyTemplate:
    return FamilyTemplate(filename)


def _picker(rng: random.Random) -> Callable[..., str]:
    def pick(*options: Any) -> str:
        return str(rng.choice(options))
    return pick


def and_list(items: Any, last: str = "and") -> str:
    """["a", "b", "c"] -> "a, b and c" (items printed with str())."""
    xs = [str(x) for x in items]
    return xs[0] if len(xs) == 1 else ", ".join(xs[:-1]) + f" {last} " + xs[-1] if xs else ""


def or_list(items: Any) -> str:
    return and_list(items, "or")


def tidy_sql(sql: str) -> str:
    sql = " ".join(sql.split())
    sql = re.sub(r"\(\s+", "(", sql)
    sql = re.sub(r"\s+\)", ")", sql)
    return sql.strip().rstrip(";")


def tidy_question(q: str) -> str:
    q = " ".join(q.split())
    q = re.sub(r"\s+([?,.;:!)])", r"\1", q)
    q = re.sub(r"\(\s+", "(", q)
    q = re.sub(r"\b([Aa]) (?=[aeioAEIO])", lambda m: m.group(1) + "n ", q)
    q = re.sub(r"\b([Aa])n (?=[^aeiouAEIOU\d\W])", lambda m: m.group(1) + " ", q)
    return q[:1].upper() + q[1:] if q else q


def to_dialect(sql: str, dialect: str) -> str:
    """DuckDB SQL -> the schema's dialect (unchanged for DuckDB)."""
    if not dialect or dialect == "duckdb":
        return sql
    return sqlglot.transpile(sql, read="duckdb", write=dialect)[0]
