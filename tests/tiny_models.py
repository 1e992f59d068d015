"""Tiny students for fast tests: nothing downloaded, everything built from configs in seconds.

* :func:`tiny_scratch` - a scratch tokenizer trained on :data:`PAIRS` and a ~50k-parameter
  Llama model (also registered as the preset ``scratch:tiny`` by :func:`register_tiny_preset`);
* :func:`tiny_pretrained` - a random Qwen2 model saved to a folder with a tokenizer that has a
  ChatML chat template, standing in for a hub model so the HF/LoRA path runs offline;
* :func:`write_run` - a run folder with the ecommerce schema, a small sandbox and curriculum
  files (``train_phase{1,2,3}.jsonl``, ``heldout_iid.jsonl``, ``heldout_family.jsonl``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemadistill.io import atomic_write_json, atomic_write_jsonl
from schemadistill.schema import load_schema
from schemadistill.schema.model import Schema

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_SQL = ROOT / "examples" / "ecommerce" / "schema.sql"

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
        "intermediate_size": 64}


def _g(q: str, sql: str, family: str, phase: int, difficulty: int = 1) -> dict[str, Any]:
    return {"question": q, "sql": sql, "dialect": "duckdb", "family": family, "phase": phase,
            "difficulty": difficulty, "kind": "generate", "source": "template", "instance": family + sql[-6:]}


PAIRS: list[dict[str, Any]] = [
    _g("How many users are there?", "SELECT COUNT(*) FROM ecommerce.users", "count_rows", 1),
    _g("How many sessions are there?", "SELECT COUNT(*) FROM ecommerce.sessions", "count_rows", 1),
    _g("Which country does user 1000152 have?", "SELECT country FROM ecommerce.users WHERE user_id = 1000152",
       "lookup_by_id", 1),
    _g("What is the age of user 1000007?", "SELECT age FROM ecommerce.users WHERE user_id = 1000007",
       "lookup_by_id", 1),
    _g("List the distinct browsers.", "SELECT DISTINCT browser FROM ecommerce.sessions ORDER BY browser",
       "distinct_values", 1),
    _g("List the distinct operating systems.", "SELECT DISTINCT os FROM ecommerce.sessions ORDER BY os",
       "distinct_values", 1),
    _g("Total revenue per os?", "SELECT os, SUM(revenue) FROM ecommerce.sessions GROUP BY os ORDER BY os",
       "group_agg", 2, 2),
    _g("Average session duration per browser?",
       "SELECT browser, AVG(session_duration) FROM ecommerce.sessions GROUP BY browser ORDER BY browser",
       "group_agg", 2, 2),
    _g("How many users per country?", "SELECT country, COUNT(*) FROM ecommerce.users GROUP BY country",
       "group_agg", 2, 2),
    _g("How many fraud sessions are there?", "SELECT COUNT(*) FROM ecommerce.sessions WHERE is_fraud = 1",
       "filter_flag", 2, 2),
    {**_g("Ages of active users?", "SELECT age FROM ecommerce.users WHERE is_active = 1", "repair_column", 3, 2),
     "kind": "repair", "broken_sql": "SELECT agee FROM ecommerce.users WHERE is_active = 1",
     "error": 'Binder Error: Referenced column "agee" not found in FROM clause!\nCandidate bindings: "age"\n\n'
              "LINE 1: SELECT agee FROM ecommerce.users WHERE is_active = 1\n               ^^^^"},
    {**_g("Sessions of user 1000003?", "SELECT session_id FROM ecommerce.sessions WHERE user_id = 1000003",
          "repair_table", 3, 2),
     "kind": "repair", "broken_sql": "SELECT session_id FROM ecommerce.session WHERE user_id = 1000003",
     "error": "Catalog Error: Table with name session does not exist!"},
]
HELDOUT_IID = [_g("How many users do we have?", "SELECT COUNT(*) FROM ecommerce.users", "count_rows", 1)]
HELDOUT_FAMILY = [_g("What is the largest revenue?", "SELECT MAX(revenue) FROM ecommerce.sessions",
                     "max_value", 2, 2)]

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    """Tiny models gain nothing from a second thread and lose a lot when the CPU is shared
    (two processes spinning OpenMP threads on 2 cores). Import it into a test module to use it."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tiny_schema() -> Schema:
    return load_schema(SCHEMA_SQL)


def register_tiny_preset(monkeypatch: Any) -> str:
    """Make ``scratch:tiny`` a valid student name for the test; returns that name."""
    from student import model

    monkeypatch.setitem(model.PRESETS, "tiny", dict(TINY))
    return "scratch:tiny"


def tiny_tokenizer() -> Any:
    from schemadistill.prompt import completion_text, render_prompt, schema_names
    from student.model import train_tokenizer

    texts = [render_prompt(p["question"], None, p.get("broken_sql"), p.get("error")) + completion_text(p["sql"])
             for p in PAIRS]
    return train_tokenizer(texts * 3, schema_names(tiny_schema()), vocab_size=400)


def tiny_scratch(seed: int = 0) -> tuple[Any, Any]:
    """(model, tokenizer): a ~50k-parameter Llama built from the TINY config."""
    from student import model as sm

    tok = tiny_tokenizer()
    sm.PRESETS.setdefault("tiny", dict(TINY))
    return sm.build_scratch_model("tiny", tok, max_length=256, seed=seed), tok


def tiny_pretrained(path: Path, seed: int = 0) -> Path:
    """A random tiny Qwen2 model + ChatML tokenizer saved as a local "pretrained" model folder."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tok = tiny_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.eos_token = "<|im_end|>"  # the end of an assistant turn ends generation, as in Qwen
    tok.chat_template = CHATML
    torch.manual_seed(seed)
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      num_key_value_heads=1, intermediate_size=64, max_position_embeddings=512,
                      tie_word_embeddings=True, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                      bos_token_id=tok.bos_token_id)
    model = Qwen2ForCausalLM(cfg)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path


def write_run(run: Path, pairs: list[dict[str, Any]] | None = None, copies: int = 1,
              sandbox: bool = True) -> Path:
    """A run folder holding what the student stage reads; every phase gets its PAIRS rows."""
    pairs = PAIRS if pairs is None else pairs
    schema = tiny_schema()
    atomic_write_json(run / "schema" / "schema.json", schema.to_dict())
    if sandbox:
        from schemadistill.sandbox import build_sandbox

        build_sandbox(schema, run / "sandbox" / "sandbox.duckdb", rows=60, seed=0)
    cur = run / "curriculum"
    for k in (1, 2, 3):
        rows = [p for p in pairs if p["phase"] == k] * copies
        atomic_write_jsonl(cur / f"train_phase{k}.jsonl", rows)
    atomic_write_jsonl(cur / "heldout_iid.jsonl", HELDOUT_IID)
    atomic_write_jsonl(cur / "heldout_family.jsonl", HELDOUT_FAMILY)
    return run


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))
