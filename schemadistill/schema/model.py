"""The schema model every stage shares: tables, columns, keys, the sidecar's semantic layer.

Loaders (DDL, DuckDB/SQLite introspection, sidecar YAML) build a :class:`Schema`; later stages
only read it. ``Schema.fingerprint`` hashes the *structure* (names, normalised types,
nullability, keys), never descriptions, whitespace or declaration order, so an artifact can
tell whether it was trained for the live schema.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

# Normalised type families. Loaders map every dialect's type onto one of these, and keep the
# original spelling in ``Column.raw_type``.
TypeFamily = Literal[
    "integer", "float", "decimal", "text", "boolean", "date", "timestamp", "time",
    "interval", "json", "blob", "uuid", "other",
]

# How the teacher may use a column in a question.
Role = Literal["id", "measure", "dimension", "time", "flag", "text"]

NUMERIC_TYPES = frozenset({"integer", "float", "decimal"})
TEMPORAL_TYPES = frozenset({"date", "timestamp"})

# DuckDB spelling used when the sandbox creates a table of this family.
DUCKDB_TYPE: dict[str, str] = {
    "integer": "BIGINT", "float": "DOUBLE", "decimal": "DECIMAL(18,2)", "text": "VARCHAR",
    "boolean": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP", "time": "TIME",
    "interval": "INTERVAL", "json": "JSON", "blob": "BLOB", "uuid": "UUID", "other": "VARCHAR",
}


@dataclass
class Column:
    name: str
    type: TypeFamily
    raw_type: str = ""
    nullable: bool = True
    description: str = ""
    synonyms: list[str] = field(default_factory=list)
    examples: list[Any] = field(default_factory=list)
    role: Role | None = None  # None: decided by ``infer.column_role``; the sidecar may pin it
    duckdb_type: str = ""  # exact DuckDB type when known (introspection, decimals with scale)

    def sandbox_type(self) -> str:
        return self.duckdb_type or DUCKDB_TYPE[self.type]


@dataclass
class Table:
    name: str
    schema: str | None = None  # database schema ("ecommerce" in ecommerce.users), None for default
    columns: list[Column] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)
    description: str = ""
    synonyms: list[str] = field(default_factory=list)
    time_column: str | None = None  # the column that dates each row of a fact table

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def column(self, name: str) -> Column | None:
        low = name.lower()
        for col in self.columns:
            if col.name.lower() == low:
                return col
        return None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass
class ForeignKey:
    table: str  # qualified name of the referencing table
    columns: list[str]
    ref_table: str  # qualified name of the referenced table
    ref_columns: list[str]
    inferred: bool = False  # True when guessed from names (user_id -> users.user_id)


@dataclass
class Metric:
    """A named business measure from the sidecar, e.g. fraud_rate."""

    name: str
    sql: str  # an aggregate expression over ``table``'s columns
    table: str  # qualified name of the table the expression reads
    description: str = ""
    synonyms: list[str] = field(default_factory=list)
    unit: str = ""  # "percent", "currency", ... (free text, used in phrasings)


@dataclass
class Dimension:
    """A named way to slice a metric, e.g. os or country (may be an expression)."""

    name: str
    sql: str
    table: str
    description: str = ""
    synonyms: list[str] = field(default_factory=list)


@dataclass
class NamedFilter:
    """A named condition from the sidecar, e.g. purchase: ``revenue > 0`` ("made a purchase")."""

    name: str
    sql: str  # a condition over ``table``'s columns
    table: str  # qualified name of the table the condition reads
    description: str = ""
    synonyms: list[str] = field(default_factory=list)  # the words users say for it


@dataclass
class Schema:
    tables: list[Table] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)
    dimensions: list[Dimension] = field(default_factory=list)
    filters: list[NamedFilter] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)  # business rules in words
    dialect: str = "duckdb"  # dialect the DDL was written in; SQL is written in it too
    source: str = ""  # path the schema was loaded from

    # -- lookup -------------------------------------------------------------------------
    def table(self, name: str) -> Table | None:
        """Find a table by qualified or bare name (case-insensitive); None if absent or ambiguous."""
        low = name.lower()
        exact = [t for t in self.tables if t.qualified_name.lower() == low]
        if exact:
            return exact[0]
        bare = [t for t in self.tables if t.name.lower() == low]
        return bare[0] if len(bare) == 1 else None

    def fks_of(self, table: str) -> list[ForeignKey]:
        """Foreign keys that start or end at ``table`` (qualified name)."""
        return [fk for fk in self.foreign_keys if table in (fk.table, fk.ref_table)]

    # -- identity -----------------------------------------------------------------------
    def structure(self) -> dict[str, Any]:
        """The normalised structure the fingerprint hashes: order- and comment-free."""
        tables = []
        for t in sorted(self.tables, key=lambda t: t.qualified_name.lower()):
            tables.append({
                "name": t.qualified_name.lower(),
                "columns": sorted(
                    [c.name.lower(), c.type, bool(c.nullable)] for c in t.columns
                ),
                "primary_key": sorted(k.lower() for k in t.primary_key),
            })
        fks = sorted(
            [fk.table.lower(), [c.lower() for c in fk.columns], fk.ref_table.lower(),
             [c.lower() for c in fk.ref_columns]]
            for fk in self.foreign_keys if not fk.inferred
        )
        return {"tables": tables, "foreign_keys": fks}

    @property
    def fingerprint(self) -> str:
        blob = json.dumps(self.structure(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """Everything, as plain JSON-able data (what ``schemadistill schema --json`` prints)."""
        return {
            "dialect": self.dialect,
            "source": self.source,
            "fingerprint": self.fingerprint,
            "tables": [
                {**{k: v for k, v in asdict(t).items() if k != "schema"},
                 "schema": t.schema, "qualified_name": t.qualified_name}
                for t in self.tables
            ],
            "foreign_keys": [asdict(fk) for fk in self.foreign_keys],
            "metrics": [asdict(m) for m in self.metrics],
            "dimensions": [asdict(d) for d in self.dimensions],
            "filters": [asdict(f) for f in self.filters],
            "rules": list(self.rules),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        """Inverse of :meth:`to_dict` (artifacts store the schema this way)."""
        tables = []
        for t in data["tables"]:
            cols = [Column(**c) for c in t["columns"]]
            tables.append(Table(
                name=t["name"], schema=t.get("schema"), columns=cols,
                primary_key=list(t.get("primary_key", [])), description=t.get("description", ""),
                synonyms=list(t.get("synonyms", [])), time_column=t.get("time_column"),
            ))
        return cls(
            tables=tables,
            foreign_keys=[ForeignKey(**fk) for fk in data.get("foreign_keys", [])],
            metrics=[Metric(**m) for m in data.get("metrics", [])],
            dimensions=[Dimension(**d) for d in data.get("dimensions", [])],
            filters=[NamedFilter(**f) for f in data.get("filters", [])],
            rules=list(data.get("rules", [])),
            dialect=data.get("dialect", "duckdb"),
            source=data.get("source", ""),
        )
