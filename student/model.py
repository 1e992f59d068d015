"""Student models: scratch presets built from a config, or a pretrained model (<= 3B) with LoRA.

    from student.model import parse_student, train_tokenizer, build_scratch_model, load_pretrained
    kind, ref = parse_student("scratch:s")                 # ("scratch", "s") | ("pretrained", "Qwen/...")
    tok = train_tokenizer(texts, names)                     # byte-level BPE, digits one by one
    model = build_scratch_model("s", tok, max_length=256)   # Llama architecture, random init

Nothing here downloads anything unless a pretrained id is given and not found locally; then
the Hugging Face cache (or hub) is asked, and an unreachable hub is one clear UserError.
Parameter counts of a pretrained config are taken on the meta device, before any weight is
read, so a 7B id is refused in a second without touching the disk or the network for weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

from schemadistill.errors import UserError

MAX_PARAMS = 3_000_000_000
PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
DEFAULT_VOCAB = 3000

# Llama-architecture presets (tied embeddings). Parameters with the ~2.9k vocab of the
# ecommerce example: xxs 1.6M, xs 2.9M, s 13.7M, m 44.2M. head_dim 32/64 keeps the attention kernels
# efficient on CPU; grouped KV heads shrink the cache the ONNX runtime carries while decoding.
PRESETS: dict[str, dict[str, int]] = {
    "xxs": {"hidden_size": 128, "num_hidden_layers": 6, "num_attention_heads": 4,
            "num_key_value_heads": 2, "intermediate_size": 384},
    "xs": {"hidden_size": 192, "num_hidden_layers": 6, "num_attention_heads": 6,
           "num_key_value_heads": 2, "intermediate_size": 512},
    "sm": {"hidden_size": 256, "num_hidden_layers": 8, "num_attention_heads": 8,
           "num_key_value_heads": 2, "intermediate_size": 768},
    "s": {"hidden_size": 384, "num_hidden_layers": 8, "num_attention_heads": 6,
          "num_key_value_heads": 2, "intermediate_size": 1024},
    "m": {"hidden_size": 576, "num_hidden_layers": 12, "num_attention_heads": 9,
          "num_key_value_heads": 3, "intermediate_size": 1536},
}
# Measured training throughput on the 2-core CPU machine (student/bench.py): xs ~6,300, s ~1,650,
# m ~570 tokens/s. The default data (examples/ecommerce, 36k pairs + 5.4k repairs) gives xs ~1.9
# epochs in the default 20 minutes, s less than one. Twice the distinct instances at fewer epochs
# beat the same 20 minutes on 12k pairs (docs/DESIGN.md), so the small model's limit here is data
# and steps, not parameters; s and m need a GPU or more time.
# `scratch` alone (AUTO_PRESET) picks xs or xxs from the speed the training budget finds
# (student/budget.py, choose_preset): where the budget affords xs fewer steps than
# budget.AUTO_MIN_STEPS, xxs (1.6M, ~1.5x xs's tokens/s) learns more in the same minutes.
AUTO_PRESET = "auto"
DEFAULT_PRESET = "xs"  # the preset `scratch` takes where its speed is not measured (no budget, the bench)
SMALL_PRESET = "xxs"  # the one it takes where xs would get too few steps

StudentKind = Literal["scratch", "pretrained"]


def parse_student(name: str) -> tuple[StudentKind, str]:
    """``scratch`` / ``scratch:xxs|xs|sm|s|m`` -> ("scratch", preset); anything else -> ("pretrained", name).

    ``scratch`` alone (or ``scratch:auto``) gives :data:`AUTO_PRESET`: training picks the preset
    from the machine's speed (student/train.py)."""
    name = name.strip()
    if name == "scratch" or name.startswith("scratch:"):
        preset = name.partition(":")[2] or AUTO_PRESET
        if preset not in PRESETS and preset != AUTO_PRESET:
            raise UserError(f"unknown scratch preset '{preset}'",
                            hint=f"use one of: scratch (picked by speed), {', '.join('scratch:' + p for p in PRESETS)}")
        return "scratch", preset
    if not name:
        raise UserError("no student given", hint="student.name=scratch or a Hugging Face id / local path")
    return "pretrained", name


# -- scratch -----------------------------------------------------------------------------------


# GPT-2's split, except that an identifier keeps its underscores (user_id is one piece, so BPE
# can make it one token) and digits are isolated afterwards by ``Digits``.
_PRETOKEN = (r"'s|'t|'re|'ve|'m|'ll|'d| ?[\p{L}_][\p{L}\p{N}_]*| ?\p{N}+| ?[^\s\p{L}\p{N}]+"
             r"|\s+(?!\S)|\s+")


