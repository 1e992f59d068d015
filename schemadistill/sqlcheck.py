"""SQL checks every stage shares: parse, check names against the schema, mask, score difficulty.

The teacher validates pairs with these, the curriculum orders by ``difficulty``, evaluation
counts unknown tables/columns with ``check_names``, and coverage of a question set is measured
with ``masked_template``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from schemadistill.schema.model import Schema


class SQLParseError(ValueError):
    """The SQL does not parse in the given dialect (message from sqlglot)."""


MAX_NESTING = 64  # no real query nests deeper; a degenerate model output can ("((((((...")


def paren_depth(sql: str) -> int:
    """Deepest parenthesis nesting outside quoted strings."""
    depth = deepest = 0
    quote = ""
    for ch in sql:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth = max(0, depth - 1)
    return deepest


def parse_sql(sql: str, dialect: str = "duckdb") -> exp.Expr:
    """Exactly one statement, parsed; raises SQLParseError otherwise."""
    if paren_depth(sql) > MAX_NESTING:  # sqlglot's recursive parser and walkers would overflow
        raise SQLParseError(f"the statement nests parentheses more than {MAX_NESTING} deep")
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except (ParseError, SqlglotError) as e:
        raise SQLParseError(str(e).splitlines()[0]) from None
    except RecursionError:
        raise SQLParseError("the statement is too deeply nested to parse") from None
    if len(statements) != 1:
        raise SQLParseError(f"expected one statement, found {len(statements)}")
    return statements[0]


def to_duckdb(sql: str, dialect: str) -> str:
    if dialect == "duckdb":
        return sql
    return sqlglot.transpile(sql, read=dialect, write="duckdb")[0]


def sqlglot_schema(schema: Schema) -> dict:
    """The nested mapping sqlglot's optimizer wants: {db: {table: {column: type}}}."""
    nested: dict = {}
    for t in schema.tables:
        cols = {c.name: (c.duckdb_type or "VARCHAR") if c.type == "other" else c.sandbox_type()
                for c in t.columns}
        if t.schema:
            nested.setdefault(t.schema, {})[t.name] = cols
        else:
            nested.setdefault("main", {})[t.name] = cols
    return nested


_MAPPINGS: list[tuple[str, dict, MappingSchema]] = []  # the few schemas a process checks against


def mapping_schema(schema: Schema, dialect: str) -> MappingSchema:
    """sqlglot's schema object for ``schema``, built once: building it normalises every name,
    which cost more than qualifying a small query."""
    nested = sqlglot_schema(schema)
    for d, known, mapping in _MAPPINGS:
        if d == dialect and known == nested:
            return mapping
    mapping = MappingSchema(nested, dialect=dialect)
    _MAPPINGS.append((dialect, nested, mapping))
    del _MAPPINGS[:-8]
    return mapping


@dataclass
class NameCheck:
    tables: set[str] = field(default_factory=set)  # qualified names used
    columns: set[str] = field(default_factory=set)  # "table.column" used
    unknown: list[str] = field(default_factory=list)  # what the schema lacks, with the reason

    @property
    def ok(self) -> bool:
        return not self.unknown


def check_names(sql: str | exp.Expr, schema: Schema, dialect: str = "duckdb") -> NameCheck:
    """Every table and column the query names must exist in the schema (sqlglot qualify)."""
    tree = parse_sql(sql, dialect) if isinstance(sql, str) else sql
    result = NameCheck()
    nodes = list(tree.walk())  # one walk, not one per node type
    known_cte = {c.alias_or_name.lower() for c in nodes if isinstance(c, exp.CTE)}
    for tbl in (n for n in nodes if isinstance(n, exp.Table)):
        name = tbl.name
        if not name or name.lower() in known_cte:
            continue
        qualified = f"{tbl.db}.{name}" if tbl.db else name
        t = schema.table(qualified) or (schema.table(name) if not tbl.db else None)
        if t is None:
            result.unknown.append(f"table {qualified}")
        else:
            result.tables.add(t.qualified_name)
    if result.unknown:
        return result
    try:
        qualified_tree = qualify(tree.copy(), schema=mapping_schema(schema, dialect), dialect=dialect,
                                 validate_qualify_columns=True, quote_identifiers=False,
                                 )
    except OptimizeError as e:
        result.unknown.append(str(e).splitlines()[0])
        return result
    except SqlglotError as e:  # qualify can trip over dialect corners; treat as unverifiable
        result.unknown.append(f"could not resolve names: {str(e).splitlines()[0]}")
        return result
    # Columns come back qualified by alias; map aliases to real tables for coverage figures.
    alias_of: dict[str, str] = {}
    nodes = list(qualified_tree.walk())
    for tbl in (n for n in nodes if isinstance(n, exp.Table)):
        t = schema.table(f"{tbl.db}.{tbl.name}" if tbl.db and tbl.db != "main" else tbl.name)
        if t is not None:
            alias_of[tbl.alias_or_name.lower()] = t.qualified_name
    for col in (n for n in nodes if isinstance(n, exp.Column)):
        owner = alias_of.get(col.table.lower()) if col.table else None
        if owner and col.name:
            result.columns.add(f"{owner}.{col.name}".lower())
    return result


def masked_template(sql: str | exp.Expr, dialect: str = "duckdb") -> str:
    """The query's shape: literals -> ?, aliases dropped, identifiers lower-cased.

    Two queries with the same mask differ only in constants, so the mask names a template
    instance family for deduplication and for measuring coverage of real question sets.
    """
    tree = (parse_sql(sql, dialect) if isinstance(sql, str) else sql).copy()
    nodes = list(tree.walk())  # one walk: each find_all is a walk of its own
    for node in nodes:
        if isinstance(node, (exp.Literal, exp.Boolean)):
            node.replace(exp.Placeholder())
    for node in nodes:
        if isinstance(node, exp.Alias) and isinstance(node.parent, exp.Select):
            node.replace(node.this)
        elif isinstance(node, exp.TableAlias):
            node.pop()
        elif isinstance(node, exp.Column) and node.args.get("table") is not None:
            node.set("table", None)
    return tree.sql(dialect="duckdb", normalize=True, pretty=False).lower()


def difficulty(sql: str | exp.Expr, dialect: str = "duckdb", nodes: list[exp.Expr] | None = None) -> int:
    """A difficulty score from the AST: more joins, nesting, aggregates and windows score higher.

    ``nodes``: ``list(tree.walk())`` when the caller has it (one walk serves every check).
    """
    tree = parse_sql(sql, dialect) if isinstance(sql, str) else sql
    score, selects = 1, 0
    group = having = order = 0
    for n in nodes if nodes is not None else tree.walk():
        if isinstance(n, exp.Join | exp.Window | exp.Case | exp.Union | exp.Intersect | exp.Except):
            score += 2
        elif isinstance(n, exp.Select):
            selects += 1  # subqueries / CTE bodies
        elif isinstance(n, exp.AggFunc | exp.And | exp.Or):
            score += 1
        elif isinstance(n, exp.Group):
            group = 1
        elif isinstance(n, exp.Having):
            having = 2
        elif isinstance(n, exp.Order):
            order = 1
    return score + 3 * max(0, selects - 1) + group + having + order
