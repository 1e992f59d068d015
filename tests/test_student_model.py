"""Student models: tokenizer, scratch presets, the 3B limit, hub errors, LoRA targets."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
from tiny_models import one_thread, tiny_pretrained, tiny_scratch, tiny_tokenizer
from transformers import LlamaConfig

from schemadistill.errors import UserError
from student import model as sm
from student.infer import generate_sql, stop_token_ids

__all__ = ["one_thread"]  # the autouse fixture: one torch thread for tiny models


def test_tokenizer_splits_digits_and_keeps_names_whole() -> None:
    tok = tiny_tokenizer()
    pieces = tok.tokenize(" WHERE user_id = 1000152")
    assert pieces[-7:] == ["1", "0", "0", "0", "1", "5", "2"]
    assert "Ġuser_id" in pieces  # schema names are one token
    ids = tok("Question: q\nSQL:")["input_ids"]
    assert ids[0] == tok.bos_token_id and tok.eos_token_id not in ids
    assert tok.decode(tok(" SELECT 42;")["input_ids"], skip_special_tokens=True) == " SELECT 42;"
    assert {tok.pad_token, tok.bos_token, tok.eos_token} == {"<pad>", "<bos>", "<eos>"}


def test_parse_student_names() -> None:
    assert sm.parse_student("scratch") == sm.parse_student("scratch:auto") == ("scratch", sm.AUTO_PRESET)
    assert sm.parse_student("scratch:xs") == ("scratch", sm.DEFAULT_PRESET)
    assert sm.parse_student("scratch:m") == ("scratch", "m")
    assert sm.parse_student("Qwen/Qwen2.5-Coder-0.5B-Instruct") == ("pretrained", "Qwen/Qwen2.5-Coder-0.5B-Instruct")
    with pytest.raises(UserError, match="unknown scratch preset"):
        sm.parse_student("scratch:xxl")


@pytest.mark.parametrize(("preset", "low", "high"), [("xxs", 1e6, 2e6), ("xs", 2e6, 5e6), ("sm", 5e6, 10e6),
                                                     ("s", 10e6, 30e6), ("m", 40e6, 60e6)])
def test_preset_sizes(preset: str, low: float, high: float) -> None:
    tok = tiny_tokenizer()
    cfg = sm.scratch_config(preset, tok)
    cfg.vocab_size = 3000  # the size a real run's tokenizer reaches
    assert low <= sm.params_from_config(cfg) <= high


def test_refuses_more_than_3b_without_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = LlamaConfig(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                      num_attention_heads=32)  # ~6.7B
    big.save_pretrained(str(tmp_path))

    def never(*a: object, **k: object) -> None:
        raise AssertionError("weights must not be loaded")

    monkeypatch.setattr(sm.AutoModelForCausalLM, "from_pretrained", never)
    with pytest.raises(UserError, match=r"6\.7B parameters; the limit is 3B"):
        sm.load_pretrained(str(tmp_path))


def test_unknown_id_without_hub_is_a_quick_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sm, "hub_reachable", lambda timeout_s=3.0: False)
    t0 = time.perf_counter()
    with pytest.raises(UserError, match="hub is unreachable"):
        sm.load_pretrained("no-such-org/no-such-model-4217")
    assert time.perf_counter() - t0 < 10


def test_pretrained_local_folder_chat_template_and_lora_targets(tmp_path: Path) -> None:
    path = tiny_pretrained(tmp_path / "tiny-qwen")
    assert json.loads((path / "config.json").read_text())["model_type"] == "qwen2"
    model, tok = sm.load_pretrained(str(path))
    assert sm.uses_chat_template(tok)
    assert model.dtype == (torch.bfloat16 if torch.cuda.is_available() else torch.float32)
    assert sm.lora_targets(model, ["q_proj", "nope", "down_proj"]) == ["q_proj", "down_proj"]
    with pytest.raises(UserError, match="none of the LoRA targets"):
        sm.lora_targets(model, ["c_attn"])
    peft_model = sm.add_lora(model, 4, 8, ["q_proj", "v_proj", "not_here"])
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)


def test_generation_stops_at_semicolon() -> None:
    model, tok = tiny_scratch()
    stops = stop_token_ids(tok)
    assert tok.eos_token_id in stops.tolist()
    assert all(";" in tok.decode([i]) for i in stops.tolist() if i != tok.eos_token_id)
    semi = tok.convert_tokens_to_ids(";")
    word = tok(" SELECT", add_special_tokens=False)["input_ids"][0]
    calls = []

    def force(module: torch.nn.Module, inputs: object, logits: torch.Tensor) -> torch.Tensor:
        calls.append(1)  # 1st step: a word, then ";" - which must end generation
        forced = torch.full_like(logits, -1e4)
        forced[..., word if len(calls) == 1 else semi] = 0.0
        return forced

    model.lm_head.register_forward_hook(force)
    out = generate_sql(model, tok, ["Question: a\nSQL:", "Question: longer one\nSQL:"], chat=False,
                       max_new_tokens=10, batch_size=2)
    expected = tok.decode([word]).strip() + ";"
    assert out == [expected, expected]
    assert len(calls) == 2


def test_others_cpu_share_sees_a_busy_process_beside_it() -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from student import budget

    quiet = budget.OthersCpu()
    quiet.start()
    time.sleep(0.5)
    idle_share = quiet.stop()
    # another process, not a child (a child's time counts as this process's: data loader workers)
    spin = "import time; t = time.time(); [0 for _ in iter(lambda: time.time() - t < 4, False)]"
    started = subprocess.run(["sh", "-c", f"'{sys.executable}' -c '{spin}' >/dev/null 2>&1 & echo $!"],
                             capture_output=True, text=True, check=True)
    pid = int(started.stdout.strip())
    try:
        time.sleep(0.7)  # the interpreter has started and spins
        busy = budget.OthersCpu()
        busy.start()
        time.sleep(1.5)
        share = busy.stop()
    finally:
        os.kill(pid, signal.SIGKILL)
    cores = os.cpu_count() or 1
    # one spinning process is one core's worth of the machine, whatever else runs beside it (a
    # quiet share is only a fraction: another job may share the machine); this process slept
    assert idle_share is not None and 0.0 <= idle_share <= 1.0
    assert share is not None and share > 0.6 / cores


def test_budget_arithmetic() -> None:
    from student import budget

    assert budget.plan_steps(100, 2, 32, 1) == 8 and budget.plan_steps(100, 1.5, 10, 2) == 8
    assert budget.capped_steps(100, 10_000, budget_s=10, tokens_per_s=500) == 50
    assert budget.capped_steps(100, 10_000, budget_s=100, tokens_per_s=500) == 100
    # 60 s left after 30 s used, shared 1:2 by the two phases still to run
    assert budget.phase_budgets_s(90, 30, [5, 1, 2], 1) == pytest.approx(20)
    # the probe's sample: seeded, sorted, a whole number of batches' worth at most
    assert budget.probe_sample(1000, 16, seed=3) == budget.probe_sample(1000, 16, seed=3)
    sample = budget.probe_sample(1000, 16)
    assert sample == sorted(set(sample)) and len(sample) == budget.PROBE_STEPS * 16
    assert budget.probe_sample(10, 16) == list(range(10))
