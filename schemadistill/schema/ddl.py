"""Parse a DDL file (CREATE TABLE ..., in any dialect sqlglot reads) into a :class:`Schema`.

The text is tokenized once per candidate dialect and split into statements; only CREATE TABLE,
ALTER TABLE and COMMENT ON statements are parsed, everything else (INSERT, CREATE INDEX, CREATE
VIEW, SET, GRANT, ...) is skipped unread, so one exotic statement never sinks a whole dump.
A CREATE TABLE that does not parse is an error, reported with its line and column.

Design choices:

* Names keep the spelling of the DDL. A 3-part name (BigQuery ``project.dataset.table``,
  Snowflake ``database.schema.table``) keeps the middle part as ``Table.schema`` and drops the
  project/database: SQL written later runs inside one project/database anyway.
* Views, ``CREATE TABLE ... AS SELECT`` and ``CREATE TABLE ... LIKE`` are ignored: they have no
  column list to read.
* ClickHouse: a column is NOT NULL unless its type is ``Nullable(T)``; ``PRIMARY KEY``/
  ``ORDER BY`` are sorting keys, not uniqueness constraints, so they are not primary keys.
* Foreign keys to tables the file does not define are dropped.
* ``dialect=None`` detects the dialect: keyword hints (see ``_HINTS``) rank the dialects to try,
  then ``FALLBACK_ORDER``; the first dialect that parses every CREATE TABLE wins.

Descriptions come from inline ``COMMENT '...'`` / BigQuery ``OPTIONS(description=...)``, from
``COMMENT ON TABLE|COLUMN``, and from ``-- comments``: the comment ending a column's line(s),
and, for a table, the comment on its CREATE line or the comment lines right above it (unless
those open the file: that is the file's header).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect, Dialects
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.tokens import Token, TokenType

from schemadistill.errors import UserError
from schemadistill.schema import typemap
from schemadistill.schema.ddl_source import LineComments, first_paren, matching_paren
from schemadistill.schema.model import Column, ForeignKey, Schema, Table

MAIN_DIALECTS = ("duckdb", "postgres", "mysql", "sqlite", "clickhouse", "snowflake", "bigquery")
SUPPORTED_DIALECTS: tuple[str, ...] = MAIN_DIALECTS + tuple(sorted(
    d.value for d in Dialects if d.value and d.value not in MAIN_DIALECTS
))
FALLBACK_ORDER = ("duckdb", "postgres", "mysql", "sqlite", "snowflake", "bigquery", "clickhouse")
_ALIASES = {"postgresql": "postgres", "pg": "postgres", "sqlite3": "sqlite", "mariadb": "mysql",
            "bq": "bigquery", "ch": "clickhouse", "sparksql": "spark", "mssql": "tsql"}

# (dialect, pattern, weight), scanned with comments and string literals removed. ``{T}`` means
# "used as a column type": followed by a constraint or the end of the column, not by a type
# (which would make the word a column *name*, e.g. a column called ``string``).
_TYPE_END = r"(?=\s*(?:[,)\n]|NOT\b|NULL\b|DEFAULT\b|COMMENT\b|PRIMARY\b|UNIQUE\b|REFERENCES\b|OPTIONS\b))"
_HINTS: list[tuple[str, re.Pattern[str], int]] = [
    (d, re.compile(p.replace("{T}", _TYPE_END), f), w) for d, p, f, w in [
        ("clickhouse", r"\bENGINE\s*=\s*\w*(MergeTree|Log|Memory|Distributed|Kafka)\b", re.I, 3),
        ("clickhouse", r"\b(Nullable|LowCardinality)\s*\(", re.I, 3),
        ("clickhouse", r"\b(U?Int(8|16|32|64|128|256)|Float(32|64)|DateTime64|Date32){T}", 0, 1),
        ("mysql", r"\bAUTO_INCREMENT\b", re.I, 3),
        ("mysql", r"\bENGINE\s*=\s*(InnoDB|MyISAM|Aria)\b", re.I, 3),
        ("mysql", r"\b(UNSIGNED|DEFAULT\s+CHARSET)\b", re.I, 1),
        ("postgres", r"\b(BIG|SMALL)?SERIAL{T}", re.I, 2),
        ("postgres", r"::", 0, 1),
        ("postgres", r"\bCOMMENT\s+ON\b", re.I, 1),
        ("postgres", r"\bJSONB{T}|\bnextval\s*\(", re.I, 1),
        ("bigquery", r"`[^`.\s]+\.[^`\s]+`", 0, 2),
        ("bigquery", r"\b(INT64|FLOAT64|BIGNUMERIC|BYTES){T}", re.I, 2),
        ("bigquery", r"\bSTRING{T}", re.I, 1),
        ("bigquery", r"\bOPTIONS\s*\(", re.I, 1),
        ("snowflake", r"\b(VARIANT|TIMESTAMP_(NTZ|LTZ|TZ)){T}|\bNUMBER\s*\(", re.I, 2),
        ("snowflake", r"\bCREATE\s+(OR\s+REPLACE\s+)?TRANSIENT\b", re.I, 2),
        ("sqlite", r"\bAUTOINCREMENT\b", re.I, 3),
        ("sqlite", r"\bWITHOUT\s+ROWID\b", re.I, 3),
    ]
]
_NOISE = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", re.S)

_CREATE_MODIFIERS = frozenset(
    "OR REPLACE TEMP TEMPORARY TRANSIENT UNLOGGED GLOBAL LOCAL VOLATILE EXTERNAL MULTISET".split()
)


def resolve_dialect(name: str | None) -> str | None:
    """Canonical sqlglot name of a user-given dialect; UserError listing the supported ones."""
    if name is None or not str(name).strip():
        return None
    low = str(name).strip().lower()
    low = _ALIASES.get(low, low)
    if low not in SUPPORTED_DIALECTS:
        raise UserError(f"unknown SQL dialect {name!r}",
                        hint="supported dialects: " + ", ".join(SUPPORTED_DIALECTS))
    return low


def detect_dialects(text: str) -> list[str]:
    """Dialects to try, best guess first: keyword hints by score, then ``FALLBACK_ORDER``."""
    code = _NOISE.sub(" ", text)
    scores: dict[str, int] = {}
    for dialect, pattern, weight in _HINTS:
        if pattern.search(code):
            scores[dialect] = scores.get(dialect, 0) + weight
    order = {d: i for i, d in enumerate(FALLBACK_ORDER)}
    hinted = sorted(scores, key=lambda d: (-scores[d], order[d]))
    return hinted + [d for d in FALLBACK_ORDER if d not in hinted]


@dataclass
class _Failure(Exception):
    """One dialect could not read the file; ``pos`` says how far it got (to pick the best error)."""

    message: str
    line: int | None = None
    col: int | None = None
    pos: int = 0


def parse_ddl(text: str, dialect: str | None = None, source: str | Path = "<ddl>") -> Schema:
    """Parse DDL text. ``dialect=None`` detects it; the one used ends up in ``Schema.dialect``."""
    src = str(source)
    if not text.strip():
        raise UserError("the schema file is empty", file=src,
                        hint="give a file with CREATE TABLE statements, or a DuckDB/SQLite database")
    chosen = resolve_dialect(dialect)
    candidates = [chosen] if chosen else detect_dialects(text)
    failures: list[tuple[str, _Failure]] = []
    for name in candidates:
        try:
            schema = _parse_as(text, name)
        except _Failure as f:
            failures.append((name, f))
            continue
        if not schema.tables:
            # Every statement parsed, so another dialect would not find a table either.
            raise UserError("no CREATE TABLE statement with a column list found", file=src,
                            hint="views, CREATE TABLE ... AS SELECT and other statements are ignored")
        schema.dialect = name
        schema.source = src
        return schema
    # The dialect that got furthest into the file most likely names the real mistake.
    name, best = max(failures, key=lambda nf: nf[1].pos)
    tried = name if chosen else f"{name} (also tried: {', '.join(n for n, _ in failures if n != name)})"
    raise UserError(f"could not parse the DDL as {tried}: {best.message}", file=src,
                    line=best.line, column=best.col,
                    hint=None if chosen else "pass the dialect explicitly (--dialect) if detection got it wrong")


# -- one dialect ------------------------------------------------------------------------------

def _parse_strict(d: Dialect, chunk: list[Token], text: str) -> exp.Expr | None:
    """Parse one statement; raise where sqlglot would silently degrade it to a Command.

    A Command keeps the statement's text but none of its columns: a table would vanish from
    the schema without a word. (Checked after parsing, not by overriding the parser: sqlglot's
    compiled build, ``sqlglot[c]``, cannot be subclassed.)
    """
    stmt = d.parser().parse(chunk, text)[0]
    if stmt is None or not _degraded(stmt):
        return stmt
    at = _stuck_at(d, chunk, text)
    raise ParseError(f"unsupported syntax near {at.text!r}", errors=[
        {"description": f"unsupported syntax near {at.text!r}", "line": at.line, "col": at.col,
         "start": at.start}])


def _degraded(stmt: exp.Expr) -> bool:
    return isinstance(stmt, exp.Command) or stmt.find(exp.Command) is not None


def _stuck_at(d: Dialect, chunk: list[Token], text: str, tries: int = 300) -> Token:
    """The token where sqlglot gave up: the one after the longest prefix it parses properly.

    Only on the error path, so the quadratic search costs nothing in a good run; it names the
    word the user must change ('STRANGE' in ``CREATE TABLE t (a INT) STRANGE THING``) and lets
    the dialect that got furthest win the report.
    """
    for k in range(len(chunk) - 1, max(0, len(chunk) - 1 - tries), -1):
        try:
            stmt = d.parser().parse(chunk[:k], text)[0]
        except (SqlglotError, ValueError, TypeError, AttributeError, IndexError, KeyError, RecursionError):
            continue
        if stmt is not None and not _degraded(stmt):
            return chunk[k]
    return chunk[0]


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    log = logging.getLogger("sqlglot")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _statements(tokens: list[Token]) -> list[list[Token]]:
    chunks: list[list[Token]] = [[]]
    for tok in tokens:
        if tok.token_type == TokenType.SEMICOLON:
            chunks.append([])
        else:
            chunks[-1].append(tok)
    return [c for c in chunks if c]


def _kind(chunk: list[Token]) -> str:
    words = [t.text.upper() for t in chunk[:8]]
    if words[0] == "CREATE":
        rest = [w for w in words[1:] if w not in _CREATE_MODIFIERS]
        return "table" if rest and rest[0] == "TABLE" else "skip"
    if words[:2] == ["ALTER", "TABLE"]:
        return "alter"
    if words[:2] == ["COMMENT", "ON"]:
        return "comment"
    return "skip"


def _parse_as(text: str, dialect: str) -> Schema:
    d = Dialect.get_or_raise(dialect)
    tokenizer = d.tokenizer()
    try:
        tokens = tokenizer.tokenize(text)
    except (TokenError, SqlglotError, ValueError, IndexError) as e:
        # The scanner's state says where the token it could not finish (e.g. a string) began.
        core = getattr(tokenizer, "_core", tokenizer)
        pos = getattr(core, "_start", None)
        pos = pos if isinstance(pos, int) and 0 <= pos < len(text) else 0
        line, col = text.count("\n", 0, pos) + 1, pos - text.rfind("\n", 0, pos)
        raise _Failure("cannot tokenize: unterminated string, quoted name or comment?",
                       line=line, col=col, pos=pos) from e
    builder = _Builder(text, dialect)
    with _quiet_sqlglot():
        for chunk in _statements(tokens):
            kind = _kind(chunk)
            if kind == "skip":
                continue
            if kind == "table" and dialect == "sqlite":
                chunk = _drop_sqlite_table_options(chunk)
            try:
                stmt = _parse_strict(d, chunk, text)
            except (SqlglotError, ValueError, TypeError, AttributeError, IndexError, KeyError, RecursionError) as e:
                if kind != "table":
                    continue  # ALTER/COMMENT statements sqlglot cannot read are optional extras
                raise _error_of(e, chunk, text) from e
            if isinstance(stmt, exp.Create):
                builder.add_create(stmt, chunk)
            elif isinstance(stmt, exp.Alter):
                builder.add_alter(stmt)
            elif isinstance(stmt, exp.Comment):
                builder.add_comment(stmt)
    return builder.finish()


def _error_of(e: Exception, chunk: list[Token], text: str) -> _Failure:
    errors = getattr(e, "errors", None) or [{}]
    info = errors[0]
    desc = info.get("description") or (str(e).splitlines() or [type(e).__name__])[0]
    desc = re.sub(r"<class '(?:\w+\.)*(\w+)'>", r"\1", desc)  # <class 'sqlglot...GT'> -> GT
    line, col = info.get("line"), info.get("col")
    if not isinstance(line, int):
        line, col = chunk[0].line, chunk[0].col
    highlight = info.get("highlight")
    if highlight and highlight not in desc:
        desc += f" (at {highlight!r})"
    # How far into the file the dialect got: the statement's start, refined by the error's line.
    pos = chunk[0].start + sum(len(x) + 1 for x in text[chunk[0].start:].split("\n")[: max(0, line - chunk[0].line)])
    return _Failure(desc, line=line, col=col, pos=pos + (col if isinstance(col, int) else 0))


def _drop_sqlite_table_options(chunk: list[Token]) -> list[Token]:
    """sqlglot does not read SQLite's ``WITHOUT ROWID`` / ``STRICT`` table options; drop them."""
    close = matching_paren(chunk, first_paren(chunk))
    if close is None:
        return chunk
    tail = [t for t in chunk[close + 1:]
            if t.text.upper() not in ("WITHOUT", "ROWID", "STRICT") and t.token_type != TokenType.COMMA]
    return chunk[:close + 1] + tail


