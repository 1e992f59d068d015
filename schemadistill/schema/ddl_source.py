"""Source-text helpers for the DDL parser: ``-- comments`` and raw type spellings by line.

sqlglot attaches comments to whichever node happens to be nearby and normalises type names,
so both are recovered from the source text instead, using the token positions of one
CREATE TABLE statement.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

# Words that end a column's type and start its constraints (used to recover the raw type text).
_CONSTRAINT_WORDS = frozenset("""
    NOT NULL PRIMARY REFERENCES UNIQUE DEFAULT CHECK CONSTRAINT COMMENT AUTO_INCREMENT
    AUTOINCREMENT GENERATED COLLATE OPTIONS IDENTITY MATERIALIZED ALIAS CODEC TTL EPHEMERAL AS
    ON CHARSET ENCODE MASKING KEY INVISIBLE VISIBLE STORED VIRTUAL TAG SETTINGS
""".split())


def first_paren(chunk: list[Token]) -> int | None:
    """Index of the first ``(`` of a statement (the column list of a CREATE TABLE)."""
    return next((i for i, t in enumerate(chunk) if t.token_type == TokenType.L_PAREN), None)


def matching_paren(chunk: list[Token], start: int | None) -> int | None:
    """Index of the ``)`` closing the ``(`` at ``start``; None if unbalanced."""
    if start is None:
        return None
    depth = 0
    for i in range(start, len(chunk)):
        if chunk[i].token_type == TokenType.L_PAREN:
            depth += 1
        elif chunk[i].token_type == TokenType.R_PAREN:
            depth -= 1
            if depth == 0:
                return i
    return None


class LineComments:
    """``-- comments`` and raw type text of one CREATE TABLE statement, found by source line.

    sqlglot attaches comments to whichever node is nearby, so instead each line's trailing
    comment is read from the source text after the line's last token, and each column owns the
    lines its tokens span (a line shared by two columns belongs to the later one).
    """

    def __init__(self, text: str, line_starts: list[int], chunk: list[Token], dialect: str) -> None:
        self.text, self.line_starts, self.chunk, self.dialect = text, line_starts, chunk, dialect
        self.by_start = {t.start: i for i, t in enumerate(chunk)}
        self.last_end: dict[int, int] = {}
        for t in chunk:
            self.last_end[t.line] = max(self.last_end.get(t.line, -1), t.end)
        self.owner: dict[int, str] = {}  # line -> name of the column that owns it

    def _line_text(self, line: int) -> str:
        return self.text[self.line_starts[line - 1]: self.line_starts[line] - 1]

    def _trailing(self, line: int) -> str:
        if line not in self.last_end or not 1 <= line < len(self.line_starts):
            return ""
        rest = self.text[self.last_end[line] + 1: self.line_starts[line] - 1].strip()
        return _comment_text(rest, self.dialect)

    def column(self, node: exp.ColumnDef) -> str:
        """The raw type text of a column definition; records which lines the column spans."""
        start = node.this.meta.get("start") if isinstance(node.this, exp.Identifier) else None
        i = self.by_start.get(start) if start is not None else None
        if i is None:
            return ""
        depth, angle, j, type_end = 0, 0, i + 1, None
        while j < len(self.chunk):
            tok = self.chunk[j]
            # Multi-word keywords ("PRIMARY KEY") are one token: look at the first word.
            tt, word = tok.token_type, (tok.text.upper().split() or [""])[0]
            if tt in (TokenType.L_PAREN, TokenType.L_BRACKET):
                depth += 1
            elif tt in (TokenType.R_PAREN, TokenType.R_BRACKET):
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and tt == TokenType.LT:
                angle += 1
            elif depth == 0 and tt == TokenType.GT:
                angle -= 1
            elif depth == 0 and angle <= 0 and tt == TokenType.COMMA:
                break
            nxt = self.chunk[j + 1].text.upper() if j + 1 < len(self.chunk) else ""
            charset = word == "CHARACTER" and (tok.text.upper().endswith(" SET") or nxt == "SET")
            if depth == 0 and angle <= 0 and type_end is None and (word in _CONSTRAINT_WORDS or charset):
                type_end = j
            j += 1
        for line in range(self.chunk[i].line, self.chunk[j - 1].line + 1):
            self.owner[line] = node.name
        type_end = j if type_end is None else type_end
        if type_end <= i + 1:
            return ""  # no type (SQLite allows that)
        return " ".join(self.text[self.chunk[i + 1].start: self.chunk[type_end - 1].end + 1].split())

    def column_comments(self) -> dict[str, str]:
        """Column name -> the trailing ``--`` comment of a line it owns (call after all columns)."""
        out: dict[str, str] = {}
        for line, name in sorted(self.owner.items()):
            text = self._trailing(line)
            if text and name not in out:
                out[name] = text
        return out

    def table_comment(self) -> str:
        """Comment on the CREATE TABLE line (if no column is there), else the block right above."""
        first = self.chunk[0].line
        paren = first_paren(self.chunk)
        name_line = self.chunk[paren].line if paren is not None else first
        if name_line not in self.owner:
            own = self._trailing(name_line)
            if own:
                return own
        block: list[str] = []
        line = first - 1
        while line >= 1:
            text = _comment_text(self._line_text(line).strip(), self.dialect)
            if not text:
                break
            block.insert(0, text)
            line -= 1
        # A block that opens the file is the file's header, not this table's description.
        return " ".join(block) if line >= 1 else ""


def _comment_text(rest: str, dialect: str) -> str:
    if rest.startswith("--"):
        return rest[2:].strip()
    if rest.startswith("#") and dialect == "mysql":
        return rest[1:].strip()
    if rest.startswith("/*") and rest.endswith("*/"):
        return rest[2:-2].strip()
    return ""
