"""Map any dialect's column type onto one of the normalised type families of ``model.TypeFamily``.

Shared by the DDL parser (which has a parsed sqlglot ``DataType``) and by introspection (which
has a type *string* from DuckDB's or SQLite's catalog). The family drives everything later
(roles, synthetic data, question templates); the original spelling is kept in ``raw_type``.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.expressions.datatypes import DType

from schemadistill.schema.model import TypeFamily

T = DType

_FAMILIES: dict[TypeFamily, frozenset[DType]] = {
    "integer": frozenset({
        T.TINYINT, T.SMALLINT, T.MEDIUMINT, T.INT, T.BIGINT, T.INT128, T.INT256, T.UTINYINT,
        T.USMALLINT, T.UMEDIUMINT, T.UINT, T.UBIGINT, T.UINT128, T.UINT256, T.SERIAL,
        T.SMALLSERIAL, T.BIGSERIAL, T.BIGNUM, T.YEAR,
    }),
    "float": frozenset({T.FLOAT, T.DOUBLE, T.UDOUBLE}),
    "decimal": frozenset({
        T.DECIMAL, T.DECIMAL32, T.DECIMAL64, T.DECIMAL128, T.DECIMAL256, T.BIGDECIMAL,
        T.UDECIMAL, T.DECFLOAT, T.MONEY, T.SMALLMONEY,
    }),
    "text": frozenset({
        T.CHAR, T.NCHAR, T.VARCHAR, T.NVARCHAR, T.BPCHAR, T.TEXT, T.TINYTEXT, T.MEDIUMTEXT,
        T.LONGTEXT, T.NAME, T.FIXEDSTRING, T.ENUM, T.ENUM8, T.ENUM16,
    }),
    "boolean": frozenset({T.BOOLEAN}),
    "date": frozenset({T.DATE, T.DATE32}),
    "timestamp": frozenset({
        T.DATETIME, T.DATETIME2, T.DATETIME64, T.SMALLDATETIME, T.TIMESTAMP, T.TIMESTAMPTZ,
        T.TIMESTAMPNTZ, T.TIMESTAMPLTZ, T.TIMESTAMP_S, T.TIMESTAMP_MS, T.TIMESTAMP_NS,
    }),
    "time": frozenset({T.TIME, T.TIMETZ, T.TIME_NS}),
    "interval": frozenset({T.INTERVAL}),
    "json": frozenset({T.JSON, T.JSONB, T.VARIANT, T.OBJECT, T.SUPER}),
    "blob": frozenset({T.BLOB, T.TINYBLOB, T.MEDIUMBLOB, T.LONGBLOB, T.BINARY, T.VARBINARY, T.IMAGE}),
    "uuid": frozenset({T.UUID}),
}
_FAMILY_OF: dict[DType, TypeFamily] = {
    t: fam for fam, types in _FAMILIES.items() for t in types
}


def _params(dt: exp.DataType) -> list[int | None]:
    """Numeric type parameters, e.g. [10, 2] for DECIMAL(10,2); None for a non-numeric one."""
    out: list[int | None] = []
    for p in dt.expressions:
        node = p.this if isinstance(p, exp.DataTypeParam) else p
        try:
            out.append(int(node.name))
        except (TypeError, ValueError, AttributeError):
            out.append(None)
    return out


def unwrap(dt: exp.DataType) -> exp.DataType:
    """Strip ClickHouse's LowCardinality(...) wrapper: the family is the inner type's."""
    while dt.this == T.LOWCARDINALITY and dt.expressions and isinstance(dt.expressions[0], exp.DataType):
        dt = dt.expressions[0]
    return dt


def is_clickhouse_nullable(dt: exp.DataType) -> bool:
    """ClickHouse columns are NOT NULL unless wrapped in Nullable(...) (possibly inside LowCardinality)."""
    return bool(dt.args.get("nullable")) or bool(unwrap(dt).args.get("nullable"))


def family_of(dt: exp.DataType, dialect: str) -> tuple[TypeFamily, str]:
    """The family of a parsed type and, for decimals, the exact DuckDB spelling (else "")."""
    dt = unwrap(dt)
    fam = _FAMILY_OF.get(dt.this, "other")
    params = _params(dt)
    if dt.this == T.TINYINT and dialect == "mysql" and params == [1]:
        return "boolean", ""  # MySQL spells BOOLEAN as TINYINT(1), and dumps keep that spelling
    if fam == "decimal" and params and all(p is not None for p in params):
        precision = params[0] or 18
        scale = params[1] if len(params) > 1 else 0
        # DECIMAL(p) / NUMBER(p,0) hold whole numbers only (Snowflake's INT is NUMBER(38,0)).
        if scale == 0:
            return "integer", ""
        precision = min(int(precision), 38)
        return "decimal", f"DECIMAL({precision},{min(int(scale or 0), precision)})"
    return fam, ""


def family_of_text(type_text: str, dialect: str) -> tuple[TypeFamily, str]:
    """The family of a type written as text; ("other", "") when sqlglot cannot read it."""
    text = (type_text or "").strip()
    if not text:
        return "other", ""
    try:
        dt = exp.DataType.build(text, dialect=dialect)
    except (SqlglotError, ValueError, TypeError, RecursionError):
        return "other", ""
    if dt.this in (T.USERDEFINED, T.UNKNOWN):
        return "other", ""
    return family_of(dt, dialect)


def sqlite_affinity_family(decl: str) -> TypeFamily:
    """SQLite's type-affinity rules (https://sqlite.org/datatype3.html, 3.1) mapped to families."""
    up = decl.upper()
    if "INT" in up:
        return "integer"
    if any(s in up for s in ("CHAR", "CLOB", "TEXT")):
        return "text"
    if "BLOB" in up:
        return "blob"
    if any(s in up for s in ("REAL", "FLOA", "DOUB")):
        return "float"
    return "other"  # NUMERIC affinity (or no type at all) says nothing useful about the values


def sqlite_family(decl: str) -> tuple[TypeFamily, str]:
    """A SQLite declared type: sqlglot's reading first (DATE, BOOLEAN, DECIMAL...), then affinity."""
    fam, duck = family_of_text(decl, "sqlite")
    if fam == "other":
        return sqlite_affinity_family(decl), ""
    return fam, duck
