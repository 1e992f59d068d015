"""One error type for everything a user can get wrong.

Every stage raises :class:`UserError` for bad input (missing file, DDL that does not
parse, a sidecar naming an unknown column, ...). The CLI prints it as one clear message
and exits non-zero; it never shows a traceback from inside a library.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class UserError(Exception):
    """Bad input that the user can fix.

    ``message`` says what is wrong, ``hint`` what to do about it; ``file``/``line``/``column``
    point at the offending place when known (1-based).
    """

    message: str
    file: str | Path | None = None
    line: int | None = None
    column: int | None = None
    hint: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def location(self) -> str:
        if self.file is None:
            return ""
        loc = str(self.file)
        if self.line is not None:
            loc += f":{self.line}"
            if self.column is not None:
                loc += f":{self.column}"
        return loc

    def __str__(self) -> str:
        loc = self.location()
        text = f"{loc}: {self.message}" if loc else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text