def train_tokenizer(texts: Iterable[str], names: Sequence[str] = (), vocab_size: int = DEFAULT_VOCAB,
                    max_length: int = 512) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on the pairs' text, digits split one per token.

    Digits are split because a prototype's misses were 41% numbers copied wrong: with one token
    per digit the model copies a literal digit by digit instead of guessing a merged chunk.
    Schema names are fed several times so each becomes (nearly) one token. A ``<bos>`` is
    prepended by the post-processor, so ``tokenizer(prompt)`` at training and at inference (and
    the ``tokenizers``-only runtime) agree.
    """
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_PRETOKEN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        pre_tokenizers.Digits(individual_digits=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=[PAD, BOS, EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    name_lines = [" ".join(names)] * 5 if names else []
    tok.train_from_iterator(_chain(texts, name_lines), trainer=trainer)
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A $B",
                                                       special_tokens=[(BOS, bos_id)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD,
                                   model_max_length=max(512, max_length * 2), padding_side="left")


def _chain(*parts: Iterable[str]) -> Iterable[str]:
    for part in parts:
        yield from part


def scratch_config(preset: str, tokenizer: PreTrainedTokenizerBase, max_length: int = 256) -> LlamaConfig:
    p = PRESETS[preset]
    return LlamaConfig(
        vocab_size=len(tokenizer), max_position_embeddings=max(512, max_length * 2),
        tie_word_embeddings=True, rope_theta=10000.0, attention_dropout=0.0, hidden_act="silu",
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, **p,
    )


def build_scratch_model(preset: str, tokenizer: PreTrainedTokenizerBase, max_length: int = 256,
                        seed: int = 0) -> LlamaForCausalLM:
    """A randomly initialised Llama-architecture model of the preset's size, in fp32."""
    torch.manual_seed(seed)
    model = LlamaForCausalLM(scratch_config(preset, tokenizer, max_length))
    gen = model.generation_config
    if gen is not None:  # generate() reads these, not the model config
        gen.pad_token_id, gen.eos_token_id = tokenizer.pad_token_id, tokenizer.eos_token_id
        gen.bos_token_id = tokenizer.bos_token_id
    return model


def count_params(model: torch.nn.Module) -> int:
    """Unique parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


# -- pretrained --------------------------------------------------------------------------------


def _is_local(name: str) -> bool:
    return Path(name).expanduser().exists()


def _hub_error(name: str, why: str) -> UserError:
    return UserError(f"cannot load student model '{name}': it is not a local folder, and {why}",
                     hint="give a local folder with config.json + weights + tokenizer, or an id that is "
                          "already in the Hugging Face cache (HF_HOME), or use student.name=scratch")


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """A TCP connect to the hub endpoint: without it, huggingface_hub retries for ~45 s."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout_s).close()
    except OSError:
        return False
    return True


_OFFLINE_OK: dict[str, bool] = {}


def _source(name: str) -> tuple[str, bool]:
    """(what to pass to from_pretrained, local_files_only): a folder, the HF cache, or the hub."""
    if _is_local(name):
        return str(Path(name).expanduser()), True
    if name not in _OFFLINE_OK:
        try:
            AutoConfig.from_pretrained(name, local_files_only=True)
            _OFFLINE_OK[name] = True
        except (OSError, ValueError):
            _OFFLINE_OK[name] = False
    return name, _OFFLINE_OK[name]


def load_config_only(name: str) -> Any:
    src, local_only = _source(name)
    if not local_only and not hub_reachable():
        raise _hub_error(name, "the Hugging Face hub is unreachable (and the id is not in the local cache)")
    try:
        return AutoConfig.from_pretrained(src, local_files_only=local_only)
    except (OSError, ValueError) as e:
        if _is_local(name):
            raise UserError(f"'{name}' has no usable config.json: {e}", file=name,
                            hint="point student.name at a Hugging Face model folder") from None
        raise _hub_error(name, f"the Hugging Face hub does not know this id ({type(e).__name__})") from None


def params_from_config(config: Any) -> int:
    """Exact parameter count of the model a config describes, on the meta device (no memory, no weights)."""
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return count_params(model)


def check_size(name: str, config: Any, limit: int = MAX_PARAMS) -> int:
    n = params_from_config(config)
    if n > limit:
        raise UserError(f"student '{name}' has {n / 1e9:.1f}B parameters; the limit is {limit / 1e9:.0f}B",
                        hint="pick a model of at most 3B parameters (e.g. Qwen/Qwen2.5-Coder-0.5B-Instruct) "
                             "or student.name=scratch")
    return n


def training_dtype() -> torch.dtype:
    """bf16 weights on a GPU that supports them (half the memory, tensor cores); fp32 on CPU."""
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def load_pretrained_tokenizer(name: str) -> PreTrainedTokenizerBase:
    src, local_only = _source(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(src, local_files_only=local_only)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot load the tokenizer of '{name}': {e}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # padding is masked out; any known token will do
    return tokenizer


def load_pretrained(name: str, dtype: torch.dtype | None = None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model + tokenizer from a local folder or the HF cache/hub, after the size check.

    No ``device_map``: the Trainer (or ``accelerate launch``) places the model.
    """
    check_size(name, load_config_only(name))
    tokenizer = load_pretrained_tokenizer(name)
    src, local_only = _source(name)
    try:
        model = AutoModelForCausalLM.from_pretrained(src, local_files_only=local_only,
                                                     dtype=dtype or training_dtype())
    except (OSError, ValueError) as e:
        raise UserError(f"cannot load the weights of '{name}': {e}") from None
    return model, tokenizer


def uses_chat_template(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Pretrained chat models see the prompt as a user turn; plain models see the raw prompt."""
    return bool(getattr(tokenizer, "chat_template", None))


def lora_targets(model: torch.nn.Module, wanted: Sequence[str]) -> list[str]:
    """The wanted LoRA target names that name a Linear layer in this model (others are skipped)."""
    present = {name.rsplit(".", 1)[-1] for name, mod in model.named_modules()
               if isinstance(mod, torch.nn.Linear)}
    found = [t for t in wanted if t in present]
    if not found:
        raise UserError(f"none of the LoRA targets {list(wanted)} is a linear layer of this model",
                        hint=f"set student.lora_targets to some of: {', '.join(sorted(present))}")
    return found


def add_lora(model: PreTrainedModel, r: int, alpha: int, targets: Sequence[str]) -> Any:
    """Wrap ``model`` in a fresh LoRA adapter (base weights frozen)."""
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM",
                     target_modules=lora_targets(model, targets))
    return get_peft_model(model, cfg)


def load_lora(model: PreTrainedModel, adapter_dir: Path) -> Any:
    """Continue training an adapter saved by an earlier phase."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=True)
