"""The student's prompt: both schema modes, repair pairs, and no torch needed to render it."""

from __future__ import annotations

import subprocess
import sys

from tiny_models import ROOT, tiny_schema

from schemadistill.prompt import (
    completion_text,
    cut_at_stop,
    fill_slots,
    render_prompt,
    render_schema_compact,
    slot_numbers,
    slot_values,
    template_text,
    tidy_error,
)
from student.data import PromptSpec

ERROR = ('Binder Error: Referenced column "agee" not found in FROM clause!\nCandidate bindings: "age"\n\n'
         "LINE 1: SELECT agee FROM ecommerce.users\n               ^^^^")


def test_compact_schema_is_one_short_line_per_table() -> None:
    text = render_schema_compact(tiny_schema())
    lines = text.splitlines()
    assert lines == [
        "ecommerce.users(user_id, country, is_active, age)",
        "ecommerce.sessions(user_id→ecommerce.users, session_id, action_date date, session_duration, os, "
        "browser, is_fraud, revenue float)",
    ]
    assert render_schema_compact(tiny_schema().to_dict()) == text  # the runtime only has the dict


def test_prompt_modes() -> None:
    schema_text = render_schema_compact(tiny_schema())
    none = render_prompt("How many  users\nare there?")
    compact = render_prompt("How many users are there?", schema_text=schema_text)
    assert none == "Question: How many users are there?\nSQL:"
    assert compact.startswith("Schema:\necommerce.users(")
    assert compact.endswith("Question: How many users are there?\nSQL:")
    assert len(compact) > len(none)


def test_repair_prompt_has_broken_sql_and_a_tidy_error() -> None:
    text = render_prompt("Ages of users?", broken_sql="SELECT agee\nFROM ecommerce.users", error=ERROR)
    assert text.splitlines() == [
        "Question: Ages of users?",
        "Broken SQL: SELECT agee FROM ecommerce.users",
        'Error: Binder Error: Referenced column "agee" not found in FROM clause! Candidate bindings: "age"',
        "SQL:",
    ]
    assert "^^^" not in tidy_error(ERROR) and "LINE 1" not in tidy_error(ERROR)
    assert len(tidy_error("x" * 1000)) <= 240


def test_completion_and_stop() -> None:
    assert completion_text("SELECT 1\n FROM t;") == " SELECT 1 FROM t;"
    assert cut_at_stop(" SELECT 1; SELECT 2;") == "SELECT 1;"
    assert cut_at_stop("SELECT 1") == "SELECT 1"


def test_saved_template_text_is_used() -> None:
    assert render_prompt("q", template="Q={{ question }}|{{ schema_text }}") == "Q=q|"
    assert "Question:" in template_text()


def test_prompt_spec_plain_chat_and_repair() -> None:
    row = {"question": "Ages?", "sql": "SELECT age FROM ecommerce.users", "kind": "repair",
           "broken_sql": "SELECT agee FROM ecommerce.users", "error": ERROR}
    plain = PromptSpec.create("none", "ignored in none mode", chat=False)
    assert plain.schema_text == ""
    ex = plain.example(row)
    assert "Broken SQL:" in ex["prompt"] and ex["completion"] == " SELECT age FROM ecommerce.users;"
    chat = PromptSpec.create("compact", "t(a, b)", chat=True)
    ex = chat.example({**row, "kind": "generate"})
    assert ex["prompt"] == [{"role": "user", "content": "Schema:\nt(a, b)\nQuestion: Ages?\nSQL:"}]
    assert ex["completion"] == [{"role": "assistant", "content": "SELECT age FROM ecommerce.users;"}]
    assert PromptSpec.from_json(chat.to_json()) == chat


def test_number_slots_replace_long_numbers_and_fill_back() -> None:
    q = "Revenue of user 1000152 in Dec 2024, sessions over 1,500 s, top 10, Q4, again 1000152?"
    masked, values = slot_numbers(q, 3)
    assert masked == "Revenue of user #1 in Dec #2, sessions over #3 s, top 10, Q4, again #1?"
    assert values == ["1000152", "2024", "1500"]
    sql = ("SELECT SUM(revenue) FROM s WHERE user_id = 1000152 AND action_date >= '2024-12-01' "
           "AND d > 1500 AND x = 10500 LIMIT 10")
    slotted = slot_values(sql, values)
    # whole numbers only: 10500 holds "1500" but is another number; short numbers stay
    assert slotted == ("SELECT SUM(revenue) FROM s WHERE user_id = #1 AND action_date >= '#2-12-01' "
                       "AND d > #3 AND x = 10500 LIMIT 10")
    assert fill_slots(slotted, values) == sql
    assert fill_slots("WHERE a = #7", values) == "WHERE a = #7"  # a slot the question lacks stays
    assert slot_numbers(masked, 3) == (masked, [])  # idempotent: the runtime may apply it twice
    assert slot_numbers(q, 0) == (q, [])


def test_prompt_spec_with_slots_masks_prompt_sql_and_repair_and_fills_output() -> None:
    spec = PromptSpec.create("none", "", chat=False, number_slots=3)
    row = {"question": "Country of user 1000152?", "sql": "SELECT country FROM u WHERE user_id = 1000152",
           "kind": "repair", "broken_sql": "SELECT contry FROM u WHERE user_id = 1000152",
           "error": 'Referenced column "contry" not found'}
    ex = spec.example(row)
    assert "1000152" not in ex["prompt"] + ex["completion"]
    assert "Question: Country of user #1?" in ex["prompt"] and "WHERE user_id = #1" in ex["prompt"]
    assert ex["completion"] == " SELECT country FROM u WHERE user_id = #1;"
    assert spec.finish(row, "SELECT country FROM u WHERE user_id = #1;") == row["sql"] + ";"
    assert PromptSpec.from_json(spec.to_json()) == spec
    old = {k: v for k, v in spec.to_json().items() if k != "number_slots"}  # a model saved before slots
    assert PromptSpec.from_json(old).number_slots == 0


def test_prompt_module_imports_without_torch() -> None:
    code = ("import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
            "from schemadistill.prompt import render_prompt, render_schema_compact\n"
            "print(render_prompt('How many users?'))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "Question: How many users?\nSQL:\n"
