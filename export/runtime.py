"""The lean runtime: an exported artifact answers questions with onnxruntime, tokenizers and numpy.

    schemadistill ask runs/ecommerce/export/artifact "How many users are from Spain?" [--db data.duckdb]

    from export.runtime import Runtime
    rt = Runtime("runs/ecommerce/export/artifact")        # variant auto: int8 on CPU, fp16 on CUDA
    rt.generate(["How many users are there?"])            # ['SELECT COUNT(*) FROM ecommerce.users;']
    a = rt.ask("How many users?", db="data.duckdb")       # Answer(sql, ok, repaired, error, rows, ...)

Nothing here imports torch or transformers, directly or through what it imports (a test proves it
with both blocked): a service needs onnxruntime, tokenizers, jinja2, numpy, and our pure-Python
helpers (the prompt, sqlglot checks, the DuckDB sandbox executor for ``db=``).

Decoding is greedy with the KV cache (beam search only for an answer that fails the checks or
that the consistency check questions, see :meth:`Runtime.ask_many`; the SQL of the training
questions nearest to such a question competes with the beams, from ``neighbors.json``), in our own loop, token for token what student/infer.py
(PyTorch ``generate``) produces: the prompt is prefilled once (left-padded batch, attention mask,
position ids = cumsum(mask) - 1 as transformers makes them), then each step feeds only the new
token and the previous step's ``present.*`` outputs as ``past_key_values.*``. A row stops at a
stop token (any token whose text holds ";", or EOS: ``generation.json["stop_token_ids"]``) or
after ``max_new_tokens``.

Why the loop looks as it does (measured on the 2-core build machine, export/bench.py):

* on CPU, plain ``session.run`` with numpy feeds beats IO binding (0.23 vs 0.38 ms per step on
  the tiny test model, 3.2 vs 3.5 ms on the xs preset): the present arrays it returns are fed
  straight back, with no copy on our side; the graph appends the new key/value itself, so there
  is nothing for us to concatenate or pre-allocate. The loop's own bookkeeping costs ~15 us per
  step over bare ``session.run`` calls;
* finished rows leave the batch (their KV rows are dropped), so a batch costs what its longest
  answers cost, not B times the longest;
* only the last position's logits go through argmax; stop tokens are a boolean lookup table;
* the attention mask is one pre-allocated buffer per batch, sliced per step;
* intra-op threads = the cores this process may use, with spinning off: spinning workers made
  steps up to 3x slower on the shared 2-core machine (11 vs 3.9 ms at batch 4, xs preset);
* on CUDAExecutionProvider the KV cache never leaves the GPU: outputs are bound on the device
  with IO binding and each step's present OrtValues are bound as the next step's past; only the
  logits come back to the host. CUDA graphs are not used: the optimum graph's KV grows by one
  position per step, and ORT can only replay graphs whose input/output shapes never change.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from export.artifact import ArtifactInfo, load_artifact
from export.guard import Verdict, check_sql
from schemadistill.config import DEFAULT_BEAMS, DEFAULT_NEIGHBORS
from schemadistill.consistency import unsupported
from schemadistill.errors import UserError
from schemadistill.evaluate import result_key
from schemadistill.grounding import Grounded, ValueIndex, ground_sql
from schemadistill.neighbors import NeighborIndex, load_neighbors
from schemadistill.prompt import cut_at_stop, fill_slots, render_prompt, slot_numbers, slot_values
from schemadistill.sandbox.executor import Executor
from schemadistill.schema.model import Schema

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"
DEFAULT_BATCH = 8
MIN_QUESTION_TOKENS = 8  # a question cut shorter than this is no question any more
_NP_DTYPES = {"float32": np.float32, "float16": np.float16, "tensor(float)": np.float32,
              "tensor(float16)": np.float16}

StepHook = Callable[[], None]


@dataclass
class Encoded:
    """One prompt ready for the model."""

    text: str  # the rendered prompt (chat prefix/suffix included)
    ids: list[int]
    truncated: bool = False  # the question was cut to fit the context
    slots: list[str] = field(default_factory=list)  # the numbers behind #1, #2, ... in the prompt


@dataclass
class Answer:
    """What :meth:`Runtime.ask` returns. ``sql`` is None when the output was refused."""

    sql: str | None
    ok: bool
    repaired: bool = False
    error: str | None = None  # why not ok (the refusal, or the last check's error)
    refused: bool = False  # not one read-only query: never returned as runnable SQL
    rows: list[tuple[Any, ...]] | None = None  # with ``db``: the result (up to the executor's row cap)
    columns: list[str] | None = None
    first_sql: str | None = None  # the first attempt, when a fallback or another beam replaced it
    # which fallback gave the answer: "beam" or "repair" (the first failed the checks), or
    # "consistency" (the first passed and another beam says more of the question)
    fixed_by: str | None = None
    # what the answer adds to the question or leaves out of it (schemadistill/consistency.py):
    # empty when nothing was found; a reason to look twice when not
    unsupported: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    grounded: list[str] = field(default_factory=list)  # what grounding changed (values.json, dates, numbers)
    # the training question whose SQL (grounded) replaced the first attempt, when a neighbor
    # (neighbors.json) rather than a beam did
    neighbor: str | None = None


def _clean_up_spaces(text: str) -> str:
    """transformers' ``clean_up_tokenization`` (applied when the tokenizer config asks for it)."""
    for a, b in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                 (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        text = text.replace(a, b)
    return text


def prompt_text(art: ArtifactInfo, question: str, broken_sql: str | None = None, error: str | None = None) -> str:
    """The model's input text: the artifact's template, schema text, chat prefix/suffix."""
    g = art.generation
    question, slots = slot_numbers(question, int(g.get("number_slots") or 0))
    if slots and broken_sql is not None:
        broken_sql, error = slot_values(broken_sql, slots), slot_values(error or "", slots)
    prompt = render_prompt(question, g.get("schema_text") or None, broken_sql, error, template=art.template)
    return (g.get("chat_prefix") or "") + prompt + (g.get("chat_suffix") or "") if g.get("chat") else prompt


def _default_threads() -> int:
    """The cores this process may use (sched_getaffinity honours taskset and cgroup cpusets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Runtime:
    """An artifact loaded for inference; see the module docstring."""

    def __init__(self, artifact_dir: str | Path, variant: str = "auto", provider: str | None = None,
                 threads: int | None = None, batch_size: int = DEFAULT_BATCH, ground: bool = True,
                 beams: int = DEFAULT_BEAMS, consistency: bool = True, neighbors: int = DEFAULT_NEIGHBORS):
        self.artifact: ArtifactInfo = load_artifact(artifact_dir)
        art = self.artifact
        available = ort.get_available_providers()
        if provider is not None and provider not in available:
            raise UserError(f"execution provider {provider} is not available here (have: {', '.join(available)})",
                            hint="install onnxruntime-gpu for CUDA: make install-gpu")
        if variant == "auto":
            variant = art.default_variant([provider] if provider else available)
        elif variant not in ("fp32", "int8", "fp16"):
            raise UserError(f"unknown variant {variant!r}", hint="use auto, fp32, int8 or fp16")
        model_path = art.model_path(variant)  # a clear error when the artifact lacks it
        if provider is None:
            wanted = art.providers(variant)
            provider = next((p for p in wanted if p in available), CPU)
        self.variant, self.provider = variant, provider
        self.threads = threads or _default_threads()
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL  # one chain of ops: parallelism is intra-op
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        # Spinning workers win a little on an idle machine and lose badly on a shared one (see
        # the module docstring); decoding steps are short anyway.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers: list[Any] = [provider] if provider == CPU else [provider, CPU]
        if provider == CUDA and hasattr(ort, "preload_dlls"):
            # without torch in the process nothing else loads the CUDA/cuDNN libraries that the
            # nvidia-* wheels ship; onnxruntime finds them in site-packages itself when asked
            try:
                ort.preload_dlls()
            except Exception:  # system-wide CUDA libraries may still be found
                pass
        try:
            self.session = ort.InferenceSession(str(model_path), so, providers=providers)
        except Exception as e:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise UserError(f"cannot load {model_path.name}: {str(e).splitlines()[0]}", file=model_path,
                            hint="the file is damaged or partial; export again: schemadistill export RUN_DIR") from None
        self.on_cuda = self.session.get_providers()[0] == CUDA
        self._init_io()
        gen = art.generation
        self.generation = gen
        self.tokenizer = Tokenizer.from_file(str(art.tokenizer_path))
        self.max_new_tokens = int(gen["max_new_tokens"])
        self.context = int(art.io.get("max_positions") or gen.get("max_positions") or 0)
        self.pad_id = int(gen["pad_token_id"] if gen.get("pad_token_id") is not None else gen["eos_token_id"])
        self.is_stop = np.zeros(self.vocab, dtype=bool)
        self.is_stop[[i for i in gen["stop_token_ids"] if 0 <= i < self.vocab]] = True
        self.batch_size = max(1, batch_size)
        self.schema = Schema.from_dict(art.schema)
        self.dialect = str(gen.get("dialect") or art.dialect)
        # ground=False: the model's SQL as it is (to measure what grounding adds); without values.json
        # the question's dates and numbers are still grounded (that needs no data)
        self.ground = ground
        self.beams = max(0, beams)
        # consistency=False: only answers that fail the checks get beams (to measure what it adds)
        self.consistency = consistency
        self.values = ValueIndex.from_json(art.values) if ground and art.values is not None else None
        # neighbors=0 (or no neighbors.json): only beams compete with a doubted answer
        self.neighbors = max(0, neighbors) if art.neighbors_path is not None else 0
        self._neighbor_index: NeighborIndex | None = None  # read on the first doubted answer
        self._executors: dict[Path, Executor] = {}

    def _init_io(self) -> None:
        """Graph names from the manifest, dtypes and sizes from the session (what actually runs)."""
        io = self.artifact.io
        inputs = {i.name: i for i in self.session.get_inputs()}
        n = int(io["num_layers"])
        self.past_names = [p.format(i=i) for i in range(n) for p in (io["past_key"], io["past_value"])]
        self.present_names = [p.format(i=i) for i in range(n) for p in (io["present_key"], io["present_value"])]
        self.output_names = ["logits", *self.present_names]
        missing = [x for x in ["input_ids", "attention_mask", *self.past_names] if x not in inputs]
        if missing:
            raise UserError(f"the graph lacks the inputs {', '.join(missing[:4])}", file=self.artifact.path,
                            hint="export again: schemadistill export RUN_DIR")
        self.has_position_ids = "position_ids" in inputs
        self.kv_dtype = _NP_DTYPES.get(inputs[self.past_names[0]].type, np.float32)
        self.kv_heads, self.head_dim = int(io["num_kv_heads"]), int(io["head_dim"])
        self.vocab = int(io["vocab_size"])

    # -- prompts ------------------------------------------------------------------------------
    def _ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=bool(self.generation["add_special_tokens"])).ids

    def _render(self, question: str, broken_sql: str | None, error: str | None) -> str:
        return prompt_text(self.artifact, question, broken_sql, error)

    def encode(self, question: str, broken_sql: str | None = None, error: str | None = None) -> Encoded:
        """The prompt for ``question`` (the repair prompt with ``broken_sql``/``error``), as ids.

        A question too long for the model's context (prompt + ``max_new_tokens`` positions) is
        cut at a token boundary with a warning; an empty one is a UserError.
        """
        question = " ".join(str(question or "").split())
        if not question:
            raise UserError("the question is empty", hint='ask something, e.g. "How many users are there?"')
        # prompt_text writes the slots into the prompt; these are the numbers to fill back (a cut
        # question keeps a prefix of them, in the same order)
        slots = slot_numbers(question, int(self.generation.get("number_slots") or 0))[1]
        text = self._render(question, broken_sql, error)
        ids = self._ids(text)
        if not self.context or len(ids) + self.max_new_tokens <= self.context:
            return Encoded(text, ids, slots=slots)
        budget = self.context - self.max_new_tokens
        q = self.tokenizer.encode(question, add_special_tokens=False)
        keep = len(q.ids)
        while len(ids) > budget:
            # cut as many question tokens as the prompt is over, plus slack for merges at the cut
            keep = min(keep - 1, keep - (len(ids) - budget) - 2)
            if keep < MIN_QUESTION_TOKENS:
                raise UserError(f"the prompt does not fit the model's context of {self.context} tokens even "
                                "with the question cut short", hint="ask a shorter question")
            question = question[:q.offsets[keep - 1][1]]
            text = self._render(question, broken_sql, error)
            ids = self._ids(text)
        warnings.warn(f"the question was cut to {keep} tokens to fit the model's context of {self.context}",
                      UserWarning, stacklevel=2)
        return Encoded(text, ids, truncated=True, slots=slots)

    # -- generation ---------------------------------------------------------------------------
    def generate(self, questions: Sequence[str], max_new_tokens: int | None = None,
                 on_step: StepHook | None = None) -> list[str]:
        """Raw SQL (cut after the first ";") for each question, in order."""
        return self.complete([self.encode(q) for q in questions], max_new_tokens, on_step)

    def complete(self, prompts: Sequence[Encoded], max_new_tokens: int | None = None,
                 on_step: StepHook | None = None) -> list[str]:
        """Greedy completions of encoded prompts as text, in input order, cut after the first ";"."""
        new = self.decode_ids([p.ids for p in prompts], max_new_tokens, on_step)
        return [fill_slots(self._text(t), p.slots) for t, p in zip(new, prompts, strict=True)]

    def decode_ids(self, seqs: Sequence[Sequence[int]], max_new_tokens: int | None = None,
                   on_step: StepHook | None = None) -> list[list[int]]:
        """The new token ids of each sequence (its stop token included), batched by similar length.

        ``on_step`` is called once per decoding step, right after the step's tokens are chosen
        (the benchmark times first token and tokens per second with it).
        """
        budget = self.max_new_tokens if max_new_tokens is None else max_new_tokens
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))  # similar lengths: less padding
        out: list[list[int]] = [[] for _ in seqs]
        decode = self._decode_bound if self.on_cuda else self._decode_cpu
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            batch = [seqs[i] for i in idx]
            n = budget if not self.context else min(budget, self.context - max(map(len, batch)))
            for i, toks in zip(idx, decode(batch, max(n, 0), on_step), strict=True):
                out[i] = toks
        return out

    def _text(self, ids: list[int]) -> str:
        text = self.tokenizer.decode(ids, skip_special_tokens=bool(self.generation.get("skip_special_tokens", True)))
        if self.generation.get("clean_up_tokenization_spaces"):
            text = _clean_up_spaces(text)
        return cut_at_stop(text)

    def _prefill_inputs(self, seqs: Sequence[Sequence[int]], extra: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Left-padded ids, a mask buffer with room for ``extra`` new tokens, position ids."""
        b, width = len(seqs), max(len(s) for s in seqs)
        ids = np.full((b, width), self.pad_id, dtype=np.int64)
        mask = np.zeros((b, width + extra), dtype=np.int64)
        for r, s in enumerate(seqs):
            ids[r, width - len(s):] = s
            mask[r, width - len(s):width] = 1
        pos = np.cumsum(mask[:, :width], axis=1) - 1
        pos[mask[:, :width] == 0] = 1  # what transformers feeds at padding (masked out anyway)
        return ids, mask, pos

    def _prefill_feed(self, seqs: Sequence[Sequence[int]], extra: int
                      ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """The first step's numpy feed (prompts, mask, positions, empty past), the mask buffer
        with room for ``extra`` new tokens, and the position ids."""
        ids, mask, pos = self._prefill_inputs(seqs, extra)
        empty = np.zeros((len(seqs), self.kv_heads, 0, self.head_dim), dtype=self.kv_dtype)
        feed: dict[str, np.ndarray] = {"input_ids": ids, "attention_mask": mask[:, :ids.shape[1]]}
        if self.has_position_ids:
            feed["position_ids"] = pos
        feed.update(dict.fromkeys(self.past_names, empty))
        return feed, mask, pos

    def _decode_cpu(self, seqs: Sequence[Sequence[int]], max_new: int, on_step: StepHook | None) -> list[list[int]]:
        """The numpy loop: present arrays fed back as past, finished rows dropped from the batch."""
        out: list[list[int]] = [[] for _ in seqs]
        if max_new <= 0:
            return out
        feed, mask, pos = self._prefill_feed(seqs, max_new)
        width = feed["input_ids"].shape[1]
        rows = np.arange(len(seqs))  # batch row -> caller's row
        last = pos[:, -1]
        for step in range(max_new):
            logits, *present = self.session.run(self.output_names, feed)
            nxt = logits[:, -1, :].argmax(axis=-1)
            if on_step is not None:
                on_step()
            for r, t in zip(rows.tolist(), nxt.tolist(), strict=True):
                out[r].append(t)
            if step == max_new - 1:
                break
            stop = self.is_stop[nxt]
            if stop.any():
                if stop.all():
                    break
                live = ~stop
                rows, nxt, mask, last = rows[live], nxt[live], mask[live], last[live]
                present = [p[live] for p in present]
            cur = width + step + 1
            mask[:, cur - 1] = 1
            last = last + 1
            feed = {"input_ids": nxt[:, None], "attention_mask": mask[:, :cur]}  # argmax gives int64
            if self.has_position_ids:
                feed["position_ids"] = last[:, None]
            feed.update(zip(self.past_names, present, strict=True))
        return out

    def _decode_bound(self, seqs: Sequence[Sequence[int]], max_new: int, on_step: StepHook | None) -> list[list[int]]:
        """IO binding: on CUDA the KV cache stays on the GPU from step to step; only logits come back.

        Each step's ``present`` OrtValues are bound as the next step's ``past`` without a copy.
        Finished rows stay in the batch fed with padding (as transformers does): dropping rows
        would need a device-side gather that the ORT Python API does not offer. On CPU this loop
        is only used by the tests (the numpy loop is faster there), which keeps it checked.
        """
        out: list[list[int]] = [[] for _ in seqs]
        if max_new <= 0:
            return out
        device = "cuda" if self.on_cuda else "cpu"
        ids, mask, pos = self._prefill_inputs(seqs, max_new)
        b, width = ids.shape
        io = self.session.io_binding()
        io.bind_cpu_input("input_ids", ids)
        io.bind_cpu_input("attention_mask", np.ascontiguousarray(mask[:, :width]))
        if self.has_position_ids:
            io.bind_cpu_input("position_ids", pos)
        empty = np.zeros((b, self.kv_heads, 0, self.head_dim), dtype=self.kv_dtype)
        for name in self.past_names:
            io.bind_cpu_input(name, empty)
        done = np.zeros(b, dtype=bool)
        last = pos[:, -1]
        for step in range(max_new):
            io.bind_output("logits", "cpu")  # (B, S, V) to the host: argmax there
            for name in self.present_names:
                io.bind_output(name, device)
            self.session.run_with_iobinding(io)
            outs = io.get_outputs()
            nxt = outs[0].numpy()[:, -1, :].argmax(axis=-1)
            nxt[done] = self.pad_id
            if on_step is not None:
                on_step()
            for r in np.flatnonzero(~done).tolist():
                out[r].append(int(nxt[r]))
            done |= self.is_stop[nxt]
            if done.all() or step == max_new - 1:
                break
            cur = width + step + 1
            mask[:, cur - 1] = 1
            last = last + 1
            io.clear_binding_inputs()
            io.clear_binding_outputs()
            io.bind_cpu_input("input_ids", np.ascontiguousarray(nxt[:, None]))
            io.bind_cpu_input("attention_mask", np.ascontiguousarray(mask[:, :cur]))
            if self.has_position_ids:
                io.bind_cpu_input("position_ids", np.ascontiguousarray(last[:, None]))
            for name, value in zip(self.past_names, outs[1:], strict=True):
                io.bind_ortvalue_input(name, value)
        return out

    def beam_search(self, prompt: Encoded, beams: int, max_new_tokens: int | None = None) -> list[str]:
        """The ``beams`` best completions of one prompt by beam search, best first, as text.

        Hypotheses are ranked by their mean token log-probability (transformers' default length
        penalty 1.0) and a hypothesis ends at a stop token; the search ends once ``beams`` have
        ended (transformers' ``early_stopping=True``). The KV cache rows follow their beams with a
        numpy gather, so on CUDA this path copies the cache to the host each step: it only runs
        for the few answers that fail the checks.
        """
        seq = prompt.ids
        budget = self.max_new_tokens if max_new_tokens is None else max_new_tokens
        max_new = budget if not self.context else min(budget, self.context - len(seq))
        if max_new <= 0 or beams < 1:
            return []
        feed, mask, pos = self._prefill_feed([seq], max_new)
        width = feed["input_ids"].shape[1]
        hyps: list[list[int]] = [[]]
        scores = np.zeros(1)
        ended: list[tuple[float, list[int]]] = []
        for step in range(max_new):
            logits, *present = self.session.run(self.output_names, feed)
            last = logits[:, -1, :].astype(np.float64)
            top = last.max(axis=-1, keepdims=True)
            logp = last - top - np.log(np.exp(last - top).sum(axis=-1, keepdims=True))
            total = (scores[:, None] + logp).ravel()
            k = min(2 * beams, total.size)  # enough candidates for `beams` live ones after stops
            cand = np.argpartition(-total, k - 1)[:k]
            cand = cand[np.argsort(-total[cand], kind="stable")]
            keep_rows, keep_toks, keep_scores = [], [], []
            for rank, c in enumerate(cand.tolist()):
                row, tok = divmod(c, self.vocab)
                if self.is_stop[tok]:
                    if rank < beams:  # a stop ranked below the live beams would not be kept either
                        ended.append((float(total[c]) / (len(hyps[row]) + 1), hyps[row] + [tok]))
                    continue
                keep_rows.append(row)
                keep_toks.append(tok)
                keep_scores.append(float(total[c]))
                if len(keep_rows) == beams:
                    break
            if len(ended) >= beams or not keep_rows:
                break
            hyps = [hyps[r] + [t] for r, t in zip(keep_rows, keep_toks, strict=True)]
            scores = np.array(keep_scores)
            if step == max_new - 1:
                ended.extend((float(s) / len(h), h) for s, h in zip(scores, hyps, strict=True))
                break
            rows = np.array(keep_rows)
            cur = width + step + 1
            mask = np.repeat(mask[:1], len(rows), axis=0)
            mask[:, cur - 1] = 1
            feed = {"input_ids": np.array(keep_toks, dtype=np.int64)[:, None], "attention_mask": mask[:, :cur]}
            if self.has_position_ids:
                feed["position_ids"] = np.full((len(rows), 1), pos[0, -1] + step + 1, dtype=np.int64)
            feed.update(zip(self.past_names, (p[rows] for p in present), strict=True))
        ended.sort(key=lambda e: -e[0])
        return [fill_slots(self._text(h), prompt.slots) for _, h in ended[:beams]]

    # -- guarded answers ----------------------------------------------------------------------
    def executor(self, db: str | Path) -> Executor:
        """One read-only sandbox executor per database file, kept open for later questions."""
        key = Path(db).resolve()
        if key not in self._executors:
            self._executors[key] = Executor(key)
        return self._executors[key]

    def ask(self, question: str, db: str | Path | None = None) -> Answer:
        """One guarded answer; see :meth:`ask_many`."""
        return self.ask_many([question], db)[0]

    def ask_many(self, questions: Sequence[str], db: str | Path | None = None) -> list[Answer]:
        """Generate, ground, check, and give each failing answer its fallbacks (batched).

        Grounding first: a date or number the question states that the SQL copied wrong is put
        back (schemadistill/literals.py) and, with the artifact's ``values.json``, a value the
        question names that the SQL left out or swapped is put in (schemadistill/grounding.py);
        ``grounded`` says what changed.
        A statement that is not one read-only query is refused (``sql`` None). One that does
        not parse, names an unknown table or column, or (with ``db``) fails in the sandbox gets
        two fallbacks: of ``beams`` beam-search completions (grounded as well) the one that passes
        the same checks with the fewest consistency issues, else one completion of the student's
        repair prompt, holding the broken SQL and the real error text, exactly as in training
        phase 3. ``repaired`` says a fallback's answer passed and was used, ``fixed_by`` which one.

        An answer that passes but adds to its question or leaves part of it out
        (schemadistill/consistency.py: a stated number it never uses, a column nobody named, a
        bucket by year under "by month") gets the same beams; one with strictly fewer issues
        replaces it (``fixed_by`` "consistency"). ``unsupported`` lists the returned answer's issues.
        """
        ex = self.executor(db) if db is not None else None
        prompts, notes = [], []
        for q in questions:  # each answer carries its own question's warnings (a truncation)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                prompts.append(self.encode(q))
            notes.append([str(w.message) for w in caught])
        grounds = [self._ground(s, q) for s, q in zip(self.complete(prompts), questions, strict=True)]
        firsts = [g.sql for g in grounds]
        verdicts = [check_sql(s, self.schema, self.dialect, ex) for s in firsts]
        issues = [self._issues(s, q) if v.ok else [] for s, v, q in zip(firsts, verdicts, questions, strict=True)]
        retry = [i for i, v in enumerate(verdicts) if not v.ok and not v.refused]
        doubted = [i for i, found in enumerate(issues) if found]
        seconds: dict[int, tuple[str, Verdict]] = {}
        fixed_by: dict[int, str] = {}
        neighbor: dict[int, str] = {}
        for i in sorted(retry + doubted) if self.beams > 1 or self.neighbors else []:
            best = self._best_beam(prompts[i], questions[i], firsts[i], ex, verdicts[i])
            if best is not None and (i in retry or len(best[2]) < len(issues[i])):
                grounds[i], seconds[i], issues[i] = best[0], (best[0].sql, best[1]), best[2]
                fixed_by[i] = "beam" if i in retry else "consistency"
                if best[3] is not None:
                    neighbor[i] = best[3]
        retry = [i for i in retry if i not in seconds]
        if retry:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the first round already warned about these questions
                repaired = self._repair([questions[i] for i in retry], [firsts[i] for i in retry],
                                        [verdicts[i].error or "" for i in retry], ex)
            for i, (g, v, found) in zip(retry, repaired, strict=True):
                grounds[i], seconds[i], issues[i], fixed_by[i] = g, (g.sql, v), found, "repair"
        answers = []
        for i, (sql, v) in enumerate(zip(firsts, verdicts, strict=True)):
            first = None
            if i in seconds:
                first, (sql, v) = sql, seconds[i]
            a = Answer(sql=None if v.refused else sql, ok=v.ok,
                       repaired=v.ok and fixed_by.get(i) in ("beam", "repair"),
                       error=None if v.ok else v.error, refused=v.refused, first_sql=first,
                       fixed_by=fixed_by.get(i) if first is not None and v.ok else None,
                       warnings=notes[i], grounded=grounds[i].changes, unsupported=issues[i],
                       neighbor=neighbor.get(i))
            if v.ok and v.result is not None:
                a.rows, a.columns = v.result.rows, v.result.columns
            answers.append(a)
        for note in dict.fromkeys(n for ns in notes for n in ns):  # once, for callers that watch warnings
            warnings.warn(note, UserWarning, stacklevel=2)
        return answers

    def repair_many(self, items: Sequence[tuple[str, str, str]], db: str | Path | None = None) -> list[Answer]:
        """Fix SQL that failed: each item is (question, the SQL that failed, the error it raised).

        One completion of the student's repair prompt, which holds the question, the broken SQL
        and the error text, exactly as the repair pairs of training phase 3 do; grounded and
        checked like an answer of :meth:`ask_many` (with ``db``, run in the sandbox). This is the
        fallback :meth:`ask_many` gives a failing answer when no beam passes, offered on its own
        for SQL that failed elsewhere. ``first_sql`` is the broken SQL; ``repaired`` says the
        fix passed the checks.
        """
        ex = self.executor(db) if db is not None else None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fixed = self._repair([q for q, _, _ in items], [b for _, b, _ in items], [e for _, _, e in items], ex)
        answers = []
        for (_, broken, _), (g, v, found) in zip(items, fixed, strict=True):
            a = Answer(sql=None if v.refused else g.sql, ok=v.ok, repaired=v.ok, error=None if v.ok else v.error,
                       refused=v.refused, first_sql=broken, fixed_by="repair" if v.ok else None,
                       grounded=g.changes, unsupported=found)
            if v.ok and v.result is not None:
                a.rows, a.columns = v.result.rows, v.result.columns
            answers.append(a)
        for note in dict.fromkeys(str(w.message) for w in caught):
            warnings.warn(note, UserWarning, stacklevel=2)
        return answers

    def _repair(self, questions: Sequence[str], broken: Sequence[str], errors: Sequence[str], ex: Executor | None
                ) -> list[tuple[Grounded, Verdict, list[str]]]:
        """The repair prompt's completion for each (question, broken SQL, error): grounded, checked,
        and its consistency issues when it passes."""
        prompts = [self.encode(q, b, e) for q, b, e in zip(questions, broken, errors, strict=True)]
        out = []
        for q, sql in zip(questions, self.complete(prompts), strict=True):
            g = self._ground(sql, q)
            v = check_sql(g.sql, self.schema, self.dialect, ex)
            out.append((g, v, self._issues(g.sql, q) if v.ok else []))
        return out

    def _best_beam(self, prompt: Encoded, question: str, first: str, ex: Executor | None,
                   first_verdict: Verdict | None = None
                   ) -> tuple[Grounded, Verdict, list[str], str | None] | None:
        """The candidate (grounded) that passes the checks with the fewest consistency issues; among
        those, the one whose result most other candidates (and the first answer) also return, the
        order below breaking what is left. None when nothing other than ``first`` passes. The
        candidates: the model's beams in its order, then the SQL of the training questions
        nearest to ``question`` (``neighbors``), so a neighbor wins only by saying more of the
        question or by agreeing with more answers. The last item names that neighbor's question.

        Why votes: beams that agree on a result agree on what the question means; a lone
        result is more often a beam's own slip (measured against the model's order alone on
        cached completions: see docs/DESIGN.md, session 19). Why neighbors: a held-out question is
        mostly a training question with other values, which grounding puts in (session 21)."""
        # (rank, grounded SQL, verdict, issues, neighbor question, result key: None without rows)
        found: list[tuple[int, Grounded, Verdict, list[str], str | None, tuple[str, ...] | None]] = []
        votes: Counter[tuple[str, ...]] = Counter()
        if first_verdict is not None and first_verdict.ok and first_verdict.result is not None:
            votes[result_key(first_verdict.result.rows)] += 1
        beams = list(dict.fromkeys(self.beam_search(prompt, self.beams))) if self.beams > 1 else []
        near = [(sql, q) for q, sql in self._nearest(question) if sql not in beams]
        candidates = [(sql, None) for sql in beams] + near
        for rank, (sql, source) in enumerate(candidates):
            g = self._ground(sql, question)
            if g.sql == first:
                continue
            v = check_sql(g.sql, self.schema, self.dialect, ex)
            if not v.ok:
                continue
            key = result_key(v.result.rows) if v.result is not None else None
            if key is not None:
                votes[key] += 1
            found.append((rank, g, v, self._issues(g.sql, question), source, key))
        if not found:
            return None

        def order(f: tuple[int, Grounded, Verdict, list[str], str | None, tuple[str, ...] | None]
                  ) -> tuple[int, int, int]:
            rank, _, _, issues, _, key = f
            return len(issues), -(votes[key] if key is not None else 0), rank
        _, g, v, issues, source, _ = min(found, key=order)
        return g, v, issues, source

    def _nearest(self, question: str) -> list[tuple[str, str]]:
        """(training question, SQL) of the ``neighbors`` nearest training questions."""
        if not self.neighbors:
            return []
        if self._neighbor_index is None:
            path = self.artifact.neighbors_path
            assert path is not None  # neighbors > 0 only when the file is there
            try:
                self._neighbor_index = load_neighbors(path)
            except (ValueError, KeyError, TypeError) as e:
                raise UserError(f"cannot read {path.name}: {e}", file=path,
                                hint="export the artifact again, or answer with neighbors=0") from None
        if self.values is not None:  # "diffeernt users" finds the questions that say "different"
            question = self.values.speller.correct(question)
        return self._neighbor_index.nearest(question, self.neighbors)

    def _issues(self, sql: str, question: str) -> list[str]:
        return unsupported(sql, question, self.values, self.dialect) if self.consistency else []

    def _ground(self, sql: str, question: str) -> Grounded:
        if not self.ground:
            return Grounded(sql)
        return ground_sql(sql, question, self.values, self.dialect, self.schema)

    def close(self) -> None:
        for ex in self._executors.values():
            ex.close()
        self._executors.clear()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


