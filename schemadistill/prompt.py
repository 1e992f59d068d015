"""The student's prompt: one jinja2 template shared by training, evaluation, export and runtime.

    from schemadistill.prompt import render_prompt, render_schema_compact
    text = render_prompt("How many users are from Spain?", schema_text=render_schema_compact(schema))

The SQL completion follows the rendered prompt: ``" " + sql + ";"`` then the tokenizer's EOS
(a chat model gets the prompt as the user message and ``sql + ";"`` as the assistant message).
This module imports jinja2 only, never torch or transformers, because the lean ONNX runtime
renders the very same prompt; a trained model stores the template text next to its weights
(``student_config.json``) and passes it back through ``template=``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "templates" / "student_prompt.j2"
PROMPT_MODES = ("compact", "none")
STOP = ";"  # the student ends every statement with it; decoding stops there (or at EOS)

# Column types worth a word in the compact schema: integers and text are the default reading
# of a bare name, and leaving them out keeps the prompt short.
_SHOWN_TYPES = frozenset({"float", "decimal", "boolean", "date", "timestamp", "time", "interval",
                          "json", "blob", "uuid"})
_ERROR_MAX_CHARS = 240


def template_text() -> str:
    """The packaged template's source (saved with each trained model)."""
    return TEMPLATE_PATH.read_text(encoding="utf-8")


@lru_cache(maxsize=8)
def _compile(source: str) -> jinja2.Template:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=False)
    return env.from_string(source)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def tidy_error(error: str) -> str:
    """The error as the student sees it: DuckDB's caret display dropped, one line, capped.

    The ``LINE 1: ...`` excerpt and its ``^^^`` marker repeat the broken SQL the prompt already
    holds; dropping them keeps repair prompts inside ``max_length``.
    """
    keep = [ln for ln in error.splitlines()
            if ln.strip() and not ln.lstrip().startswith("LINE ") and set(ln.strip()) != {"^"}]
    text = _one_line(" ".join(keep))
    return text if len(text) <= _ERROR_MAX_CHARS else text[:_ERROR_MAX_CHARS - 3].rstrip() + "..."


def render_prompt(question: str, schema_text: str | None = None, broken_sql: str | None = None,
                  error: str | None = None, template: str | None = None) -> str:
    """The prompt for one question; with ``broken_sql`` (and ``error``) the repair variant.

    ``template`` is a template source saved with a model; the packaged one by default.
    """
    ctx: dict[str, Any] = {
        "question": _one_line(question),
        "schema_text": (schema_text or "").strip(),
        "broken_sql": _one_line(broken_sql) if broken_sql else "",
        "error": tidy_error(error) if error else "",
    }
    return _compile(template if template is not None else template_text()).render(ctx)


def completion_text(sql: str) -> str:
    """What the student writes after the prompt: one line of SQL ending in ``;`` (EOS follows)."""
    body = _one_line(sql).rstrip().rstrip(";").rstrip()
    return " " + body + STOP


def cut_at_stop(text: str) -> str:
    """A generation up to and including the first ``;`` (the model may go on after it)."""
    text = text.strip()
    i = text.find(STOP)
    return text[:i + 1] if i >= 0 else text


# -- number slots ---------------------------------------------------------------------------
# A small model copies a long number (an id, a year, a threshold) digit by digit and often gets
# one wrong: that was most of a prototype's held-out misses. With slots, each number of at least
# ``min_digits`` digits in the question becomes ``#1``, ``#2``, ... in the prompt, the model writes
# the slot, and the caller puts the number back: copying becomes one token. Short numbers (limits,
# ages, months, quarters) stay: the SQL often transforms them (Q4 -> month 10).
SLOT_MARK = "#"
_NUMBER = re.compile(r"(?<![\w.#])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w]|\.\d)")
_SLOT = re.compile(r"#(\d+)(?!\d)")


def slot_numbers(text: str, min_digits: int) -> tuple[str, list[str]]:
    """(text with its long numbers replaced by slots, the numbers in slot order, commas dropped).

    The same number twice gets the same slot. ``min_digits <= 0`` leaves the text alone.
    """
    values: list[str] = []
    if min_digits <= 0:
        return text, values

    def slot(m: re.Match[str]) -> str:
        value = m.group(0).replace(",", "")
        if sum(ch.isdigit() for ch in value) < min_digits:
            return m.group(0)
        if value not in values:
            values.append(value)
        return f"{SLOT_MARK}{values.index(value) + 1}"

    return _NUMBER.sub(slot, text), values


def slot_values(text: str, values: list[str]) -> str:
    """``text`` (SQL, an error) with each of ``values`` written as its slot, where it stands alone
    as a number (also inside a date string: '2024-12-01' -> '#1-12-01')."""
    for i, value in sorted(enumerate(values, 1), key=lambda iv: -len(iv[1])):
        text = re.sub(rf"(?<![\w.#]){re.escape(value)}(?![\w]|\.\d)", f"{SLOT_MARK}{i}", text)
    return text


def fill_slots(text: str, values: list[str]) -> str:
    """The model's SQL with its slots replaced by the question's numbers (unknown slots stay)."""
    if not values:
        return text
    return _SLOT.sub(lambda m: values[int(m.group(1)) - 1] if 0 < int(m.group(1)) <= len(values)
                     else m.group(0), text)


def render_schema_compact(schema: Any) -> str:
    """One short line per table: ``ecommerce.sessions(user_id→ecommerce.users, action_date date, ...)``.

    ``schema`` is a :class:`schemadistill.schema.model.Schema` or its ``to_dict()`` form (the
    runtime has only the dict). Foreign-key columns name the table they point to; a column
    whose name differs from the referenced key also names that key.
    """
    data = schema.to_dict() if hasattr(schema, "to_dict") else schema
    refs: dict[tuple[str, str], str] = {}
    for fk in data.get("foreign_keys", []):
        for col, ref_col in zip(fk["columns"], fk["ref_columns"], strict=False):
            target = fk["ref_table"] if col.lower() == ref_col.lower() else f"{fk['ref_table']}.{ref_col}"
            refs[(fk["table"].lower(), col.lower())] = target
    lines = []
    for t in data["tables"]:
        qname = t.get("qualified_name") or (f"{t['schema']}.{t['name']}" if t.get("schema") else t["name"])
        cols = []
        for c in t["columns"]:
            ref = refs.get((qname.lower(), c["name"].lower()))
            if ref:
                cols.append(f"{c['name']}→{ref}")
            elif c.get("type") in _SHOWN_TYPES:
                cols.append(f"{c['name']} {c['type']}")
            else:
                cols.append(c["name"])
        lines.append(f"{qname}({', '.join(cols)})")
    return "\n".join(lines)


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def schema_names(schema: Any) -> list[str]:
    """Every table, qualified table and column name (tokenizer training wants them whole)."""
    data = schema.to_dict() if hasattr(schema, "to_dict") else schema
    names: list[str] = []
    for t in data["tables"]:
        names += [t["name"], t.get("qualified_name") or t["name"]] + [c["name"] for c in t["columns"]]
    return [n for n in names if _WORD.fullmatch(n.split(".")[-1])]
