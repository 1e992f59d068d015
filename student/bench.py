"""Training throughput of a student on this machine; prints ONE JSON line.

    python -m student.bench                          # the default scratch preset
    python -m student.bench --model scratch:m        # another preset
    python -m student.bench --qwen05b-lora           # Qwen2.5-0.5B-shaped random model + LoRA
                                                     # (bf16 on CUDA, fp32 on CPU)

It runs the real training path (TRL ``SFTTrainer`` with the training's completion-only loss,
student/loss.py, and the settings of student/train.py) on synthetic question/SQL pairs shaped
like the teacher's (prompt mode ``none``: ~60 tokens a pair, numbers one digit per token), and
reports real (non-padding) tokens per second over the steps after the warm-up::

    {"bench": "train", "model": "scratch:xs", "params": ..., "tokens_per_s": ..., "device": "cpu"}

``--trl-loss`` times TRL's own loss instead, which on a CPU projects every position through the
LM head (student/loss.py has the A/B: ~1.27x on a run's pairs). The figures below predate that
loss (TRL's, on an AVX-512 machine): the 2-core CPU build machine, torch 2.13 CPU, fp32, batch
32, 16 timed steps, best of two runs; synthetic pairs of 55-72 tokens, vocab ~440, so a real
~2.9k vocab costs a little more; the machine is shared, and a loaded moment reads 3-5x lower:

    scratch:xs    2.4M params   ~6,300 tokens/s
    scratch:s    12.8M params   ~1,650 tokens/s   <- `scratch`: the default data (~1.2M tokens,
    scratch:m    42.7M params     ~570 tokens/s      3 phases x 2 epochs) in ~12 of the 20 min

Packing (``--packing``: BFD, padding-free, 8 rows of 256 tokens a step) measured ~3x fewer
tokens/s than plain batches (best of three: 2,120 vs 6,780 for xs), so training leaves it off;
``group_by_length`` measured ~15% more than random batches on these near-equal lengths (best
of three: 6,780 vs 5,920) and saves more on real pairs (50-250 tokens), so it is on.

``--pairs RUN/curriculum/train_phase2.jsonl`` times a run's own pairs (the first 2,000; real
lengths 50-250 tokens, the run's vocabulary) instead of the synthetic ones. The synthetic pairs
flatter two speed-ups that the real ones do not keep (session 20, this machine, batch 16): bf16
autocast on this CPU's AVX512-BF16 read 10,000-10,400 against 7,800-9,000 tokens/s fp32 on
synthetic pairs, 7,500-7,900 against 7,200-7,500 on a run's pairs, and a full 20-minute run
with it trained at 6,200-6,600 tokens/s (4,854 steps; fp32 runs 7,000-7,500); ``torch.compile``
read 7,900 against 6,600 synthetic, 6,040 against 6,000 on real pairs after ~45 s of compiling.
Training stays fp32 and eager on a CPU.

``--qwen05b-lora`` builds 494,032,768 parameters (Qwen2.5-0.5B's count, so the config is right);
on this CPU it trained at ~43 tokens/s (batch 4, fp32, a shared moment; 4.1 GB peak memory):
about 60x slower than scratch:s, so a pretrained student is a GPU job.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import tempfile
from typing import Any

import torch
from datasets import Dataset
from transformers import Qwen2Config, Qwen2ForCausalLM
from trl import SFTConfig, SFTTrainer

from schemadistill.prompt import completion_text, render_prompt
from student.budget import Throughput
from student.loss import CompletionHeadTrainer
from student.model import (
    AUTO_PRESET,
    DEFAULT_PRESET,
    add_lora,
    build_scratch_model,
    count_params,
    parse_student,
    train_tokenizer,
)
from student.train import quiet_training

QWEN05B = {"hidden_size": 896, "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
           "intermediate_size": 4864, "vocab_size": 151936, "tie_word_embeddings": True,
           "max_position_embeddings": 32768, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6}

_COLS = ["user_id", "country", "age", "is_active", "session_id", "action_date", "revenue", "os", "browser"]
_TABLES = ["ecommerce.users", "ecommerce.sessions"]
_WORDS = ["show", "list", "how many", "what is the average", "count", "which", "total", "per", "by"]


def synthetic_pairs(n: int, seed: int = 0) -> list[dict[str, str]]:
    """Question/SQL pairs with the teacher's shapes and lengths (no sandbox needed)."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        t, c1, c2 = rng.choice(_TABLES), rng.choice(_COLS), rng.choice(_COLS)
        num = rng.randint(1, 2_000_000)
        agg = rng.choice(["count(*)", f"avg({c1})", f"sum({c1})", f"max({c1})", c1])
        sql = f"SELECT {c2}, {agg} FROM {t} WHERE {c1} > {num} GROUP BY {c2} ORDER BY {c2} LIMIT {rng.randint(1, 50)}"
        q = (f"{rng.choice(_WORDS).capitalize()} {c2.replace('_', ' ')} {rng.choice(_WORDS)} "
             f"{agg.replace('(', ' of ').rstrip(')')} for rows where {c1.replace('_', ' ')} is above {num}, "
             f"in {t.split('.')[-1]}?")
        pairs.append({"prompt": render_prompt(q), "completion": completion_text(sql)})
    return pairs


