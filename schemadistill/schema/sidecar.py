"""Read ``schema.yaml``, the sidecar that adds business meaning to a schema, and apply it.

The sidecar gives tables and columns descriptions, synonyms, examples and roles, and defines
named metrics, dimensions and business rules (format in the README). It is checked against the
schema: every mistake is a :class:`UserError` naming the file, the line and, for a misspelt
name, the close matches. The YAML is read with ``yaml.compose`` so every node keeps its line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import sqlglot
import yaml
from sqlglot import exp
from sqlglot.errors import SqlglotError

from schemadistill.errors import UserError
from schemadistill.schema.model import Dimension, Metric, NamedFilter, Role, Schema, Table

SIDECAR_NAMES = ("schema.yaml", "schema.yml")
ROLES: tuple[str, ...] = get_args(Role)
_TOP_KEYS = ("tables", "metrics", "dimensions", "filters", "rules")
_TABLE_KEYS = ("description", "synonyms", "time_column", "columns")
_COLUMN_KEYS = ("description", "synonyms", "examples", "role")
_METRIC_KEYS = ("sql", "table", "description", "synonyms", "unit")
_DIMENSION_KEYS = ("sql", "table", "description", "synonyms")
_FILTER_KEYS = ("sql", "table", "description", "synonyms")


def find_sidecar(schema_path: str | Path) -> Path | None:
    """``schema.yaml`` (or ``.yml``) in the schema file's folder, if there is one."""
    folder = Path(schema_path).parent
    for name in SIDECAR_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def apply_sidecar(schema: Schema, path: str | Path) -> Schema:
    """Validate the sidecar at ``path`` against ``schema`` and apply it (in place; returns it)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError as e:
        raise UserError("sidecar file not found", file=str(p)) from e
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read the sidecar: {e}", file=str(p)) from e
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise UserError(f"invalid YAML: {e.problem or e.context}", file=str(p),
                        line=mark.line + 1 if mark else None, column=mark.column + 1 if mark else None) from e
    except (yaml.YAMLError, RecursionError) as e:
        raise UserError(f"invalid YAML: {e}", file=str(p)) from e
    if root is None:
        return schema  # an empty sidecar is allowed: every section is optional
    _Reader(p, schema).read(root)
    return schema


def _close(name: str, choices: list[str]) -> str:
    near = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    if not near:
        near = difflib.get_close_matches(name.lower(), [c.lower() for c in choices], n=3, cutoff=0.6)
    return f"did you mean: {', '.join(near)}?" if near else f"known: {', '.join(choices[:20])}"


class _Reader:
    """Walks the composed YAML; ``fail`` turns any problem into a UserError at the node's line."""

    def __init__(self, path: Path, schema: Schema) -> None:
        self.path, self.schema = path, schema
        self._constructor = yaml.SafeLoader("")

    # helpers
    def fail(self, node: yaml.Node, message: str, hint: str | None = None) -> UserError:
        return UserError(message, file=str(self.path), line=node.start_mark.line + 1,
                         column=node.start_mark.column + 1, hint=hint)

    def value(self, node: yaml.Node) -> Any:
        try:
            return self._constructor.construct_document(node)
        except yaml.YAMLError as e:
            raise self.fail(node, f"invalid value: {e}") from e

    def pairs(self, node: yaml.Node, what: str, allowed: tuple[str, ...] | None = None,
              ) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping (name: value)")
        seen: set[str] = set()
        for knode, vnode in node.value:
            key = str(self.value(knode))
            if key in seen:
                raise self.fail(knode, f"{what}: {key!r} is given twice")
            seen.add(key)
            if allowed is not None and key not in allowed:
                raise self.fail(knode, f"{what}: unknown key {key!r}", hint=_close(key, list(allowed)))
            yield key, knode, vnode

    def text(self, node: yaml.Node, what: str) -> str:
        val = self.value(node)
        if val is None:
            return ""
        if isinstance(val, (dict, list)):
            raise self.fail(node, f"{what} must be text")
        return str(val)

    def strings(self, node: yaml.Node, what: str) -> list[str]:
        val = self.value(node)
        if val is None:
            return []
        vals = val if isinstance(val, list) else [val]
        if any(isinstance(v, (dict, list)) for v in vals):
            raise self.fail(node, f"{what} must be a list of text")
        return [str(v) for v in vals]

    # sections
    def read(self, root: yaml.Node) -> None:
        for key, _, node in self.pairs(root, "schema.yaml", _TOP_KEYS):
            if isinstance(node, yaml.ScalarNode) and self.value(node) is None:
                continue  # `metrics:` with nothing under it yet
            if key == "tables":
                for name, knode, tnode in self.pairs(node, "tables"):
                    self.read_table(self.table(name, knode), tnode)
            elif key == "metrics":
                self.schema.metrics = [self.read_metric(n, k, m) for n, k, m in self.pairs(node, "metrics")]
            elif key == "dimensions":
                self.schema.dimensions = [self.read_dimension(n, k, d)
                                          for n, k, d in self.pairs(node, "dimensions")]
            elif key == "filters":
                self.schema.filters = [self.read_filter(n, k, f) for n, k, f in self.pairs(node, "filters")]
            elif key == "rules":
                self.schema.rules = self.strings(node, "rules")

    def table(self, name: str, node: yaml.Node) -> Table:
        low = name.lower()
        exact = [t for t in self.schema.tables if t.qualified_name.lower() == low]
        bare = [t for t in self.schema.tables if t.name.lower() == low]
        if exact or len(bare) == 1:
            return (exact or bare)[0]
        if bare:
            raise self.fail(node, f"table name {name!r} is ambiguous",
                            hint="qualify it: " + ", ".join(t.qualified_name for t in bare))
        names = [t.qualified_name for t in self.schema.tables]
        names += [t.name for t in self.schema.tables if t.schema]
        raise self.fail(node, f"unknown table {name!r}", hint=_close(name, names))

    def read_table(self, table: Table, node: yaml.Node) -> None:
        if isinstance(node, yaml.ScalarNode):
            table.description = self.text(node, f"{table.qualified_name}: description") or table.description
            return
        for key, _, vnode in self.pairs(node, f"table {table.qualified_name}", _TABLE_KEYS):
            if key == "description":
                table.description = self.text(vnode, "description")
            elif key == "synonyms":
                table.synonyms = self.strings(vnode, "synonyms")
            elif key == "time_column":
                name = self.text(vnode, "time_column")
                table.time_column = self.column(table, name, vnode) if name else None
            elif key == "columns":
                for cname, knode, cnode in self.pairs(vnode, f"{table.qualified_name}: columns"):
                    self.read_column(table, self.column(table, cname, knode), cnode)

    def column(self, table: Table, name: str, node: yaml.Node) -> str:
        col = table.column(name)
        if col is None:
            raise self.fail(node, f"unknown column {name!r} in table {table.qualified_name}",
                            hint=_close(name, table.column_names))
        return col.name

    def read_column(self, table: Table, name: str, node: yaml.Node) -> None:
        col = table.column(name)
        assert col is not None  # checked by self.column
        what = f"{table.qualified_name}.{col.name}"
        if isinstance(node, yaml.ScalarNode):
            col.description = self.text(node, f"{what}: description") or col.description
            return
        for key, _, vnode in self.pairs(node, f"column {what}", _COLUMN_KEYS):
            if key == "description":
                col.description = self.text(vnode, f"{what}: description")
            elif key == "synonyms":
                col.synonyms = self.strings(vnode, f"{what}: synonyms")
            elif key == "examples":
                val = self.value(vnode)
                col.examples = [] if val is None else list(val) if isinstance(val, list) else [val]
            elif key == "role":
                role = self.text(vnode, f"{what}: role")
                if role not in ROLES:
                    raise self.fail(vnode, f"bad role {role!r} for column {what}",
                                    hint="use one of: " + ", ".join(ROLES))
                col.role = role  # type: ignore[assignment]

    def _sql_and_table(self, kind: str, name: str, knode: yaml.Node, node: yaml.Node,
                       allowed: tuple[str, ...], default_sql: str | None) -> tuple[dict[str, yaml.Node], str, Table]:
        fields = {k: v for k, _, v in self.pairs(node, f"{kind} {name!r}", allowed)}
        if "table" not in fields or not self.text(fields["table"], "table"):
            raise self.fail(knode, f"{kind} {name!r} has no table",
                            hint="add `table:` naming the table its sql reads")
        table = self.table(self.text(fields["table"], "table"), fields["table"])
        sql = self.text(fields["sql"], "sql") if "sql" in fields else (default_sql or "")
        if not sql.strip():
            raise self.fail(knode, f"{kind} {name!r} has no sql",
                            hint="add `sql:`, an expression over the table's columns, e.g. SUM(amount)")
        self.check_sql(sql, table, fields.get("sql", knode), f"{kind} {name!r}")
        return fields, sql, table

    def read_metric(self, name: str, knode: yaml.Node, node: yaml.Node) -> Metric:
        fields, sql, table = self._sql_and_table("metric", name, knode, node, _METRIC_KEYS, None)
        return Metric(
            name=name, sql=sql, table=table.qualified_name,
            description=self.text(fields["description"], "description") if "description" in fields else "",
            synonyms=self.strings(fields["synonyms"], "synonyms") if "synonyms" in fields else [],
            unit=self.text(fields["unit"], "unit") if "unit" in fields else "",
        )

    def read_dimension(self, name: str, knode: yaml.Node, node: yaml.Node) -> Dimension:
        # A dimension's sql defaults to its name: `os: {table: sessions}` slices by column os.
        fields, sql, table = self._sql_and_table("dimension", name, knode, node, _DIMENSION_KEYS, name)
        return Dimension(
            name=name, sql=sql, table=table.qualified_name,
            description=self.text(fields["description"], "description") if "description" in fields else "",
            synonyms=self.strings(fields["synonyms"], "synonyms") if "synonyms" in fields else [],
        )

    def read_filter(self, name: str, knode: yaml.Node, node: yaml.Node) -> NamedFilter:
        fields, sql, table = self._sql_and_table("filter", name, knode, node, _FILTER_KEYS, None)
        tree = sqlglot.parse_one(sql, read=self.schema.dialect)  # parses: check_sql said so
        while isinstance(tree, exp.Paren):
            tree = tree.this
        if not isinstance(tree, (exp.Predicate, exp.Connector, exp.Not)):
            raise self.fail(fields.get("sql", knode), f"filter {name!r}: sql must be a condition such as "
                                                      f"revenue > 0, not {sql!r}")
        return NamedFilter(
            name=name, sql=sql, table=table.qualified_name,
            description=self.text(fields["description"], "description") if "description" in fields else "",
            synonyms=self.strings(fields["synonyms"], "synonyms") if "synonyms" in fields else [],
        )

    def check_sql(self, sql: str, table: Table, node: yaml.Node, what: str) -> None:
        """The sql must parse as one expression and read only columns of ``table``."""
        try:
            tree = sqlglot.parse_one(sql, read=self.schema.dialect)
        except SqlglotError as e:
            detail = (str(e).splitlines() or ["syntax error"])[0]
            raise self.fail(node, f"{what}: sql does not parse as a SQL expression: {detail}") from e
        except (ValueError, TypeError, AttributeError, IndexError, KeyError, RecursionError) as e:
            raise self.fail(node, f"{what}: sql does not parse as a SQL expression") from e
        if tree is None or isinstance(tree, (exp.Query, exp.DDL, exp.DML, exp.Command)):
            raise self.fail(node, f"{what}: sql must be an expression such as SUM(amount), not a statement")
        if isinstance(tree, exp.Alias):
            raise self.fail(node, f"{what}: drop the AS alias (the name is the alias)")
        allowed = {table.name.lower(), table.qualified_name.lower()}
        for col in tree.find_all(exp.Column):
            if isinstance(col.this, exp.Star):
                continue
            qualifier = ".".join(p for p in (col.text("db"), col.table) if p).lower()
            if qualifier and qualifier not in allowed:
                raise self.fail(node, f"{what}: sql may only use columns of {table.qualified_name}, "
                                      f"not {qualifier}.{col.name}")
            if table.column(col.name) is None:
                raise self.fail(node, f"{what}: unknown column {col.name!r} in table {table.qualified_name}",
                                hint=_close(col.name, table.column_names))