# -- building the schema ----------------------------------------------------------------------

def _names(nodes: list[exp.Expr]) -> list[str]:
    out = []
    for n in nodes:
        while isinstance(n, exp.Ordered):
            n = n.this
        out.append(n.name)
    return [n for n in out if n]


def _table_ref(node: exp.Expr | None) -> tuple[str | None, str]:
    """(schema, name) of a Table node; the catalog (project/database) is dropped on purpose."""
    if isinstance(node, exp.Schema):
        node = node.this
    if not isinstance(node, exp.Table):
        return None, ""
    return (node.text("db") or None), node.name


@dataclass
class _PendingFK:
    table: Table
    columns: list[str]
    ref: tuple[str | None, str]
    ref_columns: list[str]


@dataclass
class _Builder:
    text: str
    dialect: str
    tables: dict[tuple[str, str], Table] = field(default_factory=dict)
    fks: list[_PendingFK] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.line_starts = [0]
        for line in self.text.split("\n"):
            self.line_starts.append(self.line_starts[-1] + len(line) + 1)

    # statements
    def add_create(self, stmt: exp.Create, chunk: list[Token]) -> None:
        body = stmt.this
        if str(stmt.args.get("kind") or "").upper() != "TABLE" or not isinstance(body, exp.Schema):
            return  # CREATE TABLE ... AS SELECT / LIKE: no column list to read
        schema, name = _table_ref(body)
        table = Table(name=name, schema=schema)
        key = ((schema or "").lower(), name.lower())
        if key in self.tables:  # a later definition (DROP + CREATE, CREATE OR REPLACE) wins
            old = self.tables[key]
            self.fks = [fk for fk in self.fks if fk.table is not old]
        self.tables[key] = table
        comments = LineComments(self.text, self.line_starts, chunk, self.dialect)
        for item in body.expressions:
            if isinstance(item, exp.ColumnDef):
                self._add_column(table, item, comments)
            elif isinstance(item, exp.Identifier):  # SQLite: a column without a type
                self._add_column(table, exp.ColumnDef(this=item), comments)
            else:
                self._add_constraint(table, item)
        trailing = comments.column_comments()
        for col in table.columns:
            col.description = col.description or trailing.get(col.name, "")
        props = stmt.args.get("properties")
        table.description = _property_comment(props) or comments.table_comment()

    def add_alter(self, stmt: exp.Alter) -> None:
        table = self.find(*_table_ref(stmt.this))
        if table is None:
            return
        for action in stmt.args.get("actions") or []:
            if isinstance(action, exp.ColumnDef) and table.column(action.name) is None:
                self._add_column(table, action, None)
            elif isinstance(action, exp.AddConstraint):
                for c in action.expressions:
                    self._add_constraint(table, c)

    def add_comment(self, stmt: exp.Comment) -> None:
        kind = str(stmt.args.get("kind") or "").upper()
        text = stmt.expression.name if stmt.expression else ""
        target = stmt.this
        if kind == "TABLE" and isinstance(target, exp.Table):
            table = self.find(*_table_ref(target))
            if table is not None:
                table.description = text
        elif kind == "COLUMN" and isinstance(target, exp.Column):
            table = self.find(target.text("db") or None, target.table)
            col = table.column(target.name) if table else None
            if col is not None:
                col.description = text

    # pieces
    def _add_column(self, table: Table, node: exp.ColumnDef, comments: LineComments | None) -> None:
        dt = node.args.get("kind")
        fam, duck = typemap.family_of(dt, self.dialect) if isinstance(dt, exp.DataType) else ("other", "")
        col = Column(name=node.name, type=fam, duckdb_type=duck)
        if self.dialect == "clickhouse":
            col.nullable = isinstance(dt, exp.DataType) and typemap.is_clickhouse_nullable(dt)
        for cons in node.args.get("constraints") or []:
            kind = cons.args.get("kind")
            if isinstance(kind, exp.NotNullColumnConstraint):
                col.nullable = bool(kind.args.get("allow_null"))
            elif isinstance(kind, exp.PrimaryKeyColumnConstraint) and self.dialect != "clickhouse":
                table.primary_key = [col.name]
            elif isinstance(kind, exp.Reference):
                self._add_fk(table, [col.name], kind)
            elif isinstance(kind, exp.CommentColumnConstraint):
                col.description = kind.name
            elif isinstance(kind, exp.Properties):
                col.description = _property_comment(kind) or col.description
        if comments is not None:
            col.raw_type = comments.column(node)
        if not col.raw_type and isinstance(dt, exp.DataType):
            col.raw_type = dt.sql(dialect=self.dialect)
        table.columns.append(col)

    def _add_constraint(self, table: Table, node: exp.Expr) -> None:
        if isinstance(node, exp.Constraint):
            for inner in node.expressions:
                self._add_constraint(table, inner)
        elif isinstance(node, exp.PrimaryKey) and self.dialect != "clickhouse":
            table.primary_key = _names(node.expressions)
        elif isinstance(node, exp.ForeignKey):
            ref = node.args.get("reference")
            if isinstance(ref, exp.Reference):
                self._add_fk(table, _names(node.expressions), ref)

    def _add_fk(self, table: Table, columns: list[str], ref: exp.Reference) -> None:
        target = ref.this
        ref_cols = _names(target.expressions) if isinstance(target, exp.Schema) else []
        self.fks.append(_PendingFK(table, columns, _table_ref(target), ref_cols))

    def find(self, schema: str | None, name: str, near: Table | None = None) -> Table | None:
        key = ((schema or "").lower(), name.lower())
        if key in self.tables:
            return self.tables[key]
        if schema is None:
            same = (near.schema or "").lower() if near else ""
            if (same, key[1]) in self.tables:
                return self.tables[same, key[1]]
            bare = [t for (_, n), t in self.tables.items() if n == key[1]]
            return bare[0] if len(bare) == 1 else None
        return None

    def finish(self) -> Schema:
        tables = list(self.tables.values())
        for t in tables:
            # Keep declared key columns that exist, spelled as the column is; a key is NOT NULL.
            t.primary_key = [c.name for k in t.primary_key if (c := t.column(k)) is not None]
            for k in t.primary_key:
                col = t.column(k)
                if col is not None:
                    col.nullable = False
        fks: list[ForeignKey] = []
        for p in self.fks:
            ref = self.find(*p.ref, near=p.table)
            cols = [c.name for k in p.columns if (c := p.table.column(k)) is not None]
            if ref is None or not cols or len(cols) != len(p.columns):
                continue
            ref_cols = p.ref_columns or list(ref.primary_key)
            if not ref_cols and len(cols) == 1:
                guess = ref.column(cols[0]) or ref.column("id")
                ref_cols = [guess.name] if guess else []
            ref_cols = [c.name for k in ref_cols if (c := ref.column(k)) is not None]
            if len(ref_cols) != len(cols):
                continue
            fk = ForeignKey(p.table.qualified_name, cols, ref.qualified_name, ref_cols)
            if fk not in fks:
                fks.append(fk)
        return Schema(tables=tables, foreign_keys=fks)


def _property_comment(props: exp.Expr | None) -> str:
    """Table/column comment from COMMENT '...' / COMMENT = '...' / OPTIONS(description = '...')."""
    if props is None:
        return ""
    for p in props.expressions if isinstance(props, exp.Properties) else []:
        if isinstance(p, exp.SchemaCommentProperty):
            return p.this.name if p.this else ""
        if isinstance(p, exp.Property) and p.name.lower() == "description":
            value = p.args.get("value")
            return value.name if value is not None else ""
    return ""