def real_pairs(path: str, limit: int = 2000) -> list[dict[str, str]]:
    """Prompt/completion texts of a run's pairs (repair pairs with their broken SQL and error)."""
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()][:limit]
    return [{"prompt": render_prompt(r["question"], broken_sql=r.get("broken_sql"), error=r.get("error")),
             "completion": completion_text(r["sql"])} for r in rows]


def measure(model: Any, tokenizer: Any, pairs: list[dict[str, str]], batch_size: int, steps: int,
            warmup: int = 2, bf16: bool = False, group_by_length: bool = True, packing: bool = False,
            trl_loss: bool = False) -> float:
    """Non-padding tokens/s of full SFT steps (forward, backward, optimizer) after ``warmup`` steps.

    The training's own loss (student/loss.py) unless ``trl_loss``: TRL's, which on a CPU projects
    every position through the LM head.
    """
    speed = Throughput(warmup)
    with tempfile.TemporaryDirectory() as tmp:
        args = SFTConfig(output_dir=tmp, max_steps=warmup + steps, per_device_train_batch_size=batch_size,
                         learning_rate=1e-3, lr_scheduler_type="cosine", warmup_steps=1, report_to="none",
                         save_strategy="no", logging_steps=1000, bf16=bf16, fp16=False,
                         gradient_checkpointing=False, max_length=256, completion_only_loss=True, packing=packing,
                         packing_strategy="bfd", group_by_length=group_by_length and not packing, include_num_input_tokens_seen="non_padding",
                         disable_tqdm=True, dataloader_pin_memory=torch.cuda.is_available())
        # the Trainer prints its final metrics to stdout; this command's stdout is one JSON line
        with quiet_training(), contextlib.redirect_stdout(sys.stderr):
            trainer_class = SFTTrainer if trl_loss else CompletionHeadTrainer
            trainer = trainer_class(model=model, args=args, train_dataset=Dataset.from_list(pairs),
                                    processing_class=tokenizer, callbacks=[speed])
            trainer.train()
    return speed.tokens_per_s or 0.0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Training tokens/s of a student (one JSON line).")
    ap.add_argument("--model", default="scratch", help="scratch (= xs here) | scratch:xxs|xs|sm|s|m")
    ap.add_argument("--qwen05b-lora", action="store_true", help="random Qwen2.5-0.5B-shaped model with LoRA")
    ap.add_argument("--batch-size", type=int, default=None, help="default 32 (scratch), 8 (qwen05b on CPU)")
    ap.add_argument("--steps", type=int, default=None, help="timed steps after 2 warm-up steps")
    ap.add_argument("--no-group-by-length", action="store_true", help="random batches (more padding)")
    ap.add_argument("--packing", action="store_true", help="BFD packing (padding-free) instead of batches")
    ap.add_argument("--trl-loss", action="store_true", help="TRL's own loss (every position through the LM head "
                                                              "on a CPU) instead of the training's (student/loss.py)")
    ap.add_argument("--pairs", default=None, help="a run's training pairs (e.g. RUN/curriculum/train_phase2.jsonl): "
                                                   "time these (the first 2,000) instead of synthetic ones")
    a = ap.parse_args(argv)
    torch.manual_seed(0)
    cuda = torch.cuda.is_available()
    pairs = real_pairs(a.pairs) if a.pairs else synthetic_pairs(1200)
    tokenizer = train_tokenizer((p["prompt"] + p["completion"] for p in pairs), _COLS + _TABLES)
    bf16 = False
    if a.qwen05b_lora:
        bf16 = cuda and torch.cuda.is_bf16_supported()
        cfg = Qwen2Config(**QWEN05B, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                          bos_token_id=tokenizer.bos_token_id)
        base: Any = Qwen2ForCausalLM(cfg)
        base.to(torch.bfloat16 if bf16 else torch.float32)
        params = count_params(base)
        model = add_lora(base, 16, 32, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
        name = "qwen2.5-0.5b-shape+lora"
        batch, steps = a.batch_size or (32 if cuda else 8), a.steps or (20 if cuda else 3)
    else:
        kind, preset = parse_student(a.model)
        if kind != "scratch":
            ap.error("--model takes a scratch preset; use --qwen05b-lora for the pretrained shape")
        preset = DEFAULT_PRESET if preset == AUTO_PRESET else preset  # `scratch` picks by speed; the bench times xs
        model = build_scratch_model(preset, tokenizer)
        params = count_params(model)
        name = f"scratch:{preset}"
        batch, steps = a.batch_size or 32, a.steps or (30 if cuda else 12)
    tps = measure(model, tokenizer, pairs, batch, steps, bf16=bf16, group_by_length=not a.no_group_by_length,
                  packing=a.packing, trl_loss=a.trl_loss)
    sys.stdout.write(json.dumps({"bench": "train", "model": name, "params": params, "tokens_per_s": round(tps, 1),
                                 "device": "cuda" if cuda else "cpu", "batch_size": batch, "steps": steps,
                                 "dtype": "bf16" if bf16 else "fp32",
                                 "group_by_length": not a.no_group_by_length and not a.packing,
                                 "packing": a.packing, "loss": "trl" if a.trl_loss else "completion_head",
                                 "pairs": a.pairs or "synthetic"}) + "\n")


if __name__ == "__main__":
    main()

